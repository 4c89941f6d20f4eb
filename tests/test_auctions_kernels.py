"""The compiled auction kernels agree with their reference on random and edge inputs, and are in use."""

from __future__ import annotations

import importlib.machinery
import os

import numpy as np
import pytest

from contagion import kernels
from contagion._reference import auctions as ref

PURE = os.environ.get("CONTAGION_PURE_PYTHON", "").strip().lower() in {"1", "true", "yes", "on"}


@pytest.fixture(scope="module")
def compiled():
    from contagion._ext import auctions

    return auctions


def test_compiled_module_is_in_use():
    if PURE:
        assert kernels.auctions is ref
    else:
        assert kernels.auctions.__name__ == "contagion._ext.auctions"
        assert kernels.auctions.__file__.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _inputs(rng, n):
    top = rng.lognormal(7.0, 2.0, n)
    dur = np.floor(rng.uniform(0.0, 20_000.0, n))
    edges = np.array([0.0, 1.0, 89.0, 90.0, 91.0, 3599.0, 3600.0, 3601.0, 1e9])
    top = np.concatenate([top, np.full(edges.size, 2600.0), [0.0, 1e-300, 1e300]])
    dur = np.concatenate([dur, edges, [5.0, 5.0, 5.0]])
    return np.ascontiguousarray(top), np.ascontiguousarray(dur)


@pytest.mark.parametrize("seed", range(5))
def test_price_curves_parity(compiled, seed):
    rng = np.random.default_rng(seed)
    top, dur = _inputs(rng, 500)
    for name, args in (("linear_prices", (3600.0,)), ("stairstep_prices", (0.99, 90.0)),
                       ("stairstep_prices", (0.0, 1.0)), ("stairstep_prices", (1.0, 60.0)),
                       ("exponential_prices", (0.999230132966,)), ("exponential_prices", (0.0,))):
        a = np.empty_like(top)
        b = np.empty_like(top)
        getattr(compiled, name)(top, dur, *args, a)
        getattr(ref, name)(top, dur, *args, b)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0.0, err_msg=f"{name}{args}")


def test_linear_edges(compiled):
    top = np.array([100.0, 100.0, 100.0, 100.0])
    dur = np.array([0.0, 1800.0, 3600.0, 3601.0])
    for module in (compiled, ref):
        out = np.empty(4)
        module.linear_prices(top, dur, 3600.0, out)
        assert out.tolist() == [100.0, 50.0, 0.0, 0.0]


@pytest.mark.parametrize("seed", range(3))
def test_redo_flags_parity(compiled, seed):
    rng = np.random.default_rng(100 + seed)
    n = 400
    top = rng.uniform(1.0, 5000.0, n)
    price = top * rng.uniform(0.0, 1.0, n)
    dur = np.floor(rng.uniform(0.0, 10_000.0, n))
    top[:3], price[:3], dur[:3] = 100.0, [40.0, 39.999, 100.0], [10.0, 10.0, 8401.0]
    a = np.empty(n, dtype=np.uint8)
    b = np.empty(n, dtype=np.uint8)
    compiled.redo_flags(top, price, dur, 8400.0, 0.4, a)
    ref.redo_flags(top, price, dur, 8400.0, 0.4, b)
    np.testing.assert_array_equal(a, b)
    assert a[:3].tolist() == [0, 1, 1]
