"""contagion.amm.curve: the integer port of Curve StableSwap against the EVM-verified vectors.

Every number of ``vectors/curve_stableswap.json`` is reproduced exactly; the other tests check
properties derived independently of the port (conservation, invariants, algebraic identities
between the variants, hand-computed values), never numbers copied from its output.
"""

from __future__ import annotations

import doctest
import random

import pytest

from contagion.amm import curve
from contagion.amm.curve import (
    FEE_DENOMINATOR,
    PRECISION,
    VARIANTS,
    CurvePool,
    a_precision,
    get_D,
    get_y,
    get_y_D,
    ramped_amp,
)
from contagion.errors import AmmError

UINT256_MAX = 2**256 - 1


def ints(values) -> list[int]:
    return [int(v) for v in values]


@pytest.fixture(scope="module")
def curve_vectors(vectors) -> dict:
    return vectors("curve_stableswap")


def funded_pool(scenario: dict) -> CurvePool:
    """A scenario's pool: constructed with its parameters, funded by an initial deposit of ``balances``."""
    pool = CurvePool(scenario["variant"], scenario["A"], scenario["fee"], scenario["admin_fee"],
                     rates=ints(scenario["rates"]))
    pool.add_liquidity(ints(scenario["balances"]))
    return pool


# --- reference vectors: pure functions ----------------------------------------------------------

def _first_round_overflows(xp: list[int]) -> bool:
    """Whether the first ``D_P = D_P * D / (x * N)`` loop of get_D (D = S) exceeds ``2**256 - 1``.

    Written from REFERENCE-MATH section 3, independently of the port.
    """
    n, d = len(xp), sum(xp)
    d_p = d
    for x in xp:
        if d_p * d > UINT256_MAX:
            return True
        d_p = d_p * d // (x * n)
    return False


def test_pure_functions_match_vectors(curve_vectors):
    problems = []
    for k, entry in enumerate(curve_vectors["pure_functions"]):
        variant, amp, xp = entry["variant"], entry["amp_as_passed"], ints(entry["xp"])
        g = entry["get_y"]
        if a_precision(variant) != entry["A_PRECISION"]:
            problems.append(f"#{k} {variant}: A_PRECISION {a_precision(variant)} != {entry['A_PRECISION']}")
        # The vectors come from a plain Python port: unbounded integers.
        d = get_D(xp, amp, variant, check_overflow=False)
        y = get_y(g["i"], g["j"], int(g["x"]), xp, amp, variant, check_overflow=False)
        if d != int(entry["D"]):
            problems.append(f"#{k} {variant} xp={xp}: D {d} != {entry['D']}")
        if y != int(g["y"]):
            problems.append(f"#{k} {variant} xp={xp}: y {y} != {g['y']}")
    assert problems == []


def test_pure_functions_checked_uint256(curve_vectors):
    """With the EVM's checked arithmetic each entry gives the same numbers, unless the contract would
    overflow (and revert) in the first round of get_D, which the test predicts on its own."""
    overflowing = 0
    for entry in curve_vectors["pure_functions"]:
        variant, amp, xp = entry["variant"], entry["amp_as_passed"], ints(entry["xp"])
        g = entry["get_y"]
        if _first_round_overflows(xp):
            overflowing += 1
            with pytest.raises(AmmError, match="uint256 overflow"):
                get_D(xp, amp, variant)
            with pytest.raises(AmmError, match="uint256 overflow"):
                get_y(g["i"], g["j"], int(g["x"]), xp, amp, variant)
        else:
            assert get_D(xp, amp, variant) == int(entry["D"])
            assert get_y(g["i"], g["j"], int(g["x"]), xp, amp, variant) == int(g["y"])
    # The [1, 10**30] entry: 5e59 * (1e30 + 1) does not fit in 256 bits.
    assert overflowing >= 1


# --- reference vectors: the EVM scenarios -------------------------------------------------------

def test_scenarios_initial_deposit(curve_vectors):
    for s in curve_vectors["scenarios"]:
        pool = CurvePool(s["variant"], s["A"], s["fee"], s["admin_fee"], rates=ints(s["rates"]))
        assert (pool.A, pool.A_precise) == (s["A"], s["A_precise"]), s["name"]
        minted = pool.add_liquidity(ints(s["balances"]))
        assert minted == int(s["D"]) == int(s["lp_supply_after_initial_deposit"]), s["name"]
        assert pool.lp_supply == int(s["lp_supply_after_initial_deposit"]), s["name"]
        assert pool.invariant() == int(s["D"]), s["name"]
        assert pool.balances == ints(s["balances"]), s["name"]
        assert pool.get_virtual_price() == int(s["virtual_price"]), s["name"]


def test_scenarios_get_dy(curve_vectors):
    problems, checked = [], 0
    for s in curve_vectors["scenarios"]:
        pool = funded_pool(s)
        for e in s["get_dy"]:
            dy = pool.get_dy(e["i"], e["j"], int(e["dx"]))
            checked += 1
            if dy != int(e["dy"]):
                problems.append(f"{s['name']} get_dy({e['i']}, {e['j']}, {e['dx']}) = {dy} != {e['dy']}")
        assert pool.balances == ints(s["balances"]), "get_dy must not change the pool"
    assert problems == []
    assert checked == sum(len(s["get_dy"]) for s in curve_vectors["scenarios"]) > 0


def test_scenarios_calc_withdraw_one_coin(curve_vectors):
    problems = []
    for s in curve_vectors["scenarios"]:
        pool = funded_pool(s)
        for e in s["calc_withdraw_one_coin"]:
            dy = pool.calc_withdraw_one_coin(int(e["token_amount"]), e["i"])
            if dy != int(e["dy"]):
                problems.append(f"{s['name']} calc_withdraw_one_coin({e['token_amount']}, {e['i']}) "
                                f"= {dy} != {e['dy']}")
    assert problems == []


def test_scenarios_exchange_sequence(curve_vectors):
    for s in curve_vectors["scenarios"]:
        pool = funded_pool(s)
        for step, e in enumerate(s["exchange_sequence"]):
            i, j, dx = e["i"], e["j"], int(e["dx"])
            holdings, admin = pool.holdings, list(pool.admin_balances)
            result = pool.exchange_detailed(i, j, dx)
            where = f"{s['name']} step {step}"
            assert result.dy == int(e["dy"]), where
            assert result.dy_fee == int(e["dy_fee_xp"]), where
            assert result.admin_fee == int(e["admin_fee_coin_units"]), where
            assert pool.balances == ints(e["balances_after"]), where
            assert pool.get_virtual_price() == int(e["virtual_price_after"]), where
            # conservation: the contract's coin holdings move by exactly dx in and dy out
            expected = list(holdings)
            expected[i] += dx
            expected[j] -= int(e["dy"])
            assert pool.holdings == expected, where
            admin[j] += int(e["admin_fee_coin_units"])
            assert pool.admin_balances == admin, where


def test_scenarios_add_liquidity_single_sided(curve_vectors):
    """The vectors' single-sided deposit was made after the exchange sequence."""
    for s in curve_vectors["scenarios"]:
        pool = funded_pool(s)
        for e in s["exchange_sequence"]:
            pool.exchange(e["i"], e["j"], int(e["dx"]))
        vec = s["add_liquidity_single_sided"]
        supply, holdings, admin = pool.lp_supply, pool.holdings, list(pool.admin_balances)
        result = pool.add_liquidity_detailed(ints(vec["amounts"]))
        assert result.minted == int(vec["minted"]), s["name"]
        assert list(result.fees) == ints(vec["fees"]), s["name"]
        assert pool.lp_supply == supply + int(vec["minted"]), s["name"]
        # every coin deposited stays in the contract; admin_fee/1e10 of each fee leaves the balances
        assert pool.holdings == [h + a for h, a in zip(holdings, ints(vec["amounts"]))], s["name"]
        assert pool.admin_balances == [a + int(f) * s["admin_fee"] // FEE_DENOMINATOR
                                       for a, f in zip(admin, vec["fees"])], s["name"]


def test_first_exchange_of_each_scenario_against_get_dy(curve_vectors):
    """3pool: get_dy takes the fee after converting to coin units, exchange before: at most 1 apart."""
    for s in curve_vectors["scenarios"]:
        pool = funded_pool(s)
        e = s["exchange_sequence"][0]
        quoted = pool.get_dy(e["i"], e["j"], int(e["dx"]))
        assert abs(quoted - int(e["dy"])) <= 1, s["name"]


# --- independent properties ---------------------------------------------------------------------

def random_pool(rng: random.Random, variant: str) -> CurvePool:
    if variant == "3pool":
        pool = CurvePool("3pool", rng.choice([1, 100, 2000]), rng.choice([10**6, 4 * 10**6]), 5 * 10**9)
        pool.add_liquidity([rng.randint(1, 10**8) * 10**18, rng.randint(1, 10**8) * 10**6,
                            rng.randint(1, 10**8) * 10**6])
    elif variant == "base":
        pool = CurvePool("base", rng.choice([10, 200, 2000]), 4 * 10**6, 5 * 10**9, rates=[10**18, 10**30])
        pool.add_liquidity([rng.randint(1, 10**8) * 10**18, rng.randint(1, 10**8) * 10**6])
    else:
        pool = CurvePool("steth", rng.choice([5, 50]), 4 * 10**6, 5 * 10**9)
        pool.add_liquidity([rng.randint(1, 10**6) * 10**18, rng.randint(1, 10**6) * 10**18])
    return pool


def random_trade(rng: random.Random, pool: CurvePool) -> tuple[int, int, int]:
    i, j = rng.sample(range(pool.n_coins), 2)
    dx = rng.randint(1, max(1, pool.balances[i] // rng.choice([2, 10, 1000, 10**6])))
    return i, j, dx


@pytest.mark.parametrize("variant", VARIANTS)
def test_exchange_conserves_coins_and_never_lowers_D(variant):
    rng = random.Random(20240601)
    for _ in range(15):
        pool = random_pool(rng, variant)
        for _ in range(8):
            i, j, dx = random_trade(rng, pool)
            holdings, balances, admin = pool.holdings, list(pool.balances), list(pool.admin_balances)
            d_before, vp_before = pool.invariant(), pool.get_virtual_price()
            r = pool.exchange_detailed(i, j, dx)
            others = [k for k in range(pool.n_coins) if k not in (i, j)]
            assert pool.balances[i] == balances[i] + dx
            assert pool.balances[j] == balances[j] - r.dy - r.admin_fee
            assert pool.holdings[i] == holdings[i] + dx
            assert pool.holdings[j] == holdings[j] - r.dy
            assert pool.admin_balances[j] == admin[j] + r.admin_fee
            assert all(pool.balances[k] == balances[k] for k in others)
            assert 0 <= r.dy < balances[j]
            assert pool.invariant() >= d_before
            assert pool.get_virtual_price() >= vp_before


@pytest.mark.parametrize("variant", VARIANTS)
def test_get_dy_matches_exchange(variant):
    """The later templates quote exactly what exchange pays; the 3pool's quote is within 1 unit."""
    rng = random.Random(7)
    tolerance = 1 if variant == "3pool" else 0
    for _ in range(15):
        pool = random_pool(rng, variant)
        for _ in range(5):
            i, j, dx = random_trade(rng, pool)
            quoted = pool.get_dy(i, j, dx)
            assert abs(pool.exchange(i, j, dx) - quoted) <= tolerance


@pytest.mark.parametrize("variant", VARIANTS)
def test_get_y_is_consistent_with_get_dy_and_inverts(variant):
    rng = random.Random(99)
    for _ in range(20):
        pool = random_pool(rng, variant)
        pool.fee = 0  # without a fee, get_dy is the curve itself
        i, j, dx = random_trade(rng, pool)
        xp = pool.xp()
        x = xp[i] + dx * pool.rates[i] // PRECISION
        y = get_y(i, j, x, xp, pool.amp, variant)
        assert y < xp[j]
        # get_dy is the drop of xp[j], less the contracts' 1 unit, in coin units
        assert pool.get_dy(i, j, dx) == (xp[j] - y - 1) * PRECISION // pool.rates[j]
        # the new point keeps D, and solving back for coin i returns x
        moved = list(xp)
        moved[i], moved[j] = x, y
        d0, d1 = get_D(xp, pool.amp, variant), get_D(moved, pool.amp, variant)
        assert abs(d1 - d0) <= max(4, d0 // 10**15)
        back = get_y(j, i, y, moved, pool.amp, variant)
        assert abs(back - x) <= max(4, x // 10**15)
        # get_y_D at the pool's own D gives back the balance
        assert abs(get_y_D(pool.amp, j, xp, d0, variant) - xp[j]) <= max(4, xp[j] // 10**15)


BALANCED_CASES = [(v, b) for v in VARIANTS for b in (1, 7, 10**6, 12345678901234567, 10**24)
                  if not (v == "steth" and b == 1)]


@pytest.mark.parametrize(("variant", "balance"), BALANCED_CASES)
def test_balanced_pool_has_D_equal_to_the_sum(variant, balance):
    """With equal balances D = S solves the invariant: Newton stops at its starting point.

    For stETH the ``x*N + 1`` makes D_P = D - 2 in the first round, and D stays at S only while
    ``A * N * S > 6`` (hence no ``balance = 1`` case for it).
    """
    n = 3 if variant == "3pool" else 2
    for amp in (a_precision(variant), 50 * a_precision(variant), 2000 * a_precision(variant)):
        assert get_D([balance] * n, amp, variant) == n * balance


def test_3pool_equals_base_with_amp_times_100():
    """With amp_base = 100 * amp_3pool the A_PRECISION divisions are exact: same D, same y."""
    rng = random.Random(3)
    for _ in range(200):
        n = rng.choice([2, 3])
        xp = [rng.randint(10**15, 10**27) for _ in range(n)]
        amp = rng.choice([1, 10, 100, 2000, 10**5])
        i, j = rng.sample(range(n), 2)
        x = xp[i] + rng.randint(1, xp[i])
        assert get_D(xp, amp, "3pool") == get_D(xp, 100 * amp, "base")
        assert get_y(i, j, x, xp, amp, "3pool") == get_y(i, j, x, xp, 100 * amp, "base")
        d = get_D(xp, amp, "3pool") * 9 // 10
        assert get_y_D(amp, i, xp, d, "3pool") == get_y_D(100 * amp, i, xp, d, "base")


def _iterates_of_D(xp: list[int], amp: int) -> list[int]:
    """The 255 iterates of the 3pool's D recurrence, from REFERENCE-MATH section 3 (no stop test)."""
    n, s = len(xp), sum(xp)
    d, ann, out = s, amp * n, []
    for _ in range(255):
        d_p = d
        for x in xp:
            d_p = d_p * d // (x * n)
        d = (ann * s + d_p * n) * d // ((ann - 1) * d + (n + 1) * d_p)
        out.append(d)
    return out


def test_non_convergence_3pool_falls_through_later_templates_revert():
    xp, amp = [500000, 688555, 90], 1  # tiny, very imbalanced: D oscillates between two values
    iterates = _iterates_of_D(xp, amp)
    assert abs(iterates[-1] - iterates[-2]) > 1 and abs(iterates[-2] - iterates[-3]) > 1
    assert get_D(xp, amp, "3pool") == iterates[-1]
    with pytest.raises(AmmError, match="did not converge"):
        get_D(xp, 100 * amp, "base")


def test_steth_get_D_survives_a_zero_balance_base_does_not():
    assert get_D([0, 10**18], 5000, "steth") > 0  # "+1 is to prevent /0"
    with pytest.raises(AmmError, match="division by zero"):
        get_D([0, 10**18], 5000, "base")
    with pytest.raises(AmmError, match="division by zero"):
        get_D([0, 10**18, 10**18], 50, "3pool")
    assert get_D([0, 0], 5000, "steth") == 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_balanced_deposit_pays_almost_no_fee(variant):
    rng = random.Random(11)
    pool = random_pool(rng, variant)
    supply = pool.lp_supply
    amounts = [b // 10 for b in pool.balances]
    result = pool.add_liquidity_detailed(amounts)
    assert abs(result.minted - supply // 10) <= supply // 10**12
    assert all(f <= 10 for f in result.fees)


@pytest.mark.parametrize("variant", VARIANTS)
def test_single_sided_round_trip_loses(variant):
    rng = random.Random(5)
    for _ in range(5):
        pool = random_pool(rng, variant)
        amounts = [0] * pool.n_coins
        amounts[0] = pool.balances[0] // rng.choice([3, 100, 10**5])
        result = pool.add_liquidity_detailed(amounts)
        assert result.fees[0] > 0
        quoted = pool.calc_withdraw_one_coin(result.minted, 0)
        assert pool.remove_liquidity_one_coin(result.minted, 0) == quoted
        assert quoted < amounts[0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_remove_liquidity_one_coin_books(variant):
    rng = random.Random(17)
    pool = random_pool(rng, variant)
    for i, j, dx in (random_trade(rng, pool) for _ in range(3)):
        pool.exchange(i, j, dx)
    holdings, supply, vp = pool.holdings, pool.lp_supply, pool.get_virtual_price()
    admin = list(pool.admin_balances)
    amount = supply // 7
    r = pool.remove_liquidity_one_coin_detailed(amount, 1)
    assert pool.holdings[1] == holdings[1] - r.dy
    assert pool.holdings[0] == holdings[0]
    assert pool.lp_supply == supply - amount
    assert pool.get_virtual_price() >= vp
    assert r.fee > 0
    if variant == "steth":
        assert pool.admin_balances == admin  # the stETH pool leaves the whole fee to the LPs
    else:
        assert pool.admin_balances[1] == admin[1] + r.fee * pool.admin_fee // FEE_DENOMINATOR


@pytest.mark.parametrize("variant", VARIANTS)
def test_remove_liquidity_balanced(variant):
    rng = random.Random(23)
    pool = random_pool(rng, variant)
    i, j, dx = random_trade(rng, pool)
    pool.exchange(i, j, dx)
    balances, vp = list(pool.balances), pool.get_virtual_price()
    values = pool.remove_liquidity(pool.lp_supply // 4)
    for k in range(pool.n_coins):
        assert values[k] + pool.balances[k] == balances[k]
        assert balances[k] // 4 - 1 <= values[k] <= balances[k] // 4 + 1
    assert pool.get_virtual_price() >= vp
    with pytest.raises(AmmError, match="exceeds the supply"):
        pool.remove_liquidity(pool.lp_supply + 1)
    remaining = list(pool.balances)
    assert pool.remove_liquidity(pool.lp_supply) == remaining  # the last LP takes everything
    assert pool.lp_supply == 0 and pool.balances == [0] * pool.n_coins
    with pytest.raises(AmmError, match="division by zero"):
        pool.get_virtual_price()


@pytest.mark.parametrize("variant", VARIANTS)
def test_remove_liquidity_imbalance(variant):
    rng = random.Random(29)
    pool = random_pool(rng, variant)
    # a proportional withdrawal burns about its share, plus one unit (not in the stETH pool)
    share = pool.lp_supply // 10
    amounts = [b * share // pool.lp_supply for b in pool.balances]
    burnt = pool.copy().remove_liquidity_imbalance(amounts)
    assert share - share // 10**12 <= burnt <= share + share // 10**12 + 1
    # a one-sided withdrawal pays fees: it burns more than the fee-less estimate
    amounts = [0] * pool.n_coins
    amounts[0] = pool.balances[0] // 5
    holdings, supply, admin = pool.holdings, pool.lp_supply, list(pool.admin_balances)
    estimate = pool.calc_token_amount(amounts, False)
    burnt = pool.remove_liquidity_imbalance(amounts)
    assert burnt > estimate
    assert pool.lp_supply == supply - burnt
    assert pool.holdings == [h - a for h, a in zip(holdings, amounts)]
    # the admin takes half of the imbalance fees, charged on every coin
    assert all(after > before for after, before in zip(pool.admin_balances, admin))
    with pytest.raises(AmmError, match="Slippage"):
        pool.remove_liquidity_imbalance(amounts, max_burn_amount=1)


def test_steth_imbalance_burn_has_no_extra_unit():
    """Same state, same withdrawal: where the two variants' D agree (large balances make the stETH
    ``+1`` invisible) they end in the same balances, and base burns exactly one LP unit more."""
    amounts = [10**21, 0]
    base = CurvePool("base", 50, 4 * 10**6, 0, rates=[10**18, 10**18])
    steth = CurvePool("steth", 50, 4 * 10**6, 0)
    for pool in (base, steth):
        pool.add_liquidity([10**24, 3 * 10**24])
    new = [10**24 - 10**21, 3 * 10**24]
    assert base.invariant() == steth.invariant()
    assert get_D(new, base.amp, "base") == get_D(new, steth.amp, "steth")
    burnt_base = base.remove_liquidity_imbalance(amounts)
    burnt_steth = steth.remove_liquidity_imbalance(amounts)
    assert base.balances == steth.balances
    assert base.invariant() == steth.invariant()
    assert burnt_base == burnt_steth + 1


@pytest.mark.parametrize("variant", VARIANTS)
def test_reverts_leave_the_pool_unchanged(variant):
    rng = random.Random(31)
    pool = random_pool(rng, variant)
    before = (list(pool.balances), list(pool.admin_balances), pool.lp_supply)
    quoted = pool.get_dy(0, 1, 10**18)
    with pytest.raises(AmmError, match="fewer coins than expected"):
        pool.exchange(0, 1, 10**18, min_dy=quoted + 2)
    with pytest.raises(AmmError, match="Slippage screwed you"):
        pool.add_liquidity([10**18] + [0] * (pool.n_coins - 1), min_mint_amount=10**30)
    with pytest.raises(AmmError, match="Not enough coins removed"):
        pool.remove_liquidity_one_coin(10**18, 0, min_amount=10**30)
    with pytest.raises(AmmError, match="underflow"):
        pool.calc_withdraw_one_coin(pool.lp_supply + 1, 0)
    with pytest.raises(AmmError, match="underflow"):
        pool.remove_liquidity_one_coin(pool.lp_supply + 1, 0)
    assert (pool.balances, pool.admin_balances, pool.lp_supply) == before


def test_first_deposit_onto_leftover_balances():
    """With no LP supply the 3pool skips D0; the later templates compute it, and revert on a zero
    balance left next to a non-zero one (division by zero in get_D)."""
    threepool = CurvePool("3pool", 100, 10**6, 0, balances=[10**18, 0, 0])
    minted = threepool.add_liquidity([10**18, 10**6, 10**6])
    assert minted == get_D([2 * 10**18, 10**18, 10**18], 100, "3pool")  # mints D of everything
    base = CurvePool("base", 100, 10**6, 0, rates=[10**18, 10**30], balances=[10**18, 0])
    with pytest.raises(AmmError, match="division by zero"):
        base.add_liquidity([10**18, 10**6])
    assert base.balances == [10**18, 0] and base.lp_supply == 0


def test_input_validation():
    pool = CurvePool("3pool", 2000, 10**6, 5 * 10**9)
    with pytest.raises(AmmError, match="initial deposit requires all coins"):
        pool.add_liquidity([10**18, 0, 10**6])
    pool.add_liquidity([10**18, 10**6, 10**6])
    with pytest.raises(AmmError, match="same coin"):
        pool.get_dy(1, 1, 10)
    with pytest.raises(AmmError, match=r"j must be in \[0, 3\)"):
        pool.exchange(0, 3, 10)
    with pytest.raises(AmmError, match="must be an integer"):
        pool.get_dy(0, 1, 1.5)
    with pytest.raises(AmmError, match="uint256"):
        pool.get_dy(0, 1, -1)
    with pytest.raises(AmmError, match="one entry per coin"):
        pool.add_liquidity([1, 2])
    with pytest.raises(AmmError, match="variant must be one of"):
        CurvePool("tricrypto", 100, 0, 0)
    with pytest.raises(AmmError, match="rates are required"):
        CurvePool("base", 100, 0, 0)
    with pytest.raises(AmmError, match="multiple of 10\\*\\*18"):
        CurvePool("base", 100, 0, 0, rates=[10**18, 10**17])
    with pytest.raises(AmmError, match="stETH pool has no rates"):
        CurvePool("steth", 100, 0, 0, rates=[10**18, 10**30])
    with pytest.raises(AmmError, match="A must be > 0"):
        CurvePool("base", 0, 0, 0, rates=[10**18, 10**18])
    with pytest.raises(AmmError, match="MAX_FEE"):
        CurvePool("3pool", 100, 5 * 10**9 + 1, 0)
    with pytest.raises(AmmError, match="MAX_ADMIN_FEE"):
        CurvePool("3pool", 100, 0, 10**10 + 1)
    with pytest.raises(AmmError, match="at least 2 coins"):
        get_D([10**18], 100, "base")
    with pytest.raises(AmmError, match="same coin"):
        get_y(0, 0, 1, [10, 10], 100, "base")


def test_copy_is_independent_and_setters_validate():
    pool = CurvePool("base", 100, 4 * 10**6, 5 * 10**9, rates=[10**18, 10**30])
    pool.add_liquidity([10**24, 10**12])
    twin = pool.copy()
    twin.exchange(0, 1, 10**21)
    twin.fee = 0
    assert pool.balances == [10**24, 10**12] and pool.admin_balances == [0, 0]
    assert pool.fee == 4 * 10**6 and twin.balances != pool.balances
    with pytest.raises(AmmError, match="MAX_FEE"):
        pool.fee = 5 * 10**9 + 1
    with pytest.raises(AmmError, match="MAX_ADMIN_FEE"):
        pool.admin_fee = 10**10 + 1
    with pytest.raises(AmmError, match="amp must be > 0"):
        pool.amp = 0
    assert (pool.fee, pool.admin_fee, pool.amp) == (4 * 10**6, 5 * 10**9, 10000)


def test_amp_units_per_variant():
    assert CurvePool("3pool", 2000, 0, 0).amp == 2000
    base = CurvePool("base", 2000, 0, 0, rates=[10**18, 10**30])
    assert (base.amp, base.A, base.A_precise) == (200000, 2000, 200000)
    steth = CurvePool("steth", 50, 0, 0)
    steth.amp = 5050  # mid-ramp: A() floors
    assert (steth.A, steth.A_precise) == (50, 5050)


def test_ramped_amp_by_hand():
    assert ramped_amp(100, 200, 0, 100, 33) == 133
    assert ramped_amp(200, 100, 0, 100, 33) == 167
    assert ramped_amp(1, 2, 0, 100, 99) == 1  # floored
    assert ramped_amp(100, 200, 0, 100, 100) == 200
    assert ramped_amp(100, 200, 0, 100, 10**9) == 200


def test_docstring_examples():
    result = doctest.testmod(curve, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
