"""Pool price accumulators and TWAP oracles: closed forms on constructed price paths, and what a
one-block manipulation can do to a TWAP."""

from __future__ import annotations

import math

import numpy as np
import pytest

import contagion
from contagion.engine.journal import Journal
from contagion.errors import SimulationError
from contagion.engine.chain import Revert
from contagion.markets.accumulator import TICK_BASE, PriceAccumulator
from contagion.markets.pool import ConcentratedRuntime

BLOCK = 12.0
TRADER = "trader"


def scenario(pool: dict, window, extra_oracles: dict | None = None) -> dict:
    """One chain, ETH/USDC, one pool read by a TWAP (``eth_twap``) and a spot oracle; no agents."""
    return {
        "name": "twap", "until": "1h",
        "chains": {"ethereum": {"block_time": BLOCK, "native_asset": "ETH"}},
        "assets": {"ETH": {"chain": "ethereum", "kind": "native"}, "USDC": {"chain": "ethereum", "kind": "stable"}},
        "pools": {"pool": {"chain": "ethereum", "assets": ["ETH", "USDC"], **pool}},
        "oracles": {"eth_twap": {"kind": "twap", "asset": "ETH", "pool": "pool", "window": window},
                    "eth_spot": {"kind": "spot", "asset": "ETH", "pool": "pool"},
                    **(extra_oracles or {})},
    }


CP = {"kind": "constant_product", "reserves": [1000, 2_000_000], "fee": 0.003}
CP_NO_FEE = {"kind": "constant_product", "reserves": [1000, 2_000_000], "fee": 0.0}
V3 = {"kind": "concentrated", "price": 2000, "fee": 0.003,
      "ranges": [{"lower": 1000, "upper": 4000, "value": 4_000_000}]}
V3_NO_FEE = dict(V3, fee=0.0, tick_spacing=1)


class Driver:
    """A simulation with a funded trader whose swaps land in chosen blocks, recording each block's end."""

    def __init__(self, data: dict):
        self.sim = contagion.Simulation(contagion.Network.from_dict(data), seed=0)
        sim = self.sim
        sim.ledger.add_account(TRADER, "test")
        sim.ledger.mint(TRADER, "ETH", 100_000.0)
        sim.ledger.mint(TRADER, "USDC", 100_000_000.0)
        self.pool = sim.pools["pool"]
        self.twap = sim.oracles["eth_twap"]
        self.ends: list[tuple[float, float, int, float]] = []  # (time, pool price, tick, TWAP answer)
        sim.chains["ethereum"].on_block(self._record)

    def _record(self, block):
        tick = int(self.pool.math.tick) if isinstance(self.pool, ConcentratedRuntime) else 0
        self.ends.append((block.time, self.pool.price(), tick, self.twap.answer))

    def swap_in_block(self, number: int, *legs):
        """Swaps ``(asset_in, amount or callable)`` executed in block ``number``, one transaction each."""
        sim, chain = self.sim, self.sim.chains["ethereum"]

        def submit():
            yield sim.env.timeout(number * BLOCK - BLOCK / 2)
            for asset_in, amount in legs:
                def action(block, asset_in=asset_in, amount=amount):
                    size = amount() if callable(amount) else amount
                    return self.pool.swap(TRADER, asset_in, size, 0.0, "test")
                chain.submit(sender=TRADER, agent_type="test", kind="swap", gas_used=120_000, gas_price=50.0,
                             action=action)

        sim.env.process(submit())

    def run(self, until: float):
        return self.sim.run(until)


def closed_form_twap(ends, initial: float, blocks: int, geometric: bool) -> np.ndarray:
    """TWAP at each block N: the mean of the end-of-block values of blocks N - blocks .. N - 1 (the
    initial value before block 1); for ticks, ``1.0001 ** mean``."""
    values = np.array([e[2] if geometric else e[1] for e in ends], dtype=float)
    padded = np.concatenate([np.full(blocks, initial), values])
    out = np.array([padded[n:n + blocks].mean() for n in range(len(values))])
    return TICK_BASE ** out if geometric else out


@pytest.mark.parametrize("pool, geometric", [(CP, False), (V3, True)], ids=["constant_product", "concentrated"])
def test_twap_is_the_time_weighted_mean_of_block_end_prices(pool, geometric):
    window_blocks = 10
    d = Driver(scenario(pool, window_blocks * BLOCK))
    initial = float(d.pool.math.tick) if geometric else d.pool.price()
    d.swap_in_block(5, ("ETH", 40.0))
    d.swap_in_block(9, ("USDC", 150_000.0), ("ETH", 10.0))     # two swaps in one block: only its end counts
    d.swap_in_block(16, ("ETH", 25.0))
    d.swap_in_block(30, ("USDC", 30_000.0))
    # between blocks it is the same closed form, with the last block's end held until t
    t = 30 * BLOCK + 5.0
    d.sim.advance(t)
    values = [e[2] if geometric else e[1] for e in d.ends]
    times = [0.0] + [e[0] for e in d.ends]
    held = [initial] + values                          # value held on (times[k], times[k + 1]]
    lo = t - window_blocks * BLOCK
    integral = sum(v * max(0.0, min(t, t1) - max(lo, t0))
                   for v, t0, t1 in zip(held, times, times[1:] + [math.inf]))
    mean = integral / (window_blocks * BLOCK)
    assert d.twap.value(t)[0] == pytest.approx(TICK_BASE ** mean if geometric else mean, rel=1e-12)

    d.run(50 * BLOCK)
    expected = closed_form_twap(d.ends, initial, window_blocks, geometric)
    answers = np.array([e[3] for e in d.ends])
    assert answers == pytest.approx(expected, rel=1e-12)
    # the end-of-block path really moved (the test is not about a flat price)
    assert np.ptp([e[1] for e in d.ends]) > 0.03 * d.ends[0][1]


def test_publication_is_a_read_each_block_it_changes():
    d = Driver(scenario(CP, 5 * BLOCK))
    d.swap_in_block(3, ("ETH", 20.0))
    res = d.run(20 * BLOCK)
    ups = res.oracle_updates[res.oracle_updates["oracle"] == "eth_twap"]
    later = ups.iloc[1:]
    # no transaction: a read; one update per block from block 4 (the first that sees block 3's end)
    # to block 8 (the last whose window still changes), none while the price is flat
    assert set(later["reason"]) == {"twap"} and later["tx_id"].eq(-1).all()
    assert later["block"].tolist() == [4, 5, 6, 7, 8]
    assert (later["published_at"] == later["observed_at"]).all() and later["lag"].eq(0).all()


def _one_block_manipulation(pool, amount, window_blocks=50, same_block=False):
    """Sell ``amount`` ETH in block 20 and buy it back with the proceeds in block 21 (or in block 20)."""
    d = Driver(scenario(pool, window_blocks * BLOCK))
    got = {}

    def proceeds():
        return got["usdc"]

    sell_block, buy_block = 20, 20 if same_block else 21
    sim, chain = d.sim, d.sim.chains["ethereum"]

    def submit(number, action):
        def go():
            yield sim.env.timeout(number * BLOCK - BLOCK / 2)
            chain.submit(sender=TRADER, agent_type="test", kind="swap", gas_used=120_000, gas_price=50.0,
                         action=action)
        sim.env.process(go())

    submit(sell_block, lambda b: got.__setitem__("usdc", d.pool.swap(TRADER, "ETH", amount, 0.0, "test")))
    submit(buy_block, lambda b: d.pool.swap(TRADER, "USDC", proceeds(), 0.0, "test"))
    res = d.run((buy_block + window_blocks + 5) * BLOCK)
    return d, res


def test_a_one_block_manipulation_moves_an_arithmetic_twap_by_block_time_over_window():
    window_blocks = 50
    d, res = _one_block_manipulation(CP_NO_FEE, 100.0, window_blocks)
    p = 2000.0
    x, y = 1000.0, 2_000_000.0
    p_m = (y * x / (x + 100.0)) / (x + 100.0)            # price after selling 100 ETH (no fee)
    share = BLOCK / (window_blocks * BLOCK)               # the manipulated block's weight
    ends = {t: (price, answer) for t, price, _, answer in d.ends}
    assert ends[20 * BLOCK][0] == pytest.approx(p_m, rel=1e-12)     # held for one block ...
    assert ends[21 * BLOCK][0] == pytest.approx(p, rel=1e-12)       # ... then restored
    moved = [ends[n * BLOCK][1] for n in range(21, 21 + window_blocks)]
    assert moved == pytest.approx([p + share * (p_m - p)] * window_blocks, rel=1e-12)
    assert ends[20 * BLOCK][1] == pytest.approx(p, rel=1e-12)       # the block itself does not count
    assert ends[(21 + window_blocks) * BLOCK][1] == pytest.approx(p, rel=1e-9)
    # in log terms the move is at most (block time / window) x the manipulation's log move
    log_move = abs(math.log(p_m / p))
    worst = max(abs(math.log(a / p)) for _, (_, a) in ends.items())
    assert worst == pytest.approx(abs(math.log(1 + share * (p_m / p - 1))), rel=1e-9)
    assert worst <= share * log_move
    # the spot oracle followed the pool: the manipulated price was on chain for one block
    spot = res.oracle_updates[res.oracle_updates["oracle"] == "eth_spot"]
    assert spot["price"].min() == pytest.approx(p_m, rel=1e-12)


def test_a_one_block_manipulation_moves_a_geometric_twap_by_its_tick_move_times_block_time_over_window():
    window_blocks = 50
    d, _ = _one_block_manipulation(V3_NO_FEE, 100.0, window_blocks)
    ticks = {t: tick for t, _, tick, _ in d.ends}
    answers = {t: a for t, _, _, a in d.ends}
    tick0, tick_m = ticks[19 * BLOCK], ticks[20 * BLOCK]
    assert ticks[21 * BLOCK] == tick0 and tick_m < tick0
    share = 1.0 / window_blocks
    base = TICK_BASE ** tick0
    for n in range(21, 21 + window_blocks):
        assert math.log(answers[n * BLOCK] / base) == pytest.approx(share * (tick_m - tick0) * math.log(TICK_BASE),
                                                                     rel=1e-9)
    prices = {t: p for t, p, _, _ in d.ends}
    log_move = abs(math.log(prices[20 * BLOCK] / prices[19 * BLOCK]))
    worst = max(abs(math.log(a / base)) for a in answers.values())
    assert worst <= share * (log_move + math.log(TICK_BASE))   # one tick of rounding at most


def test_a_round_trip_inside_one_block_does_not_move_the_twap():
    d, res = _one_block_manipulation(CP_NO_FEE, 300.0, same_block=True)
    assert [a for _, _, _, a in d.ends] == pytest.approx([2000.0] * len(d.ends), rel=1e-12)
    spot = res.oracle_updates[(res.oracle_updates["oracle"] == "eth_spot") & (res.oracle_updates["reason"] == "spot")]
    assert len(spot) == 2 and spot["price"].iloc[0] < 0.6 * 2000.0   # yet the spot price crashed in between


def test_a_reverted_swap_leaves_no_observation():
    d = Driver(scenario(CP, 5 * BLOCK))
    sim, chain = d.sim, d.sim.chains["ethereum"]

    def action(block):
        d.pool.swap(TRADER, "ETH", 10.0, 0.0, "test")
        raise Revert("changed my mind")

    def go():
        yield sim.env.timeout(30.0)
        chain.submit(sender=TRADER, agent_type="test", kind="swap", gas_used=120_000, gas_price=50.0,
                     action=action)

    sim.env.process(go())
    d.run(60.0)
    assert len(d.pool.accumulator) == 1 and d.pool.price() == 2000.0


# ------------------------------------------------------------------------------- the accumulator
def test_accumulator_keeps_only_the_history_windows_need():
    state = {"p": 100.0}
    acc = PriceAccumulator(lambda: (state["p"], 1.0 / state["p"]), Journal(), geometric=False)
    acc.require(50.0)
    for t in range(1, 1001):
        acc.write(float(t))                 # first interaction at t: written with the value before it
        state["p"] = 100.0 + t % 7          # the value held after time t
    assert acc.capacity <= 2 * (50 + 2) and len(acc) <= acc.capacity
    # mean over [950, 1000] of the values held: value on (t-1, t] is the one set at t - 1
    expected = np.mean([100.0 + (t - 1) % 7 for t in range(951, 1001)])
    assert acc.mean(1000.0, 50.0)[0] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(SimulationError, match="no observation as old as"):
        acc.cumulative(10.0)


def test_accumulator_writes_once_per_timestamp_and_undoes_with_the_journal():
    state = {"p": 10.0}
    journal = Journal()
    acc = PriceAccumulator(lambda: (state["p"], 1.0 / state["p"]), journal, geometric=False)
    assert acc.write(5.0) and not acc.write(5.0)
    journal.begin()
    acc.write(9.0)
    assert len(acc) == 3
    journal.rollback()
    assert len(acc) == 2 and acc.last_time == 5.0
    # before time 0 the initial value is assumed
    assert acc.cumulative(-4.0)[0] == pytest.approx(-40.0)


def test_twap_validation_rules(tmp_path):
    data = scenario(CP, "10min")
    data["venues"] = {"cex": {"asset": "ETH", "quote": "USDC", "path": {"kind": "piecewise", "points": [[0, 2000]]}}}
    data["oracles"]["eth_twap"]["pool"] = "cex"
    with pytest.raises(contagion.ScenarioError) as info:
        contagion.Network.from_dict(data, source="networks/t.yaml")
    assert ("networks/t.yaml: oracles.eth_twap.pool: must name a pool (a TWAP reads a pool's price accumulator; "
            "cex is an off-chain venue), got 'cex'") in info.value.problems
