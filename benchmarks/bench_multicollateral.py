"""Multi-collateral benchmark: a price update to the liquidatable set of a money-market book.

N accounts (default 1,000,000) each hold 5 collateral assets and owe one debt asset, in the
compressed sparse layout of :mod:`contagion.protocols.money_market`. One collateral asset is
repriced (every account holds it) and the timings are, side by side:

reprice        the compiled ``mm_reprice``: shift each holder's collateral sum by
               ``amount * dP * lt`` and re-flag it (the path the simulator takes on an oracle update)
               vs the reference specification ``contagion._reference.liquidation.mm_reprice`` —
               the reference runs on the first ``--reference-size`` accounts only (it is plain
               Python) and both are reported per account and extrapolated to N;
recompute      the compiled ``mm_update`` (health factors of all N from the balances) for comparison.

The answers (health factors, flags, accounts that entered) must agree with a fresh computation.
Prints one JSON document. Run ``python benchmarks/bench_multicollateral.py [--quick] [--repeat N]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from _common import (  # noqa: E402
    emit, environment, fail, loop_runner, parser, resolve_repeat, run_cases, speedup,
)
from contagion._ext import liquidation  # noqa: E402
from contagion._reference import liquidation as ref_liq  # noqa: E402

TARGET_MS = 10.0
N_COLLATERAL = 5
N_ASSETS = N_COLLATERAL + 1   # the last asset is the debt asset


def make_book(rng: np.random.Generator, n: int):
    """Accounts holding every collateral asset (values lognormal) and one debt sized for a health
    factor lognormal around 1.5."""
    coll_ptr = np.arange(0, N_COLLATERAL * n + 1, N_COLLATERAL, dtype=np.int64)
    coll_asset = np.tile(np.arange(N_COLLATERAL, dtype=np.int64), n)
    coll_amount = rng.lognormal(0.0, 1.0, N_COLLATERAL * n)
    prices = np.array([2000.0, 2300.0, 60000.0, 1.0, 15.0, 1.0])
    lt = np.array([0.83, 0.81, 0.78, 0.8, 0.65, 0.8])
    value = (coll_amount * prices[coll_asset] * lt[coll_asset]).reshape(n, N_COLLATERAL).sum(axis=1)
    debt_ptr = np.arange(n + 1, dtype=np.int64)
    debt_asset = np.full(n, N_ASSETS - 1, dtype=np.int64)
    debt_amount = value / rng.lognormal(np.log(1.5), 0.25, n)
    emode = np.zeros(n, dtype=np.int64)
    return coll_ptr, coll_asset, coll_amount, debt_ptr, debt_asset, debt_amount, emode, prices, lt


def state(module, book, prices, lt, ids):
    n = book[0].size - 1
    num, den, hf = np.zeros(n), np.zeros(n), np.full(n, np.inf)
    flags, entered = np.zeros(n, dtype=np.uint8), np.empty(n, dtype=np.int64)
    module.mm_update(ids, *book, prices, lt, num, den, hf, flags, entered)
    return num, den, hf, flags, entered


def main(argv=None) -> int:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=None, help="accounts (default 1,000,000; quick 100,000)")
    p.add_argument("--reference-size", type=int, default=20_000, help="accounts the reference runs on")
    p.add_argument("--min-time", type=float, default=None, help="minimum seconds per timing (default 0.2)")
    p.add_argument("--seed", type=int, default=20240603)
    args = p.parse_args(argv)
    repeat = resolve_repeat(args)
    n = args.size if args.size is not None else (100_000 if args.quick else 1_000_000)
    n_ref = min(args.reference_size, n)
    min_time = args.min_time if args.min_time is not None else (0.05 if args.quick else 0.2)
    rng = np.random.default_rng(args.seed)
    *book, prices, lt = make_book(rng, n)
    book = tuple(book)
    ids = np.arange(n, dtype=np.int64)
    coll_owner = np.repeat(ids, N_COLLATERAL)
    debt_owner = ids.copy()
    entries = np.flatnonzero(book[1] == 0).astype(np.int64)
    no_debt_entries = np.zeros(0, dtype=np.int64)

    # ETH moves along a triangle wave: down 30 % in 64 steps, back up in 64; each call applies one step
    wave = 2000.0 * np.concatenate([np.linspace(1.0, 0.7, 65), np.linspace(0.7, 1.0, 65)[1:]])
    num, den, hf, flags, entered = state(liquidation, book, prices, lt, ids)
    cursor = {"k": 0}

    def step(c):
        k = c["k"] % 128
        c["k"] += 1
        return float(wave[k + 1] - wave[k]), float(wave[k + 1])

    def reprice_compiled():
        delta, cursor["price"] = step(cursor)
        return liquidation.mm_reprice(entries, coll_owner, book[2], no_debt_entries, debt_owner, book[5], ids,
                                      book[6], lt, N_ASSETS, 0, delta, num, den, hf, flags, entered)

    # the reference on the first n_ref accounts (their entries are the first ones of the asset)
    sub_book = (book[0][:n_ref + 1], book[1][:N_COLLATERAL * n_ref], book[2][:N_COLLATERAL * n_ref],
                book[3][:n_ref + 1], book[4][:n_ref], book[5][:n_ref], book[6][:n_ref])
    sub_ids = ids[:n_ref]
    r_num, r_den, r_hf, r_flags, r_entered = state(ref_liq, sub_book, prices, lt, sub_ids)
    sub_entries = entries[:n_ref]
    r_cursor = {"k": 0}

    def reprice_reference():
        delta, _ = step(r_cursor)
        return ref_liq.mm_reprice(sub_entries, coll_owner, sub_book[2], no_debt_entries, debt_owner, sub_book[5],
                                  sub_ids, sub_book[6], lt, N_ASSETS, 0, delta, r_num, r_den, r_hf, r_flags, r_entered)

    full = np.empty(n)
    ns = {"c": reprice_compiled, "r": reprice_reference, "upd": liquidation.mm_update, "ids": ids, "book": book,
          "prices": prices, "lt": lt, "num": np.zeros(n), "den": np.zeros(n), "hf": full,
          "flags": np.zeros(n, dtype=np.uint8), "ent": np.empty(n, dtype=np.int64)}
    t = run_cases({
        "compiled_reprice": loop_runner("c()", ns),
        "reference_reprice_subset": loop_runner("r()", ns),
        "compiled_recompute_all": loop_runner("upd(ids, *book, prices, lt, num, den, hf, flags, ent)", ns),
    }, repeat, min_time, unit="updates")

    # correctness: the shifted state equals a fresh computation at the price reached
    now = prices.copy()
    now[0] = cursor["price"]
    fresh = np.empty(n)
    liquidation.mm_health_factors(ids, *book, now, lt, fresh)
    if not np.allclose(hf, fresh, rtol=1e-9):
        fail("mm_reprice: shifted health factors differ from a fresh computation")
    if np.any((flags.astype(bool) != (fresh < 1.0)) & ~np.isclose(fresh, 1.0, rtol=1e-9)):
        fail("mm_reprice: flags differ from a fresh computation")

    compiled_ms = t["compiled_reprice"]["median_ms"]
    per_account_ref_us = t["reference_reprice_subset"]["median_ms"] * 1e3 / n_ref
    per_account_c_us = compiled_ms * 1e3 / n
    emit({
        "benchmark": "multicollateral",
        "environment": environment(),
        "parameters": {"accounts": n, "collateral_assets_per_account": N_COLLATERAL, "reference_accounts": n_ref,
                       "repeat": repeat, "min_time_s": min_time, "seed": args.seed},
        "reprice": {
            "description": f"one collateral price update to the liquidatable set of {n} accounts holding "
                           f"{N_COLLATERAL} collateral assets each (all hold the repriced asset); median per update",
            "compiled": t["compiled_reprice"],
            "compiled_ms_per_update": compiled_ms,
            "reference_subset": t["reference_reprice_subset"],
            "reference_us_per_account": per_account_ref_us,
            "compiled_us_per_account": per_account_c_us,
            "reference_ms_extrapolated_to_n": per_account_ref_us * n / 1e3,
            "speedup_compiled_vs_reference_per_account": per_account_ref_us / per_account_c_us,
            "target_ms": TARGET_MS,
            "target_met": bool(compiled_ms <= TARGET_MS),
        },
        "recompute_all": {
            "description": "health factors of all accounts from their balances (compiled mm_update), for comparison",
            "compiled": t["compiled_recompute_all"],
            "speedup_reprice_vs_recompute": speedup(t["compiled_recompute_all"], t["compiled_reprice"]),
        },
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
