"""An options market (``type: options``): written European calls and puts, margin, liquidation,
settlement, and an implied-volatility level that rises with the underlying's drawdown.

Book
----
*Series* are European options on ``underlying`` (``S``: the underlying's oracle price divided by
the quote asset's, quote units per underlying unit): a type, a strike (quote units) and an expiry
(seconds from the start). *Accounts* have written options (``short`` contracts of some series,
underlying units) and posted *collateral* in one asset — the quote asset (cash) or the
underlying; writers come from the ``writers`` generator or snapshot, and each
``kind: market_maker`` agent adds one account with its ``book``. The other side of every written
option is held by the options' *buyers* (ledger account ``buyers:<name>``), who paid the
premiums at genesis: ``contracts x price`` at the initial price and volatility, paid to the
writers' wallet (``writers:<name>``) or to the market maker. Collateral sits in the protocol's
account. Positions are numpy arrays: per series, per account and per leg (account, series,
contracts).

Pricing
-------
Every series is priced by Black-Scholes (:mod:`contagion.options`) at ``S``, the protocol's
``rate`` and one volatility level ``sigma`` (a flat surface). After each block of its chain the
level moves (an Ornstein-Uhlenbeck step computed from the block's end state, like a TWAP): with
``D = 1 - S / max(S over the last window)`` the drawdown, ``target = base + sensitivity x D``,
``sigma <- max(floor, target + (sigma - target) 2^(-dt / half_life) + noise sqrt(1 - 2^(-2 dt /
half_life)) Z)`` with ``Z`` standard normal from the stream ``protocol:<name>:iv`` (with
``half_life = 0`` the level is the target). Transactions of the next block price at that level.

Margin
------
For an account with collateral value ``C`` (quote units: the amount, or ``amount x S`` for the
underlying), liability ``L`` (the value of its written options: what buying them back costs) and
``R`` the risk add-on of its portfolio — the written options plus, for an underlying-
collateralized account, the collateral itself (a covered call is nearly riskless) — from
:func:`contagion.options.scenario_margin` (``margin.method: scenario``) or
:func:`contagion.options.greeks_margin` (``greeks``), the health factor is
``HF = C / (L + R)``; the account is below maintenance margin, and liquidatable, when ``HF < 1``
(equity ``C - L`` below the risk). Options past expiry and not yet settled count at their
intrinsic value.

Liquidation
-----------
The protocol's keeper (its ``keeper`` section: an account ``options_keeper:<name>``) checks every
account after each block (plus its reaction latency) and sends one transaction per liquidatable
account, worst shortfall ``L + R - C`` first. Inside the transaction, at the current prices and
level, the account must still be below margin (else it reverts). All its options are bought back
at their Black-Scholes value ``L`` (a full close-out): the keeper pays ``paid = min(L, C / (1 +
bonus))`` quote units to the buyers and receives collateral worth ``paid x (1 + bonus)``; the rest
of the collateral goes back to the owner. ``L - paid`` is bad debt: the buyers' loss when the
collateral does not cover the buy-back plus bonus. A liquidation the keeper cannot fund is not
sent. Each liquidation is a row of ``option_liquidations`` and of the cross-family
``liquidations`` table (with ``repaid = paid``, ``seized`` collateral units, ``price`` = the
collateral's price in quote units).

Provenance: when an oracle the protocol reads publishes, and after each block, every open account
is re-evaluated; one that falls below margin is stamped with the id of the underlying oracle's
update then in effect, and marked *induced* if it would not be below margin at that update's
exogenous price (same volatility level) — so the cascade generation of its liquidation
(:class:`~contagion.engine.cascade.CascadeTracker`) links it to earlier liquidations of any
protocol.

Settlement
----------
At the first block after an expiry the keeper sends the settlement transaction: at the oracle's
``S`` then, each account owes ``sum(contracts x max(S - K, 0))`` on calls and ``max(K - S, 0)``
on puts (quote units); it is paid to the buyers from the account's collateral (in the
collateral's asset, underlying at ``S``); what the collateral cannot cover is bad debt. An account
left without options gets its collateral back. Each account's settlement is a row of
``option_settlements``.

Tables: ``options_state`` after every block (price, level, target, drawdown, open interest,
liability and collateral value in quote units, the market makers' book delta and gamma and their
hedge holdings, open and liquidatable accounts, bad debt), and the ``protocols`` row.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from contagion.engine.chain import Block, Revert
from contagion.engine.gas import GasPolicy
from contagion.errors import InvariantError, ScenarioError, SimulationError
from contagion.options import (
    SECONDS_PER_YEAR,
    bs_delta_gamma,
    bs_greeks,
    bs_price,
    greeks_margin,
    scenario_grid,
    scenario_values,
)
from contagion.protocols.base import Protocol
from contagion.protocols.positions import draw_health_factors
from contagion.scenario.families.options import GeneratedWriters, OptionsProtocol
from contagion.units import parse_duration

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.markets.oracle import OracleUpdate

__all__ = ["OptionsMarket", "Margin"]

_MAX_DOUBLINGS = 80
_BISECTIONS = 200


class Margin(NamedTuple):
    """Per-account margin state (arrays over all accounts, quote units)."""

    collateral_value: np.ndarray
    liability: np.ndarray
    risk: np.ndarray
    health_factor: np.ndarray


class _Book(NamedTuple):
    liability: np.ndarray
    loss: np.ndarray | None       # scenario: options' unweighted loss per scenario (accounts x scenarios)
    delta: np.ndarray | None      # greeks: the written options' portfolio greeks (negative of the options')
    gamma: np.ndarray | None
    vega: np.ndarray | None


class OptionsMarket(Protocol):
    """Runtime of a ``type: options`` protocol (see the module docstring)."""

    def __init__(self, sim: "Simulation", name: str, spec: OptionsProtocol):
        super().__init__(sim, name, spec)
        ledger = sim.ledger
        self.underlying, self.quote = spec.underlying, spec.quote
        self.oracle_u = sim.oracles[spec.oracles[spec.underlying]]
        self.oracle_q = sim.oracles[spec.oracles[spec.quote]]
        self.oracles_used = list(dict.fromkeys([self.oracle_u, self.oracle_q]))
        self.rate = spec.rate
        self.bonus = spec.liquidation_bonus
        m = spec.margin
        self.method = m.method
        self.grid = scenario_grid(m.price_range, m.vol_range, price_steps=m.price_steps, vol_steps=m.vol_steps,
                                  extreme_multiple=m.extreme_multiple, extreme_weight=m.extreme_weight)
        self.horizon_years = m.horizon / SECONDS_PER_YEAR
        self.writers_account = ledger.add_account(f"writers:{name}", "writers")
        self.buyers = ledger.add_account(f"buyers:{name}", "buyers")
        self.keeper_account = ledger.add_account(f"options_keeper:{name}", "keeper")
        for asset, amount in spec.keeper.inventory.items():
            ledger.mint(self.keeper_account, asset, amount)
        self.gas = GasPolicy(spec.keeper)
        # series
        self.strike = np.zeros(0)
        self.expiry = np.zeros(0)
        self.is_call = np.zeros(0, dtype=bool)
        self.settled = np.zeros(0, dtype=bool)
        # accounts
        self.owner: list[str] = []
        self.owner_kind: list[str] = []
        self.coll_under = np.zeros(0, dtype=bool)
        self.collateral = np.zeros(0)
        self.active = np.zeros(0, dtype=bool)
        self.trigger = np.zeros(0, dtype=np.int64)
        self.induced = np.zeros(0, dtype=bool)
        # legs
        self.leg_acct = np.zeros(0, dtype=np.int64)
        self.leg_series = np.zeros(0, dtype=np.int64)
        self.leg_qty = np.zeros(0)
        # implied volatility
        iv = spec.implied_volatility
        self.iv = self.iv_target = iv.base
        self.drawdown = 0.0
        self._iv_time = 0.0
        self._history: deque[tuple[float, float]] = deque()
        self._iv_rng = sim.rng.stream(f"protocol:{name}:iv")
        self.bad_debt = 0.0          # quote units
        self.market_makers: list = []
        self._mm_requests: list[tuple] = []
        self._pending_liq: set[int] = set()
        self._pending_settle: set[float] = set()
        self._version = 0
        self._cache: tuple | None = None
        self._stamped_at = 0.0
        self._kinds: dict[str, np.ndarray] = {}
        self.ready = False
        for oracle in self.oracles_used:
            oracle.subscribe(self)
        self.chain.on_block(self._after_block)
        sim.env.process(self._keeper_loop())

    # ------------------------------------------------------------------------------- prices
    def spot(self) -> float:
        """Underlying price in quote units, from the on-chain answers."""
        return self.oracle_u.answer / self.oracle_q.answer

    def exogenous_spot(self) -> float:
        """The spot the oracles' answers would give without the simulated trades."""
        return self.oracle_u.answer_exogenous / self.oracle_q.answer_exogenous

    def check_oracles(self) -> None:
        """Bring computed-on-read oracles up to now (as a transaction reads them)."""
        for oracle in self.oracles_used:
            oracle.refresh()

    @property
    def n_accounts(self) -> int:
        """Number of accounts (open or closed)."""
        return len(self.owner)

    def tau(self, now: float) -> np.ndarray:
        """Years to expiry of every series at ``now`` (0 once expired)."""
        return np.maximum(self.expiry - now, 0.0) / SECONDS_PER_YEAR

    # ---------------------------------------------------------------------------- margin
    def _book(self, spot: float, iv: float, now: float) -> _Book:
        n = self.n_accounts
        a, s, q = self.leg_acct, self.leg_series, self.leg_qty
        tau = self.tau(now)
        if self.method == "scenario":
            m = self.spec.margin
            v0, vs = scenario_values(spot, iv, self.strike, tau, self.is_call, self.grid, rate=self.rate,
                                     horizon=self.horizon_years, vol_floor=m.vol_floor)
            liability = np.bincount(a, q * v0[s], minlength=n)
            loss = np.zeros((n, self.grid.weights.size))
            np.add.at(loss, a, (vs - v0[:, None])[s] * q[:, None])   # written: loss = value rise
            return _Book(liability, loss, None, None, None)
        g = bs_greeks(spot, self.strike, tau, iv, self.is_call, self.rate)
        price, delta, gamma, vega = (np.atleast_1d(x) for x in (g.price, g.delta, g.gamma, g.vega))
        return _Book(np.bincount(a, q * price[s], minlength=n), None,
                     -np.bincount(a, q * delta[s], minlength=n), -np.bincount(a, q * gamma[s], minlength=n),
                     -np.bincount(a, q * vega[s], minlength=n))

    def _risk(self, book: _Book, under_units: np.ndarray, spot: float) -> np.ndarray:
        """Risk add-on per account holding ``under_units`` of the underlying as collateral."""
        if book.loss is not None:
            grid = self.grid
            losses = grid.weights * (book.loss - under_units[:, None] * spot * grid.price_moves)
            return np.maximum(0.0, losses.max(axis=1))
        m = self.spec.margin
        return greeks_margin(book.delta + under_units, book.gamma, book.vega, spot, m.price_range, m.vol_range)

    def evaluate(self, spot: float | None = None, iv: float | None = None, now: float | None = None) -> Margin:
        """Margin of every account at ``spot``, volatility ``iv`` and time ``now`` (default: the
        current on-chain price, level and time)."""
        spot = self.spot() if spot is None else float(spot)
        iv = self.iv if iv is None else float(iv)
        now = self.sim.env.now if now is None else float(now)
        key = (spot, iv, now, self._version)
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        book = self._book(spot, iv, now)
        under = np.where(self.coll_under, self.collateral, 0.0)
        risk = self._risk(book, under, spot)
        value = np.where(self.coll_under, self.collateral * spot, self.collateral)
        need = book.liability + risk
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            hf = np.where(need > 0, value / need, np.inf)
        out = Margin(value, book.liability, risk, hf)
        self._cache = (key, out)
        return out

    def liquidatable_ids(self) -> np.ndarray:
        """Open accounts below maintenance margin now, worst shortfall first."""
        ev = self.evaluate()
        ids = np.flatnonzero(self.active & (ev.health_factor < 1.0))
        shortfall = (ev.liability + ev.risk - ev.collateral_value)[ids]
        return ids[np.argsort(-shortfall, kind="stable")]

    def book_greeks(self, accounts, spot: float, iv: float, now: float) -> tuple[float, float]:
        """``(delta, gamma)`` of the options written by ``accounts`` — minus the options' greeks
        (underlying units; underlying units per quote unit) — at ``spot``, ``iv``, ``now``."""
        mask = np.isin(self.leg_acct, np.asarray(accounts, dtype=np.int64)) & (self.leg_qty > 0)
        if not mask.any():
            return 0.0, 0.0
        s, q = self.leg_series[mask], self.leg_qty[mask]
        delta, gamma = bs_delta_gamma(spot, self.strike[s], self.tau(now)[s], iv, self.is_call[s], self.rate)
        return -math.fsum(q * np.atleast_1d(delta)), -math.fsum(q * np.atleast_1d(gamma))

    def accounts_of(self, owner: str) -> np.ndarray:
        """Account ids owned by ledger account ``owner``."""
        return np.array([i for i, o in enumerate(self.owner) if o == owner], dtype=np.int64)

    # --------------------------------------------------------------------------- genesis
    def add_market_maker(self, agent, legs, collateral_asset: str, amount: float) -> None:
        """Register a market maker's written ``legs`` (:class:`OptionLeg` models) and collateral,
        opened at genesis (called while the simulation is built)."""
        if self.ready:
            raise SimulationError(f"{self.name}: market makers join while the simulation is built, before genesis")
        self.market_makers.append(agent)
        self._mm_requests.append((agent, list(legs), collateral_asset, float(amount)))

    def _series_index(self, table: dict, is_call: bool, strike: float, expiry: float) -> int:
        key = (bool(is_call), float(strike), float(expiry))
        if key not in table:
            table[key] = len(table)
        return table[key]

    def genesis(self) -> None:
        """List the series, open the writers' and market makers' accounts, pay premiums, post collateral."""
        sim = self.sim
        spot = self.initial_ratio = self.spot()
        table: dict[tuple, int] = {}
        spec = self.spec
        if spec.series is not None:
            grid = spec.series
            for kind in dict.fromkeys(grid.types):
                for expiry in dict.fromkeys(grid.expiries):
                    for m in dict.fromkeys(grid.moneyness):
                        strike = spot * m
                        if grid.strike_step > 0:
                            strike = max(grid.strike_step, round(strike / grid.strike_step) * grid.strike_step)
                        self._series_index(table, kind == "call", strike, expiry)
        accounts: list[tuple[str, str, bool, float]] = []   # owner, kind, underlying?, collateral
        legs: list[tuple[int, int, float]] = []
        if isinstance(spec.writers, GeneratedWriters):
            self._set_series(table)
            self._generate_writers(accounts, legs, spot)
        else:
            self._read_writers(table, accounts, legs)
        for agent, book, asset, amount in self._mm_requests:
            i = len(accounts)
            accounts.append((agent.account, "market_maker", asset == self.underlying, amount))
            for leg in book:
                strike = leg.strike if leg.strike is not None else leg.moneyness * spot
                legs.append((i, self._series_index(table, leg.type == "call", strike, leg.expiry), leg.contracts))
        self._set_series(table)
        self.owner = [a[0] for a in accounts]
        self.owner_kind = [a[1] for a in accounts]
        self.coll_under = np.array([a[2] for a in accounts], dtype=bool)
        self.collateral = np.array([a[3] for a in accounts], dtype=np.float64)
        n = len(accounts)
        self.active = np.ones(n, dtype=bool)
        self.trigger = np.full(n, -1, dtype=np.int64)
        self.induced = np.zeros(n, dtype=bool)
        self.leg_acct = np.array([leg[0] for leg in legs], dtype=np.int64)
        self.leg_series = np.array([leg[1] for leg in legs], dtype=np.int64)
        self.leg_qty = np.array([leg[2] for leg in legs], dtype=np.float64)
        self._version += 1
        self._fund(spot)
        self._history.append((sim.env.now, spot))
        self.ready = True
        self._stamp(self.oracle_u.latest)

    def _set_series(self, table: dict) -> None:
        keys = sorted(table, key=table.get)
        self.is_call = np.array([k[0] for k in keys], dtype=bool)
        self.strike = np.array([k[1] for k in keys], dtype=np.float64)
        self.expiry = np.array([k[2] for k in keys], dtype=np.float64)
        self.settled = np.zeros(len(keys), dtype=bool)

    def _fund(self, spot: float) -> None:
        """Premiums from the buyers to the writers; collateral into the protocol."""
        ledger = self.sim.ledger
        price = np.atleast_1d(bs_price(spot, self.strike, self.tau(self.sim.env.now), self.iv, self.is_call,
                                       self.rate)) if self.strike.size else np.zeros(0)
        premium = np.bincount(self.leg_acct, self.leg_qty * price[self.leg_series], minlength=self.n_accounts)
        writers = np.array([k == "writer" for k in self.owner_kind], dtype=bool)
        payments = [(self.writers_account, math.fsum(premium[writers]))]
        payments += [(self.owner[i], float(premium[i])) for i in np.flatnonzero(~writers)]
        for payee, amount in payments:     # the buyers bring each premium and pay it on
            ledger.mint(self.buyers, self.quote, amount)
            ledger.transfer(self.buyers, payee, self.quote, amount)
        for under, asset in ((False, self.quote), (True, self.underlying)):
            mine = writers & (self.coll_under == under)
            ledger.mint(self.account, asset, math.fsum(self.collateral[mine]))
        for i in np.flatnonzero(~writers):
            asset = self.underlying if self.coll_under[i] else self.quote
            ledger.transfer(self.owner[i], self.account, asset, float(self.collateral[i]))

    def _generate_writers(self, accounts: list, legs: list, spot: float) -> None:
        """Writers of ``writers: {kind: generated}`` (see :class:`GeneratedWriters`)."""
        spec = self.spec.writers
        rng = self.sim.rng.stream(f"protocol:{self.name}:writers")
        n, k, n_series = spec.count, spec.legs, self.strike.size
        size = np.exp(spec.size_sigma * rng.standard_normal(n))
        size *= spec.total_contracts / size.sum()
        chosen = np.argsort(rng.random((n, n_series)), axis=1)[:, :k]
        cash = rng.random(n) < spec.cash_share
        hf = draw_health_factors(spec.health_factor, n, rng)
        # the book alone (collateral to be found) to size each writer's collateral
        self.owner = ["w"] * n
        self.leg_acct = np.repeat(np.arange(n, dtype=np.int64), k)
        self.leg_series = chosen.ravel().astype(np.int64)
        self.leg_qty = np.repeat(size / k, k)
        self.coll_under = ~cash
        self._version += 1
        book = self._book(spot, self.iv, self.sim.env.now)
        collateral = np.empty(n)
        zero = np.zeros(n)
        risk_cash = self._risk(book, zero, spot)
        collateral[cash] = hf[cash] * (book.liability[cash] + risk_cash[cash])
        coin = np.flatnonzero(~cash)
        if coin.size:
            collateral[coin] = self._solve_underlying(book, coin, hf[coin], spot)
        for i in range(n):
            accounts.append((self.writers_account, "writer", bool(~cash[i]), float(collateral[i])))
        for a, s, q in zip(self.leg_acct, self.leg_series, self.leg_qty):
            legs.append((int(a), int(s), float(q)))

    def _solve_underlying(self, book: _Book, ids: np.ndarray, hf: np.ndarray, spot: float) -> np.ndarray:
        """Underlying collateral giving accounts ``ids`` health factors ``hf``: ``c S = hf (L + R(c))``
        by bisection (``c S / (L + R(c))`` does not decrease in ``c``; it tends to the inverse of the
        largest weighted fall of the scan, which caps what underlying collateral can reach)."""
        n = self.n_accounts

        def gap(c: np.ndarray) -> np.ndarray:
            under = np.zeros(n)
            under[ids] = c
            return c * spot - hf * (book.liability[ids] + self._risk(book, under, spot)[ids])

        lo = np.zeros(ids.size)
        hi = np.maximum(hf * (book.liability[ids] + 1e-12) / spot, 1e-12)
        for _ in range(_MAX_DOUBLINGS):
            short = gap(hi) < 0
            if not short.any():
                break
            hi = np.where(short, hi * 2.0, hi)
        else:
            worst = float(hf[gap(hi) < 0].max())
            raise ScenarioError(f"protocols.{self.name}.writers.health_factor: a health factor of {worst:g} cannot "
                                f"be reached with underlying collateral (the collateral's own fall in the margin "
                                f"scan caps it); lower `high` or raise `cash_share`")
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            ok = gap(mid) >= 0
            hi = np.where(ok, mid, hi)
            lo = np.where(ok, lo, mid)
            if np.all(hi - lo <= 1e-15 * hi):
                break
        return hi

    def _read_writers(self, table: dict, accounts: list, legs: list) -> None:
        """Writers of ``writers: {kind: snapshot}`` (see :class:`SnapshotWriters`)."""
        where = f"protocols.{self.name}.writers.path"
        path = self.sim.base_dir / self.spec.writers.path
        try:
            frame = pd.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pd.read_csv(path)
        except (OSError, ValueError) as err:
            raise ScenarioError(f"{path}: {where}: cannot read writers: {err}") from err
        columns = ("writer", "type", "strike", "expiry", "contracts", "collateral_asset", "collateral")
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ScenarioError(f"{path}: {where}: missing columns {missing}, got {list(frame.columns)}")
        if not len(frame):
            raise ScenarioError(f"{path}: {where}: no writers")
        ids: dict[str, int] = {}
        for row, rec in enumerate(frame.itertuples(index=False), start=2):   # row 1 is the header
            def bad(column: str, rule: str, value) -> ScenarioError:
                return ScenarioError(f"{path}: {where}: row {row}: {column} {rule}, got {value!r}")

            kind = str(rec.type).strip().lower()
            if kind not in ("call", "put"):
                raise bad("type", "must be call or put", rec.type)
            strike, contracts, collateral = (_number(getattr(rec, c)) for c in ("strike", "contracts", "collateral"))
            if not strike > 0:
                raise bad("strike", "must be a number > 0", rec.strike)
            if not contracts > 0:
                raise bad("contracts", "must be a number > 0", rec.contracts)
            if not collateral >= 0:
                raise bad("collateral", "must be a number >= 0", rec.collateral)
            try:
                expiry = parse_duration(rec.expiry)
            except ValueError as err:
                raise bad("expiry", str(err), rec.expiry) from None
            if not expiry > 0:
                raise bad("expiry", "must be after the start", rec.expiry)
            asset = str(rec.collateral_asset).strip()
            if asset in ("underlying", self.underlying):
                under = True
            elif asset in ("quote", self.quote):
                under = False
            else:
                raise bad("collateral_asset", f"must be quote or underlying ({self.quote} or {self.underlying})",
                          rec.collateral_asset)
            writer = str(rec.writer)
            if writer not in ids:
                ids[writer] = len(accounts)
                accounts.append((self.writers_account, "writer", under, collateral))
            i = ids[writer]
            if accounts[i][2] != under or accounts[i][3] != collateral:
                raise bad("collateral", f"must repeat writer {writer}'s collateral "
                                        f"({accounts[i][3]:g} {'underlying' if accounts[i][2] else 'quote'})",
                          rec.collateral)
            legs.append((i, self._series_index(table, kind == "call", strike, expiry), contracts))

    # ------------------------------------------------------------------------ provenance
    def on_price_update(self, oracle, update: "OracleUpdate") -> None:
        """Re-stamp the accounts after a publication of an oracle the protocol reads."""
        if self.ready:
            self._stamp(self.oracle_u.latest)

    def _stamp(self, update: "OracleUpdate") -> None:
        """Stamp accounts that fell below margin with ``update``'s id; clear those that recovered."""
        now = self.sim.env.now
        ev = self.evaluate(now=now)
        failing = self.active & (ev.health_factor < 1.0)
        fresh = np.flatnonzero(failing & (self.trigger < 0))
        healed = np.flatnonzero(~failing & (self.trigger >= 0))
        old_at = self._stamped_at
        self._stamped_at = now
        if not (fresh.size or healed.size):
            self.sim.journal.record(lambda: setattr(self, "_stamped_at", old_at))
            return
        changed = np.concatenate([fresh, healed])
        before = self.trigger[changed].copy(), self.induced[changed].copy()
        if fresh.size:
            exo = self.evaluate(spot=self.exogenous_spot(), now=now)
            self.trigger[fresh] = update.update_id
            self.induced[fresh] = exo.health_factor[fresh] >= 1.0
        self.trigger[healed] = -1
        self.induced[healed] = False

        def undo() -> None:
            self.trigger[changed], self.induced[changed] = before
            self._stamped_at = old_at

        self.sim.journal.record(undo)

    # --------------------------------------------------------------------------- per block
    def _after_block(self, block: Block) -> None:
        """Move the volatility level, re-stamp, record ``options_state``."""
        if not self.ready:
            return
        now = block.time
        spot = self.spot()
        iv = self.spec.implied_volatility
        history = self._history      # (time, price), prices decreasing: the front is the window's high
        while history and history[-1][1] <= spot:
            history.pop()
        history.append((now, spot))
        while history[0][0] < now - iv.window:
            history.popleft()
        peak = history[0][1]
        self.drawdown = max(0.0, 1.0 - spot / peak)
        self.iv_target = iv.base + iv.drawdown_sensitivity * self.drawdown
        dt = max(0.0, now - self._iv_time)
        decay = 2.0 ** (-dt / iv.half_life) if iv.half_life > 0 else 0.0
        level = self.iv_target + (self.iv - self.iv_target) * decay
        if iv.noise > 0 and dt > 0:
            level += iv.noise * math.sqrt(max(0.0, 1.0 - decay * decay)) * float(self._iv_rng.standard_normal())
        self.iv = max(iv.floor, level)
        self._iv_time = now
        self._stamp(self.oracle_u.latest)
        self.sim.recorder.add("options_state", self.state_row(block))

    def state_row(self, block: Block) -> tuple:
        """An ``options_state`` row for the current state."""
        now, spot = block.time, self.spot()
        ev = self.evaluate(now=now)
        live = (self.leg_qty > 0) & ~self.settled[self.leg_series] if self.leg_qty.size else np.zeros(0, bool)
        mm = self.accounts_of_kind("market_maker")
        delta, gamma = self.book_greeks(mm, spot, self.iv, now)
        hedge = math.fsum(getattr(agent, "position", 0.0) for agent in self.market_makers)
        active = self.active
        return (now, block.number, self.name, spot, self.iv, self.iv_target, self.drawdown,
                math.fsum(self.leg_qty[live]), math.fsum(ev.liability[active]),
                math.fsum(ev.collateral_value[active]), delta, gamma, hedge, int(active.sum()),
                int(np.count_nonzero(active & (ev.health_factor < 1.0))), self.bad_debt)

    def accounts_of_kind(self, kind: str) -> np.ndarray:
        """Account ids of ``writer`` or ``market_maker`` accounts."""
        cached = self._kinds.get(kind)
        if cached is None:
            cached = self._kinds[kind] = np.array([i for i, k in enumerate(self.owner_kind) if k == kind],
                                                  dtype=np.int64)
        return cached

    # -------------------------------------------------------------------------- keeper
    def _keeper_loop(self):
        env, spec = self.sim.env, self.spec.keeper
        while True:
            yield self.chain.block_event
            if spec.reaction_latency > 0:
                yield env.timeout(spec.reaction_latency)
            if self.ready:
                self._keep()

    def _keep(self) -> None:
        """Send settlements of passed expiries, then liquidations of accounts below margin."""
        now = self.sim.env.now
        chain, spec = self.chain, self.spec.keeper
        bid = self.gas.fixed(chain)
        if not self.gas.expected_price(chain, bid) < math.inf:
            return
        due = sorted({float(e) for e in self.expiry[~self.settled & (self.expiry <= now)]} - self._pending_settle)
        for expiry in due:
            self._submit_settlement(expiry, bid)
        budget = self.sim.ledger.balance(self.keeper_account, self.quote)
        sent = 0
        ev = self.evaluate(now=self._stamped_at)    # the state the last block left (prices change only in blocks)
        stamped = np.flatnonzero(self.active & (self.trigger >= 0))
        shortfall = (ev.liability + ev.risk - ev.collateral_value)[stamped]
        for i in stamped[np.argsort(-shortfall, kind="stable")]:
            if sent >= spec.max_per_block:
                break
            i = int(i)
            if i in self._pending_liq:
                continue
            cost = min(float(ev.liability[i]), float(ev.collateral_value[i]) / (1.0 + self.bonus))
            if cost > budget:
                continue                         # cannot fund the buy-back
            budget -= cost
            self._submit_liquidation(i, bid)
            sent += 1

    def _submit_liquidation(self, i: int, bid: dict) -> None:
        keeper = self.keeper_account

        def action(block: Block):
            return self.liquidate(keeper, i, keeper)

        def done(tx) -> None:
            self._pending_liq.discard(i)

        self._pending_liq.add(i)
        self.chain.submit(sender=keeper, agent_type="keeper", kind="liquidation",
                          gas_used=self.spec.keeper.liquidation_gas, action=action,
                          target=("options_liquidate", self.name, i), on_result=done, **bid)

    def _submit_settlement(self, expiry: float, bid: dict) -> None:
        def action(block: Block):
            return self.settle(expiry)

        def done(tx) -> None:
            self._pending_settle.discard(expiry)

        self._pending_settle.add(expiry)
        self.chain.submit(sender=self.keeper_account, agent_type="keeper", kind="settlement",
                          gas_used=self.spec.keeper.settlement_gas, action=action,
                          target=("options_settle", self.name, expiry), on_result=done, **bid)

    # --------------------------------------------------------------------- state changes
    def _snapshot(self) -> None:
        """Journal the book's arrays and totals (restored if the transaction reverts)."""
        saved = (self.collateral.copy(), self.active.copy(), self.leg_qty.copy(), self.settled.copy(),
                 self.trigger.copy(), self.induced.copy(), self.bad_debt)

        def undo() -> None:
            (self.collateral, self.active, self.leg_qty, self.settled, self.trigger, self.induced,
             self.bad_debt) = (saved[0].copy(), saved[1].copy(), saved[2].copy(), saved[3].copy(),
                               saved[4].copy(), saved[5].copy(), saved[6])
            self._version += 1

        self.sim.journal.record(undo)
        self._version += 1

    def _close(self, i: int) -> float:
        """Close account ``i`` (no options left): its collateral goes back to its owner; returns it."""
        amount = float(self.collateral[i])
        asset = self.underlying if self.coll_under[i] else self.quote
        self.sim.ledger.transfer(self.account, self.owner[i], asset, amount)
        self.collateral[i] = 0.0
        self.active[i] = False
        self.trigger[i] = -1
        self.induced[i] = False
        return amount

    def liquidate(self, liquidator: str, account: int, agent: str) -> dict:
        """Liquidate ``account`` inside the current transaction (see the module docstring).

        Returns ``{"paid", "seized", "bad_debt"}`` (quote units, collateral units, quote units).
        Reverts if the account is unknown, closed, or at or above maintenance margin now.
        """
        sim = self.sim
        self.check_oracles()
        i = int(account)
        if not 0 <= i < self.n_accounts:
            raise Revert(f"{self.name}: no account {i}")
        if not self.active[i]:
            raise Revert(f"{self.name}: account {i} has no open options")
        now, spot, iv = sim.env.now, self.spot(), self.iv
        ev = self.evaluate(spot, iv, now)
        hf = float(ev.health_factor[i])
        if not hf < 1.0:
            raise Revert(f"{self.name}: account {i} is not below maintenance margin (health factor {hf:.6g})")
        cost, value = float(ev.liability[i]), float(ev.collateral_value[i])
        under = bool(self.coll_under[i])
        price_c = spot if under else 1.0
        full = cost * (1.0 + self.bonus)
        if value >= full:          # the collateral covers the buy-back and the bonus
            seize_value, paid, deficit = full, cost, 0.0
        else:                      # all of it goes; the buyers get what it buys back
            seize_value = value
            paid = value / (1.0 + self.bonus)
            deficit = cost - paid
        held = float(self.collateral[i])
        seized = min(held, seize_value / price_c)
        asset = self.underlying if under else self.quote
        trigger, induced = int(self.trigger[i]), bool(self.induced[i])
        if trigger < 0:   # fell below margin since the last stamp (time decay): the update in effect
            trigger = self.oracle_u.latest.update_id
            exo = self.evaluate(spot=self.exogenous_spot(), now=now)
            induced = bool(exo.health_factor[i] >= 1.0)
        legs = self.leg_acct == i
        contracts = math.fsum(self.leg_qty[legs])
        self._snapshot()
        ledger = sim.ledger
        ledger.transfer(liquidator, self.buyers, self.quote, paid)
        ledger.transfer(self.account, liquidator, asset, seized)
        self.collateral[i] = held - seized
        self.leg_qty[legs] = 0.0
        returned = self._close(i)
        self.bad_debt += deficit
        update = sim.oracle_updates.get(trigger)
        generation, parent = sim.cascade.generation(update, induced, now)
        block = sim.current_block
        liq_id = sim.next_id("liquidation")
        usd_quote = self.oracle_q.answer
        seized_usd = seized * price_c * usd_quote
        sim.recorder.add("liquidations", (
            liq_id, now, block.number, sim.current_tx_id, self.name, i, agent, asset, self.quote, paid, seized,
            paid * usd_quote, seized_usd, price_c, hf, math.nan, trigger, induced, generation, parent, 0.0, 0.0))
        sim.recorder.add("option_liquidations", (
            liq_id, now, block.number, sim.current_tx_id, self.name, i, self.owner[i], self.owner_kind[i], agent,
            asset, held, value, cost, float(ev.risk[i]), hf, spot, iv, paid, seized, seized * price_c, returned,
            deficit, contracts, trigger, induced, generation, parent))
        sim.cascade.add(now, generation, liq_id, seized_usd)
        self._stamp(self.oracle_u.latest)
        return {"paid": paid, "seized": seized, "bad_debt": deficit}

    def settle(self, expiry: float) -> float:
        """Settle every series expiring at ``expiry`` inside the current transaction (see the
        module docstring); returns the bad debt it leaves, quote units. Reverts before expiry or
        if already settled."""
        sim = self.sim
        self.check_oracles()
        now = sim.env.now
        series = np.flatnonzero((self.expiry == expiry) & ~self.settled)
        if now < expiry or not series.size:
            raise Revert(f"{self.name}: nothing to settle at expiry {expiry:g}s (now {now:g}s)")
        spot = self.spot()
        self._snapshot()
        self.settled[series] = True
        legs = np.flatnonzero(np.isin(self.leg_series, series) & (self.leg_qty > 0))
        s = self.leg_series[legs]
        payoff = np.where(self.is_call[s], np.maximum(spot - self.strike[s], 0.0),
                          np.maximum(self.strike[s] - spot, 0.0)) * self.leg_qty[legs]
        accounts = np.unique(self.leg_acct[legs])
        owed = np.bincount(self.leg_acct[legs], payoff, minlength=self.n_accounts)
        contracts = np.bincount(self.leg_acct[legs], self.leg_qty[legs], minlength=self.n_accounts)
        self.leg_qty[legs] = 0.0
        block = sim.current_block
        ledger = sim.ledger
        total = {self.quote: [], self.underlying: []}
        deficit_total = []
        for i in accounts:
            under = bool(self.coll_under[i])
            price_c = spot if under else 1.0
            asset = self.underlying if under else self.quote
            paid = min(float(self.collateral[i]), float(owed[i]) / price_c)
            deficit = max(0.0, float(owed[i]) - paid * price_c)
            self.collateral[i] -= paid
            total[asset].append(paid)
            deficit_total.append(deficit)
            sim.recorder.add("option_settlements", (
                now, block.number, sim.current_tx_id, self.name, expiry, int(i), self.owner_kind[i], spot,
                float(contracts[i]), float(owed[i]), asset, paid, paid * price_c, deficit))
        for asset, amounts in total.items():
            ledger.transfer(self.account, self.buyers, asset, math.fsum(amounts))
        left = math.fsum(deficit_total)
        self.bad_debt += left
        open_legs = np.bincount(self.leg_acct, self.leg_qty > 0, minlength=self.n_accounts)
        for i in accounts:
            if self.active[i] and open_legs[i] == 0:
                self._close(int(i))
        self._stamp(self.oracle_u.latest)
        return left

    # ------------------------------------------------------------------------- records
    def snapshot_row(self, block) -> tuple:
        """A ``protocols`` row: collateral in token units when every account posts the same asset
        (NaN otherwise), debt = the written options' value (quote units), values in USD."""
        ev = self.evaluate(now=block.time)
        active = self.active
        usd = self.oracle_q.answer
        kinds = set(self.coll_under[active].tolist())
        collateral = math.fsum(self.collateral[active]) if len(kinds) == 1 else math.nan
        liability = math.fsum(ev.liability[active])
        return (block.time, block.number, self.name, collateral, liability,
                math.fsum(ev.collateral_value[active]) * usd, liability * usd, self.bad_debt * usd,
                int(active.sum()), int(np.count_nonzero(active & (ev.health_factor < 1.0))), self.spot())

    def positions_columns(self, snapshot: str) -> dict:
        """A ``positions`` snapshot: per account, collateral (its asset's units), debt = the
        written options' value (quote units) and health factor."""
        ev = self.evaluate()
        n = self.n_accounts
        return {"protocol": [self.name] * n, "position": np.arange(n), "snapshot": [snapshot] * n,
                "collateral": self.collateral.copy(), "debt": ev.liability.copy(),
                "liquidation_price": np.full(n, np.nan), "health_factor": ev.health_factor.copy()}

    def check(self) -> None:
        """Collateral held equals the accounts' per asset; closed accounts hold nothing; stamps
        agree with the margin at the last stamping."""
        ledger = self.sim.ledger
        for under, asset in ((False, self.quote), (True, self.underlying)):
            held = ledger.balance(self.account, asset)
            booked = math.fsum(self.collateral[self.coll_under == under])
            if not math.isclose(held, booked, rel_tol=1e-9, abs_tol=1e-6):
                raise InvariantError(f"{self.name}: protocol holds {held!r} {asset} but its accounts hold {booked!r}")
        closed = ~self.active
        closed_legs = np.isin(self.leg_acct, np.flatnonzero(closed))
        if np.any(self.collateral[closed] != 0) or np.any(self.leg_qty[closed_legs] != 0):
            raise InvariantError(f"{self.name}: a closed account still holds collateral or options")
        ev = self.evaluate(now=self._stamped_at)
        hf = ev.health_factor
        wrong = self.active & ((self.trigger >= 0) != (hf < 1.0)) & (np.abs(hf - 1.0) > 1e-9)
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise InvariantError(f"{self.name}: account {i} health factor {hf[i]!r} but trigger {self.trigger[i]}")


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
