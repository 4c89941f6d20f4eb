"""Selects the compiled kernels, or the reference implementations when explicitly asked.

``contagion.kernels.amm``, ``contagion.kernels.liquidation`` and ``contagion.kernels.auctions``
are the modules the package uses. By default they are the compiled ``contagion._ext`` modules,
and ``COMPILED`` is True. Setting the environment variable ``CONTAGION_PURE_PYTHON=1`` before
import selects the plain-Python/numpy reference implementations (``contagion._reference``)
instead; nothing ever falls back to them silently. If the compiled modules are missing,
importing contagion raises an :class:`ImportError` that says how to build them.
"""

from __future__ import annotations

import os

__all__ = ["COMPILED", "PURE_PYTHON_ENV", "amm", "liquidation", "auctions", "describe"]

PURE_PYTHON_ENV = "CONTAGION_PURE_PYTHON"

_BUILD_HINT = (
    "contagion's compiled kernels (contagion._ext) are not built. Install the package with "
    "`pip install .` (or `pip install -e .` for development; `python setup.py build_ext "
    "--inplace` rebuilds in place). To run on the slow reference implementations instead, "
    f"set {PURE_PYTHON_ENV}=1 explicitly."
)

if os.environ.get(PURE_PYTHON_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
    from contagion._reference import amm, auctions, liquidation

    COMPILED = False
else:
    try:
        from contagion._ext import amm, auctions, liquidation
    except ImportError as err:  # pragma: no cover - exercised in a subprocess test
        raise ImportError(f"{_BUILD_HINT} (cause: {err})") from err
    COMPILED = True


def describe() -> dict[str, object]:
    """Which implementation is in use: ``{"compiled": bool, "debug": bool, "modules": {...}}``."""
    return {
        "compiled": COMPILED,
        "debug": bool(amm.BUILD_DEBUG or liquidation.BUILD_DEBUG or auctions.BUILD_DEBUG),
        "modules": {"amm": amm.__file__, "liquidation": liquidation.__file__, "auctions": auctions.__file__},
    }
