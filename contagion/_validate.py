"""Input validation shared by the public math wrappers (checked in Python, before any kernel)."""

from __future__ import annotations

import math
import operator
from numbers import Real

import numpy as np

__all__ = ["is_scalar", "check_scalar", "as_arrays", "check_array", "check_uint"]


def is_scalar(*values: object) -> bool:
    """True if every value is a real number (Python or numpy scalar), not an array."""
    for v in values:
        kind = type(v)
        if kind is float or kind is int:  # the common case, without the ABC check
            continue
        if not (isinstance(v, Real) or (isinstance(v, np.generic) and v.ndim == 0)):
            return False
    return True


def check_scalar(error: type[Exception], where: str, name: str, value: float, *,
                 low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False,
                 allow_inf: bool = False) -> float:
    """Return ``float(value)`` after checking it is a number inside the given bounds.

    NaN is always rejected; infinities only unless ``allow_inf``.
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise error(f"{where}: {name} must be a number, got {value!r}") from None
    if math.isnan(x) or (math.isinf(x) and not allow_inf):
        raise error(f"{where}: {name} must be a finite number, got {value!r}")
    if low is not None and (x < low or (low_open and x == low)):
        raise error(f"{where}: {name} must be {'>' if low_open else '>='} {low:g}, got {value!r}")
    if high is not None and (x > high or (high_open and x == high)):
        raise error(f"{where}: {name} must be {'<' if high_open else '<='} {high:g}, got {value!r}")
    return x


def _float_array(error: type[Exception], where: str, name: str, value: object) -> np.ndarray:
    bad = value is None or isinstance(value, (str, bytes)) or getattr(value, "dtype", None) == object
    if not bad and isinstance(value, (list, tuple)):  # None inside a list would become NaN
        bad = any(v is None or isinstance(v, (str, bytes)) for v in np.asarray(value, dtype=object).flat)
    if not bad:
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            pass
    raise error(f"{where}: {name} must be a number or an array of numbers, got {value!r}")


def as_arrays(error: type[Exception], where: str, names: tuple[str, ...],
              *values: object) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast the inputs together; return the shape and flat contiguous float64 copies.

    Inputs that are not numbers (``None``, strings) or that do not broadcast raise ``error``
    naming the argument.
    """
    converted = [_float_array(error, where, name, value) for name, value in zip(names, values)]
    try:
        arrays = np.broadcast_arrays(*converted)
    except ValueError:
        shapes = ", ".join(f"{n} {a.shape}" for n, a in zip(names, converted))
        raise error(f"{where}: the arguments must broadcast together, got shapes {shapes}") from None
    shape = arrays[0].shape
    return shape, [np.ascontiguousarray(a).reshape(-1) for a in arrays]


def check_array(error: type[Exception], where: str, name: str, values: np.ndarray, *,
                low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> None:
    """Check every element is finite and inside the bounds; name the first offender."""
    bad = ~np.isfinite(values)
    if low is not None:
        bad |= (values <= low) if low_open else (values < low)
    if high is not None:
        bad |= (values >= high) if high_open else (values > high)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        rule = " and ".join(bounds) if bounds else "finite"
        raise error(f"{where}: {name} must be finite and {rule}; element {i} is {values[i]!r}")


def check_uint(error: type[Exception], where: str, name: str, value: object, bits: int = 256,
               unit: str = "") -> int:
    """``value`` as a Python int if it is an integer that fits an unsigned ``bits``-bit word (the
    ABI check of a contract argument); else ``error`` naming ``where``, ``name`` and the value."""
    what = f"an integer{f' ({unit})' if unit else ''}"
    if isinstance(value, bool):
        raise error(f"{where}: {name} must be {what}, got {value!r}")
    try:
        v = operator.index(value)
    except TypeError:
        raise error(f"{where}: {name} must be {what}, got {value!r}") from None
    if not 0 <= v < (1 << bits):
        raise error(f"{where}: {name} must be a uint{bits} (0 <= value < 2**{bits}), got {v}")
    return v
