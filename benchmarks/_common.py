"""Shared helpers for the benchmark scripts (not part of the package).

Timing model
------------
A *case* is a callable ``run(number) -> seconds`` that performs ``number`` operations and
returns the wall time (``time.perf_counter``) they took. :func:`calibrate` picks ``number`` so
that one timing lasts at least ``min_time`` seconds (timeit-style inner loop), which also warms
the case up. :func:`measure` then takes ``repeat`` timings of every case, *interleaved* (round
r times case A, then B, then C, ...), so that noise from the shared machine hits the compiled
and reference implementations alike. Every figure is the median over the repeats.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable

import numpy as np

Runner = Callable[[int], float]


# ----------------------------------------------------------------------------- environment
def environment() -> dict:
    """Interpreter, library versions and which kernels ``contagion`` selected."""
    import contagion

    try:
        import Cython

        cython_version = Cython.__version__
    except ImportError:  # pragma: no cover - Cython is only a build dependency
        cython_version = None
    try:
        import simpy

        simpy_version = simpy.__version__
    except ImportError:  # pragma: no cover
        simpy_version = None
    return {
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "numpy": np.__version__,
        "cython": cython_version,
        "simpy": simpy_version,
        "contagion": contagion.__version__,
        "kernels": contagion.kernels.describe(),
        "CONTAGION_PURE_PYTHON": os.environ.get("CONTAGION_PURE_PYTHON"),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "timer": "time.perf_counter",
        "timer_resolution_s": time.get_clock_info("perf_counter").resolution,
    }


def public_api_kernels() -> str:
    """Which kernels the public wrappers (``contagion.amm``, ``LiquidationIndex``...) run on."""
    import contagion

    if contagion.kernels.COMPILED:
        return "compiled"
    return "reference (CONTAGION_PURE_PYTHON is set: public-wrapper and index figures use the reference kernels)"


def parser(description: str, *, default_repeat: int = 7, quick_repeat: int = 3) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: fewer repeats (default {quick_repeat}), smaller sizes, shorter timings")
    p.add_argument("--repeat", type=int, default=None,
                   help=f"timings per figure; the figure is their median (default {default_repeat})")
    p.set_defaults(_default_repeat=default_repeat, _quick_repeat=quick_repeat)
    return p


def resolve_repeat(args) -> int:
    if args.repeat is not None:
        if args.repeat < 1:
            raise SystemExit("--repeat must be >= 1")
        return args.repeat
    return args._quick_repeat if args.quick else args._default_repeat


def emit(doc: dict) -> None:
    """Print the one JSON document of a benchmark to stdout."""
    json.dump(doc, sys.stdout, indent=2, allow_nan=False, default=_jsonable)
    sys.stdout.write("\n")
    sys.stdout.flush()


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def fail(message: str, code: int = 1) -> None:
    """Report a failed correctness check on stderr and exit non-zero."""
    sys.stderr.write(f"benchmark check FAILED: {message}\n")
    raise SystemExit(code)


# ---------------------------------------------------------------------------------- runners
def loop_runner(stmt: str, namespace: dict, *, seq=None) -> Runner:
    """A timeit-style runner: ``stmt`` compiled inside a plain ``for`` loop.

    Names used by ``stmt`` are bound as default arguments (local lookups, as in ``timeit``).
    With ``seq``, the loop variable ``_x`` cycles through ``seq`` (e.g. a sequence of prices).
    """
    names = sorted(namespace)
    params = ", ".join(f"{n}=_ns[{n!r}]" for n in names)
    if seq is None:
        head = "for _ in _repeat(None, _n):"
    else:
        head = "for _x in _islice(_cycle(_seq), _n):"
    src = (
        f"def _make(_ns, _perf, _repeat, _islice, _cycle, _seq):\n"
        f"    def _run(_n, {params + ', ' if params else ''}_perf=_perf, _repeat=_repeat, "
        f"_islice=_islice, _cycle=_cycle, _seq=_seq):\n"
        f"        _t0 = _perf()\n"
        f"        {head}\n"
        f"            {stmt}\n"
        f"        return _perf() - _t0\n"
        f"    return _run\n"
    )
    scope: dict = {}
    exec(compile(src, f"<bench {stmt!r}>", "exec"), scope)
    return scope["_make"](namespace, time.perf_counter, itertools.repeat, itertools.islice,
                          itertools.cycle, seq)


def calibrate(run: Runner, min_time: float, *, max_number: int = 10**9) -> int:
    """Smallest-ish ``number`` such that ``run(number)`` takes at least ``min_time`` seconds."""
    number = 1
    while True:
        elapsed = run(number)
        if elapsed >= min_time or number >= max_number:
            return number
        if elapsed <= 0:
            number *= 10
        else:
            # aim 20 % above min_time, grow at most 10x per probe
            number = min(max_number, number * 10, max(number + 1, int(number * 1.2 * min_time / elapsed) + 1))


def measure(cases: dict[str, tuple[Runner, int]], repeat: int, *, warmup: int = 1,
            disable_gc: bool = True) -> dict[str, dict]:
    """Time every case ``repeat`` times, interleaved; ``cases[name] = (run, number)``.

    Returns ``{name: {"samples_s": [per-op seconds...], "number": number}}``.
    """
    for run, number in cases.values():
        for _ in range(warmup):
            run(number)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    gc_was_enabled = gc.isenabled()
    try:
        for _ in range(repeat):
            for name, (run, number) in cases.items():
                if disable_gc:
                    gc.collect()
                    gc.disable()
                try:
                    samples[name].append(run(number) / number)
                finally:
                    if gc_was_enabled:
                        gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
    return {name: {"samples_s": s, "number": cases[name][1]} for name, s in samples.items()}


def figure(timing: dict, ops_per_call: float = 1.0, *, unit: str = "ops") -> dict:
    """Summary of one case: median seconds per call, throughput, spread."""
    s = timing["samples_s"]
    med = statistics.median(s)
    return {
        "median_s": med,
        "median_ms": med * 1e3,
        "median_us": med * 1e6,
        "min_s": min(s),
        "max_s": max(s),
        "iqr_rel": _iqr(s) / med if med > 0 else None,
        f"{unit}_per_s": ops_per_call / med if med > 0 else None,
        "ops_per_call": ops_per_call,
        "inner_loop_number": timing["number"],
        "repeat": len(s),
        "samples_s": s,
    }


def _iqr(values: list[float]) -> float:
    if len(values) < 4:
        return max(values) - min(values)
    q = statistics.quantiles(values, n=4)
    return q[2] - q[0]


def speedup(reference: dict, compiled: dict) -> float | None:
    """``reference median time / compiled median time`` (> 1: compiled is faster)."""
    if not compiled["median_s"]:
        return None
    return reference["median_s"] / compiled["median_s"]


def run_cases(cases: dict[str, Runner], repeat: int, min_time: float, *, ops: dict[str, float] | None = None,
              unit: str = "ops", warmup: int = 1) -> dict[str, dict]:
    """Calibrate, warm up and time ``cases`` side by side; return ``{name: figure}``."""
    calibrated = {name: (run, calibrate(run, min_time)) for name, run in cases.items()}
    timings = measure(calibrated, repeat, warmup=warmup)
    ops = ops or {}
    return {name: figure(t, ops.get(name, 1.0), unit=unit) for name, t in timings.items()}
