"""Pool benchmark: constant product, Uniswap v3 and StableSwap, compiled vs reference vs others.

Each operation is timed side by side (interleaved, medians over repeats) for the compiled kernel
(``contagion._ext.amm``), its plain-Python reference (``contagion._reference.amm``), the public
wrapper (``contagion.amm``) and, when the ``bench`` extra is installed, the same operation in
``uniswappy`` and ``curvesim`` on the same pool and inputs (their outputs are compared with ours):

constant_product  ``cp_amount_out_batch`` over N swaps (default 1,000,000); one swap per call,
                  also uniswappy v2 ``get_amount_out``.
uniswap_v3        one pool with 11 positions around the price; exact-input swaps of token0
                  within one range (0 initialized ticks crossed) and across 10 initialized
                  ticks: ``v3_quote_batch`` over an array of amounts, and one swap per call
                  (``v3_swap``, ``ConcentratedLiquidityPool.quote`` / ``swap_exact_in``),
                  also uniswappy v3 ``swapExact0For1``.
stableswap        2 and 3 coins: ``ss_get_dy_batch`` over N trades (D solved once), and per call
                  ``ss_get_D``, ``ss_get_dy``, ``StableSwapPool.exchange``; also curvesim
                  ``CurvePool`` (``D``, the contracts' ``get_dy``, ``exchange``).

Prints one JSON document; exits non-zero if compiled, reference and public wrapper disagree.
Run ``python benchmarks/bench_pools.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import _pool_libraries as libs  # noqa: E402
from _common import (  # noqa: E402
    environment, emit, fail, loop_runner, parser, public_api_kernels, resolve_repeat, run_cases,
)
from contagion._ext import amm  # noqa: E402
from contagion._reference import amm as ref_amm  # noqa: E402
from contagion.amm import constant_product, stableswap  # noqa: E402
from contagion.amm.concentrated import ConcentratedLiquidityPool  # noqa: E402
from contagion.amm.stableswap import StableSwapPool  # noqa: E402

TARGET_CP_SWAPS_PER_S = 5e7
TARGET_V3_SWAPS_PER_S = 1e6
TARGET_SS_SOLVES_PER_S = 5e6

CP_FEE = 0.003                                   # uniswappy v2 has the 0.3 % fee built in
CP_POOL = {"reserve_in": 1_000.0, "reserve_out": 2_000_000.0, "amount_in": 1.5}

V3_PRICE, V3_FEE, V3_SPACING = 2000.0, 0.003, 60
V3_WIDE_LIQUIDITY, V3_NARROW_LIQUIDITY, V3_NARROW = 10_000.0, 2_000.0, 10
V3_CROSSED = 10

SS_FEE = 0.0004
SS_POOLS = {2: ([100e6, 120e6], 400.0), 3: ([100e6, 110e6, 90e6], 2000.0)}   # balances, A
SS_DX = 1_000.0                                  # the per-call trade (token units)

PARITY_REL = 1e-12   # compiled vs reference vs public wrapper: the same float64 arithmetic
AGREE_REL = 1e-9     # other libraries: integer wei vs float64 (see the README for the sizes)


# -------------------------------------------------------------------------------- helpers
def per_op_s(fig: dict) -> float:
    return fig["median_s"] / fig["ops_per_call"]


def rel_diff(values, reference) -> float:
    a, b = np.asarray(values, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.abs(b).clip(min=1e-300)))


def summarize(figs: dict, *, unit: str, target: float | None = None, main: str = "compiled",
              libraries: dict | None = None) -> dict:
    """The headline of a block: ``main``'s median per operation and rate, the reference's, their
    ratio, the target, and each library's time relative to ``main`` and the public wrapper."""
    m, r = figs[main], figs.get("reference")
    doc = {"measured": main, "median_s_per_op": per_op_s(m), f"{unit}_per_s": 1.0 / per_op_s(m),
           "repeat": m["repeat"]}
    if r is not None:
        doc.update({"reference_median_s_per_op": per_op_s(r), f"reference_{unit}_per_s": 1.0 / per_op_s(r),
                    "speedup_compiled_vs_reference": per_op_s(r) / per_op_s(m)})
    if target is not None:
        doc[f"target_{unit}_per_s"] = target
        doc["meets_target"] = bool(1.0 / per_op_s(m) >= target)
    for name, lib_case in (libraries or {}).items():
        if lib_case in figs:
            doc[f"speedup_{main}_vs_{name}"] = per_op_s(figs[lib_case]) / per_op_s(m)
            for ours in ("public_wrapper", "public_quote", "public_swap_and_restore", "public_exchange_and_restore"):
                if ours in figs and ours != main:
                    doc[f"speedup_{ours}_vs_{name}"] = per_op_s(figs[lib_case]) / per_op_s(figs[ours])
    return doc


def check_parity(what: str, values: dict, reference_key: str = "reference") -> float:
    """Largest relative difference of every entry of ``values`` to ``values[reference_key]``;
    fails the run above ``PARITY_REL`` or on a NaN."""
    ref = values[reference_key]
    worst = 0.0
    for name, got in values.items():
        if np.isnan(np.asarray(got, dtype=np.float64)).any():
            fail(f"{what}: {name} returned NaN")
        worst = max(worst, rel_diff(got, ref))
    if worst > PARITY_REL:
        fail(f"{what}: implementations differ by {worst:g} (relative) > {PARITY_REL:g}: "
             + ", ".join(f"{k}={np.asarray(v).ravel()[:3].tolist()}" for k, v in values.items()))
    return worst


def agreement(ours, theirs, note: str) -> dict:
    d = rel_diff(theirs, ours)
    return {"max_rel_diff": d, "agrees_within": AGREE_REL, "agrees": bool(d <= AGREE_REL), "note": note}


def library_status(loaded: dict) -> dict:
    return {name: ({"available": True, "version": version} if module is not None
                   else {"available": False, "skipped": reason})
            for name, (module, version, reason) in loaded.items()}


def library_comparison(loaded: dict, sections: dict) -> dict:
    """Per library: its status, then every agreement, speed ratio and skip found in ``sections``
    (keys ``agreement_<lib>``, ``speedup_<ours>_vs_<lib>``, ``<lib>: {"skipped": ...}``)."""
    out = library_status(loaded)
    for name, entry in out.items():
        if entry["available"]:
            found = {"agreement": {}, "speedup_ours_vs_library": {}, "skipped_in": {}}
            _collect(sections, "", name, found)
            if not found["skipped_in"]:
                del found["skipped_in"]
            entry.update(found)
    return out


def _collect(node: dict, path: str, name: str, found: dict) -> None:
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key == f"agreement_{name}":
            found["agreement"][path] = {k: value[k] for k in ("max_rel_diff", "agrees")}
        elif key.startswith("speedup_") and key.endswith(f"_vs_{name}"):
            found["speedup_ours_vs_library"][where] = value
        elif key == name and isinstance(value, dict) and "skipped" in value:
            found["skipped_in"][path] = value["skipped"]
        elif isinstance(value, dict) and "samples_s" not in value:
            _collect(value, where, name, found)


# ----------------------------------------------------------------------- constant product
def bench_constant_product(rng, repeat, min_time, size, uniswappy_skip: str | None) -> tuple[dict, dict]:
    # the batch: pools with reserves spanning a few orders of magnitude, trades up to 5 % (as bench_amm)
    reserve_in = np.ascontiguousarray(rng.lognormal(mean=np.log(1e4), sigma=1.5, size=size))
    reserve_out = np.ascontiguousarray(reserve_in * rng.lognormal(mean=np.log(2000.0), sigma=0.2, size=size))
    amount_in = np.ascontiguousarray(reserve_in * rng.uniform(0.0, 0.05, size=size))
    out_c, out_r = np.empty(size), np.empty(size)
    amm.cp_amount_out_batch(amount_in, reserve_in, reserve_out, CP_FEE, out_c)
    ref_amm.cp_amount_out_batch(amount_in, reserve_in, reserve_out, CP_FEE, out_r)
    batch_parity = check_parity("constant product batch", {
        "compiled": out_c, "reference": out_r,
        "public_wrapper": constant_product.amount_out(amount_in, reserve_in, reserve_out, CP_FEE)})

    ns = {"f_c": amm.cp_amount_out_batch, "f_r": ref_amm.cp_amount_out_batch, "f_p": constant_product.amount_out,
          "a": amount_in, "rin": reserve_in, "rout": reserve_out, "fee": CP_FEE, "oc": out_c, "orf": out_r}
    batch = run_cases({
        "compiled": loop_runner("f_c(a, rin, rout, fee, oc)", ns),
        "reference": loop_runner("f_r(a, rin, rout, fee, orf)", ns),
        "public_wrapper": loop_runner("f_p(a, rin, rout, fee)", ns),
    }, repeat, min_time, ops=dict.fromkeys(("compiled", "reference", "public_wrapper"), float(size)), unit="swaps")

    # one swap per call, on one pool that uniswappy holds too
    a, rin, rout = CP_POOL["amount_in"], CP_POOL["reserve_in"], CP_POOL["reserve_out"]
    scalar_parity = check_parity("constant product scalar", {
        "compiled": amm.cp_amount_out(a, rin, rout, CP_FEE), "reference": ref_amm.cp_amount_out(a, rin, rout, CP_FEE),
        "public_wrapper": constant_product.amount_out(a, rin, rout, CP_FEE)})
    ns = {"f_c": amm.cp_amount_out, "f_r": ref_amm.cp_amount_out, "f_p": constant_product.amount_out,
          "a": a, "rin": rin, "rout": rout, "fee": CP_FEE}
    cases = {
        "empty_loop": loop_runner("pass", {}),
        "compiled": loop_runner("f_c(a, rin, rout, fee)", ns),
        "reference": loop_runner("f_r(a, rin, rout, fee)", ns),
        "public_wrapper": loop_runner("f_p(a, rin, rout, fee)", ns),
    }
    agree = None
    if uniswappy_skip is None:
        v2 = libs.UniswappyV2(rin, rout)
        cases["uniswappy"] = loop_runner("q(a)", {"q": v2.amount_out, "a": a})
        trades = [0.001, a, 10.0, 100.0]
        agree = agreement([amm.cp_amount_out(x, rin, rout, CP_FEE) for x in trades],
                          [v2.amount_out(x) for x in trades],
                          "uniswappy v2 get_amount_out (integer wei, output rounded up to the wei) vs "
                          f"compiled cp_amount_out, trades {trades} token0 into {rin:g}/{rout:g}")
    scalar = run_cases(cases, repeat, min_time, unit="calls")

    lib_map = {"uniswappy": "uniswappy"}
    doc = {
        "batch": {
            "description": f"{size} swaps per call; compiled cp_amount_out_batch and the numpy reference write "
                           "into preallocated contiguous float64 arrays, the public amount_out validates and "
                           "allocates",
            "size": size,
            **summarize(batch, unit="swaps", target=TARGET_CP_SWAPS_PER_S),
            "target_note": "compiled batch kernel" + ("; measured on a reduced size" if size != 1_000_000 else ""),
            **batch,
        },
        "scalar": {
            "description": "one swap quote per Python call (float arguments): compiled cp_amount_out, reference, "
                           "public amount_out, uniswappy v2 get_amount_out on the same pool "
                           f"({rin:g} token0 / {rout:g} token1, {a:g} token0 in); per-call medians include the "
                           "loop overhead shown by empty_loop",
            "pool": CP_POOL,
            **summarize(scalar, unit="calls", libraries=lib_map),
            **scalar,
            **({"agreement_uniswappy": agree} if agree else {"uniswappy": {"skipped": uniswappy_skip}}),
        },
    }
    checks = {"batch_max_rel_diff": batch_parity, "scalar_max_rel_diff": scalar_parity}
    return doc, checks


# ------------------------------------------------------------------------------ uniswap v3
def v3_pool():
    """The pool and its positions: one wide position and ten narrower ones, all containing the
    price; each narrow one's lower tick is one spacing further below, so a falling price crosses
    an initialized tick every spacing for ten spacings, then none for a long way."""
    pool = ConcentratedLiquidityPool(price=V3_PRICE, fee=V3_FEE, tick_spacing=V3_SPACING)
    base = pool.tick // V3_SPACING * V3_SPACING
    positions = [(base - 200 * V3_SPACING, base + 200 * V3_SPACING, V3_WIDE_LIQUIDITY)]
    positions += [(base - k * V3_SPACING, base + (k + 1) * V3_SPACING, V3_NARROW_LIQUIDITY)
                  for k in range(1, V3_NARROW + 1)]
    for lower, upper, liquidity in positions:
        pool.mint(lower, upper, liquidity)
    return pool, positions


def bench_uniswap_v3(rng, repeat, min_time, size, ref_size, uniswappy_skip: str | None) -> tuple[dict, dict]:
    pool, positions = v3_pool()
    limit = amm.v3_sqrt_price_at_tick(amm.MIN_TICK)
    below = pool.ticks[pool.ticks <= pool.tick]          # initialized ticks a falling price meets
    first, tenth, eleventh = (int(t) for t in below[::-1][[0, V3_CROSSED - 1, V3_CROSSED]])
    to_tick = {t: pool.input_to_price(True, amm.v3_sqrt_price_at_tick(t)) for t in (first, tenth, eleventh)}
    scratch0, scratch1 = np.zeros(pool.ticks.size), np.zeros(pool.ticks.size)

    def kernel(f, amount):
        return f(pool.sqrt_price, pool.liquidity, pool.tick, pool.ticks, pool.net, scratch0, scratch1,
                 float(amount), True, limit, pool.fee)

    scenarios = {
        "within_range": {"crossed": 0, "lo": 0.01 * to_tick[first], "hi": 0.95 * to_tick[first],
                         "single": round(0.5 * to_tick[first], 6)},
        "cross_10_ticks": {"crossed": V3_CROSSED,
                           "lo": to_tick[tenth] + 0.05 * (to_tick[eleventh] - to_tick[tenth]),
                           "hi": to_tick[tenth] + 0.95 * (to_tick[eleventh] - to_tick[tenth]),
                           "single": round(0.5 * (to_tick[tenth] + to_tick[eleventh]), 6)},
    }
    uni = None
    if uniswappy_skip is None:
        uni = libs.UniswappyV3(pool.sqrt_price, pool.fee, pool.tick_spacing, positions)
        if uni.tick != pool.tick:
            uni, uniswappy_skip = None, f"uniswappy puts the start price at tick {uni.tick}, ours at {pool.tick}"

    docs, checks = {}, {}
    for name, sc in scenarios.items():
        amounts = np.ascontiguousarray(rng.uniform(sc["lo"], sc["hi"], size=size))
        for probe in (sc["lo"], sc["hi"], sc["single"], amounts.min(), amounts.max()):
            crossed = kernel(amm.v3_swap, probe)[5]
            if crossed != sc["crossed"]:
                fail(f"uniswap v3 {name}: a swap of {probe!r} token0 crosses {crossed} initialized ticks, "
                     f"the benchmark needs {sc['crossed']}")
        a1 = sc["single"]
        out_c, out_r = np.empty(size), np.empty(ref_size)
        amm.v3_quote_batch(pool.sqrt_price, pool.liquidity, pool.tick, pool.ticks, pool.net, amounts, True, limit,
                           pool.fee, out_c)
        ref_amm.v3_quote_batch(pool.sqrt_price, pool.liquidity, pool.tick, pool.ticks, pool.net, amounts[:ref_size],
                               True, limit, pool.fee, out_r)
        batch_parity = check_parity(f"uniswap v3 {name} batch", {
            "compiled": out_c[:ref_size], "reference": out_r,
            "public_wrapper": pool.quote_batch(amounts[:ref_size], "token0")})
        call_parity = check_parity(f"uniswap v3 {name} single swap", {
            "compiled": -kernel(amm.v3_swap, a1)[1], "reference": -kernel(ref_amm.v3_swap, a1)[1],
            "public_quote": pool.quote(a1, "token0")})

        ns = {"f_c": amm.v3_quote_batch, "f_r": ref_amm.v3_quote_batch, "q": pool.quote_batch,
              "s": pool.sqrt_price, "L": pool.liquidity, "t": pool.tick, "tk": pool.ticks, "net": pool.net,
              "am": amounts, "amr": amounts[:ref_size], "lim": limit, "fee": pool.fee, "oc": out_c, "orf": out_r}
        batch = run_cases({
            "compiled": loop_runner("f_c(s, L, t, tk, net, am, True, lim, fee, oc)", ns),
            "reference": loop_runner("f_r(s, L, t, tk, net, amr, True, lim, fee, orf)", ns),
            "public_wrapper": loop_runner("q(am, 'token0')", ns),
        }, repeat, min_time, ops={"compiled": float(size), "reference": float(ref_size), "public_wrapper": float(size)},
            unit="swaps")

        ns = {"f_c": amm.v3_swap, "f_r": ref_amm.v3_swap, "q": pool.quote, "sw": pool.swap_exact_in,
              "snap": pool.snapshot, "rs": pool.restore, "s": pool.sqrt_price, "L": pool.liquidity, "t": pool.tick,
              "tk": pool.ticks, "net": pool.net, "o0": scratch0, "o1": scratch1, "a": a1, "lim": limit,
              "fee": pool.fee}
        cases = {
            "compiled": loop_runner("f_c(s, L, t, tk, net, o0, o1, a, True, lim, fee)", ns),
            "reference": loop_runner("f_r(s, L, t, tk, net, o0, o1, a, True, lim, fee)", ns),
            "public_quote": loop_runner("q(a, 'token0')", ns),
            "public_swap_and_restore": loop_runner("st = snap(False); sw(a, 'token0'); rs(st)", ns),
            "public_snapshot_restore_only": loop_runner("rs(snap(False))", ns),
        }
        state = pool.snapshot()
        swapped = pool.swap_exact_in(a1, "token0")
        pool.restore(state)
        call_parity = max(call_parity, check_parity(f"uniswap v3 {name} swap_exact_in", {
            "public_swap": swapped, "reference": -kernel(ref_amm.v3_swap, a1)[1]}))
        agree = None
        if uni is not None:
            cases["uniswappy_swap_and_restore"] = loop_runner("sw(a); rs()", {"sw": uni.swap_exact0_for1,
                                                                             "rs": uni.restore, "a": a1})
            cases["uniswappy_restore_only"] = loop_runner("rs()", {"rs": uni.restore})
            trades = [a1, round(sc["lo"], 6), round(sc["hi"], 6)]
            theirs, ticks_theirs = [], []
            for x in trades + [a1]:
                out, tick = uni.swap_exact0_for1(x)
                uni.restore()
                theirs.append(out)
                ticks_theirs.append(tick)
            if theirs[0] != theirs[-1] or ticks_theirs[0] != ticks_theirs[-1]:
                fail(f"uniswappy v3 {name}: the same swap after a restore gave {theirs[-1]!r} (tick "
                     f"{ticks_theirs[-1]}), first {theirs[0]!r} (tick {ticks_theirs[0]})")
            ours = [kernel(amm.v3_swap, x) for x in trades]
            agree = agreement([-r[1] for r in ours], theirs[:-1],
                              f"uniswappy v3 swapExact0For1 (integer Q64.96 / wei) vs compiled v3_swap, "
                              f"trades {trades} token0")
            agree["final_tick_equal"] = [int(r[4]) == t for r, t in zip(ours, ticks_theirs)]
            agree["initialized_ticks_crossed"] = [int(r[5]) for r in ours]
        call = run_cases(cases, repeat, min_time, unit="swaps")

        target_note = ("target for the compiled batch kernel within one range" if name == "within_range"
                       else "no target across ticks; shown against the within-range target")
        docs[name] = {
            "initialized_ticks_crossed": sc["crossed"],
            "amount_range_token0": [sc["lo"], sc["hi"]],
            "batch": {
                "description": f"v3_quote_batch: {size} independent exact-input swaps of token0 (uniform in "
                               "amount_range_token0) from the same pool state per call, into a preallocated "
                               f"array; the reference loops over the first {ref_size}; the public "
                               "ConcentratedLiquidityPool.quote_batch validates and allocates",
                "size": size, "reference_size": ref_size,
                **summarize(batch, unit="swaps", target=TARGET_V3_SWAPS_PER_S),
                "target_note": target_note,
                **batch,
            },
            "per_call": {
                "description": f"one swap of {a1} token0 per Python call: compiled v3_swap (the kernel called "
                               "from Python on the pool's arrays), the reference v3_swap, the public "
                               "ConcentratedLiquidityPool.quote (validates, copies the fee-growth arrays), and "
                               "the public swap_exact_in undone with snapshot/restore (the snapshot/restore "
                               "alone is timed too); uniswappy's swapExact0For1 changes the pool, so it is "
                               "undone after every call by putting back the attributes it changed "
                               "(uniswappy_restore_only is that cost alone)",
                "amount_in_token0": a1,
                **summarize(call, unit="swaps", target=TARGET_V3_SWAPS_PER_S,
                            libraries={"uniswappy": "uniswappy_swap_and_restore"}),
                "target_note": "the batch target, shown for the per-call rate of the kernel",
                **call,
                **({"agreement_uniswappy": agree} if agree else {"uniswappy": {"skipped": uniswappy_skip}}),
            },
        }
        checks[name] = {"batch_max_rel_diff": batch_parity, "per_call_max_rel_diff": call_parity}

    doc = {
        "pool": {"price": V3_PRICE, "fee": V3_FEE, "tick_spacing": V3_SPACING, "tick": pool.tick,
                 "liquidity_in_range": pool.liquidity, "initialized_ticks": int(pool.ticks.size),
                 "positions": [list(p) for p in positions],
                 "description": "exact-input swaps of token0 (price falls); all positions contain the start "
                                "price; ticks crossed are checked with v3_swap before timing"},
        **docs,
    }
    return doc, checks


# ------------------------------------------------------------------------------ stableswap
def bench_stableswap(rng, repeat, min_time, size, ref_size, curvesim_skip: str | None) -> tuple[dict, dict]:
    docs, checks = {}, {}
    for n, (balances, amp) in SS_POOLS.items():
        xp = np.ascontiguousarray(balances, dtype=np.float64)
        pool = StableSwapPool(balances, amplification=amp, fee=SS_FEE)
        dx = np.ascontiguousarray(np.clip(rng.lognormal(mean=np.log(1e4), sigma=2.0, size=size), 1e-2, 1e7))
        out_c, out_r = np.empty(size), np.empty(ref_size)
        amm.ss_get_dy_batch(0, 1, dx, xp, amp, SS_FEE, out_c)
        ref_amm.ss_get_dy_batch(0, 1, dx[:ref_size], xp, amp, SS_FEE, out_r)
        batch_parity = check_parity(f"stableswap {n} coins batch", {
            "compiled": out_c[:ref_size], "reference": out_r,
            "public_wrapper": stableswap.get_dy(0, 1, dx[:ref_size], xp, amp, SS_FEE)})
        call_parity = max(
            check_parity(f"stableswap {n} coins get_D", {
                "compiled": amm.ss_get_D(xp, amp), "reference": ref_amm.ss_get_D(xp, amp),
                "public_wrapper": stableswap.get_D(xp, amp), "public_pool": pool.D()}),
            check_parity(f"stableswap {n} coins get_dy", {
                "compiled": amm.ss_get_dy(0, 1, SS_DX, xp, amp, SS_FEE),
                "reference": ref_amm.ss_get_dy(0, 1, SS_DX, xp, amp, SS_FEE),
                "public_pool": pool.get_dy(0, 1, SS_DX)}))

        ns = {"f_c": amm.ss_get_dy_batch, "f_r": ref_amm.ss_get_dy_batch, "f_p": stableswap.get_dy,
              "dx": dx, "dxr": dx[:ref_size], "xp": xp, "amp": amp, "fee": SS_FEE, "oc": out_c, "orf": out_r}
        batch = run_cases({
            "compiled": loop_runner("f_c(0, 1, dx, xp, amp, fee, oc)", ns),
            "reference": loop_runner("f_r(0, 1, dxr, xp, amp, fee, orf)", ns),
            "public_wrapper": loop_runner("f_p(0, 1, dx, xp, amp, fee)", ns),
        }, repeat, min_time, ops={"compiled": float(size), "reference": float(ref_size), "public_wrapper": float(size)},
            unit="solves")

        cs = libs.CurvesimStableSwap(balances, amp, SS_FEE) if curvesim_skip is None else None
        ns = {"D_c": amm.ss_get_D, "D_r": ref_amm.ss_get_D, "D_p": stableswap.get_D, "xp": xp, "amp": amp,
              "dy_c": amm.ss_get_dy, "dy_r": ref_amm.ss_get_dy, "dy_p": pool.get_dy, "dx": SS_DX, "fee": SS_FEE,
              "ex": pool.exchange, "snap": pool.snapshot, "rs": pool.restore}
        d_cases = {"compiled": loop_runner("D_c(xp, amp)", ns), "reference": loop_runner("D_r(xp, amp)", ns),
                   "public_wrapper": loop_runner("D_p(xp, amp)", ns)}
        dy_cases = {"compiled": loop_runner("dy_c(0, 1, dx, xp, amp, fee)", ns),
                    "reference": loop_runner("dy_r(0, 1, dx, xp, amp, fee)", ns),
                    "public_wrapper": loop_runner("dy_p(0, 1, dx)", ns)}
        ex_cases = {"public_exchange_and_restore": loop_runner("st = snap(); ex(0, 1, dx); rs(st)", ns),
                    "public_snapshot_restore_only": loop_runner("rs(snap())", ns)}
        agree = {}
        if cs is not None:
            dxw = libs.to_wei(SS_DX)
            lns = {"D": cs.pool.D, "dy": cs.get_dy_wei, "dxw": dxw, "ex": cs.pool.exchange,
                   "gs": cs.pool.get_snapshot, "rv": cs.pool.revert_to_snapshot}
            d_cases["curvesim"] = loop_runner("D()", lns)
            dy_cases["curvesim"] = loop_runner("dy(0, 1, dxw)", lns)
            ex_cases["curvesim_exchange_and_revert"] = loop_runner("st = gs(); ex(0, 1, dxw); rv(st)", lns)
            ex_cases["curvesim_snapshot_revert_only"] = loop_runner("rv(gs())", lns)
            trades = [1.0, SS_DX, 1e6]
            pairs = [(0, 1), (1, 0)] + ([(2, 0)] if n == 3 else [])
            ours_dy = [amm.ss_get_dy(i, j, t, xp, amp, SS_FEE) for i, j in pairs for t in trades]
            theirs_dy = [cs.get_dy(i, j, t) for i, j in pairs for t in trades]
            ours_ex, theirs_ex = [], []
            for i, j in pairs:
                for t in trades:
                    st, snap = pool.snapshot(), cs.pool.get_snapshot()
                    ours_ex.append(pool.exchange(i, j, t))
                    theirs_ex.append(cs.exchange(i, j, t))
                    pool.restore(st)
                    cs.pool.revert_to_snapshot(snap)
            agree = {
                "agreement_curvesim_D": agreement([amm.ss_get_D(xp, amp)], [cs.D()],
                                                  "curvesim CurvePool.D() (integer Newton, stops within 1 wei) "
                                                  "vs compiled ss_get_D"),
                "agreement_curvesim_get_dy": agreement(
                    ours_dy, theirs_dy, f"the contracts' get_dy on curvesim's get_y vs compiled ss_get_dy, "
                                        f"trades {trades} for coin pairs {pairs}"),
                "agreement_curvesim_exchange": agreement(
                    ours_ex, theirs_ex,
                    f"curvesim CurvePool.exchange vs public StableSwapPool.exchange, trades {trades} for "
                    f"coin pairs {pairs} (rel_diff_per_trade in that order)"),
            }
            agree["agreement_curvesim_exchange"]["rel_diff_per_trade"] = [
                abs(o - t) / abs(t) for o, t in zip(ours_ex, theirs_ex)]
        d_fig = run_cases(d_cases, repeat, min_time, unit="solves")
        dy_fig = run_cases(dy_cases, repeat, min_time, unit="solves")
        ex_fig = run_cases(ex_cases, repeat, min_time, unit="swaps")
        lib_map = {"curvesim": "curvesim"}
        skipped = {"curvesim": {"skipped": curvesim_skip}}
        docs[f"{n}_coins"] = {
            "balances": balances, "amplification": amp, "fee": SS_FEE,
            "batch_get_dy": {
                "description": f"ss_get_dy_batch: {size} trades of coin 0 for coin 1 (lognormal, median 1e4, "
                               "clipped to [0.01, 1e7]) against one pool state per call (D solved once, then "
                               "one closed-form solve per trade) into a preallocated array; the reference loops "
                               f"over the first {ref_size}; the public stableswap.get_dy validates and allocates",
                "size": size, "reference_size": ref_size,
                **summarize(batch, unit="solves", target=TARGET_SS_SOLVES_PER_S),
                "target_note": "compiled batch kernel" + ("; measured on a reduced size" if size != 1_000_000
                                                          else ""),
                **batch,
            },
            "get_D": {
                "description": "one invariant (Newton's method) per Python call: compiled ss_get_D, reference, "
                               "public stableswap.get_D (validates), curvesim CurvePool.D()",
                **summarize(d_fig, unit="solves", libraries=lib_map), **d_fig,
                **({"agreement_curvesim": agree["agreement_curvesim_D"]} if agree else skipped),
            },
            "get_dy": {
                "description": f"one trade quote of {SS_DX:g} coin 0 for coin 1 per Python call, D solved in every "
                               "call: compiled ss_get_dy, reference, public StableSwapPool.get_dy, curvesim (the "
                               "contracts' get_dy: CurvePool._xp, get_y, the fee)",
                **summarize(dy_fig, unit="solves", libraries=lib_map), **dy_fig,
                **({"agreement_curvesim": agree["agreement_curvesim_get_dy"]} if agree else skipped),
            },
            "exchange": {
                "description": f"one exchange of {SS_DX:g} coin 0 for coin 1 per call, undone after every call: "
                               "public StableSwapPool.exchange with snapshot/restore, curvesim CurvePool.exchange "
                               "with get_snapshot/revert_to_snapshot (each *_only case is the undo alone)",
                **summarize(ex_fig, unit="swaps", main="public_exchange_and_restore",
                            libraries={"curvesim": "curvesim_exchange_and_revert"}),
                **ex_fig,
                **({"agreement_curvesim": agree["agreement_curvesim_exchange"]} if agree else skipped),
            },
        }
        checks[f"{n}_coins"] = {"batch_max_rel_diff": batch_parity, "per_call_max_rel_diff": call_parity}
    return docs, checks


# ------------------------------------------------------------------------------------ main
def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=None,
                   help="constant-product swaps and StableSwap trades per batch (default 1,000,000; quick 100,000)")
    p.add_argument("--v3-size", type=int, default=None,
                   help="Uniswap v3 swaps per batch (default 100,000; quick 10,000)")
    p.add_argument("--reference-size", type=int, default=None,
                   help="operations per batch for the plain-Python loop references of v3 and StableSwap "
                        "(default 2,000; quick 200); figures are per operation")
    p.add_argument("--min-time", type=float, default=None,
                   help="minimum seconds per timing (inner loop calibrated to it; default 0.2, quick 0.05)")
    p.add_argument("--seed", type=int, default=20240601)
    p.add_argument("--no-libraries", action="store_true", help="do not compare with uniswappy and curvesim")
    args = p.parse_args(argv)
    repeat = resolve_repeat(args)
    size = args.size if args.size is not None else (100_000 if args.quick else 1_000_000)
    v3_size = args.v3_size if args.v3_size is not None else (10_000 if args.quick else 100_000)
    ref_size = args.reference_size if args.reference_size is not None else (200 if args.quick else 2_000)
    min_time = args.min_time if args.min_time is not None else (0.05 if args.quick else 0.2)
    if min(size, v3_size, ref_size) < 1:
        raise SystemExit("--size, --v3-size and --reference-size must be >= 1")
    ref_size = min(ref_size, size, v3_size)

    if args.no_libraries:
        loaded = {name: (None, None, "--no-libraries") for name in ("uniswappy", "curvesim")}
    else:
        loaded = {name: libs.load(name) for name in ("uniswappy", "curvesim")}

    # The libraries bring large object graphs (web3, pandas...): keep them out of the collections
    # that precede every timing, which would otherwise take a good part of the run.
    gc.freeze()
    rng = np.random.default_rng(args.seed)
    cp_doc, cp_checks = bench_constant_product(rng, repeat, min_time, size, loaded["uniswappy"][2])
    v3_doc, v3_checks = bench_uniswap_v3(rng, repeat, min_time, v3_size, ref_size, loaded["uniswappy"][2])
    ss_doc, ss_checks = bench_stableswap(rng, repeat, min_time, size, ref_size, loaded["curvesim"][2])

    sections = {"constant_product": cp_doc, "uniswap_v3": v3_doc, "stableswap": ss_doc}

    def target_row(block: dict, unit: str) -> dict:
        return {"target": block[f"target_{unit}_per_s"], "measured": block[f"{unit}_per_s"],
                "median_s_per_op": block["median_s_per_op"], "meets_target": block["meets_target"]}

    targets = {
        "constant_product.batch (compiled, swaps/s)": target_row(cp_doc["batch"], "swaps"),
        "uniswap_v3.within_range.batch (compiled, swaps/s)": target_row(v3_doc["within_range"]["batch"], "swaps"),
        "uniswap_v3.within_range.per_call (compiled kernel from Python, swaps/s; informative)":
            target_row(v3_doc["within_range"]["per_call"], "swaps"),
        "stableswap.2_coins.batch_get_dy (compiled, solves/s)": target_row(ss_doc["2_coins"]["batch_get_dy"], "solves"),
        "stableswap.3_coins.batch_get_dy (compiled, solves/s)": target_row(ss_doc["3_coins"]["batch_get_dy"], "solves"),
    }
    emit({
        "benchmark": "pools",
        "quick": bool(args.quick),
        "environment": {**environment(), "libraries": library_status(loaded)},
        "parameters": {"batch_size": size, "v3_batch_size": v3_size, "reference_batch_size": ref_size,
                       "public_api_kernels": public_api_kernels(), "repeat": repeat,
                       "min_time_per_timing_s": min_time, "warmup_runs": 1, "seed": args.seed,
                       "parity_tolerance_rel": PARITY_REL, "library_agreement_tolerance_rel": AGREE_REL,
                       "statistic": "median over repeats; cases of a block timed interleaved in the same run"},
        "targets": targets,
        "checks": {"constant_product": cp_checks, "uniswap_v3": v3_checks, "stableswap": ss_checks},
        "library_comparison": library_comparison(loaded, sections),
        **sections,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
