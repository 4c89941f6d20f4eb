"""A Compound v3 (Comet) market as a simulation component: absorb and buyCollateral.

State (struct of arrays, compact accounts x collateral-assets layout):

* ``balance`` — each account's base balance, present value in base units (negative: borrowed);
* ``collateral`` — shape ``(accounts, assets)``, token units, assets in scenario order (Comet's
  asset order);
* ``collateral_reserves`` — collateral the protocol owns (absorbed, not yet sold), per asset;
* ``reserves`` — Comet's ``getReserves``: base held minus total supply plus total borrow.

Interest indices stay at 1: principal and present values coincide and no interest accrues
during a run (:mod:`contagion.comet` has the integer port with indices).

Tokens: the protocol's ledger account holds all collateral (users' and its own) and the base
it has not lent (``reserves + liquidity`` at the start); ``borrowers:<name>`` holds what was
borrowed. An absorb moves no token: the account's collateral becomes the protocol's, its debt
is forgiven and any excess credit becomes its base supply, and the reserves pay for both
(``reserves -= max(credit, debt)``). ``buyCollateral`` moves base from the buyer to the
protocol (reserves rise by it) and collateral from the protocol to the buyer, at the
store-front price, only while ``reserves < target_reserves`` (or negative).

Prices are the oracles' on-chain answers (refreshed when computed on read; a pull oracle's
stored price older than its ``max_age`` reverts the call). When an oracle publishes, the market
recomputes the liquidity of the accounts holding the repriced asset (all borrowers for the base)
and stamps those that became liquidatable with the update's id; an account is *induced* if it
is not liquidatable at the oracles' exogenous prices. Each absorbed account writes a row of
``absorbs`` and one ``liquidations`` row per collateral asset seized (``repaid`` is the debt
forgiven, attributed to the assets by their share of the credit), with the trigger, its
cascade generation and parent (:class:`~contagion.engine.cascade.CascadeTracker`).

Bad debt in the ``protocols`` table is ``max(0, -reserves)`` at the base's oracle price.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from contagion.comet import store_front_price
from contagion.engine.chain import Revert
from contagion.errors import InvariantError, ScenarioError
from contagion.protocols.base import Protocol
from contagion.protocols.positions import draw_health_factors
from contagion.scenario.common import SnapshotPositions

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.markets.oracles import OracleUpdate
    from contagion.scenario.families.pooled import CometGeneratedPositions, CometProtocol

__all__ = ["CometMarket", "generate_accounts", "read_accounts"]


def generate_accounts(spec: "CometGeneratedPositions", rng: np.random.Generator, assets: list[str],
                      prices: np.ndarray, base_price: float,
                      liquidate_cf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(debt (n,), collateral (n, k))`` of a generated Comet book, token units.

    1. debt sizes ``D_i = exp(debt_sigma Z_i)`` scaled to sum to ``total_debt``;
    2. health factors ``H_i`` from ``health_factor`` (truncated to ``[low, high]`` by redrawing);
    3. each account's split ``s_i`` of its liquidation-weighted collateral across the assets: the
       ``collateral_mix`` weights (normalized; default equal), or a Dirichlet draw with parameters
       ``mix_concentration * weights`` over the assets of positive weight;
    4. ``c_ij = H_i D_i P_base s_ij / (P_j lcf_j)``, so that ``sum_j c_ij P_j lcf_j = H_i D_i P_base``.

    Draws come from ``rng`` in that order (normals, health factors, Dirichlet).
    """
    n = spec.count
    debt = np.exp(spec.debt_sigma * rng.standard_normal(n))
    debt *= spec.total_debt / debt.sum()
    hf = draw_health_factors(spec.health_factor, n, rng)
    mix = spec.collateral_mix
    weights = np.array([1.0 if mix is None else float(mix.get(a, 0.0)) for a in assets])
    weights /= weights.sum()
    if spec.mix_concentration is None:
        split = np.tile(weights, (n, 1))
    else:
        held = weights > 0
        split = np.zeros((n, len(assets)))
        split[:, held] = rng.dirichlet(spec.mix_concentration * weights[held], size=n)
    value = hf * debt * base_price
    collateral = value[:, None] * split / (prices * liquidate_cf)[None, :]
    return np.ascontiguousarray(debt), np.ascontiguousarray(collateral)


def read_accounts(path: Path, where: str, assets: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(debt, collateral)`` from a CSV or Parquet file with a ``debt`` column (base units) and
    one column per collateral asset (token units)."""
    try:
        table = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise ScenarioError(f"{path}: cannot read accounts: {err}") from err
    columns = ["debt", *assets]
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ScenarioError([f"{path}: {where}: missing column {c!r}, got columns {list(table.columns)}"
                             for c in missing])
    arrays = []
    for column in columns:
        values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ScenarioError(f"{path}: {where}: column {column!r} must hold numbers >= 0, "
                                f"got {table[column].iloc[row]!r} in row {row + 1}")
        arrays.append(values)
    if not len(arrays[0]):
        raise ScenarioError(f"{path}: {where}: no accounts")
    return np.ascontiguousarray(arrays[0]), np.ascontiguousarray(np.column_stack(arrays[1:]))


class CometMarket(Protocol):
    """Runtime of a ``type: comet`` protocol."""

    def __init__(self, sim: "Simulation", name: str, spec: "CometProtocol"):
        super().__init__(sim, name, spec)
        self.base_asset = spec.base
        self.assets = list(spec.collaterals)
        configs = [spec.collaterals[a] for a in self.assets]
        self.borrow_cf = np.array([c.borrow_collateral_factor for c in configs])
        self.liquidate_cf = np.array([c.liquidate_collateral_factor for c in configs])
        self.liquidation_factor = np.array([c.liquidation_factor for c in configs])
        self.supply_cap = [c.supply_cap for c in configs]
        self.store_front_price_factor = spec.store_front_price_factor
        self.target_reserves = spec.target_reserves
        self.oracle_base = sim.oracles[spec.oracles[spec.base]]
        self.asset_oracles = [sim.oracles[spec.oracles[a]] for a in self.assets]
        self.oracles_used = list(dict.fromkeys([self.oracle_base, *self.asset_oracles]))
        self.borrowers = sim.ledger.add_account(f"borrowers:{name}", "borrowers")
        k = len(self.assets)
        self.balance = np.zeros(0)
        self.collateral = np.zeros((0, k))
        self.collateral_reserves = np.zeros(k)
        self.reserves = 0.0
        self.total_supply = 0.0
        self.total_borrow = 0.0
        self.lenders_supply = 0.0
        self.trigger = np.zeros(0, dtype=np.int64)
        self.induced = np.zeros(0, dtype=bool)
        self.holders: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in self.assets]
        self.ready = False
        for oracle in self.oracles_used:
            oracle.subscribe(self)

    # ------------------------------------------------------------------------------ prices
    def prices(self, exogenous: bool = False) -> np.ndarray:
        """Collateral prices from the oracles' answers (or their exogenous answers), USD."""
        if exogenous:
            return np.array([o.answer_exogenous for o in self.asset_oracles])
        return np.array([o.answer for o in self.asset_oracles])

    def base_price(self, exogenous: bool = False) -> float:
        """The base asset's oracle price, USD."""
        return self.oracle_base.answer_exogenous if exogenous else self.oracle_base.answer

    def asset_index(self, asset: str) -> int:
        """Column of ``asset`` in ``collateral`` (reverts if it is not a collateral asset)."""
        try:
            return self.assets.index(asset)
        except ValueError:
            raise Revert(f"{self.name}: {asset} is not a collateral asset of the market") from None

    def store_front_price(self, asset: str) -> float:
        """Base units one unit of ``asset`` costs in ``buyCollateral`` now."""
        j = self.asset_index(asset)
        return store_front_price(self.asset_oracles[j].answer, self.base_price(),
                                 store_front_price_factor=self.store_front_price_factor,
                                 liquidation_factor=float(self.liquidation_factor[j]))

    def check_oracles(self) -> None:
        """Bring computed-on-read oracles up to now; revert on a pull oracle's stale price."""
        now = self.sim.env.now
        for oracle in self.oracles_used:
            oracle.refresh()
            if oracle.max_age is not None and now - oracle.timestamp() > oracle.max_age:
                raise Revert(f"{self.name}: stale price: {oracle.name}'s price was published "
                             f"{now - oracle.timestamp():g}s ago (max_age {oracle.max_age:g}s)")

    # --------------------------------------------------------------------------- accounts
    @property
    def debt(self) -> np.ndarray:
        """Borrowed base of each account (present value, base units)."""
        return np.maximum(-self.balance, 0.0)

    def liquidity(self, ids=None, exogenous: bool = False) -> np.ndarray:
        """``sum_j c_ij P_j lcf_j - debt_i P_base`` (USD) of ``ids`` (default all)."""
        coll = self.collateral if ids is None else self.collateral[ids]
        bal = self.balance if ids is None else self.balance[ids]
        weights = self.prices(exogenous) * self.liquidate_cf
        return coll @ weights - np.maximum(-bal, 0.0) * self.base_price(exogenous)

    def liquidatable_mask(self, ids=None, exogenous: bool = False) -> np.ndarray:
        """``isLiquidatable`` of ``ids``: debt and negative liquidity."""
        bal = self.balance if ids is None else self.balance[ids]
        return (bal < 0) & (self.liquidity(ids, exogenous) < 0)

    def liquidatable_ids(self) -> np.ndarray:
        """Ids of the liquidatable accounts, largest shortfall first."""
        ids = np.flatnonzero(self.trigger >= 0)
        if ids.size > 1:
            ids = ids[np.argsort(self.liquidity(ids), kind="stable")]
        return ids

    def health_factors(self, ids=None) -> np.ndarray:
        """``sum_j c_ij P_j lcf_j / (debt_i P_base)`` (inf without debt)."""
        coll = self.collateral if ids is None else self.collateral[ids]
        debt = self.debt if ids is None else self.debt[ids]
        weighted = coll @ (self.prices() * self.liquidate_cf)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(debt > 0, weighted / (debt * self.base_price()), np.inf)

    # ------------------------------------------------------------------------------ genesis
    def genesis(self) -> None:
        """Create the accounts at the oracles' time-0 prices and fund the ledger."""
        sim, spec = self.sim, self.spec
        prices, base_price = self.prices(), self.base_price()
        src = spec.positions
        where = f"protocols.{self.name}.positions"
        if isinstance(src, SnapshotPositions):
            debt, coll = read_accounts(sim.base_dir / src.path, f"{where}.path", self.assets)
        else:
            rng = sim.rng.stream(f"protocol:{self.name}:positions")
            debt, coll = generate_accounts(src, rng, self.assets, prices, base_price, self.liquidate_cf)
        for j, (asset, cap) in enumerate(zip(self.assets, self.supply_cap)):
            held = float(coll[:, j].sum())
            if cap is not None and held > cap:
                raise ScenarioError(f"{sim.net.source}: protocols.{self.name}.collaterals.{asset}.supply_cap: "
                                    f"must be >= the {asset} the accounts supply ({held:g}), got {cap:g}")
        self.balance = np.array(-debt, dtype=np.float64)
        self.collateral = np.array(coll, dtype=np.float64, order="C")
        n = debt.size
        self.total_borrow = float(debt.sum())
        self.lenders_supply = spec.liquidity + self.total_borrow
        self.total_supply = self.lenders_supply
        self.reserves = float(spec.reserves)
        ledger = sim.ledger
        ledger.mint(self.account, self.base_asset, spec.reserves + spec.liquidity)
        ledger.mint(self.borrowers, self.base_asset, self.total_borrow)
        for j, asset in enumerate(self.assets):
            ledger.mint(self.account, asset, float(coll[:, j].sum()))
        self.holders = [np.flatnonzero(coll[:, j] > 0) for j in range(len(self.assets))]
        self.trigger = np.full(n, -1, dtype=np.int64)
        self.induced = np.zeros(n, dtype=bool)
        if len(self.assets) == 1:
            self.initial_ratio = float(prices[0] / base_price)
        self.ready = True
        latest = max(self.oracles_used, key=lambda o: o.latest.update_id).latest
        self._restamp(np.arange(n), latest)

    # ------------------------------------------------------------------------ oracle events
    def on_price_update(self, oracle, update: "OracleUpdate") -> None:
        """Stamp the accounts holding the repriced asset that became liquidatable (or stopped)."""
        if not self.ready:
            return
        if oracle is self.oracle_base:
            ids = np.flatnonzero(self.balance < 0)
        else:
            ids = self.holders[self.asset_oracles.index(oracle)]
        self._restamp(ids, update)

    def _restamp(self, ids: np.ndarray, update: "OracleUpdate") -> None:
        if not ids.size:
            return
        liq = self.liquidatable_mask(ids)
        stamped = self.trigger[ids] >= 0
        journal = self.sim.journal
        enter = ids[liq & ~stamped]
        if enter.size:
            self.trigger[enter] = update.update_id
            self.induced[enter] = ~self.liquidatable_mask(enter, exogenous=True)
            journal.record(lambda: (self.trigger.__setitem__(enter, -1), self.induced.__setitem__(enter, False)))
        leave = ids[~liq & stamped]
        if leave.size:
            previous = self.trigger[leave].copy(), self.induced[leave].copy()
            self.trigger[leave] = -1
            self.induced[leave] = False
            journal.record(lambda: (self.trigger.__setitem__(leave, previous[0]),
                                    self.induced.__setitem__(leave, previous[1])))

    # ------------------------------------------------------------------------------ absorb
    def absorb_gas(self, accounts: int) -> int:
        """Gas of an absorb transaction of ``accounts`` accounts."""
        return self.spec.absorb_base_gas + accounts * self.spec.absorb_gas

    def absorb(self, absorber: str, accounts, agent: str) -> int:
        """``absorb(absorber, accounts)`` inside the current transaction; returns the number absorbed.

        Reverts (``NotLiquidatable``) if any account is not liquidatable at the current prices, as
        Comet does. Pays ``absorb_rebate`` base per account to ``absorber`` out of reserves.
        """
        sim = self.sim
        ids = [int(i) for i in np.atleast_1d(accounts)]
        if not ids:
            raise Revert(f"{self.name}: absorb of no account")
        self.check_oracles()
        prices, base_price = self.prices(), self.base_price()
        now, block = sim.env.now, sim.current_block
        for i in ids:
            if not 0 <= i < self.balance.size:
                raise Revert(f"{self.name}: no account {i}")
            if not bool(self.liquidatable_mask(np.array([i]))[0]):
                raise Revert(f"{self.name}: NotLiquidatable: account {i}")
            debt = float(-self.balance[i])
            coll = self.collateral[i].copy()
            weighted = coll * prices * self.liquidate_cf
            credits = coll * prices * self.liquidation_factor / base_price
            credit = float(credits.sum())
            new_balance = max(0.0, credit - debt)
            paid = new_balance + debt
            reserves_before = self.reserves
            self._absorb_book(i, new_balance, debt, paid, coll)
            trigger, induced = int(self.trigger[i]), bool(self.induced[i])
            generation, parent = sim.cascade.generation(sim.oracle_updates.get(trigger), induced, now)
            self._set_stamp(i, -1, False)
            sim.recorder.add("absorbs", (
                sim.next_id("absorb"), now, block.number, sim.current_tx_id, self.name, i, agent, debt,
                float((coll * prices).sum()) / base_price, credit, new_balance, paid, max(0.0, debt - credit),
                reserves_before, self.reserves, trigger, induced, generation, parent))
            health = float(weighted.sum()) / (debt * base_price)
            seized = np.flatnonzero(coll > 0)
            for j in (seized if seized.size else [-1]):
                asset = self.assets[j] if j >= 0 else ""
                share = float(credits[j]) / credit if j >= 0 and credit > 0 else 1.0 / max(seized.size, 1)
                repaid = debt * share
                amount = float(coll[j]) if j >= 0 else 0.0
                price = float(prices[j]) / base_price if j >= 0 else math.nan
                others = float(weighted.sum() - weighted[j]) if j >= 0 else 0.0
                key = ((debt * base_price - others) / (amount * self.liquidate_cf[j]) / base_price
                       if j >= 0 else math.nan)
                liq_id = sim.next_id("liquidation")
                seized_usd = amount * float(prices[j]) if j >= 0 else 0.0
                sim.recorder.add("liquidations", (
                    liq_id, now, block.number, sim.current_tx_id, self.name, i, agent, asset, self.base_asset,
                    repaid, amount, repaid * base_price, seized_usd, price, health, key, trigger, induced,
                    generation, parent, 0.0, 0.0))
                sim.cascade.add(now, generation, liq_id, seized_usd)
        rebate = self.spec.absorb_rebate * len(ids)
        if rebate > 0:
            sim.ledger.transfer(self.account, absorber, self.base_asset, rebate)
            self._set_scalars(reserves=self.reserves - rebate)
        return len(ids)

    def _absorb_book(self, i: int, new_balance: float, debt: float, paid: float, coll: np.ndarray) -> None:
        old_balance, old_coll = float(self.balance[i]), self.collateral[i].copy()
        old_reserves = self.collateral_reserves.copy()
        self.balance[i] = new_balance
        self.collateral[i] = 0.0
        self.collateral_reserves += coll

        def undo() -> None:
            self.balance[i] = old_balance
            self.collateral[i] = old_coll
            self.collateral_reserves[:] = old_reserves

        self.sim.journal.record(undo)
        self._set_scalars(total_supply=self.total_supply + new_balance, total_borrow=self.total_borrow - debt,
                          reserves=self.reserves - paid)

    def _set_scalars(self, **values: float) -> None:
        old = {key: getattr(self, key) for key in values}
        for key, value in values.items():
            setattr(self, key, value)
        self.sim.journal.record(lambda: [setattr(self, k, v) for k, v in old.items()])

    def _set_stamp(self, i: int, trigger: int, induced: bool) -> None:
        old = int(self.trigger[i]), bool(self.induced[i])
        self.trigger[i], self.induced[i] = trigger, induced
        self.sim.journal.record(lambda: (self.trigger.__setitem__(i, old[0]), self.induced.__setitem__(i, old[1])))

    # ----------------------------------------------------------------------- buyCollateral
    def for_sale(self) -> bool:
        """Whether ``buyCollateral`` is open: reserves negative or below the target."""
        return self.reserves < 0 or self.reserves < self.target_reserves

    def buy_collateral(self, buyer: str, asset: str, min_amount: float, base_amount: float, agent: str) -> float:
        """``buyCollateral(asset, minAmount, baseAmount, buyer)`` inside the current transaction.

        The buyer pays ``base_amount`` base and receives ``base_amount / store_front_price``
        collateral. Reverts ``NotForSale`` when reserves are at or above the target,
        ``TooMuchSlippage`` below ``min_amount``, ``InsufficientReserves`` beyond what the
        protocol owns. Returns the collateral bought.
        """
        sim = self.sim
        self.check_oracles()
        j = self.asset_index(asset)
        if not self.for_sale():
            raise Revert(f"{self.name}: NotForSale: reserves {self.reserves:.6g} >= target "
                         f"{self.target_reserves:.6g}")
        if not base_amount > 0:
            raise Revert(f"{self.name}: buyCollateral of no base")
        price = self.store_front_price(asset)
        amount = base_amount / price
        if amount < min_amount:
            raise Revert(f"{self.name}: TooMuchSlippage: {amount:.6g} {asset} < minimum {min_amount:.6g}")
        held = float(self.collateral_reserves[j])
        if amount > held:
            if amount > held * (1.0 + 1e-9):
                raise Revert(f"{self.name}: InsufficientReserves: {amount:.6g} {asset} > {held:.6g} owned")
            amount = held
        reserves_before = self.reserves
        ledger = sim.ledger
        ledger.transfer(buyer, self.account, self.base_asset, base_amount)
        ledger.transfer(self.account, buyer, asset, amount)
        old = float(self.collateral_reserves[j])
        self.collateral_reserves[j] = old - amount
        sim.journal.record(lambda: self.collateral_reserves.__setitem__(j, old))
        self._set_scalars(reserves=self.reserves + base_amount)
        oracle_price = float(self.asset_oracles[j].answer) / self.base_price()
        sim.recorder.add("collateral_buys", (
            sim.next_id("collateral_buy"), sim.env.now, sim.current_block.number, sim.current_tx_id, self.name,
            agent, asset, base_amount, amount, price, oracle_price, 1.0 - price / oracle_price, reserves_before,
            self.reserves, float(self.collateral_reserves[j])))
        return amount

    # ------------------------------------------------------------------------------ records
    def collateral_reserves_value(self) -> float:
        """Value of the collateral the protocol owns at the oracle prices, USD."""
        return float(self.collateral_reserves @ self.prices())

    def bad_debt(self) -> float:
        """Negative reserves, base units."""
        return max(0.0, -self.reserves)

    def snapshot_row(self, block) -> tuple:
        """A ``protocols`` row (and a ``comet_state`` row for the same block)."""
        prices, base_price = self.prices(), self.base_price()
        users = self.collateral.sum(axis=0)
        single = len(self.assets) == 1
        n_liq = int(np.count_nonzero(self.trigger >= 0))
        self.sim.recorder.add("comet_state", (
            block.time, block.number, self.name, self.reserves, self.target_reserves, self.for_sale(),
            self.collateral_reserves_value(), self.total_supply, self.total_borrow,
            self.sim.ledger.balance(self.account, self.base_asset)))
        return (block.time, block.number, self.name, float(users[0]) if single else math.nan, self.total_borrow,
                float(users @ prices), self.total_borrow * base_price, self.bad_debt() * base_price,
                int(np.count_nonzero(self.balance < 0)), n_liq,
                float(prices[0] / base_price) if single else math.nan)

    def positions_columns(self, snapshot: str) -> dict:
        """A ``positions`` snapshot: ``collateral`` and ``liquidation_price`` only for single-collateral
        markets (NaN otherwise); ``health_factor`` is ``sum c P lcf / (debt P_base)``."""
        n = self.balance.size
        debt = self.debt
        if len(self.assets) == 1:
            coll = self.collateral[:, 0].copy()
            with np.errstate(divide="ignore", invalid="ignore"):
                key = np.where(coll > 0, debt / (coll * self.liquidate_cf[0]), np.where(debt > 0, np.inf, 0.0))
        else:
            coll = np.full(n, math.nan)
            key = np.full(n, math.nan)
        return {"protocol": [self.name] * n, "position": np.arange(n), "snapshot": [snapshot] * n,
                "collateral": coll, "debt": debt, "liquidation_price": key, "health_factor": self.health_factors()}

    def check(self) -> None:
        """The ledger holds ``reserves + supply - borrow`` base and every asset's booked collateral;
        totals match the accounts; stamps mark exactly the liquidatable accounts."""
        ledger = self.sim.ledger
        held = ledger.balance(self.account, self.base_asset)
        booked = self.reserves + self.total_supply - self.total_borrow
        scale = max(abs(self.total_supply), abs(self.total_borrow), 1.0)
        if not math.isclose(held, booked, rel_tol=0.0, abs_tol=1e-9 * scale):
            raise InvariantError(f"{self.name}: holds {held!r} {self.base_asset} but reserves + supply - borrow "
                                 f"is {booked!r}")
        if not math.isclose(self.total_borrow, math.fsum(self.debt), rel_tol=1e-9, abs_tol=1e-6):
            raise InvariantError(f"{self.name}: total borrow {self.total_borrow!r} != sum of debts")
        supplied = self.lenders_supply + math.fsum(np.maximum(self.balance, 0.0))
        if not math.isclose(self.total_supply, supplied, rel_tol=1e-9, abs_tol=1e-6):
            raise InvariantError(f"{self.name}: total supply {self.total_supply!r} != lenders + absorbed credits "
                                 f"{supplied!r}")
        for j, asset in enumerate(self.assets):
            held = ledger.balance(self.account, asset)
            booked = math.fsum(self.collateral[:, j]) + float(self.collateral_reserves[j])
            if not math.isclose(held, booked, rel_tol=1e-9, abs_tol=1e-9):
                raise InvariantError(f"{self.name}: holds {held!r} {asset} but its books say {booked!r}")
        stamped = self.trigger >= 0
        liquidatable = self.liquidatable_mask()
        if np.any(stamped != liquidatable):
            bad = int(np.flatnonzero(stamped != liquidatable)[0])
            raise InvariantError(f"{self.name}: account {bad} liquidatable={liquidatable[bad]} but "
                                 f"trigger={self.trigger[bad]}")
