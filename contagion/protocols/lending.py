"""A fixed-spread lending market (one collateral, one debt asset) as a simulation component.

State: per-position ``collateral`` and ``debt`` arrays (token units) and a
:class:`~contagion.liquidation.LiquidationIndex` of liquidation prices. Tokens: the protocol's
ledger account holds all deposited collateral and the lenders' idle liquidity; the account
``borrowers:<name>`` holds what was borrowed.

Prices come only from the protocol's oracles (on-chain answers). When an oracle publishes, the
protocol stamps the positions that *became* liquidatable with that update's id (a slice of the
sorted index, so the cost does not grow with the book), and marks each as *induced* if it would
not be liquidatable at the update's exogenous price — i.e. if only the simulated trades (earlier
liquidations' sales) pushed it over. A liquidation inherits the stamp: it records the update that
made the position liquidatable, and its cascade generation (see
:class:`~contagion.engine.cascade.CascadeTracker`).

Oracles are read as on chain: an oracle computed when read (a TWAP) is brought up to the current
block before a liquidation uses it. A liquidation reverts while an oracle the protocol reads is
older than the protocol's ``max_oracle_age`` (reason ``stale oracle: ...``), or while a pull
oracle's stored price is older than that oracle's ``max_age`` (reason ``stale price: ...``); a
liquidator of a protocol with pull oracles brings the newest signed prices in the same
transaction (:meth:`LendingMarket.pull_bundle`).

Bad debt is the shortfall ``sum(max(0, debt * P_d - collateral * P_c))`` at the oracle prices:
debt of positions whose collateral was seized entirely, plus the uncovered part of liquidatable
positions (only liquidatable positions can have a shortfall, since ``lt <= 1``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from contagion import kernels
from contagion.engine.chain import Revert
from contagion.errors import InvariantError
from contagion.protocols.base import LiquidationGroup, Protocol, stamp_triggers
from contagion.liquidation import LiquidationIndex
from contagion.protocols.positions import generate_positions, read_snapshot
from contagion.scenario.models import GeneratedPositions, LendingProtocol

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.markets.oracle import OracleUpdate

__all__ = ["LendingMarket"]


class LendingMarket(Protocol):
    """Runtime of a ``type: lending`` protocol."""

    def __init__(self, sim: "Simulation", name: str, spec: LendingProtocol):
        super().__init__(sim, name, spec)
        self.collateral_asset = spec.collateral
        self.debt_asset = spec.debt
        self.lt = spec.liquidation_threshold
        self.close_factor = spec.close_factor
        self.full_close_hf = -1.0 if spec.full_close_hf is None else spec.full_close_hf
        self.bonus = spec.liquidation_bonus
        self.oracle_collateral = sim.oracles[spec.oracles[spec.collateral]]
        self.oracle_debt = sim.oracles[spec.oracles[spec.debt]]
        self.oracles_used = list(dict.fromkeys([self.oracle_collateral, self.oracle_debt]))
        self.pull_oracles = [o for o in self.oracles_used if o.oracle_kind == "pull"]
        self.max_oracle_age = spec.max_oracle_age
        self.sell_into = [sim.pools[p] for p in spec.liquidates_into]
        self.borrowers = sim.ledger.add_account(f"borrowers:{name}", "borrowers")
        self.ratio = float("nan")
        self.collateral = np.zeros(0)
        self.debt = np.zeros(0)
        self.trigger = np.zeros(0, dtype=np.int64)
        self.induced = np.zeros(0, dtype=bool)
        self.total_debt = 0.0
        self.written_off = 0.0  # debt left on positions whose collateral is gone (debt units)
        self.index: LiquidationIndex | None = None
        for oracle in {self.oracle_collateral, self.oracle_debt}:
            oracle.subscribe(self)

    # ------------------------------------------------------------------------------- prices
    def price_ratio(self) -> float:
        """Collateral price in debt-asset units, from the on-chain answers."""
        return self.oracle_collateral.answer / self.oracle_debt.answer

    def exogenous_ratio(self) -> float:
        return self.oracle_collateral.answer_exogenous / self.oracle_debt.answer_exogenous

    def pull_bundle(self) -> list:
        """``[(pull oracle, newest signed price)]`` for each pull oracle whose newest signed price
        is newer than its stored one: what a liquidator brings along."""
        out = []
        for oracle in self.pull_oracles:
            signed = oracle.newest_signed()
            if signed is not None and signed.publish_time > oracle.publish_time:
                out.append((oracle, signed))
        return out

    def ratio_with(self, bundle) -> float:
        """The price ratio once the signed prices of ``bundle`` are stored (see :meth:`pull_bundle`)."""
        prices = {oracle.name: signed.price for oracle, signed in bundle}
        coll = prices.get(self.oracle_collateral.name, self.oracle_collateral.answer)
        debt = prices.get(self.oracle_debt.name, self.oracle_debt.answer)
        return coll / debt

    def oracle_problem(self, now: float | None = None, bundle=()) -> str | None:
        """Why a liquidation would revert for stale prices at ``now`` (after storing ``bundle``), or None."""
        now = self.sim.env.now if now is None else now
        fresh = {oracle.name: signed.publish_time for oracle, signed in bundle}
        for oracle in self.oracles_used:
            age = now - fresh.get(oracle.name, oracle.timestamp())
            if oracle.max_age is not None and age > oracle.max_age:
                return (f"stale price: {oracle.name}'s price was published {age:g}s ago "
                        f"(max_age {oracle.max_age:g}s)")
            if self.max_oracle_age is not None and age > self.max_oracle_age:
                return (f"stale oracle: {oracle.name}'s answer is {age:g}s old "
                        f"({self.name}'s max_oracle_age is {self.max_oracle_age:g}s)")
        return None

    def check_oracles(self) -> None:
        """Bring computed-on-read oracles up to now, then revert if a price is stale."""
        for oracle in self.oracles_used:
            oracle.refresh()
        problem = self.oracle_problem()
        if problem is not None:
            raise Revert(f"{self.name}: {problem}")

    def keys(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Liquidation prices (debt units per collateral unit) of ``ids`` (default all)."""
        c = self.collateral if ids is None else self.collateral[ids]
        d = self.debt if ids is None else self.debt[ids]
        out = np.empty_like(c)
        kernels.liquidation.liquidation_prices(np.ascontiguousarray(c), np.ascontiguousarray(d), self.lt, out)
        out[c <= 0.0] = 0.0  # no collateral left: nothing to liquidate (the debt is bad debt)
        return out

    # ------------------------------------------------------------------------------ genesis
    def genesis(self) -> None:
        """Create the book at the oracles' time-0 prices and fund the accounts."""
        sim = self.sim
        self.ratio = self.initial_ratio = self.price_ratio()
        src = self.spec.positions
        if isinstance(src, GeneratedPositions):
            rng = sim.rng.stream(f"protocol:{self.name}:positions")
            coll, debt = generate_positions(src, rng, self.ratio, self.lt)
        else:
            coll, debt = read_snapshot(sim.base_dir / src.path, f"protocols.{self.name}.positions.path")
        self.collateral, self.debt = coll, debt
        n = coll.size
        self.trigger = np.full(n, -1, dtype=np.int64)
        self.induced = np.zeros(n, dtype=bool)
        self.total_debt = float(debt.sum())
        self.index = LiquidationIndex(self.keys())
        ledger = sim.ledger
        ledger.mint(self.account, self.collateral_asset, float(coll.sum()))
        ledger.mint(self.account, self.debt_asset, self.spec.liquidity)
        ledger.mint(self.borrowers, self.debt_asset, self.total_debt)
        already = self.index.liquidatable(self.ratio)
        self.trigger[already] = self.oracle_collateral.latest.update_id

    # ------------------------------------------------------------------------ oracle events
    def on_price_update(self, oracle, update: "OracleUpdate") -> None:
        """Stamp positions that became liquidatable (or stopped being so) at this update."""
        if self.index is None:  # genesis publications happen before the book exists
            return
        old, new = self.ratio, self.price_ratio()
        self._set_ratio(new)
        stamp_triggers(self, old, new, update.update_id, self.exogenous_ratio())

    def _set_ratio(self, value: float) -> None:
        old = self.ratio
        self.ratio = value
        self.sim.journal.record(lambda: setattr(self, "ratio", old))

    # ------------------------------------------------------------------------------ queries
    def liquidatable_ids(self, ratio: float | None = None) -> np.ndarray:
        """Ids of positions liquidatable at the current on-chain prices, or at price ratio
        ``ratio`` (riskiest first; a read-only view, copy it to keep it)."""
        return self.index.liquidatable(self.ratio if ratio is None else ratio)

    def health_factors(self, ids: np.ndarray | None = None) -> np.ndarray:
        keys = self.keys(ids)
        with np.errstate(divide="ignore"):
            return np.where(keys > 0, self.ratio / keys, np.inf)

    def bad_debt(self) -> float:
        """Shortfall at the oracle prices, debt-asset units."""
        ids = self.liquidatable_ids()
        gap = self.debt[ids] - self.collateral[ids] * self.ratio
        return self.written_off + float(gap[gap > 0].sum())

    # -------------------------------------------------------------------------- liquidation
    def debt_assets(self) -> list[str]:
        return [self.debt_asset]

    def liquidation_groups(self, ids: np.ndarray, budget: dict[str, float], ratio: float | None = None) -> list:
        """The candidates ``ids`` as one :class:`~contagion.protocols.base.LiquidationGroup`, each
        repaying what the close factor and ``budget[debt asset]`` allow at price ratio ``ratio``."""
        money = budget.get(self.debt_asset, 0.0)
        if money <= 0 or not ids.size:
            return []
        ratio = self.ratio if ratio is None else ratio
        c = np.ascontiguousarray(self.collateral[ids])
        d = np.ascontiguousarray(self.debt[ids])
        repay = np.empty_like(c)
        seize = np.empty_like(c)
        kernels.liquidation.seize_batch(np.full(ids.size, money), c, d, ratio, self.lt, self.close_factor,
                                        self.full_close_hf, self.bonus, repay, seize)
        live = seize > 0
        if not live.any():
            return []
        return [LiquidationGroup(self.collateral_asset, self.debt_asset, ids[live], repay[live], seize[live])]

    def liquidate(self, liquidator: str, position: int, repay_request: float, agent: str,
                  collateral_asset: str | None = None, debt_asset: str | None = None) -> tuple[float, float]:
        """Liquidate ``position`` inside the current transaction; returns ``(repaid, seized)``.

        Reverts if a price it reads is stale, if the position is unknown, has no collateral, or
        is healthy at the current on-chain prices. The liquidator pays the debt asset and
        receives the collateral. ``collateral_asset`` and ``debt_asset``, when given, must be the
        market's (the interface is shared with multi-asset markets).
        """
        sim = self.sim
        if (collateral_asset or self.collateral_asset, debt_asset or self.debt_asset) != \
                (self.collateral_asset, self.debt_asset):
            raise Revert(f"{self.name}: the market lends {self.debt_asset} against {self.collateral_asset}")
        self.check_oracles()
        i = int(position)
        if not 0 <= i < self.debt.size:
            raise Revert(f"{self.name}: no position {i}")
        c, d = float(self.collateral[i]), float(self.debt[i])
        if c <= 0.0 or d <= 0.0:
            raise Revert(f"{self.name}: position {i} has nothing to liquidate")
        ratio = self.ratio
        key_before = d / (c * self.lt)
        repaid, seized = kernels.liquidation.seize(float(repay_request), c, d, ratio, self.lt,
                                                   self.close_factor, self.full_close_hf, self.bonus)
        if repaid <= 0.0:
            raise Revert(f"{self.name}: position {i} is healthy")
        ledger = sim.ledger
        ledger.transfer(liquidator, self.account, self.debt_asset, repaid)
        ledger.transfer(self.account, liquidator, self.collateral_asset, seized)
        c_new, d_new = c - seized, d - repaid
        if c_new <= 0.0:
            c_new = 0.0
        self._set_position(i, c_new, d_new, repaid, written_off=d_new if c_new == 0.0 else 0.0)

        trigger = int(self.trigger[i])
        induced = bool(self.induced[i])
        update = sim.oracle_updates.get(trigger)
        generation, parent = sim.cascade.generation(update, induced, sim.env.now)
        still = c_new > 0.0 and d_new > 0.0 and d_new / (c_new * self.lt) > ratio
        if not still:
            self._set_stamp(i, -1, False)
        block = sim.current_block
        liq_id = sim.next_id("liquidation")
        usd_debt = sim.usd_price(self.debt_asset)
        seized_usd = seized * ratio * self.oracle_debt.answer
        sim.recorder.add("liquidations", (
            liq_id, sim.env.now, block.number, sim.current_tx_id, self.name, i, agent,
            self.collateral_asset, self.debt_asset, repaid, seized, repaid * usd_debt,
            seized_usd, ratio, ratio / key_before, key_before, trigger, induced, generation,
            parent, d_new, c_new))
        sim.cascade.add(sim.env.now, generation, liq_id, seized_usd)
        return repaid, seized

    def _set_position(self, i: int, c_new: float, d_new: float, repaid: float, written_off: float) -> None:
        c_old, d_old = float(self.collateral[i]), float(self.debt[i])
        total_old, off_old = self.total_debt, self.written_off
        self.collateral[i] = c_new
        self.debt[i] = d_new
        self.total_debt = total_old - repaid
        self.written_off = off_old + written_off
        key_old = d_old / (c_old * self.lt)
        self.index.update(i, 0.0 if c_new == 0.0 or d_new == 0.0 else d_new / (c_new * self.lt))

        def undo() -> None:
            self.collateral[i], self.debt[i] = c_old, d_old
            self.total_debt, self.written_off = total_old, off_old
            self.index.update(i, key_old)

        self.sim.journal.record(undo)

    def _set_stamp(self, i: int, trigger: int, induced: bool) -> None:
        old = int(self.trigger[i]), bool(self.induced[i])
        self.trigger[i], self.induced[i] = trigger, induced
        self.sim.journal.record(lambda: (self.trigger.__setitem__(i, old[0]),
                                         self.induced.__setitem__(i, old[1])))

    # ------------------------------------------------------------------------ owners' actions
    def top_up(self, owner: str, position: int, amount: float) -> None:
        """Add ``amount`` of collateral to ``position``, paid by ``owner`` (inside a transaction)."""
        self._adjust(owner, position, amount, 0.0)

    def repay(self, owner: str, position: int, amount: float) -> float:
        """Repay up to ``amount`` of ``position``'s debt, paid by ``owner``; returns what was repaid."""
        return self._adjust(owner, position, 0.0, amount)

    def _adjust(self, owner: str, position: int, add: float, repay: float) -> float:
        i = int(position)
        if not 0 <= i < self.debt.size:
            raise Revert(f"{self.name}: no position {i}")
        c, d = float(self.collateral[i]), float(self.debt[i])
        if c <= 0.0 or d <= 0.0:
            raise Revert(f"{self.name}: position {i} is closed")
        repay = min(repay, d)
        if not (add > 0.0 or repay > 0.0):
            raise Revert(f"{self.name}: nothing to add or repay on position {i}")
        ledger = self.sim.ledger
        if add > 0.0:
            ledger.transfer(owner, self.account, self.collateral_asset, add)
        if repay > 0.0:
            ledger.transfer(owner, self.account, self.debt_asset, repay)
        c_new, d_new = c + add, d - repay
        self._set_position(i, c_new, d_new, repay, written_off=0.0)
        if d_new <= 0.0 or d_new / (c_new * self.lt) <= self.ratio:   # healthy again
            self._set_stamp(i, -1, False)
        return repay

    def check(self) -> None:
        """Ledger collateral equals the book's; total debt equals the sum; every live position is
        stamped with a trigger exactly when it is liquidatable."""
        held = self.sim.ledger.balance(self.account, self.collateral_asset)
        booked = math.fsum(self.collateral)
        if not math.isclose(held, booked, rel_tol=1e-9, abs_tol=1e-9):
            raise InvariantError(f"{self.name}: protocol holds {held!r} {self.collateral_asset} "
                                 f"but its positions hold {booked!r}")
        if not math.isclose(self.total_debt, math.fsum(self.debt), rel_tol=1e-9, abs_tol=1e-6):
            raise InvariantError(f"{self.name}: total debt {self.total_debt!r} != sum of debts")
        live = self.collateral > 0
        stamped = self.trigger >= 0
        liquidatable = np.zeros(self.debt.size, dtype=bool)
        liquidatable[self.liquidatable_ids()] = True
        if np.any((stamped != liquidatable) & live):
            bad = int(np.flatnonzero((stamped != liquidatable) & live)[0])
            raise InvariantError(f"{self.name}: position {bad} liquidatable={liquidatable[bad]} "
                                 f"but trigger={self.trigger[bad]}")

    # ------------------------------------------------------------------------------ records
    def snapshot_row(self, block) -> tuple:
        """A ``protocols`` row for the current state."""
        ratio = self.ratio
        p_debt = self.oracle_debt.answer
        collateral = self.sim.ledger.balance(self.account, self.collateral_asset)
        n_active = int(np.count_nonzero(self.debt > 0))
        return (block.time, block.number, self.name, collateral, self.total_debt,
                collateral * ratio * p_debt, self.total_debt * p_debt, self.bad_debt() * p_debt,
                n_active, self.index.count(ratio), ratio)

    def positions_columns(self, snapshot: str) -> dict:
        """A ``positions`` snapshot of the whole book, as columns."""
        n = self.debt.size
        return {"protocol": [self.name] * n, "position": np.arange(n), "snapshot": [snapshot] * n,
                "collateral": self.collateral.copy(), "debt": self.debt.copy(),
                "liquidation_price": self.keys(), "health_factor": self.health_factors()}
