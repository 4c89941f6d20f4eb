"""Constant-product swap benchmark: compiled kernel vs reference vs public wrapper.

(a) one scalar swap called from Python:
    compiled ``contagion._ext.amm.cp_amount_out``, reference ``contagion._reference.amm.cp_amount_out``,
    and the validated public ``contagion.amm.constant_product.amount_out`` on scalars.
(b) a batch of N swaps (default 1,000,000):
    compiled ``cp_amount_out_batch`` into a preallocated contiguous float64 ``out``, reference
    ``cp_amount_out_batch`` (numpy), and the public ``amount_out`` on arrays (validates, allocates).

Prints one JSON document. Run ``python benchmarks/bench_amm.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _common import (  # noqa: E402
    public_api_kernels, environment, emit, fail, loop_runner, parser, resolve_repeat, run_cases, speedup,
)
from contagion._ext import amm  # noqa: E402
from contagion._reference import amm as ref_amm  # noqa: E402
from contagion.amm import constant_product  # noqa: E402

TARGET_SWAPS_PER_S = 5e7
FEE = 0.003


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=None, help="swaps per batch (default 1,000,000; quick 100,000)")
    p.add_argument("--min-time", type=float, default=None,
                   help="minimum seconds per timing (inner loop calibrated to it; default 0.2, quick 0.05)")
    p.add_argument("--seed", type=int, default=20240601)
    args = p.parse_args(argv)
    repeat = resolve_repeat(args)
    size = args.size if args.size is not None else (100_000 if args.quick else 1_000_000)
    min_time = args.min_time if args.min_time is not None else (0.05 if args.quick else 0.2)
    if size < 1:
        raise SystemExit("--size must be >= 1")

    rng = np.random.default_rng(args.seed)

    # ------------------------------------------------------------------ inputs (seeded)
    # Pools with reserves spanning a few orders of magnitude; trades up to ~5 % of the input reserve.
    reserve_in = np.ascontiguousarray(rng.lognormal(mean=np.log(1e4), sigma=1.5, size=size))
    reserve_out = np.ascontiguousarray(reserve_in * rng.lognormal(mean=np.log(2000.0), sigma=0.2, size=size))
    amount_in = np.ascontiguousarray(reserve_in * rng.uniform(0.0, 0.05, size=size))
    out_compiled = np.empty(size, dtype=np.float64)
    out_reference = np.empty(size, dtype=np.float64)
    for arr in (reserve_in, reserve_out, amount_in, out_compiled, out_reference):
        assert arr.dtype == np.float64 and arr.flags.c_contiguous

    a0, rin0, rout0 = float(amount_in[0]), float(reserve_in[0]), float(reserve_out[0])

    # ------------------------------------------------------------------ correctness checks
    scalar_values = {
        "compiled": amm.cp_amount_out(a0, rin0, rout0, FEE),
        "reference": ref_amm.cp_amount_out(a0, rin0, rout0, FEE),
        "public": constant_product.amount_out(a0, rin0, rout0, FEE),
    }
    if not (scalar_values["compiled"] == scalar_values["reference"] == scalar_values["public"]):
        fail(f"scalar amount_out differs between implementations: {scalar_values}")
    amm.cp_amount_out_batch(amount_in, reserve_in, reserve_out, FEE, out_compiled)
    ref_amm.cp_amount_out_batch(amount_in, reserve_in, reserve_out, FEE, out_reference)
    public_out = constant_product.amount_out(amount_in, reserve_in, reserve_out, FEE)
    rel_ref = float(np.max(np.abs(out_compiled - out_reference) / np.abs(out_reference).clip(min=1e-300)))
    rel_pub = float(np.max(np.abs(out_compiled - public_out) / np.abs(out_reference).clip(min=1e-300)))
    if not (rel_ref <= 1e-12 and rel_pub <= 1e-12):
        fail(f"batch amount_out differs: max rel diff compiled/reference {rel_ref:g}, compiled/public {rel_pub:g}")
    bit_identical = bool(np.array_equal(out_compiled, out_reference))
    del public_out

    # ------------------------------------------------------------------ (a) scalar calls
    ns_scalar = {"f_c": amm.cp_amount_out, "f_r": ref_amm.cp_amount_out, "f_p": constant_product.amount_out,
                 "a": a0, "rin": rin0, "rout": rout0, "fee": FEE}
    scalar = run_cases(
        {
            "empty_loop": loop_runner("pass", {}),
            "compiled": loop_runner("f_c(a, rin, rout, fee)", ns_scalar),
            "reference": loop_runner("f_r(a, rin, rout, fee)", ns_scalar),
            "public_wrapper": loop_runner("f_p(a, rin, rout, fee)", ns_scalar),
        },
        repeat, min_time, unit="calls",
    )
    scalar_doc = {
        "description": "one swap per Python call, scalar float arguments; median seconds per call "
                       "(includes the ~tens of ns of loop overhead shown by empty_loop, not subtracted)",
        "compiled": scalar["compiled"],
        "reference": scalar["reference"],
        "public_wrapper": scalar["public_wrapper"],
        "empty_loop": scalar["empty_loop"],
        "speedup_compiled_vs_reference": speedup(scalar["reference"], scalar["compiled"]),
        "speedup_public_wrapper_vs_reference": speedup(scalar["reference"], scalar["public_wrapper"]),
        "public_wrapper_cost_vs_compiled": scalar["public_wrapper"]["median_s"] / scalar["compiled"]["median_s"],
    }

    # ------------------------------------------------------------------ (b) batch of swaps
    ns_batch = {"f_c": amm.cp_amount_out_batch, "f_r": ref_amm.cp_amount_out_batch,
                "f_p": constant_product.amount_out, "a": amount_in, "rin": reserve_in, "rout": reserve_out,
                "fee": FEE, "oc": out_compiled, "orf": out_reference}
    batch = run_cases(
        {
            "compiled": loop_runner("f_c(a, rin, rout, fee, oc)", ns_batch),
            "reference": loop_runner("f_r(a, rin, rout, fee, orf)", ns_batch),
            "public_wrapper": loop_runner("f_p(a, rin, rout, fee)", ns_batch),
        },
        repeat, min_time, ops={k: float(size) for k in ("compiled", "reference", "public_wrapper")}, unit="swaps",
    )
    compiled_rate = batch["compiled"]["swaps_per_s"]
    batch_doc = {
        "description": f"{size} swaps per call; compiled and reference write into preallocated contiguous "
                       "float64 arrays, the public wrapper validates its inputs and allocates its output",
        "size": size,
        "compiled": batch["compiled"],
        "reference": batch["reference"],
        "public_wrapper": batch["public_wrapper"],
        "speedup_compiled_vs_reference": speedup(batch["reference"], batch["compiled"]),
        "speedup_public_wrapper_vs_reference": speedup(batch["reference"], batch["public_wrapper"]),
        "public_wrapper_cost_vs_compiled": batch["public_wrapper"]["median_s"] / batch["compiled"]["median_s"],
        "compiled_ns_per_swap": batch["compiled"]["median_s"] / size * 1e9,
        "target_swaps_per_s": TARGET_SWAPS_PER_S,
        "target_met": bool(compiled_rate is not None and compiled_rate >= TARGET_SWAPS_PER_S),
        "target_note": "issue target for the compiled batch kernel (later milestone)"
                       + ("; measured on a reduced --quick size" if size != 1_000_000 else ""),
    }

    emit({
        "benchmark": "amm_constant_product",
        "quick": bool(args.quick),
        "environment": environment(),
        "parameters": {"batch_size": size,
                       "public_api_kernels": public_api_kernels(), "repeat": repeat, "min_time_per_timing_s": min_time,
                       "warmup_runs": 1, "seed": args.seed, "fee": FEE,
                       "scalar_args": {"amount_in": a0, "reserve_in": rin0, "reserve_out": rout0},
                       "statistic": "median over repeats; cases timed interleaved in the same run"},
        "checks": {"scalar_equal": True, "batch_max_rel_diff_compiled_vs_reference": rel_ref,
                   "batch_max_rel_diff_compiled_vs_public": rel_pub,
                   "batch_bit_identical_compiled_vs_reference": bit_identical},
        "scalar": scalar_doc,
        "batch": batch_doc,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
