"""On-chain pools as simulation components: constant product, concentrated liquidity, StableSwap.

Every pool holds its tokens in its ledger account ``pool:<name>`` and exposes one interface to
agents and oracles:

``price()`` / ``price_of(asset, quote)``
    marginal price, fee excluded (``price()`` is ``assets[0]`` in ``assets[1]``);
``quote(asset_in, amount, asset_out)`` / ``quote_sequence(asset_in, amounts, asset_out)``
    output of one swap, or of consecutive swaps, without changing the pool;
``swap(trader, asset_in, amount, min_out, agent_type, asset_out)``
    a swap inside the current transaction (reverted with it), recorded in ``swaps``;
``arbitrage_trade(target)``
    the profit-maximizing swap against an outside price of ``assets[0]`` in ``assets[1]``:
    closed form (constant product), tick walk (concentrated), compiled bisection (StableSwap);
``depth(asset_in, move)``
    the sale of ``asset_in`` whose last unit is paid the fraction ``move`` less than the first (the
    marginal execution price, fee included, falls by ``move``; for concentrated liquidity this is
    also the move of the pool's price);
``lp_holders`` / ``withdraw`` / ``deposit``
    liquidity owned by LP agents, and their withdrawals and deposits (inside transactions);
``accumulator``
    the time-weighted price accumulator that TWAP oracles read
    (:class:`~contagion.markets.accumulator.PriceAccumulator`: arithmetic price for constant
    product and StableSwap pools as in Uniswap v2, cumulative tick for concentrated pools as in
    Uniswap v3), written at the first price-changing interaction of each block;
``listeners``
    objects whose ``on_pool_change(pool)`` is called, inside the transaction, after every change
    of the pool's price (spot oracles).

The math lives in :mod:`contagion.amm`; pools with state beyond their balances (ticks,
liquidity, LP supply) snapshot it into the transaction journal before every change.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from contagion.amm import constant_product as cp
from contagion.amm.concentrated import ConcentratedLiquidityPool, Position
from contagion.amm.stableswap import StableSwapPool
from contagion.engine.chain import Revert
from contagion.errors import AmmError
from contagion.markets.accumulator import PriceAccumulator
from contagion.scenario.models import ConcentratedPool as ConcentratedSpec
from contagion.scenario.models import ConstantProductPool as ConstantProductSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["RuntimePool", "ConstantProductRuntime", "ConcentratedRuntime", "StableSwapRuntime", "make_pool"]

PASSIVE = "passive"


class RuntimePool:
    """What all pool kinds share; subclasses implement the math."""

    kind = "pool"

    def __init__(self, sim: "Simulation", name: str, spec):
        self.sim = sim
        self.name = name
        self.spec = spec
        self.chain = sim.chains[spec.chain]
        self.assets = tuple(spec.assets)
        self.base, self.quote_asset = self.assets[0], self.assets[1]
        self.fee = spec.fee
        self.swap_gas = spec.swap_gas
        self.account = sim.ledger.add_account(f"pool:{name}", "pool")
        self.listeners: list = []
        self._accumulator: PriceAccumulator | None = None

    # ------------------------------------------------------------------------ to implement
    def _price(self, i: int, j: int) -> float:
        raise NotImplementedError

    def _quote(self, i: int, j: int, amount: float) -> float:
        raise NotImplementedError

    def _apply(self, i: int, j: int, amount: float) -> float:
        """Change the pool's state for a swap (journaled by the caller); returns the output."""
        raise NotImplementedError

    def _sequence(self, i: int, j: int, amounts: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def arbitrage_trade(self, target: float) -> tuple[str, float]:
        raise NotImplementedError

    def depth(self, asset_in: str, move: float) -> float:
        raise NotImplementedError

    def snapshot(self, full: bool = True):
        """State beyond the ledger balances (None if there is none): everything liquidity changes
        touch, or with ``full=False`` only what a swap changes."""
        return None

    def restore(self, state) -> None:  # pragma: no cover - only for pools with state
        pass

    # ----------------------------------------------------------------------- price oracle
    def _accumulated(self) -> tuple[float, float]:
        """Values the accumulator integrates: price of ``assets[0]`` in ``assets[1]`` and its inverse."""
        p = self._price(0, 1)
        return p, 1.0 / p

    @property
    def accumulator(self) -> PriceAccumulator:
        """The pool's time-weighted price accumulator (created with the state in effect since time 0)."""
        if self._accumulator is None:
            self._accumulator = PriceAccumulator(self._accumulated, self.sim.journal,
                                                 geometric=isinstance(self, ConcentratedRuntime))
        return self._accumulator

    def _before_change(self) -> None:
        """Write this block's accumulator observation (with the price before the change)."""
        self.accumulator.write(self.sim.env.now)

    def _after_change(self) -> None:
        for listener in self.listeners:
            listener.on_pool_change(self)

    # -------------------------------------------------------------------------- interface
    def index(self, asset: str) -> int:
        try:
            return self.assets.index(asset)
        except ValueError:
            raise Revert(f"pool {self.name} does not trade {asset}") from None

    def _pair(self, asset_in: str, asset_out: str | None) -> tuple[int, int]:
        i = self.index(asset_in)
        if asset_out is None:
            j = 1 if i == 0 else 0
        else:
            j = self.index(asset_out)
        if i == j:
            raise Revert(f"pool {self.name}: asset_in and asset_out are both {asset_in}")
        return i, j

    def price(self) -> float:
        """Marginal price of ``assets[0]`` in ``assets[1]``, fee excluded."""
        return self._price(0, 1)

    def price_of(self, asset: str, quote: str) -> float:
        return self._price(self.index(asset), self.index(quote))

    def exogenous_price(self) -> float:
        """The exogenous price of ``assets[0]`` in ``assets[1]`` from a venue, NaN if none."""
        return self.sim.exogenous_price(self.base, self.quote_asset)

    def balance(self, asset: str) -> float:
        return self.sim.ledger.balance(self.account, asset)

    def quote(self, asset_in: str, amount_in: float, asset_out: str | None = None) -> float:
        """Output of a swap of ``amount_in`` (no state change); raises :class:`AmmError` if the
        pool cannot fill it."""
        i, j = self._pair(asset_in, asset_out)
        return self._quote(i, j, float(amount_in)) if amount_in > 0 else 0.0

    def quote_batch(self, asset_in: str, amounts, asset_out: str | None = None) -> np.ndarray:
        """Outputs of independent swaps of each of ``amounts`` from the current state (compiled)."""
        i, j = self._pair(asset_in, asset_out)
        return self._batch(i, j, np.ascontiguousarray(amounts, dtype=np.float64))

    def _batch(self, i: int, j: int, amounts: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def quote_sequence(self, asset_in: str, amounts, asset_out: str | None = None) -> np.ndarray:
        """Outputs of consecutive swaps of ``amounts`` (no state change); NaN from the first swap
        the pool cannot fill."""
        i, j = self._pair(asset_in, asset_out)
        return self._sequence(i, j, np.ascontiguousarray(amounts, dtype=np.float64))

    def swap(self, trader: str, asset_in: str, amount_in: float, min_out: float = 0.0, agent_type: str = "",
             asset_out: str | None = None) -> float:
        """Swap inside the current transaction; reverts if the output is below ``min_out``."""
        i, j = self._pair(asset_in, asset_out)
        if not amount_in > 0:
            raise Revert("swap: amount_in must be > 0")
        before = self.price()
        self._before_change()
        state = self.snapshot(full=False)
        try:
            out = self._apply(i, j, float(amount_in))
        except AmmError as err:
            self.restore(state)
            raise Revert(f"swap: {err}") from None
        if state is not None:
            self.sim.journal.record(lambda: self.restore(state))
        if not out < self.balance(self.assets[j]):
            raise Revert("swap: input too large for the pool (output rounds to the whole reserve)")
        if out < min_out:
            raise Revert(f"swap: output {out:.6g} below minimum {min_out:.6g}")
        ledger = self.sim.ledger
        ledger.transfer(trader, self.account, self.assets[i], amount_in)
        ledger.transfer(self.account, trader, self.assets[j], out)
        sim = self.sim
        block = sim.current_block or self.chain.last_block
        sim.recorder.add("swaps", (sim.next_id("swap"), sim.env.now, block.number if block else -1,
                                   sim.current_tx_id, self.name, "pool", trader, agent_type, self.assets[i],
                                   amount_in, self.assets[j], out, before, self.price()))
        self._after_change()
        return out

    # ---------------------------------------------------------------------------- liquidity
    def lp_holders(self) -> list[str]:
        """Accounts holding liquidity in this pool (``passive`` is the LPs that never move)."""
        raise NotImplementedError

    def holding_value(self, owner: str) -> float:
        """Value of ``owner``'s liquidity, in ``assets[1]`` at the current price."""
        raise NotImplementedError

    def withdraw(self, owner: str, fraction: float) -> list[float]:
        """Take ``fraction`` of ``owner``'s liquidity out to its account (in a transaction)."""
        raise NotImplementedError

    def deposit(self, owner: str, amounts: list[float]) -> list[float]:
        """Put tokens of ``owner`` back in as liquidity (in a transaction); returns what was used."""
        raise NotImplementedError

    def value_of(self, amounts) -> float:
        """Value of token amounts (one per asset, in pool order) in ``assets[1]`` at current prices."""
        return sum(a * (self._price(k, 1) if k != 1 else 1.0) for k, a in enumerate(amounts))


class _LpShares:
    """LP liquidity as fungible shares (constant product and StableSwap): ``shares[owner]``."""

    shares: dict[str, float]

    def grant(self, owner: str, share: float) -> None:
        """Give ``owner`` a share of the passive LPs' liquidity (at genesis)."""
        amount = self.shares[PASSIVE] * share
        self.shares[PASSIVE] -= amount
        self.shares[owner] = self.shares.get(owner, 0.0) + amount

    def lp_holders(self):
        return [o for o, s in self.shares.items() if s > 0]


# ------------------------------------------------------------------------------ constant product
class ConstantProductRuntime(_LpShares, RuntimePool):
    """A Uniswap v2 pool; reserves are the ledger balances. LP shares start at ``sqrt(x y)``."""

    def __init__(self, sim: "Simulation", name: str, spec: ConstantProductSpec):
        super().__init__(sim, name, spec)
        sim.ledger.mint(self.account, self.base, spec.reserves[0])
        sim.ledger.mint(self.account, self.quote_asset, spec.reserves[1])
        self.lp_supply = math.sqrt(spec.reserves[0] * spec.reserves[1])
        self.shares: dict[str, float] = {PASSIVE: self.lp_supply}

    def reserves(self) -> tuple[float, float]:
        """``(assets[0], assets[1])`` reserves, token units."""
        return self.balance(self.base), self.balance(self.quote_asset)

    def _r(self, i: int, j: int) -> tuple[float, float]:
        return self.balance(self.assets[i]), self.balance(self.assets[j])

    def _price(self, i, j):
        r_i, r_j = self._r(i, j)
        return r_j / r_i

    def _quote(self, i, j, amount):
        r_i, r_j = self._r(i, j)
        return cp.amount_out(amount, r_i, r_j, self.fee)

    def _apply(self, i, j, amount):
        return self._quote(i, j, amount)  # reserves move with the ledger transfers

    def _sequence(self, i, j, amounts):
        r_i, r_j = self._r(i, j)
        return cp.sequential_out(amounts, r_i, r_j, self.fee)[0]

    def _batch(self, i, j, amounts):
        r_i, r_j = self._r(i, j)
        return cp.amount_out(amounts, r_i, r_j, self.fee)

    def arbitrage_trade(self, target):
        x, y = self.reserves()
        side, amount = cp.arbitrage_trade(x, y, target, self.fee)
        return self.assets[side], amount

    def depth(self, asset_in, move):
        r_in = self.balance(asset_in)
        return r_in * (1.0 / math.sqrt(1.0 - move) - 1.0) / (1.0 - self.fee)

    # LP shares are plain numbers here; a transfer of shares is journaled like any state
    def _set_shares(self, owner: str, value: float, supply: float) -> None:
        old_owner, old_supply = self.shares.get(owner, 0.0), self.lp_supply
        self.shares[owner] = value
        self.lp_supply = supply
        self.sim.journal.record(lambda: (self.shares.__setitem__(owner, old_owner),
                                         setattr(self, "lp_supply", old_supply)))

    def holding_value(self, owner):
        x, y = self.reserves()
        part = self.shares.get(owner, 0.0) / self.lp_supply
        return part * (x * self._price(0, 1) + y)

    def withdraw(self, owner, fraction):
        burn = self.shares.get(owner, 0.0) * fraction
        if burn <= 0:
            raise Revert(f"{owner} holds no liquidity in {self.name}")
        part = burn / self.lp_supply
        amounts = [self.balance(a) * part for a in self.assets]
        self._set_shares(owner, self.shares[owner] - burn, self.lp_supply - burn)
        for asset, amount in zip(self.assets, amounts):
            self.sim.ledger.transfer(self.account, owner, asset, amount)
        return amounts

    def deposit(self, owner, amounts):
        x, y = self.reserves()
        ratio = min(amounts[0] / x, amounts[1] / y)
        if ratio <= 0:
            raise Revert(f"{owner} has nothing to deposit into {self.name}")
        used = [x * ratio, y * ratio]
        for asset, amount in zip(self.assets, used):
            self.sim.ledger.transfer(owner, self.account, asset, amount)
        minted = self.lp_supply * ratio
        self._set_shares(owner, self.shares.get(owner, 0.0) + minted, self.lp_supply + minted)
        return used


# ------------------------------------------------------------------------- concentrated liquidity
class ConcentratedRuntime(RuntimePool):
    """A Uniswap v3 pool: positions from explicit ranges and/or a Gaussian distribution."""

    def __init__(self, sim: "Simulation", name: str, spec: ConcentratedSpec):
        super().__init__(sim, name, spec)
        self.math = ConcentratedLiquidityPool(spec.price, spec.fee, spec.tick_spacing, self.assets)
        # positions each LP left, ``(lower, upper, liquidity)``, to re-open when it returns
        self.burned: dict[str, list[tuple[int, int, float]]] = {}
        for lower, upper, value in self._ranges(spec):
            self.math.mint_value(lower, upper, value, owner=PASSIVE)
        sim.ledger.mint(self.account, self.base, self.math.balances[0])
        sim.ledger.mint(self.account, self.quote_asset, self.math.balances[1])

    @staticmethod
    def _ranges(spec: ConcentratedSpec) -> list[tuple[float, float, float]]:
        ranges = [(r.lower, r.upper, r.value) for r in spec.ranges]
        dist = spec.distribution
        if dist is not None:
            centers = np.linspace(-3 * dist.sigma, 3 * dist.sigma, dist.positions) if dist.positions > 1 \
                else np.zeros(1)
            weights = np.exp(-centers**2 / (2 * dist.sigma**2))
            weights /= weights.sum()
            for c, w in zip(centers, weights):
                ranges.append((spec.price * math.exp(c - dist.width), spec.price * math.exp(c + dist.width),
                               dist.total_value * w))
        return ranges

    def snapshot(self, full=True):
        if not full:
            return self.math.snapshot(positions=False), None
        return self.math.snapshot(), {owner: list(r) for owner, r in self.burned.items()}

    def restore(self, state):
        self.math.restore(state[0])
        if state[1] is not None:
            self.burned = {owner: list(r) for owner, r in state[1].items()}

    def _price(self, i, j):
        p = self.math.price()
        return p if (i, j) == (0, 1) else 1.0 / p

    def _accumulated(self):
        tick = float(self.math.tick)
        return tick, -tick

    def _quote(self, i, j, amount):
        return self.math.quote(amount, self.assets[i])

    def _apply(self, i, j, amount):
        return self.math.swap_exact_in(amount, self.assets[i])

    def _sequence(self, i, j, amounts):
        return self.math.quote_sequence(amounts, self.assets[i])

    def _batch(self, i, j, amounts):
        return self.math.quote_batch(amounts, self.assets[i])

    def arbitrage_trade(self, target):
        side, amount = self.math.amount_to_price(target)
        return self.assets[side], amount

    def depth(self, asset_in, move):
        zfo = asset_in == self.base
        p = self.math.price()
        return self.math.input_to_price(zfo, math.sqrt(p * (1 - move)) if zfo else math.sqrt(p / (1 - move)))

    # ---- liquidity: LP agents own positions; the nearest to the price leave first
    def grant(self, owner: str, share: float) -> None:
        """Split each passive position: ``share`` of its liquidity becomes ``owner``'s (at genesis)."""
        for pid, pos in list(self.math.positions.items()):
            if pos.owner != PASSIVE:
                continue
            moved = pos.liquidity * share
            pos.liquidity -= moved
            new = self.math._next_position
            self.math._next_position += 1
            self.math.positions[new] = Position(pos.lower, pos.upper, moved, owner, pos.growth_inside0,
                                                pos.growth_inside1)

    def lp_holders(self):
        return sorted({p.owner for p in self.math.positions.values()})

    def _owned(self, owner: str) -> list[int]:
        """``owner``'s positions, nearest to the price first: those in range, narrowest first (their
        liquidity is the most concentrated at the price), then the others by distance in ticks."""
        t = self.math.tick
        mine = [(pid, p) for pid, p in self.math.positions.items() if p.owner == owner]

        def nearness(item):
            pid, p = item
            if p.lower <= t < p.upper:
                return 0, p.upper - p.lower, pid
            return 1, min(abs(p.lower - t), abs(p.upper - t)), pid

        return [pid for pid, _ in sorted(mine, key=nearness)]

    def holding_value(self, owner):
        total = 0.0
        for pid in self._owned(owner):
            a0, a1, f0, f1 = self.math.position_amounts(pid)
            total += (a0 + f0) * self.math.price() + a1 + f1
        return total

    def withdraw(self, owner, fraction):
        positions = self._owned(owner)
        if not positions:
            raise Revert(f"{owner} holds no liquidity in {self.name}")
        state = self.snapshot()
        self.sim.journal.record(lambda: self.restore(state))
        target = self.holding_value(owner) * fraction
        taken, out = 0.0, [0.0, 0.0]
        for pid in positions:
            if taken >= target * (1 - 1e-12):
                break
            a0, a1 = self._burn(pid)
            out[0] += a0
            out[1] += a1
            taken += a0 * self.math.price() + a1
        for asset, amount in zip(self.assets, out):
            self.sim.ledger.transfer(self.account, owner, asset, amount)
        return out

    def _burn(self, pid: int) -> tuple[float, float]:
        pos = self.math.positions[pid]
        self.burned.setdefault(pos.owner, []).append((pos.lower, pos.upper, pos.liquidity))
        return self.math.burn(pid)

    def deposit(self, owner, amounts):
        """Re-open ``owner``'s withdrawn positions with their liquidity, scaled down by one common
        factor if ``amounts`` (token0, token1) cannot fund all of it at the current price."""
        burned = self.burned.get(owner, [])
        if not burned:
            raise Revert(f"{owner} has no ranges to re-open in {self.name}")
        state = self.snapshot()
        self.sim.journal.record(lambda: self.restore(state))
        need = np.array([self.math._amounts(lower, upper, liquidity) for lower, upper, liquidity in burned]).sum(axis=0)
        factor = min([1.0] + [amounts[k] / need[k] * (1 - 1e-12) for k in (0, 1) if need[k] > 0])  # no overdraft
        if not factor > 0:
            raise Revert(f"{owner} has nothing to deposit into {self.name}")
        used = [0.0, 0.0]
        for lower, upper, liquidity in burned:
            _, (a0, a1) = self.math.mint(lower, upper, liquidity * factor, owner)
            used[0] += a0
            used[1] += a1
        self.burned[owner] = []
        for asset, amount in zip(self.assets, used):
            self.sim.ledger.transfer(owner, self.account, asset, amount)
        return used


# ------------------------------------------------------------------------------------ stableswap
class StableSwapRuntime(_LpShares, RuntimePool):
    """A Curve pool of 2 to 4 coins; the admin's fee share stays in the pool's account."""

    def __init__(self, sim: "Simulation", name: str, spec):
        super().__init__(sim, name, spec)
        self.math = StableSwapPool(spec.balances, spec.amplification, spec.fee, spec.admin_fee, spec.rates,
                                   self.assets)
        for asset, amount in zip(self.assets, spec.balances):
            sim.ledger.mint(self.account, asset, amount)
        self.shares: dict[str, float] = {PASSIVE: self.math.lp_supply}

    def snapshot(self, full=True):
        return self.math.snapshot(), dict(self.shares)

    def restore(self, state):
        self.math.restore(state[0])
        self.shares = dict(state[1])

    def _price(self, i, j):
        return self.math.price(i, j)

    def _quote(self, i, j, amount):
        return self.math.get_dy(i, j, amount)

    def _apply(self, i, j, amount):
        return self.math.exchange(i, j, amount)

    def _sequence(self, i, j, amounts):
        state = self.math.snapshot()
        try:
            return np.array([self.math.exchange(i, j, a) if a > 0 else 0.0 for a in amounts])
        finally:
            self.math.restore(state)

    def _batch(self, i, j, amounts):
        return np.asarray(self.math.get_dy(i, j, amounts), dtype=np.float64)

    def arbitrage_trade(self, target):
        gamma = 1.0 - self.fee
        p = self.math.price(0, 1)
        if gamma * p > target:
            return self.assets[0], self.math.arbitrage(0, 1, target)
        if p < target * gamma:
            return self.assets[1], self.math.arbitrage(1, 0, 1.0 / target)
        return self.assets[0], 0.0

    def depth(self, asset_in, move):
        i = self.index(asset_in)
        j = 1 if i == 0 else 0
        p = self.math.price(i, j)
        return self.math.arbitrage(i, j, (1.0 - self.fee) * p * (1.0 - move))

    def holding_value(self, owner):
        part = self.shares.get(owner, 0.0) / self.math.lp_supply
        return part * self.value_of(self.math.balances)

    def withdraw(self, owner, fraction):
        burn = self.shares.get(owner, 0.0) * fraction
        if burn <= 0:
            raise Revert(f"{owner} holds no liquidity in {self.name}")
        state = self.snapshot()
        self.sim.journal.record(lambda: self.restore(state))
        out = self.math.remove_liquidity(burn)
        self.shares[owner] -= burn
        for asset, amount in zip(self.assets, out):
            self.sim.ledger.transfer(self.account, owner, asset, float(amount))
        return [float(a) for a in out]

    def deposit(self, owner, amounts):
        if not any(a > 0 for a in amounts):
            raise Revert(f"{owner} has nothing to deposit into {self.name}")
        self._before_change()  # an unbalanced deposit moves the price
        state = self.snapshot()
        self.sim.journal.record(lambda: self.restore(state))
        minted = self.math.add_liquidity(amounts)
        self.shares[owner] = self.shares.get(owner, 0.0) + minted
        for asset, amount in zip(self.assets, amounts):
            self.sim.ledger.transfer(owner, self.account, asset, float(amount))
        self._after_change()
        return list(amounts)


def make_pool(sim: "Simulation", name: str, spec) -> RuntimePool:
    """The runtime class for a pool entry's ``kind``."""
    cls = {"constant_product": ConstantProductRuntime, "concentrated": ConcentratedRuntime,
           "stableswap": StableSwapRuntime}[spec.kind]
    return cls(sim, name, spec)
