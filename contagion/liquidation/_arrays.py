"""Array plumbing shared by the float APIs of :mod:`contagion.liquidation.aave` and
:mod:`contagion.liquidation.compound`: outputs shaped like the inputs, and account sums of
weighted collateral against debt, element-wise or over an axis."""

from __future__ import annotations

import numpy as np

from contagion._validate import as_arrays, check_array, is_scalar
from contagion.errors import LiquidationError


def out(scalar: bool, shape: tuple[int, ...], *arrays: np.ndarray):
    """Floats for scalar inputs, arrays of the broadcast shape otherwise (one or a tuple)."""
    if scalar:
        values = tuple(float(a[0]) for a in arrays)
    else:
        values = tuple(a.reshape(shape) for a in arrays)
    return values[0] if len(values) == 1 else values


def weighted_sums(where: str, names: tuple[str, str, str], values: tuple, axis: int | None):
    """``(shape, scalar, weighted, owed)`` from ``values = (collateral values, weights in [0, 1],
    owed values)``: ``collateral * weight`` and ``owed`` element-wise (``axis=None``: all three
    broadcast together), or each summed over ``axis`` (the assets of one account lie along it;
    the owed values may have another length there) and the sums broadcast. Flat arrays."""
    if axis is None:
        shape, (c, w, d) = as_arrays(LiquidationError, where, names, *values)
    else:
        cshape, (c, w) = as_arrays(LiquidationError, where, names[:2], *values[:2])
        dshape, (d,) = as_arrays(LiquidationError, where, names[2:], *values[2:])
    check_array(LiquidationError, where, names[0], c, low=0.0)
    check_array(LiquidationError, where, names[1], w, low=0.0, high=1.0)
    check_array(LiquidationError, where, names[2], d, low=0.0)
    if axis is None:
        return shape, shape == () or is_scalar(*values), c * w, d
    try:
        a, b = np.broadcast_arrays((c * w).reshape(cshape).sum(axis=axis), d.reshape(dshape).sum(axis=axis))
    except (ValueError, np.exceptions.AxisError) as err:
        raise LiquidationError(f"{where}: cannot sum over axis {axis} of shapes {cshape} "
                               f"and {dshape}: {err}") from err
    return a.shape, a.shape == (), np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
