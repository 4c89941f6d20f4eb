"""Liquity v1 as a simulation component: troves, the stability pool, redistribution, Recovery Mode.

State (struct of arrays): each trove's entire ``coll`` (ETH) and ``debt`` (LUSD, liquidation
reserve included), a :class:`~contagion.liquidation.LiquidationIndex` of their keys
``mcr * debt / coll`` (the ETH price below which the ICR is under the MCR), and the stability
pool's per-depositor ``deposits`` (LUSD) and ``gains`` (ETH). Slot 0 of the pool belongs to
passive depositors (account ``sp_depositors:<name>``); depositor agents register the others.

Tokens: the protocol's account (Liquity's active and default pools) holds the troves'
collateral; ``stability_pool:<name>`` the deposits and the depositors' collateral gains;
``gas_pool:<name>`` the troves' LUSD liquidation reserves; ``borrowers:<name>`` the LUSD the
troves drew and the collateral surplus owners may claim. The system's LUSD is minted at genesis
against the troves' debt (reserves to the gas pool, the initial deposits to the pool, the rest
to the borrowers) and only burned by offsets, so ``minted - burned`` equals the debt of the
troves at all times.

A liquidation transaction runs ``batchLiquidateTroves`` (``TroveManager.sol``): Normal or
Recovery Mode decided by the TCR at the start, the Recovery Mode sequence leaving it once the
TCR is back at or above the CCR, a revert if nothing was liquidated or if the last trove would
close; then one offset against the pool, one redistribution of what the pool did not cover to
the remaining troves pro rata to their collateral (eagerly: every trove's ``coll`` and ``debt``
include its rewards), the collateral surplus of capped Recovery-Mode liquidations to the owners,
and the gas compensation (LUSD reserve and 0.5 % of the collateral) to the liquidator. No
collateral is sold on a market.

Provenance: when the oracle publishes, troves whose key crossed the liquidation threshold are
stamped with the update (``induced`` if they would not be liquidatable at its exogenous price),
as in :class:`~contagion.protocols.lending.LendingMarket`. Troves pushed over by a
redistribution are stamped with the latest update too, but are induced by the liquidation
whose redistributed debt was largest in that batch: that liquidation is their parent and their
generation is one more than its generation.

Bad debt in the ``protocols`` table is ``max(0, debt - coll * price)`` summed over the system:
LUSD that no collateral backs once offsets and redistributions are done (normally 0).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from contagion.engine.chain import Revert
from contagion.errors import InvariantError, ScenarioError
from contagion.liquidation import LiquidationIndex
from contagion.liquity import offset_and_redistribution, redistribute, sp_offset
from contagion.protocols.base import Protocol
from contagion.protocols.positions import draw_health_factors, read_snapshot
from contagion.scenario.common import SnapshotPositions

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.markets.oracles import OracleUpdate
    from contagion.scenario.common import GeneratedPositions
    from contagion.scenario.families.pooled import LiquityProtocol

__all__ = ["LiquitySystem", "generate_troves"]


def generate_troves(spec: "GeneratedPositions", rng: np.random.Generator, price: float, mcr: float,
                    min_debt: float) -> tuple[np.ndarray, np.ndarray]:
    """``(coll, debt)`` of a generated book of troves.

    Debts are ``min_debt + (total_debt - count * min_debt) * w_i`` with ``w_i`` lognormal weights
    (``exp(debt_sigma Z_i)``, normalized), so that every trove carries at least the minimum debt
    and they sum to ``total_debt``; ICRs are ``mcr * H_i`` with ``H_i`` drawn from
    ``health_factor``; ``coll_i = ICR_i * debt_i / price``.
    """
    n = spec.count
    weights = np.exp(spec.debt_sigma * rng.standard_normal(n))
    weights /= weights.sum()
    debt = min_debt + (spec.total_debt - n * min_debt) * weights
    hf = draw_health_factors(spec.health_factor, n, rng)
    coll = hf * mcr * debt / price
    return np.ascontiguousarray(coll), np.ascontiguousarray(debt)


class LiquitySystem(Protocol):
    """Runtime of a ``type: liquity`` protocol."""

    def __init__(self, sim: "Simulation", name: str, spec: "LiquityProtocol"):
        super().__init__(sim, name, spec)
        self.collateral_asset = spec.collateral
        self.debt_asset = spec.debt
        self.oracle = sim.oracles[spec.oracles[spec.collateral]]
        self.mcr, self.ccr = spec.mcr, spec.ccr
        self.gas_compensation = spec.gas_compensation
        self.coll_gas_share = spec.collateral_gas_compensation
        ledger = sim.ledger
        self.sp_account = ledger.add_account(f"stability_pool:{name}", "protocol")
        self.gas_pool = ledger.add_account(f"gas_pool:{name}", "protocol")
        self.borrowers = ledger.add_account(f"borrowers:{name}", "borrowers")
        self.depositors = [ledger.add_account(f"sp_depositors:{name}", "depositors")]
        self._shares = [0.0]
        self.coll = np.zeros(0)
        self.debt = np.zeros(0)
        self.trigger = np.zeros(0, dtype=np.int64)
        self.induced = np.zeros(0, dtype=bool)
        self.cause_parent = np.zeros(0, dtype=np.int64)
        self.cause_generation = np.zeros(0, dtype=np.int64)
        self.deposits = np.zeros(1)
        self.gains = np.zeros(1)
        self.total_coll = 0.0
        self.total_debt = 0.0
        self.minted = 0.0
        self.burned = 0.0
        self.threshold_seen = math.nan
        self.index: LiquidationIndex | None = None
        self.oracle.subscribe(self)

    def register_depositor(self, account: str, share: float) -> int:
        """Give ``account`` ``share`` of the pool's initial deposits (before genesis); its slot."""
        self.depositors.append(account)
        self._shares.append(float(share))
        return len(self.depositors) - 1

    # ------------------------------------------------------------------------------ state
    def price(self) -> float:
        """The collateral's oracle price (USD per unit; the debt token counts as 1)."""
        return self.oracle.answer

    def tcr(self, price: float | None = None) -> float:
        """Total collateral ratio at ``price`` (default the oracle's), ``inf`` without debt."""
        p = self.price() if price is None else price
        return self.total_coll * p / self.total_debt if self.total_debt > 0 else math.inf

    def recovery_mode(self, price: float | None = None) -> bool:
        """Whether the TCR is below the CCR."""
        return self.tcr(price) < self.ccr

    def threshold(self, price: float | None = None) -> float:
        """A trove is liquidatable iff its key ``mcr * debt / coll`` exceeds this: the price in
        Normal Mode (ICR < MCR), ``price * mcr / max(TCR, mcr)`` in Recovery Mode (ICR < TCR)."""
        p = self.price() if price is None else price
        tcr = self.tcr(p)
        return p * self.mcr / max(tcr, self.mcr) if tcr < self.ccr else p

    def keys(self) -> np.ndarray:
        """``mcr * debt / coll`` per trove (0 for closed troves)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(self.coll > 0, self.mcr * self.debt / np.where(self.coll > 0, self.coll, 1.0), 0.0)
        out[(self.debt > 0) & (self.coll <= 0)] = np.inf
        return out

    def icr(self, ids=None, price: float | None = None) -> np.ndarray:
        """Individual collateral ratios (``inf`` for closed troves)."""
        p = self.price() if price is None else price
        c = self.coll if ids is None else self.coll[ids]
        d = self.debt if ids is None else self.debt[ids]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(d > 0, c * p / np.where(d > 0, d, 1.0), np.inf)

    def liquidatable_ids(self) -> np.ndarray:
        """Troves liquidatable now (ICR < MCR, or < TCR in Recovery Mode), lowest ICR first."""
        return self.index.liquidatable(self.threshold())

    def n_active(self) -> int:
        """Number of open troves."""
        return int(np.count_nonzero(self.debt > 0))

    def check_oracles(self) -> None:
        """Bring a computed-on-read oracle up to now; revert on a pull oracle's stale price."""
        self.oracle.refresh()
        age = self.sim.env.now - self.oracle.timestamp()
        if self.oracle.max_age is not None and age > self.oracle.max_age:
            raise Revert(f"{self.name}: stale price: {self.oracle.name}'s price was published {age:g}s ago "
                         f"(max_age {self.oracle.max_age:g}s)")

    # ------------------------------------------------------------------------------ genesis
    def genesis(self) -> None:
        """Create the troves at the oracle's time-0 price, mint the system's LUSD, fill the pool."""
        sim, spec = self.sim, self.spec
        price = self.price()
        src = spec.positions
        where = f"protocols.{self.name}.positions"
        if isinstance(src, SnapshotPositions):
            path = sim.base_dir / src.path
            coll, debt = read_snapshot(path, f"{where}.path")
            bad = (debt > 0) & ((debt <= self.gas_compensation) | (coll <= 0))
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise ScenarioError(f"{path}: {where}.path: a trove with debt must have collateral and more debt "
                                    f"than the liquidation reserve ({self.gas_compensation:g}), got collateral "
                                    f"{coll[row]!r} and debt {debt[row]!r} in row {row + 1}")
        else:
            rng = sim.rng.stream(f"protocol:{self.name}:positions")
            coll, debt = generate_troves(src, rng, price, self.mcr, spec.min_net_debt + self.gas_compensation)
        n = coll.size
        self.coll, self.debt = np.array(coll, dtype=np.float64), np.array(debt, dtype=np.float64)
        coll, debt = self.coll, self.debt
        self.total_coll, self.total_debt = float(coll.sum()), float(debt.sum())
        reserve = self.gas_compensation * int(np.count_nonzero(debt > 0))
        drawn = self.total_debt - reserve - spec.stability_pool
        if drawn < 0:
            raise ScenarioError(f"{sim.net.source}: protocols.{self.name}.stability_pool: must be <= the debt token "
                                f"the troves drew ({self.total_debt - reserve:g}), got {spec.stability_pool:g}")
        ledger = sim.ledger
        ledger.mint(self.account, self.collateral_asset, self.total_coll)
        ledger.mint(self.gas_pool, self.debt_asset, reserve)
        ledger.mint(self.sp_account, self.debt_asset, spec.stability_pool)
        ledger.mint(self.borrowers, self.debt_asset, drawn)
        self.minted = self.total_debt
        shares = np.array(self._shares)
        shares[0] = max(0.0, 1.0 - shares[1:].sum())
        self.deposits = spec.stability_pool * shares
        self.gains = np.zeros_like(self.deposits)
        self.index = LiquidationIndex(self.keys())
        self.trigger = np.full(n, -1, dtype=np.int64)
        self.induced = np.zeros(n, dtype=bool)
        self.cause_parent = np.full(n, -1, dtype=np.int64)
        self.cause_generation = np.zeros(n, dtype=np.int64)
        self.initial_ratio = price
        self.threshold_seen = self.threshold()
        now = self.liquidatable_ids()
        if now.size:
            self.trigger[now] = self.oracle.latest.update_id
            self.induced[now] = self.index.keys[:now.size] <= self.threshold(self.oracle.answer_exogenous)

    # ------------------------------------------------------------------------ oracle events
    def on_price_update(self, oracle, update: "OracleUpdate") -> None:
        """Stamp troves that became liquidatable at this update (or stopped being so)."""
        if self.index is None:
            return
        self._sync(update, self.threshold(), self.threshold(update.exogenous_price))

    def _sync(self, update: "OracleUpdate", new: float, exogenous: float) -> None:
        old = self.threshold_seen
        journal = self.sim.journal
        self.threshold_seen = new
        journal.record(lambda: setattr(self, "threshold_seen", old))
        entered = self.index.entered(old, new)
        if entered.size:
            fresh = entered[self.trigger[entered] < 0].copy()
            if fresh.size:
                keys = self.mcr * self.debt[fresh] / self.coll[fresh]
                self.trigger[fresh] = update.update_id
                self.induced[fresh] = keys <= exogenous
                journal.record(lambda: (self.trigger.__setitem__(fresh, -1), self.induced.__setitem__(fresh, False)))
        left = self.index.left(old, new)
        if left.size:
            left = left.copy()
            previous = self.trigger[left].copy(), self.induced[left].copy(), self.cause_parent[left].copy()
            self.trigger[left] = -1
            self.induced[left] = False
            self.cause_parent[left] = -1
            journal.record(lambda: (self.trigger.__setitem__(left, previous[0]),
                                    self.induced.__setitem__(left, previous[1]),
                                    self.cause_parent.__setitem__(left, previous[2])))

    def _restamp_all(self, cause: tuple[int, int] | None) -> None:
        """Re-stamp the whole book after a liquidation batch; ``cause`` is ``(parent liquidation
        id, its generation)`` when the batch redistributed debt."""
        update = self.oracle.latest
        new = self.threshold()
        mask = np.zeros(self.debt.size, dtype=bool)
        mask[self.index.liquidatable(new)] = True
        enter = np.flatnonzero(mask & (self.trigger < 0))
        leave = np.flatnonzero(~mask & (self.trigger >= 0))
        arrays = (self.trigger, self.induced, self.cause_parent, self.cause_generation)
        touched = np.concatenate([enter, leave])
        saved = [a[touched].copy() for a in arrays]
        old_seen = self.threshold_seen
        self.threshold_seen = new
        if enter.size:
            self.trigger[enter] = update.update_id
            if cause is not None:
                self.induced[enter] = True
                self.cause_parent[enter], self.cause_generation[enter] = cause[0], cause[1] + 1
            else:
                keys = self.mcr * self.debt[enter] / self.coll[enter]
                self.induced[enter] = keys <= self.threshold(update.exogenous_price)
        self.trigger[leave] = -1
        self.induced[leave] = False
        self.cause_parent[leave] = -1

        def undo() -> None:
            for a, s in zip(arrays, saved):
                a[touched] = s
            self.threshold_seen = old_seen

        self.sim.journal.record(undo)

    # -------------------------------------------------------------------------- liquidation
    def liquidation_gas(self, troves: int) -> int:
        """Gas of a liquidation transaction of ``troves`` troves."""
        return self.spec.liquidation_base_gas + troves * self.spec.liquidation_gas

    def sequence(self, ids, price: float | None = None) -> list[dict]:
        """What ``batchLiquidateTroves(ids)`` would do at ``price`` (default the oracle's), without
        changing anything: one dict per trove it liquidates, in order (``trove``, ``mode``,
        ``icr``, ``debt``, ``coll``, ``coll_gas``, ``debt_gas``, ``offset``, ``coll_to_sp``,
        ``debt_redistributed``, ``coll_redistributed``, ``surplus``, ``sp_before``, ``sp_after``).

        Raises :class:`~contagion.engine.chain.Revert` if the last trove would close.
        """
        p = self.price() if price is None else float(price)
        share, mcr, ccr = self.coll_gas_share, self.mcr, self.ccr
        remaining = float(self.deposits.sum())
        sys_coll, sys_debt = self.total_coll, self.total_debt
        active = self.n_active()
        recovery = sys_debt > 0 and sys_coll * p / sys_debt < ccr
        back = False
        closed: set[int] = set()
        out: list[dict] = []
        for raw in np.atleast_1d(ids):
            i = int(raw)
            if i in closed or not 0 <= i < self.debt.size or not self.debt[i] > 0:
                continue
            c, d = float(self.coll[i]), float(self.debt[i])
            ratio = d / c
            key = mcr * d / c
            below_mcr = key > p
            row = {"trove": i, "icr": c * p / d, "debt": d, "coll": c, "coll_gas": c * share,
                   "debt_gas": self.gas_compensation, "offset": 0.0, "coll_to_sp": 0.0, "debt_redistributed": 0.0,
                   "coll_redistributed": 0.0, "surplus": 0.0, "sp_before": remaining}
            if recovery and not back:
                if not below_mcr and remaining == 0:
                    continue
                if active <= 1:
                    continue
                tcr = sys_coll * p / sys_debt
                row["mode"] = "recovery"
                liquid = c - c * share
                if ratio >= p:                                  # ICR <= 100 %: redistribute all
                    row["debt_redistributed"], row["coll_redistributed"] = d, liquid
                elif below_mcr:                                 # 100 % < ICR < MCR
                    (row["offset"], row["coll_to_sp"], row["debt_redistributed"],
                     row["coll_redistributed"]) = offset_and_redistribution(d, liquid, remaining)
                elif key > p * mcr / tcr and d <= remaining:    # MCR <= ICR < TCR: capped offset
                    capped = min(d * mcr / p, c)
                    row["coll_gas"] = capped * share
                    row["offset"], row["coll_to_sp"], row["surplus"] = d, capped - capped * share, c - capped
                else:
                    continue
                remaining -= row["offset"]
                sys_debt -= row["offset"]
                sys_coll -= row["coll_to_sp"] + row["coll_gas"] + row["surplus"]
                back = not (sys_debt > 0 and sys_coll * p / sys_debt < ccr)
            elif below_mcr:
                row["mode"] = "normal"
                (row["offset"], row["coll_to_sp"], row["debt_redistributed"],
                 row["coll_redistributed"]) = offset_and_redistribution(d, c - c * share, remaining)
                remaining -= row["offset"]
                if active <= 1:
                    raise Revert("TroveManager: Only one trove in the system")
            else:
                continue
            row["sp_after"] = remaining
            active -= 1
            closed.add(i)
            out.append(row)
        return out

    def batch_liquidate(self, liquidator: str, ids, agent: str) -> list[dict]:
        """``batchLiquidateTroves(ids)`` inside the current transaction; returns :meth:`sequence`'s rows.

        Reverts ``TroveManager: nothing to liquidate`` when no trove qualifies.
        """
        sim = self.sim
        self.check_oracles()
        price = self.price()
        rows = self.sequence(ids, price)
        if not rows:
            raise Revert("TroveManager: nothing to liquidate")
        now, block, tx = sim.env.now, sim.current_block, sim.current_tx_id
        total = {key: math.fsum(r[key] for r in rows) for key in
                 ("offset", "coll_to_sp", "debt_redistributed", "coll_redistributed", "surplus", "coll_gas", "debt_gas")}
        for r in rows:                                  # provenance, before the stamps are cleared
            i = r["trove"]
            trigger, induced = int(self.trigger[i]), bool(self.induced[i])
            if self.cause_parent[i] >= 0:
                generation, parent = int(self.cause_generation[i]), int(self.cause_parent[i])
            else:
                generation, parent = sim.cascade.generation(sim.oracle_updates.get(trigger), induced, now)
            r.update(trigger=trigger, induced=induced, generation=generation, parent=parent,
                     liquidation_id=sim.next_id("liquidation"))
        for r in rows:
            self._close(r["trove"])
        depositors = int(np.count_nonzero(self.deposits > 0))
        sp_before = float(self.deposits.sum())
        if total["offset"] > 0:
            self._offset(total["offset"], total["coll_to_sp"])
        recipients = self.n_active()
        recipient_coll = math.fsum(self.coll)
        if total["debt_redistributed"] > 0:
            self._redistribute(total["debt_redistributed"], total["coll_redistributed"])
        ledger = sim.ledger
        if total["surplus"] > 0:
            ledger.transfer(self.account, self.borrowers, self.collateral_asset, total["surplus"])
        ledger.transfer(self.gas_pool, liquidator, self.debt_asset, total["debt_gas"])
        ledger.transfer(self.account, liquidator, self.collateral_asset, total["coll_gas"])
        old = self.total_coll, self.total_debt
        self.total_debt = old[1] - total["offset"]
        self.total_coll = old[0] - total["coll_to_sp"] - total["coll_gas"] - total["surplus"]
        sim.journal.record(lambda: (setattr(self, "total_coll", old[0]), setattr(self, "total_debt", old[1])))
        rec = sim.recorder
        for r in rows:
            i, seized = r["trove"], r["coll"] - r["surplus"]
            rec.add("liquidations", (
                r["liquidation_id"], now, block.number, tx, self.name, i, agent, self.collateral_asset,
                self.debt_asset, r["debt"], seized, r["debt"], seized * price, price, r["icr"] / self.mcr,
                self.mcr * r["debt"] / r["coll"], r["trigger"], r["induced"], r["generation"], r["parent"], 0.0, 0.0))
            sim.cascade.add(now, r["generation"], r["liquidation_id"], seized * price)
            rec.add("trove_liquidations", (
                r["liquidation_id"], now, block.number, tx, self.name, i, agent, r["mode"], r["icr"], price, r["debt"],
                r["coll"], r["offset"], r["coll_to_sp"], r["debt_redistributed"], r["coll_redistributed"],
                r["coll_gas"], r["debt_gas"], r["surplus"]))
        if total["offset"] > 0:
            rec.add("sp_offsets", (now, block.number, tx, self.name, agent, len(rows), total["offset"],
                                   total["coll_to_sp"], sp_before, float(self.deposits.sum()), depositors, price))
        if total["debt_redistributed"] > 0:
            rec.add("redistributions", (
                now, block.number, tx, self.name, agent, len(rows), total["debt_redistributed"],
                total["coll_redistributed"], recipients, recipient_coll, total["debt_redistributed"] / recipient_coll,
                total["coll_redistributed"] / recipient_coll, price))
        cause = None
        if total["debt_redistributed"] > 0:
            top = max(rows, key=lambda r: (r["debt_redistributed"], -r["liquidation_id"]))
            cause = (top["liquidation_id"], top["generation"])
        self._restamp_all(cause)
        return rows

    def _close(self, i: int) -> None:
        c, d = float(self.coll[i]), float(self.debt[i])
        old = int(self.trigger[i]), bool(self.induced[i]), int(self.cause_parent[i])
        key = self.mcr * d / c
        self.coll[i], self.debt[i] = 0.0, 0.0
        self.trigger[i], self.induced[i], self.cause_parent[i] = -1, False, -1
        self.index.update(i, 0.0)

        def undo() -> None:
            self.coll[i], self.debt[i] = c, d
            self.trigger[i], self.induced[i], self.cause_parent[i] = old
            self.index.update(i, key)

        self.sim.journal.record(undo)

    def _offset(self, debt: float, coll: float) -> None:
        """``StabilityPool.offset``: burn ``debt`` from the deposits, add ``coll`` to the gains."""
        old = self.deposits.copy(), self.gains.copy(), self.burned
        self.deposits, self.gains = sp_offset(self.deposits, self.gains, debt, coll)
        burn = min(debt, self.sim.ledger.balance(self.sp_account, self.debt_asset))
        self.burned = old[2] + burn
        self.sim.journal.record(lambda: (setattr(self, "deposits", old[0]), setattr(self, "gains", old[1]),
                                         setattr(self, "burned", old[2])))
        self.sim.ledger.burn(self.sp_account, self.debt_asset, burn)
        self.sim.ledger.transfer(self.account, self.sp_account, self.collateral_asset, coll)

    def _redistribute(self, debt: float, coll: float) -> None:
        """``_redistributeDebtAndColl``: to every open trove, pro rata to its collateral."""
        old_coll, old_debt, old_index = self.coll, self.debt, self.index
        self.coll, self.debt = redistribute(old_coll, old_debt, coll, debt)
        self.index = LiquidationIndex(self.keys())

        def undo() -> None:
            self.coll, self.debt, self.index = old_coll, old_debt, old_index

        self.sim.journal.record(undo)

    # ---------------------------------------------------------------------- stability pool
    def withdraw_from_sp(self, depositor: str, amount: float, agent: str, reason: str = "",
                         drawdown: float = math.nan) -> tuple[float, float]:
        """``withdrawFromSP(amount)`` inside the current transaction: up to ``amount`` of the
        depositor's compounded deposit and all its collateral gain; returns ``(debt token, collateral)``.

        Reverts while a trove has ICR < MCR (``StabilityPool: Cannot withdraw while there are
        liquidatable troves``), as Liquity does for a non-zero amount.
        """
        sim = self.sim
        try:
            slot = self.depositors.index(depositor)
        except ValueError:
            raise Revert(f"{self.name}: {depositor} has no deposit") from None
        self.check_oracles()
        if amount > 0 and self.index.count(self.price()) > 0:
            raise Revert("StabilityPool: Cannot withdraw while there are liquidatable troves")
        take = min(float(amount), float(self.deposits[slot]))
        gain = float(self.gains[slot])
        if not (take > 0 or gain > 0):
            raise Revert(f"{self.name}: {depositor} has nothing to withdraw")
        old = float(self.deposits[slot]), gain
        self.deposits[slot] = old[0] - take
        self.gains[slot] = 0.0
        sim.journal.record(lambda: (self.deposits.__setitem__(slot, old[0]), self.gains.__setitem__(slot, old[1])))
        ledger = sim.ledger
        ledger.transfer(self.sp_account, depositor, self.debt_asset, take)
        ledger.transfer(self.sp_account, depositor, self.collateral_asset, gain)
        sim.recorder.add("sp_withdrawals", (
            sim.env.now, sim.current_block.number, sim.current_tx_id, self.name, agent, take, gain,
            float(self.deposits[slot]), float(self.deposits.sum()), reason, drawdown, self.tcr()))
        return take, gain

    def deposit_of(self, depositor: str) -> tuple[float, float]:
        """``(compounded deposit, collateral gain)`` of ``depositor``."""
        slot = self.depositors.index(depositor)
        return float(self.deposits[slot]), float(self.gains[slot])

    # ------------------------------------------------------------------------------ records
    def bad_debt(self) -> float:
        """Debt no collateral backs: ``max(0, total_debt - total_coll * price)``, debt-token units."""
        return max(0.0, self.total_debt - self.total_coll * self.price())

    def snapshot_row(self, block) -> tuple:
        """A ``protocols`` row (and a ``liquity_state`` row for the same block)."""
        price = self.price()
        n_liq = int(self.index.count(self.threshold(price)))
        n_active = self.n_active()
        tcr = self.tcr(price)
        self.sim.recorder.add("liquity_state", (
            block.time, block.number, self.name, price, tcr, tcr < self.ccr, float(self.deposits.sum()),
            float(self.gains.sum()), self.total_coll, self.total_debt, n_active, n_liq))
        return (block.time, block.number, self.name, self.total_coll, self.total_debt, self.total_coll * price,
                self.total_debt, self.bad_debt(), n_active, n_liq, price)

    def positions_columns(self, snapshot: str) -> dict:
        """A ``positions`` snapshot: ``liquidation_price`` is ``mcr * debt / coll``, ``health_factor`` ICR / MCR."""
        n = self.debt.size
        keys = self.keys()
        with np.errstate(divide="ignore", invalid="ignore"):
            hf = np.where(keys > 0, self.price() / keys, np.inf)
        return {"protocol": [self.name] * n, "position": np.arange(n), "snapshot": [snapshot] * n,
                "collateral": self.coll.copy(), "debt": self.debt.copy(), "liquidation_price": keys,
                "health_factor": hf}

    def check(self) -> None:
        """Ledger balances match the troves, the pool and the gas pool; ``minted - burned`` equals
        the system's debt; stamps mark exactly the liquidatable troves."""
        ledger = self.sim.ledger
        pairs = [
            ("collateral held", ledger.balance(self.account, self.collateral_asset), math.fsum(self.coll)),
            ("total collateral", self.total_coll, math.fsum(self.coll)),
            ("total debt", self.total_debt, math.fsum(self.debt)),
            ("pool deposits", ledger.balance(self.sp_account, self.debt_asset), math.fsum(self.deposits)),
            ("pool collateral gains", ledger.balance(self.sp_account, self.collateral_asset), math.fsum(self.gains)),
            ("gas pool", ledger.balance(self.gas_pool, self.debt_asset), self.gas_compensation * self.n_active()),
            ("debt token issued (minted - burned)", self.minted - self.burned, math.fsum(self.debt)),
        ]
        scale = max(self.minted, 1.0)
        for what, held, booked in pairs:
            if not math.isclose(held, booked, rel_tol=1e-9, abs_tol=1e-9 * scale):
                raise InvariantError(f"{self.name}: {what} is {held!r} but the books say {booked!r}")
        stamped = self.trigger >= 0
        liquidatable = np.zeros(self.debt.size, dtype=bool)
        liquidatable[self.liquidatable_ids()] = True
        if np.any(stamped != liquidatable):
            bad = int(np.flatnonzero(stamped != liquidatable)[0])
            raise InvariantError(f"{self.name}: trove {bad} liquidatable={liquidatable[bad]} but "
                                 f"trigger={self.trigger[bad]}")
