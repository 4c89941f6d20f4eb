"""The compiled kernels are the ones in use; the reference is used only when asked for."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
import tempfile

import contagion
from contagion import kernels
from contagion._reference import amm as ref_amm
from contagion._reference import auctions as ref_auctions
from contagion._reference import liquidation as ref_liquidation

PURE = os.environ.get("CONTAGION_PURE_PYTHON", "").strip().lower() in {"1", "true", "yes", "on"}


def _python(code: str, **env_changes) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, outside the source tree (``-c`` puts the cwd on sys.path)."""
    env = {k: v for k, v in os.environ.items() if k != "CONTAGION_PURE_PYTHON"}
    env.update(env_changes)
    with tempfile.TemporaryDirectory() as cwd:
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                              timeout=120, cwd=cwd)


def test_kernels_in_use_match_the_request():
    if PURE:
        assert kernels.COMPILED is False
        assert kernels.amm is ref_amm and kernels.liquidation is ref_liquidation
        assert kernels.auctions is ref_auctions
    else:
        assert kernels.COMPILED is True
        for module in (kernels.amm, kernels.liquidation, kernels.auctions):
            assert module.__name__.startswith("contagion._ext.")
            assert module.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)), module.__file__


def test_default_import_uses_compiled_extensions():
    proc = _python("import contagion.kernels as k; print(k.COMPILED); print(k.amm.__file__); "
                   "print(k.liquidation.__file__); print(k.auctions.__file__)")
    assert proc.returncode == 0, proc.stderr
    compiled, amm_file, liq_file, auctions_file = proc.stdout.split()
    assert compiled == "True"
    for path in (amm_file, liq_file, auctions_file):
        assert path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def test_pure_python_is_explicit():
    proc = _python("import contagion.kernels as k; print(k.COMPILED, k.amm.__name__, k.describe()['compiled'])",
                   CONTAGION_PURE_PYTHON="1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "contagion._reference.amm", "False"]


def test_missing_build_says_how_to_build():
    proc = _python("import sys; sys.modules['contagion._ext.amm'] = None; import contagion")
    assert proc.returncode != 0
    assert "ImportError: contagion's compiled kernels (contagion._ext) are not built" in proc.stderr
    assert "pip install" in proc.stderr and "CONTAGION_PURE_PYTHON=1" in proc.stderr


def test_debug_build_only_when_asked_for():
    expected = os.environ.get("CONTAGION_EXPECT_DEBUG_BUILD") == "1"
    from contagion._ext import amm, auctions, liquidation

    assert amm.BUILD_DEBUG is expected and liquidation.BUILD_DEBUG is expected
    assert auctions.BUILD_DEBUG is expected


def test_compiled_and_reference_expose_the_same_functions():
    from contagion._ext import amm, auctions, liquidation

    for compiled, reference in ((amm, ref_amm), (liquidation, ref_liquidation), (auctions, ref_auctions)):
        public = {n for n in dir(reference) if not n.startswith("_") and callable(getattr(reference, n))
                  and getattr(getattr(reference, n), "__module__", "") == reference.__name__}
        assert public <= set(dir(compiled)), public - set(dir(compiled))


def test_describe_reports_the_modules():
    info = contagion.kernels.describe()
    assert info["compiled"] is (not PURE)
    assert set(info["modules"]) == {"amm", "liquidation", "auctions"}
