"""Multi-collateral money markets (Aave v2, Aave v3, Compound v2) as simulation components.

State
-----
Accounts are rows of compressed sparse arrays, never objects: account ``i`` holds collateral
``coll_amount[coll_ptr[i]:coll_ptr[i+1]]`` of reserves ``coll_asset[...]`` and debt likewise
(token units). ``emode[i]`` is the account's e-mode category (0: none). The protocol's ledger
account holds all collateral and the lenders' idle liquidity; ``borrowers:<name>`` holds what was
borrowed; the treasury ``treasury:<name>`` receives protocol fees (Aave v3) and seize shares
(Compound v2).

Health factors and the liquidatable set
---------------------------------------
``hf = sum(coll * P * lt) / sum(debt * P)`` (USD, oracle prices; ``lt`` the liquidation threshold,
or the e-mode category's for its assets; Compound v2: the collateral factor, so ``hf < 1`` is
exactly a shortfall). Each account's two sums are cached. When an oracle publishes, only the
balances of the repriced asset are visited (an inverted index built at genesis): the compiled
kernel ``mm_reprice`` shifts their owners' sums by ``amount * dP (* lt)`` and re-flags them in one
pass, so the cost grows with the holders of the asset, not with the book; accounts whose balances
change (liquidations) are recomputed from scratch (``mm_update``). Accounts that crossed below 1
are stamped with the update's id (and *induced* when they would not be liquidatable at the
exogenous prices), as in the single-pair market.

Liquidation (one debt asset ``d`` repaid, one collateral asset ``c`` seized)
---------------------------------------------------------------------------
* maximum repayment — ``aave_v2``: half the debt in ``d``; ``aave_v3`` 3.0: half, or all of it
  when ``hf <= 0.95``; ``aave_v3`` 3.3: all of it, unless the account's ``c`` collateral and ``d``
  debt are each worth at least $2,000 and ``hf > 0.95``, in which case at most half the
  account's total debt value; ``compound_v2``: ``close_factor`` of the borrow;
* seized collateral ``repay * P_d / P_c * (1 + bonus)``; when that exceeds the account's ``c``
  balance, all of it is seized and the repayment shrinks to match (Compound v2 instead reverts
  "LIQUIDATE_SEIZE_TOO_MUCH": the liquidator must ask for less);
* Aave v3 ``protocol_fee`` takes that share of the bonus part of the seized collateral
  (``seized - seized / (1 + bonus)``) to the treasury; Compound v2 keeps
  ``protocol_seize_share`` of the seized collateral in the reserves;
* Aave v3.3 dust rule: a liquidation that leaves debt in ``d`` and collateral in ``c`` must
  leave at least $1,000 of each, else it reverts "MustNotLeaveDust";
* bad debt is the shortfall ``max(0, debt value - collateral value)`` summed over accounts at
  the oracle prices (an account left with debt and no collateral counts its whole debt; Aave v3.3
  burns such debt as a deficit, the others keep it on the books — either way it is counted).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from contagion import kernels
from contagion.engine.chain import Revert
from contagion.errors import InvariantError, ScenarioError
from contagion.protocols.base import LiquidationGroup, Protocol
from contagion.liquidation import aave
from contagion.protocols.positions import draw_health_factors
from contagion.scenario.families.money_markets import GeneratedAccounts, MoneyMarketProtocol, SnapshotAccounts

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["MoneyMarket", "LiquidationGroup"]

# the Aave v3 constants, as the contract math states them
DUST_USD = aave.MIN_LEFTOVER_USD                                 # v3.3 MIN_LEFTOVER_BASE
CLOSE_FACTOR_THRESHOLD_USD = aave.MIN_CLOSE_FACTOR_THRESHOLD_USD  # v3.3 MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD
FULL_CLOSE_HF = aave.CLOSE_FACTOR_HF                              # CLOSE_FACTOR_HF_THRESHOLD


def _csr(rows: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    assets = np.fromiter((a for r in rows for a, _ in r), dtype=np.int64, count=int(ptr[-1]))
    amounts = np.fromiter((x for r in rows for _, x in r), dtype=np.float64, count=int(ptr[-1]))
    return ptr, assets, amounts


class MoneyMarket(Protocol):
    """Runtime of ``type: aave_v2 | aave_v3 | compound_v2`` protocols."""

    def __init__(self, sim: "Simulation", name: str, spec: MoneyMarketProtocol):
        super().__init__(sim, name, spec)
        self.family = spec.type
        self.assets = list(spec.reserves)
        self.asset_index = {a: k for k, a in enumerate(self.assets)}
        self.oracles = [sim.oracles[r.oracle] for r in spec.reserves.values()]
        self.oracles_used = list(dict.fromkeys(self.oracles))
        self.max_oracle_age = spec.max_oracle_age
        self.borrowers = sim.ledger.add_account(f"borrowers:{name}", "borrowers")
        self.treasury = sim.ledger.add_account(f"treasury:{name}", "treasury")
        self.sell_into = [sim.market(m) for m in spec.liquidates_into]
        categories = list(spec.emode)
        self.categories = ["", *categories]
        n = len(self.assets)
        self.lt_table = np.zeros((len(self.categories), n))
        self.bonus_table = np.zeros((len(self.categories), n))
        incentive = spec.liquidation_incentive
        for k, reserve in enumerate(spec.reserves.values()):
            bonus = incentive if self.family == "compound_v2" else reserve.liquidation_bonus
            self.lt_table[:, k] = reserve.liquidation_threshold
            self.bonus_table[:, k] = bonus
            if reserve.emode_category is not None:
                c = self.categories.index(reserve.emode_category)
                self.lt_table[c, k] = spec.emode[reserve.emode_category].liquidation_threshold
                self.bonus_table[c, k] = spec.emode[reserve.emode_category].liquidation_bonus
        self.lt_flat = np.ascontiguousarray(self.lt_table.ravel())
        self.protocol_fee = np.array([r.protocol_fee if self.family == "aave_v3" else 0.0
                                      for r in spec.reserves.values()])
        self.prices = np.full(n, math.nan)
        self.exo_prices = np.full(n, math.nan)
        for oracle in self.oracles_used:
            oracle.subscribe(self)
        self.ready = False

    # ------------------------------------------------------------------------------ genesis
    def genesis(self) -> None:
        self._read_prices()
        src = self.spec.accounts
        if isinstance(src, GeneratedAccounts):
            coll_rows, debt_rows, emode = self._generate(src)
        else:
            coll_rows, debt_rows, emode = self._read_snapshot(src.path)
        self.coll_ptr, self.coll_asset, self.coll_amount = _csr(coll_rows)
        self.debt_ptr, self.debt_asset, self.debt_amount = _csr(debt_rows)
        self.emode = np.asarray(emode, dtype=np.int64)
        n = self.emode.size
        self.n_accounts = n
        # inverted index: per asset, the balance entries of it (collateral, debt) and their holders
        self.coll_owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.coll_ptr))
        self.debt_owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.debt_ptr))
        self.coll_entries = [np.flatnonzero(self.coll_asset == k).astype(np.int64) for k in range(len(self.assets))]
        self.debt_entries = [np.flatnonzero(self.debt_asset == k).astype(np.int64) for k in range(len(self.assets))]
        self.holders = [np.union1d(self.coll_owner[ce], self.debt_owner[de]).astype(np.int64)
                        for ce, de in zip(self.coll_entries, self.debt_entries)]
        self.num = np.zeros(n)      # sum of collateral * price * lt, USD
        self.den = np.zeros(n)      # sum of debt * price, USD
        self.hf = np.full(n, math.inf)
        self.flags = np.zeros(n, dtype=np.uint8)
        self.trigger = np.full(n, -1, dtype=np.int64)
        self.induced = np.zeros(n, dtype=bool)
        self._fresh(np.arange(n, dtype=np.int64))
        update = self.oracles[0].latest
        self.trigger[self.flags.astype(bool)] = update.update_id if update is not None else -1
        ledger = self.sim.ledger
        for k, asset in enumerate(self.assets):
            held = math.fsum(self.coll_amount[self.coll_asset == k])
            owed = math.fsum(self.debt_amount[self.debt_asset == k])
            ledger.mint(self.account, asset, held + self.spec.reserves[asset].liquidity)
            ledger.mint(self.borrowers, asset, owed)
        self.idle = np.array([r.liquidity for r in self.spec.reserves.values()])
        self._isolation()
        self.ready = True

    def _isolation(self) -> None:
        """Aave v3 isolation mode: ``isolated_on[i]`` is the isolated collateral asset account ``i``
        uses (its only collateral), or -1; ``isolation_debt[k]`` the debt (debt-token units) of the
        accounts isolated on asset ``k``. Checks the book against the mode's rules and ceilings."""
        n, reserves = self.n_accounts, list(self.spec.reserves.values())
        self.isolated_on = np.full(n, -1, dtype=np.int64)
        self.isolation_debt = np.zeros(len(self.assets))
        iso_assets = [k for k, r in enumerate(reserves) if r.isolated]
        if not iso_assets:
            return
        src = self.spec.accounts
        snapshot = isinstance(src, SnapshotAccounts)
        where = (f"{self.sim.base_dir / src.path}: protocols.{self.name}.accounts.path" if snapshot
                 else f"protocols.{self.name}.accounts")

        def label(i: int):
            return self.account_ids[i] if snapshot else i
        for k in iso_assets:
            for e in self.coll_entries[k]:
                i = int(self.coll_owner[e])
                if self.coll_amount[e] <= 0.0:
                    continue
                lo, hi = self.coll_ptr[i], self.coll_ptr[i + 1]
                others = [self.assets[a] for a, x in zip(self.coll_asset[lo:hi], self.coll_amount[lo:hi])
                          if a != k and x > 0.0 and reserves[a].liquidation_threshold > 0]
                if others:
                    raise ScenarioError(f"{where}: account {label(i)} uses isolated collateral {self.assets[k]} with other "
                                        f"collateral ({', '.join(others)}): isolation mode allows it alone")
                self.isolated_on[i] = k
                lo, hi = self.debt_ptr[i], self.debt_ptr[i + 1]
                for a, x in zip(self.debt_asset[lo:hi], self.debt_amount[lo:hi]):
                    if x > 0.0 and not reserves[a].borrowable_in_isolation:
                        raise ScenarioError(f"{where}: account {label(i)} is isolated on {self.assets[k]} and owes "
                                            f"{self.assets[a]}, which is not borrowable_in_isolation")
                    self.isolation_debt[k] += x
        for k in iso_assets:
            ceiling = reserves[k].debt_ceiling
            if ceiling is not None and self.isolation_debt[k] > ceiling:
                raise ScenarioError(
                    f"{where}: accounts isolated on {self.assets[k]} owe {self.isolation_debt[k]:,.2f}, above "
                    f"protocols.{self.name}.reserves.{self.assets[k]}.debt_ceiling ({ceiling:,.2f})")

    def _book(self):
        return (self.coll_ptr, self.coll_asset, self.coll_amount, self.debt_ptr, self.debt_asset, self.debt_amount,
                self.emode)

    def _generate(self, src: GeneratedAccounts):
        rng = self.sim.rng.stream(f"protocol:{self.name}:accounts")
        n = src.count
        debt_usd = np.exp(src.debt_sigma * rng.standard_normal(n))
        debt_usd *= src.total_debt_usd / debt_usd.sum()
        hf = draw_health_factors(src.health_factor, n, rng)
        c_names = list(src.collateral)
        c_weights = np.array([src.collateral[a] for a in c_names])
        c_weights /= c_weights.sum()
        d_names = list(src.debt)
        d_weights = np.array([src.debt[a] for a in d_names])
        d_weights /= d_weights.sum()
        debt_pick = rng.choice(len(d_names), size=n, p=d_weights)
        reserves = self.spec.reserves
        if any(reserves[a].isolated for a in c_names):
            # accounts isolated on a collateral borrow among the assets borrowable in isolation
            iso_ok = np.array([reserves[a].borrowable_in_isolation for a in d_names])
            iso_weights = np.where(iso_ok, d_weights, 0.0)
            iso_pick = rng.choice(len(d_names), size=n, p=iso_weights / iso_weights.sum())
        k_max = min(src.collaterals_per_account, len(c_names))
        extra = rng.random((n, max(k_max - 1, 0))) < 0.5
        order_keys = rng.random((n, len(c_names))) ** (1.0 / c_weights)   # weighted sampling without replacement
        orders = np.argsort(-order_keys, axis=1)
        shares_raw = rng.exponential(size=(n, k_max))
        emode_draw = rng.random(n)
        coll_rows, debt_rows, emode = [], [], []
        for i in range(n):
            k = 1 + int(extra[i].sum()) if k_max > 1 else 1
            isolated = reserves[c_names[orders[i, 0]]].isolated
            if isolated:
                k = 1                                           # isolation mode: that collateral alone
            picks = [self.asset_index[c_names[j]] for j in orders[i, :k]
                     if j == orders[i, 0] or not reserves[c_names[j]].isolated]
            debt_k = self.asset_index[d_names[iso_pick[i] if isolated else debt_pick[i]]]
            cat = self._emode_for(picks, debt_k) if emode_draw[i] < src.emode_share else 0
            lt = self.lt_table[cat, picks]
            shares = shares_raw[i, :len(picks)] / shares_raw[i, :len(picks)].sum()
            # hf = sum(v_j lt_j) / debt  with v_j = share_j * V  =>  V = hf * debt / sum(share_j lt_j)
            value = hf[i] * debt_usd[i] / float(np.dot(shares, lt))
            coll_rows.append([(a, s * value / self.prices[a]) for a, s in zip(picks, shares)])
            debt_rows.append([(debt_k, debt_usd[i] / self.prices[debt_k])])
            emode.append(cat)
        return coll_rows, debt_rows, emode

    def _emode_for(self, collateral: list[int], debt: int) -> int:
        """The e-mode category that holds all of an account's assets (0 if none)."""
        cats = {self.spec.reserves[self.assets[a]].emode_category for a in [*collateral, debt]}
        if len(cats) == 1 and None not in cats:
            return self.categories.index(cats.pop())
        return 0

    def _read_snapshot(self, path: str):
        file = self.sim.base_dir / path
        where = f"protocols.{self.name}.accounts.path"
        try:
            table = pd.read_parquet(file) if file.suffix.lower() in (".parquet", ".pq") else pd.read_csv(file)
        except (OSError, ValueError) as err:
            raise ScenarioError(f"{file}: {where}: cannot read: {err}") from err
        missing = [c for c in ("account", "asset", "side", "amount") if c not in table.columns]
        if missing:
            raise ScenarioError(f"{file}: {where}: missing column(s) {missing}, got {list(table.columns)}")
        unknown = sorted(set(table["asset"]) - set(self.assets))
        if unknown:
            raise ScenarioError(f"{file}: {where}: asset must be a reserve of the market, got {unknown[0]!r}")
        sides = set(table["side"]) - {"collateral", "debt"}
        if sides:
            raise ScenarioError(f"{file}: {where}: side must be collateral or debt, got {sorted(sides)[0]!r}")
        if (table["amount"] < 0).any():
            raise ScenarioError(f"{file}: {where}: amount must be >= 0")
        ids = sorted(set(table["account"]))
        self.account_ids = ids
        index = {a: i for i, a in enumerate(ids)}
        coll_rows = [[] for _ in ids]
        debt_rows = [[] for _ in ids]
        for account, asset, side, amount in table[["account", "asset", "side", "amount"]].itertuples(index=False):
            (coll_rows if side == "collateral" else debt_rows)[index[account]].append(
                (self.asset_index[asset], float(amount)))
        emode = [0] * len(ids)
        if "emode" in table.columns:
            for account, cat in table[["account", "emode"]].dropna().itertuples(index=False):
                if cat not in self.categories[1:]:
                    raise ScenarioError(f"{file}: {where}: emode must be a category of the market, got {cat!r}")
                emode[index[account]] = self.categories.index(cat)
        return coll_rows, debt_rows, emode

    # ------------------------------------------------------------------------ oracle events
    def _read_prices(self) -> None:
        for k, oracle in enumerate(self.oracles):
            if oracle.latest is not None:
                self.prices[k] = oracle.answer
                self.exo_prices[k] = oracle.answer_exogenous

    def on_price_update(self, oracle, update) -> None:
        """Shift the health factors of the accounts holding a repriced asset (compiled, one pass
        over that asset's balances) and stamp those that became liquidatable."""
        if not self.ready:
            return
        old_prices, old_exo = self.prices.copy(), self.exo_prices.copy()
        self._read_prices()
        changed = np.flatnonzero(self.prices != old_prices)
        if not changed.size:
            return
        touched = [self.holders[int(k)] for k in changed]
        ids = touched[0] if len(touched) == 1 else np.unique(np.concatenate(touched))
        old_flags = self.flags[ids].copy()
        old_stamps = self.trigger[ids].copy(), self.induced[ids].copy()

        def undo() -> None:   # exact: the sums are recomputed from the balances at the old prices
            self.prices[:], self.exo_prices[:] = old_prices, old_exo
            self._fresh(ids)
            self.flags[ids] = old_flags
            self.trigger[ids], self.induced[ids] = old_stamps

        self.sim.journal.record(undo)
        entered = np.empty(ids.size, dtype=np.int64)
        fresh = []
        for k in changed:
            k = int(k)
            count = kernels.liquidation.mm_reprice(
                self.coll_entries[k], self.coll_owner, self.coll_amount, self.debt_entries[k], self.debt_owner,
                self.debt_amount, self.holders[k], self.emode, self.lt_flat, len(self.assets), k,
                float(self.prices[k] - old_prices[k]), self.num, self.den, self.hf, self.flags, entered)
            fresh.append(entered[:count].copy())
        self._stamp_changes(ids, old_flags, np.concatenate(fresh), update)

    def _fresh(self, ids: np.ndarray) -> int:
        """Recompute the sums, ``hf`` and flags of ``ids`` from their balances (not journaled)."""
        scratch = np.empty(ids.size, dtype=np.int64)
        return kernels.liquidation.mm_update(ids, *self._book(), self.prices, self.lt_flat, self.num, self.den,
                                             self.hf, self.flags, scratch)

    def _stamp_changes(self, ids: np.ndarray, old_flags: np.ndarray, entered: np.ndarray, update) -> None:
        """Clear the stamps of accounts that left the liquidatable set; stamp those that entered
        with ``update`` (induced when not liquidatable at the exogenous prices)."""
        left = ids[(old_flags == 1) & (self.flags[ids] == 0)]
        self.trigger[left] = -1
        self.induced[left] = False
        if entered.size and update is not None:
            exo_hf = np.empty(entered.size)
            kernels.liquidation.mm_health_factors(entered, *self._book(), self.exo_prices, self.lt_flat, exo_hf)
            self.trigger[entered] = update.update_id
            self.induced[entered] = exo_hf >= 1.0

    def _refresh(self, ids: np.ndarray, update=None) -> None:
        """Recompute ``ids`` from their balances inside the current transaction (journaled)."""
        old = self.num[ids], self.den[ids], self.hf[ids], self.flags[ids], self.trigger[ids], self.induced[ids]

        def undo() -> None:
            self.num[ids], self.den[ids], self.hf[ids], self.flags[ids], self.trigger[ids], self.induced[ids] = old

        self.sim.journal.record(undo)
        entered = np.empty(ids.size, dtype=np.int64)
        count = kernels.liquidation.mm_update(ids, *self._book(), self.prices, self.lt_flat, self.num, self.den,
                                              self.hf, self.flags, entered)
        self._stamp_changes(ids, old[3], entered[:count], update)

    # ------------------------------------------------------------------------------ queries
    ratio = math.nan   # (single-pair books only)

    def pull_bundle(self) -> list:
        return []

    def debt_assets(self) -> list[str]:
        return [a for a, r in self.spec.reserves.items() if r.borrowable]

    def liquidatable_ids(self, ratio=None) -> np.ndarray:
        """Accounts with health factor below 1 at the on-chain prices, riskiest first."""
        ids = np.flatnonzero(self.flags)
        return ids[np.argsort(self.hf[ids], kind="stable")]

    def health_factors(self, ids=None) -> np.ndarray:
        return self.hf.copy() if ids is None else self.hf[ids]

    def balances(self, i: int, side: str) -> dict[int, float]:
        """``{asset index: amount}`` of account ``i``'s collateral or debt."""
        ptr, assets, amounts = ((self.coll_ptr, self.coll_asset, self.coll_amount) if side == "collateral"
                                else (self.debt_ptr, self.debt_asset, self.debt_amount))
        lo, hi = ptr[i], ptr[i + 1]
        return {int(a): float(x) for a, x in zip(assets[lo:hi], amounts[lo:hi])}

    def _values(self, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """USD value per account of its collateral and of its debt at ``prices``."""
        n = self.n_accounts
        return (np.bincount(self.coll_owner, weights=self.coll_amount * prices[self.coll_asset], minlength=n),
                np.bincount(self.debt_owner, weights=self.debt_amount * prices[self.debt_asset], minlength=n))

    # ------------------------------------------------------------------------ liquidation math
    def max_repay(self, i: int, c: int, d: int) -> float:
        """Largest repayment of debt asset ``d`` by one liquidation of account ``i`` (debt units)."""
        debt = self.balances(i, "debt").get(d, 0.0)
        hf = float(self.hf[i])
        if self.family == "aave_v2":
            return 0.5 * debt
        if self.family == "compound_v2":
            return self.spec.close_factor * debt
        if self.spec.version == "3.0":
            return debt if hf <= FULL_CLOSE_HF else 0.5 * debt
        coll_usd = self.balances(i, "collateral").get(c, 0.0) * self.prices[c]
        debt_usd = debt * self.prices[d]
        if coll_usd >= CLOSE_FACTOR_THRESHOLD_USD and debt_usd >= CLOSE_FACTOR_THRESHOLD_USD and hf > FULL_CLOSE_HF:
            total_usd = sum(x * self.prices[a] for a, x in self.balances(i, "debt").items())
            return min(debt, 0.5 * total_usd / self.prices[d])
        return debt

    def amounts(self, i: int, c: int, d: int, request: float) -> tuple[float, float, float]:
        """``(repaid, collateral to the liquidator, protocol's share)`` for a repayment request of
        debt asset ``d`` against collateral asset ``c`` of account ``i``; raises :class:`Revert`
        where the contracts revert."""
        coll = self.balances(i, "collateral").get(c, 0.0)
        debt = self.balances(i, "debt").get(d, 0.0)
        if coll <= 0.0 or debt <= 0.0:
            raise Revert(f"{self.name}: account {i} has no {self.assets[c]} collateral or no {self.assets[d]} debt")
        if not self.hf[i] < 1.0:
            raise Revert(f"{self.name}: account {i} is healthy (health factor {self.hf[i]:.6g})")
        repay = min(request, self.max_repay(i, c, d))
        bonus = self.bonus_table[self.emode[i], c]
        pc, pd_ = self.prices[c], self.prices[d]
        seized = repay * pd_ / pc * (1.0 + bonus)
        if seized > coll * (1.0 + 1e-12):
            if self.family == "compound_v2":
                raise Revert(f"{self.name}: LIQUIDATE_SEIZE_TOO_MUCH (seize {seized:.6g} > balance {coll:.6g})")
            seized = coll
            repay = coll * pc / pd_ / (1.0 + bonus)
        seized = min(seized, coll)
        if self.family == "compound_v2":
            share = seized * self.spec.protocol_seize_share
        else:
            share = (seized - seized / (1.0 + bonus)) * self.protocol_fee[c]
        if self.family == "aave_v3" and self.spec.version == "3.3" and repay < debt and seized < coll:
            if (debt - repay) * pd_ < DUST_USD or (coll - seized) * pc < DUST_USD:
                raise Revert(f"{self.name}: MustNotLeaveDust (account {i})")
        return repay, seized - share, share

    def best_pair(self, i: int) -> tuple[int, int]:
        """The (collateral, debt) pair a liquidator takes: the largest debt, and the collateral
        that pays most (value times one plus the bonus)."""
        debts = self.balances(i, "debt")
        colls = self.balances(i, "collateral")
        d = max(debts, key=lambda a: (debts[a] * self.prices[a], -a))
        c = max(colls, key=lambda a: (colls[a] * self.prices[a] * (1 + self.bonus_table[self.emode[i], a]), -a))
        return c, d

    def _pick(self, ids: np.ndarray, side: str, bonus: bool):
        """Per account of ``ids``: the entry of ``side`` with the largest USD value (times one plus
        the bonus when ``bonus``), ties to the lower asset index; returns ``(asset, amount, total
        USD value of the side)`` arrays (asset -1 where the side is empty)."""
        ptr, assets, amounts = ((self.coll_ptr, self.coll_asset, self.coll_amount) if side == "collateral"
                                else (self.debt_ptr, self.debt_asset, self.debt_amount))
        m = ids.size
        starts = ptr[ids]
        counts = ptr[ids + 1] - starts
        owner = np.repeat(np.arange(m), counts)
        first = np.cumsum(counts) - counts
        entry = starts[owner] + (np.arange(owner.size) - first[owner])
        a, x = assets[entry], amounts[entry]
        value = x * self.prices[a]
        score = value * (1.0 + self.bonus_table[self.emode[ids][owner], a]) if bonus else value
        order = np.lexsort((-a, score, owner))
        last = order[np.cumsum(counts)[counts > 0] - 1]
        asset = np.full(m, -1, dtype=np.int64)
        amount = np.zeros(m)
        asset[owner[last]] = a[last]
        amount[owner[last]] = x[last]
        total = np.bincount(owner, weights=value, minlength=m)
        return asset, amount, total

    def liquidation_groups(self, ids: np.ndarray, budget: dict[str, float], ratio=None) -> list[LiquidationGroup]:
        """Candidates for accounts ``ids``, grouped by the (collateral, debt) pair a liquidator takes
        (the largest debt; the collateral paying most, value times one plus the bonus), each
        repaying as much as the rules and ``budget[debt asset]`` allow (vectorized :meth:`amounts`;
        candidates whose liquidation would revert are left out)."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[self.flags[ids] == 1]
        if not ids.size:
            return []
        c, coll, _ = self._pick(ids, "collateral", bonus=True)
        d, debt, total_debt_usd = self._pick(ids, "debt", bonus=False)
        ok = (c >= 0) & (d >= 0) & (coll > 0) & (debt > 0)
        ids, c, d, coll, debt, total_debt_usd = ids[ok], c[ok], d[ok], coll[ok], debt[ok], total_debt_usd[ok]
        pc, pd_ = self.prices[c], self.prices[d]
        bonus = self.bonus_table[self.emode[ids], c]
        hf = self.hf[ids]
        if self.family == "aave_v2":
            cap = 0.5 * debt
        elif self.family == "compound_v2":
            cap = self.spec.close_factor * debt
        elif self.spec.version == "3.0":
            cap = np.where(hf <= FULL_CLOSE_HF, debt, 0.5 * debt)
        else:
            half = (coll * pc >= CLOSE_FACTOR_THRESHOLD_USD) & (debt * pd_ >= CLOSE_FACTOR_THRESHOLD_USD) & \
                (hf > FULL_CLOSE_HF)
            cap = np.where(half, np.minimum(debt, 0.5 * total_debt_usd / pd_), debt)
        money = np.array([budget.get(self.assets[k], 0.0) for k in range(len(self.assets))])[d]
        afford = coll * pc / pd_ / (1.0 + bonus)          # the repayment that seizes all of the collateral
        if self.family == "compound_v2":                  # ask no more than the collateral can pay for
            money = np.minimum(money, afford * (1 - 1e-9))
        repay = np.minimum(money, cap)
        seized = repay * pd_ / pc * (1.0 + bonus)
        over = seized > coll
        seized = np.where(over, coll, seized)
        repay = np.where(over, afford, repay)
        if self.family == "compound_v2":
            share = seized * self.spec.protocol_seize_share
        else:
            share = (seized - seized / (1.0 + bonus)) * self.protocol_fee[c]
        live = (repay > 0) & (seized > 0)
        if self.family == "aave_v3" and self.spec.version == "3.3":
            partial = (repay < debt) & (seized < coll)
            dust = partial & (((debt - repay) * pd_ < DUST_USD) | ((coll - seized) * pc < DUST_USD))
            live &= ~dust
        groups = []
        for pair in sorted(set(zip(c[live].tolist(), d[live].tolist()))):
            sel = live & (c == pair[0]) & (d == pair[1])
            groups.append(LiquidationGroup(self.assets[pair[0]], self.assets[pair[1]], ids[sel], repay[sel],
                                           (seized - share)[sel]))
        return groups

    # -------------------------------------------------------------------------- liquidation
    def oracle_problem(self, now=None, bundle=()) -> str | None:
        if self.max_oracle_age is None:
            return None
        now = self.sim.env.now if now is None else now
        for oracle in self.oracles_used:
            age = now - oracle.timestamp()
            if age > self.max_oracle_age:
                return f"stale oracle: {oracle.name}'s answer is {age:g}s old (max_oracle_age {self.max_oracle_age:g}s)"
        return None

    def liquidate(self, liquidator: str, position: int, repay_request: float, agent: str,
                  collateral_asset: str | None = None, debt_asset: str | None = None) -> tuple[float, float]:
        """Liquidate account ``position`` inside the current transaction: repay up to
        ``repay_request`` of ``debt_asset`` and receive ``collateral_asset`` (default: the pair
        :meth:`best_pair` picks). Returns ``(repaid, collateral received)``."""
        sim = self.sim
        i = int(position)
        if not 0 <= i < self.n_accounts:
            raise Revert(f"{self.name}: no account {i}")
        problem = self.oracle_problem()
        if problem is not None:
            raise Revert(f"{self.name}: {problem}")
        c, d = self.best_pair(i) if collateral_asset is None else (self.asset_index[collateral_asset],
                                                                     self.asset_index[debt_asset])
        hf_before = float(self.hf[i])
        repaid, to_liquidator, share = self.amounts(i, c, d, float(repay_request))
        if repaid <= 0.0:
            raise Revert(f"{self.name}: nothing to repay on account {i}")
        ledger = sim.ledger
        coll_name, debt_name = self.assets[c], self.assets[d]
        ledger.transfer(liquidator, self.account, debt_name, repaid)
        ledger.transfer(self.account, liquidator, coll_name, to_liquidator)
        if share > 0:
            ledger.transfer(self.account, self.treasury, coll_name, share)
        self._change(i, c, d, to_liquidator + share, repaid)
        self._set_idle(d, repaid)
        if self.isolated_on[i] >= 0:       # IsolationModeLogic: the isolated debt falls by the repayment
            k = int(self.isolated_on[i])
            old_iso = float(self.isolation_debt[k])
            self.isolation_debt[k] = max(0.0, old_iso - repaid)
            sim.journal.record(lambda: self.isolation_debt.__setitem__(k, old_iso))
        trigger, induced = int(self.trigger[i]), bool(self.induced[i])
        self._refresh(np.array([i], dtype=np.int64))
        update = sim.oracle_updates.get(trigger)
        generation, parent = sim.cascade.generation(update, induced, sim.env.now)
        if not self.flags[i]:
            self._stamp(i, -1, False)
        block = sim.current_block
        liq_id = sim.next_id("liquidation")
        ratio = self.prices[c] / self.prices[d]
        debt_left = self.balances(i, "debt").get(d, 0.0)
        coll_left = self.balances(i, "collateral").get(c, 0.0)
        seized_usd = (to_liquidator + share) * self.prices[c]
        sim.recorder.add("liquidations", (
            liq_id, sim.env.now, block.number, sim.current_tx_id, self.name, i, agent, coll_name, debt_name,
            repaid, to_liquidator, repaid * self.prices[d], seized_usd, ratio, hf_before, math.nan, trigger,
            induced, generation, parent, debt_left, coll_left))
        sim.cascade.add(sim.env.now, generation, liq_id, seized_usd)
        return repaid, to_liquidator

    def _change(self, i: int, c: int, d: int, coll_out: float, debt_repaid: float) -> None:
        lo, hi = self.coll_ptr[i], self.coll_ptr[i + 1]
        kc = lo + int(np.flatnonzero(self.coll_asset[lo:hi] == c)[0])
        lo, hi = self.debt_ptr[i], self.debt_ptr[i + 1]
        kd = lo + int(np.flatnonzero(self.debt_asset[lo:hi] == d)[0])
        old_c, old_d = float(self.coll_amount[kc]), float(self.debt_amount[kd])
        self.coll_amount[kc] = max(0.0, old_c - coll_out)
        self.debt_amount[kd] = max(0.0, old_d - debt_repaid)
        self.sim.journal.record(lambda: (self.coll_amount.__setitem__(kc, old_c),
                                         self.debt_amount.__setitem__(kd, old_d)))

    def _set_idle(self, d: int, repaid: float) -> None:
        old = float(self.idle[d])
        self.idle[d] = old + repaid
        self.sim.journal.record(lambda: self.idle.__setitem__(d, old))

    def _stamp(self, i: int, trigger: int, induced: bool) -> None:
        old = int(self.trigger[i]), bool(self.induced[i])
        self.trigger[i], self.induced[i] = trigger, induced
        self.sim.journal.record(lambda: (self.trigger.__setitem__(i, old[0]), self.induced.__setitem__(i, old[1])))

    # ------------------------------------------------------------------------------ records
    @staticmethod
    def _shortfall(coll: np.ndarray, debt: np.ndarray) -> float:
        gap = debt - coll
        return float(gap[gap > 0].sum())

    def bad_debt_usd(self) -> float:
        """USD shortfall of accounts whose debt exceeds their collateral value (at oracle prices)."""
        return self._shortfall(*self._values(self.prices))

    def snapshot_row(self, block) -> tuple:
        coll, debt = self._values(self.prices)
        return (block.time, block.number, self.name, math.nan, math.nan, float(coll.sum()), float(debt.sum()),
                self._shortfall(coll, debt), int(np.count_nonzero(debt > 0)), int(self.flags.sum()), math.nan)

    def positions_columns(self, snapshot: str) -> dict:
        """One row per account: ``collateral`` and ``debt`` in USD at the oracle prices."""
        n = self.n_accounts
        coll, debt = self._values(self.prices)
        return {"protocol": [self.name] * n, "position": np.arange(n), "snapshot": [snapshot] * n,
                "collateral": coll, "debt": debt, "liquidation_price": np.full(n, math.nan), "health_factor": self.hf.copy()}

    def check(self) -> None:
        """Per asset, the protocol's ledger balance equals the book's collateral plus idle
        liquidity; cached health factors and flags equal a fresh computation."""
        ledger = self.sim.ledger
        for k, asset in enumerate(self.assets):
            booked = math.fsum(self.coll_amount[self.coll_asset == k]) + float(self.idle[k])
            held = ledger.balance(self.account, asset)
            if not math.isclose(held, booked, rel_tol=1e-9, abs_tol=1e-6):
                raise InvariantError(f"{self.name}: protocol holds {held!r} {asset} but its book accounts for {booked!r}")
        fresh = np.empty(self.n_accounts)
        kernels.liquidation.mm_health_factors(np.arange(self.n_accounts, dtype=np.int64), *self._book(), self.prices,
                                              self.lt_flat, fresh)
        # the cached sums move by price deltas: equal to a fresh sum up to rounding
        same = np.isclose(fresh, self.hf, rtol=1e-9) | (np.isinf(fresh) & np.isinf(self.hf))
        if not same.all():
            bad = int(np.flatnonzero(~same)[0])
            raise InvariantError(f"{self.name}: cached health factor of account {bad} is {self.hf[bad]!r}, "
                                 f"recomputed {fresh[bad]!r}")
        wrong = (self.flags.astype(bool) != (fresh < 1.0)) & ~np.isclose(fresh, 1.0, rtol=1e-9)
        if wrong.any():
            raise InvariantError(f"{self.name}: account {int(np.flatnonzero(wrong)[0])}'s liquidatable flag "
                                 f"disagrees with its health factor")
