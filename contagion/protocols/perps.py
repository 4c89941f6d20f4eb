"""A perpetual-futures exchange as a simulation component (``type: perps``).

Book
----
Accounts are rows of arrays (:mod:`contagion.protocols.perps_book`): a quote balance ``Q_i`` and
signed sizes ``s_im`` in each market. At the oracle prices ``P_m`` an account's total net
collateral is ``TNC_i = Q_i + sum_m s_im P_m`` and its maintenance requirement
``TMMR_i = sum_m MMR_m(|s_im| P_m)`` (Binance brackets or a dYdX liquidity tier). Cross accounts
back all their positions with one balance; an isolated account is a row with one position. The
protocol's ledger account holds every deposit: ``sum_i Q_i + Q_mm`` (``mm``: the market maker's
book entry, below) stays equal to its quote balance, and ``sum_i s_im + s_mm,m = 0`` in every
market (each long faces a short).

Prices and triggers
-------------------
Prices come only from the markets' oracles (the mark price of margin, PnL and liquidation). When
an oracle publishes, the accounts holding its markets are re-evaluated (the holders only, so the
cost does not grow with the rest of the book): those that became liquidatable (``TMMR > 0`` and
``TNC < TMMR``) are stamped with the update's id, and marked *induced* when they would not be
liquidatable at the oracles' exogenous prices; those that recovered are cleared.

Liquidation engine (dYdX v4 rules)
----------------------------------
After each block in which stamped accounts exist, the engine sends one transaction, bid by
:class:`~contagion.engine.gas.GasPolicy` from ``engine``. When included it takes the
liquidatable accounts, one position each (the one with the largest maintenance margin), most
underwater first (dYdX ``SortLiquidationOrders``: distance of the fillable price from
the oracle price, then notional), at most ``max_liquidations_per_block``, and for each:

1. caps the size: ``max(min_position_notional, max_position_portion x notional)``, the account's
   and the block's notional limits left;
2. computes the fillable price ``(PNNV - ABR * SMMR * PMMR) / PS`` and the bankruptcy quote
   ``BQ(c) = -DNNV - TNC |DMMR| / TMMR`` of closing ``c`` units (:mod:`contagion.perps`);
3. fills against the market maker, who hedges at once on ``liquidates_into``: as much as the
   market fills with its last unit at the fillable price or better, as the market maker's
   inventory allows, and as the insurance fund can cover — the insurance-fund delta of a fill is
   ``d = quote received - BQ(c)``: when ``d <= 0`` the fund pays ``-d`` (if it cannot pay for
   the whole size, the fill shrinks to what it can pay and the fund pays all it has), when
   ``d > 0`` it receives ``min(|quote received| * max_liquidation_fee, d)``;
4. if the fund limited the fill and the account's TNC is still negative, **auto-deleverages** the
   rest of the position: counterparties holding the opposite side are ranked (``adl_ranking``:
   BitMEX ``PNL% x EffectiveLeverage`` / ``PNL% / EffectiveLeverage``, Binance LeveragePnL, or
   dYdX's pseudo-random start from stream ``protocol:<name>:adl``) and offset in that order, each
   ``min(remaining, |their position|)``, at the liquidated account's bankruptcy price (closing at
   it keeps the liquidated account's ``TNC / TMMR``). A counterparty whose TNC the offset would
   make negative is skipped (dYdX: non-overlapping bankruptcy prices); counterparties with
   non-positive TNC, and the market maker, are not in the queue.

So ADL happens only with the insurance fund at zero. Where dYdX also deleverages a negative-equity
account whose order the book cannot fill, this engine retries at the next block instead. A
position whose fill is limited otherwise (fillable price, limits, inventory) waits for the next
block, stamped with its trigger.

The market maker is the liquidity of the perp book: its book entry (``Q_mm``, ``s_mm``) takes
the other side of every fill, and its hedges live in its own ledger account
``perps:<name>:market_maker``; it is delta-neutral, not margin-checked and not deleveraged.

Funding
-------
Every ``funding.interval`` the engine sends a funding transaction; when included, with ``P`` the
oracle price and ``mark`` the price of ``premium_source``, the rate is
``clamp(mark / P - 1 + interest, -max_rate, max_rate)`` and each account pays
``s * P * rate`` (longs pay shorts when positive); the market maker pays the rest, so the
payments sum to zero exactly. Funding moves only book entries: the protocol's ledger balance does
not change.

Results
-------
``perps_liquidations`` (one row per position processed; each fill is also a ``liquidations`` row
with the base as ``collateral_asset``, the quote as ``debt_asset``, the size closed as ``seized``,
the quote moved as ``repaid``, ``price`` the oracle price, ``health_factor`` TNC / TMMR,
``liquidation_price`` the bankruptcy price, ``collateral_left`` the size left and ``debt_left``
NaN), ``adl`` (one row per counterparty offset), ``perps_funding`` (one row per market and payment) and ``perps_state`` (per block:
insurance fund, bad debt, open interest, market maker's equity). Bad debt is
``sum_i max(0, -TNC_i)`` over the accounts at the oracle prices: losses beyond collateral that no
one has covered yet.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from contagion import perps as pm
from contagion.engine.gas import GasPolicy
from contagion.errors import InvariantError
from contagion.protocols.base import Protocol
from contagion.protocols.perps_book import Book, MarginSchedule, generate_book
from contagion.protocols.perps_hedge import MarketHedge

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.chain import Block
    from contagion.engine.simulation import Simulation
    from contagion.markets.oracle import OracleUpdate

__all__ = ["PerpsExchange"]

AGENT_TYPE = "perps_engine"
_BISECTIONS = 100


class PerpsExchange(Protocol):
    """Runtime of a ``type: perps`` protocol (see the module docstring).

    Attributes
    ----------
    book : Book
        The accounts (``quote``, ``size``, ``entry``, ``isolated``).
    mm_quote : float
        The market maker's quote balance in the book, quote units.
    mm_size : numpy.ndarray
        The market maker's position per market, base units.
    trigger : numpy.ndarray
        Per account, the oracle update that made it liquidatable (-1: not liquidatable).
    insurance_account, market_maker_account, engine_account : str
        Ledger accounts.
    """

    def __init__(self, sim: "Simulation", name: str, spec):
        super().__init__(sim, name, spec)
        self.quote_asset = spec.quote
        self.market_names = list(spec.markets)
        self.market_specs = [spec.markets[n] for n in self.market_names]
        self.oracles = [sim.oracles[m.oracle] for m in self.market_specs]
        self.margins = [MarginSchedule(m.margin) for m in self.market_specs]
        ledger = sim.ledger
        self.insurance_account = ledger.add_account(f"perps:{name}:insurance", "insurance")
        self.market_maker_account = ledger.add_account(f"perps:{name}:market_maker", "market_maker")
        self.engine_account = ledger.add_account(f"perps:{name}:engine", "engine")
        for asset, amount in spec.market_maker.inventory.items():
            ledger.mint(self.market_maker_account, asset, amount)
        ledger.mint(self.engine_account, self.chain.native_asset, spec.engine.gas_funds)
        self.hedges = [MarketHedge(sim, sim.market(m.liquidates_into), m.base, spec.quote,
                                   self.market_maker_account, AGENT_TYPE) for m in self.market_specs]
        self.premium_sources = [
            None if m.funding is None else
            (self.hedges[k] if m.funding.premium_source in (None, m.liquidates_into) else
             MarketHedge(sim, sim.market(m.funding.premium_source), m.base, spec.quote,
                         self.market_maker_account, AGENT_TYPE))
            for k, m in enumerate(self.market_specs)]
        self.policy = GasPolicy(spec.engine)
        self.adl_rng = sim.rng.stream(f"protocol:{name}:adl")
        self.book: Book | None = None
        self.mm_quote = 0.0
        self.mm_size = np.zeros(len(self.market_specs))
        self.trigger = np.zeros(0, dtype=np.int64)
        self.induced = np.zeros(0, dtype=bool)
        self.holders: list[np.ndarray] = []
        self._oracle_markets: dict[str, list[int]] = {}
        for k, oracle in enumerate(self.oracles):
            if oracle.name not in self._oracle_markets:
                self._oracle_markets[oracle.name] = []
                oracle.subscribe(self)
            self._oracle_markets[oracle.name].append(k)
        self._oracle_rows: dict[str, np.ndarray] = {}
        self._pending = None
        self.chain.on_block(self._record_state)
        sim.env.process(self._engine_loop())
        for k, market in enumerate(self.market_specs):
            if market.funding is not None:
                sim.env.process(self._funding_loop(k, market.funding.interval))

    # ------------------------------------------------------------------------------ genesis
    def genesis(self) -> None:
        """Generate the book at the oracles' time-0 prices and fund the accounts."""
        sim = self.sim
        prices = self.prices()
        self.initial_ratio = float(prices[0])
        rng = sim.rng.stream(f"protocol:{self.name}:accounts")
        oi = np.asarray([m.open_interest for m in self.market_specs], dtype=np.float64)
        book = generate_book(self.spec.accounts, oi, prices, self.margins, rng)
        self.book = book
        self.mm_size = -book.size.sum(axis=0)
        self.mm_quote = float(-(self.mm_size @ prices))
        self.trigger = np.full(book.n, -1, dtype=np.int64)
        self.induced = np.zeros(book.n, dtype=bool)
        self.holders = [np.flatnonzero(book.size[:, k] != 0.0) for k in range(len(self.market_specs))]
        for oracle_name, markets in self._oracle_markets.items():
            self._oracle_rows[oracle_name] = np.unique(np.concatenate([self.holders[k] for k in markets]))
        deposits = math.fsum(book.quote) + self.mm_quote
        sim.ledger.mint(self.account, self.quote_asset, deposits)
        sim.ledger.mint(self.insurance_account, self.quote_asset, self.spec.insurance_fund)
        self._restamp(np.arange(book.n), self._latest_update_id())

    # ------------------------------------------------------------------------------- prices
    def prices(self) -> np.ndarray:
        """Oracle (mark) price of each market, quote per base."""
        return np.asarray([o.answer for o in self.oracles], dtype=np.float64)

    def exogenous_prices(self) -> np.ndarray:
        """Each market oracle's answer evaluated on its sources' exogenous prices."""
        return np.asarray([o.answer_exogenous for o in self.oracles], dtype=np.float64)

    def risk(self, rows=None, prices: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(TNC, TMMR, MMR per position)`` of accounts ``rows`` (default all) at ``prices``
        (default the oracles'); quote units, shapes ``(k,)``, ``(k,)``, ``(k, M)``."""
        book = self.book
        prices = self.prices() if prices is None else prices
        size = book.size if rows is None else book.size[rows]
        quote = book.quote if rows is None else book.quote[rows]
        notional = np.abs(size) * prices
        mmr = np.empty_like(notional)
        for k, margin in enumerate(self.margins):
            mmr[:, k] = margin.maintenance(notional[:, k])
        return quote + size @ prices, mmr.sum(axis=1), mmr

    def account_risk(self, i: int, prices: np.ndarray) -> tuple[float, float, list[float]]:
        """``(TNC, TMMR, MMR per position)`` of one account (a scalar fast path of :meth:`risk`)."""
        quote = float(self.book.quote[i])
        sizes = self.book.size[i].tolist()
        tnc, mmr = quote, []
        for s, p, margin in zip(sizes, prices.tolist(), self.margins):
            tnc += s * p
            mmr.append(margin.maintenance_of(abs(s) * p))
        return tnc, math.fsum(mmr), mmr

    def net_collateral(self) -> np.ndarray:
        """TNC of every account at the oracle prices, quote units."""
        return self.risk()[0]

    def liquidatable_ids(self) -> np.ndarray:
        """Accounts liquidatable at the oracle prices now (``TMMR > 0`` and ``TNC < TMMR``)."""
        tnc, tmmr, _ = self.risk()
        return np.flatnonzero(pm.is_liquidatable(tnc, tmmr))

    def bad_debt(self) -> float:
        """``sum max(0, -TNC)`` over the accounts, quote units."""
        tnc = self.net_collateral()
        return math.fsum(-tnc[tnc < 0.0])

    def insurance_fund(self) -> float:
        """The insurance fund's balance, quote units."""
        return self.sim.ledger.balance(self.insurance_account, self.quote_asset)

    def market_maker_equity(self) -> float:
        """The market maker's book equity ``Q_mm + sum s_mm P`` (its hedges are outside the book)."""
        return float(self.mm_quote + self.mm_size @ self.prices())

    # -------------------------------------------------------------------- journaled state
    def _set_rows(self, array: np.ndarray, rows, values) -> None:
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64)).copy()
        old = array[rows].copy()
        array[rows] = values
        self.sim.journal.record(lambda: array.__setitem__(rows, old))

    def _set_cell(self, array: np.ndarray, i: int, k: int, value: float) -> None:
        old = float(array[i, k])
        array[i, k] = value
        self.sim.journal.record(lambda: array.__setitem__((i, k), old))

    def _add_mm(self, quote: float, k: int, size: float) -> None:
        old_q, old_s = self.mm_quote, float(self.mm_size[k])
        self.mm_quote = old_q + quote
        self.mm_size[k] = old_s + size

        def undo() -> None:
            self.mm_quote = old_q
            self.mm_size[k] = old_s

        self.sim.journal.record(undo)

    # ------------------------------------------------------------------------------ triggers
    def on_price_update(self, oracle, update: "OracleUpdate") -> None:
        """Stamp the holders of the repriced markets that became liquidatable; clear the others."""
        if self.book is None:  # genesis publications come before the book
            return
        rows = self._oracle_rows.get(oracle.name)
        if rows is not None and rows.size:
            self._restamp(rows, update.update_id)

    def _restamp_account(self, i: int, update_id: int) -> None:
        tnc, tmmr, _ = self.account_risk(i, self.prices())
        liquidatable = pm.is_liquidatable(tnc, tmmr)
        stamped = self.trigger[i] >= 0
        if liquidatable and not stamped:
            e_tnc, e_tmmr, _ = self.account_risk(i, self.exogenous_prices())
            self._set_rows(self.trigger, i, update_id)
            self._set_rows(self.induced, i, not pm.is_liquidatable(e_tnc, e_tmmr))
        elif stamped and not liquidatable:
            self._set_rows(self.trigger, i, -1)
            self._set_rows(self.induced, i, False)

    def _restamp(self, rows: np.ndarray, update_id: int) -> None:
        if rows.size == 0:
            return
        tnc, tmmr, _ = self.risk(rows)
        liquidatable = pm.is_liquidatable(tnc, tmmr)
        stamped = self.trigger[rows] >= 0
        fresh = rows[liquidatable & ~stamped]
        if fresh.size:
            e_tnc, e_tmmr, _ = self.risk(fresh, self.exogenous_prices())
            self._set_rows(self.trigger, fresh, update_id)
            self._set_rows(self.induced, fresh, ~pm.is_liquidatable(e_tnc, e_tmmr))
        gone = rows[~liquidatable & stamped]
        if gone.size:
            self._set_rows(self.trigger, gone, -1)
            self._set_rows(self.induced, gone, False)

    def _latest_update_id(self) -> int:
        return max(o.latest.update_id for o in self.oracles)

    # ------------------------------------------------------------------------------ engine
    def _engine_loop(self):
        while True:
            yield self.chain.block_event
            if self._pending is None and self.book is not None and np.any(self.trigger >= 0):
                self._submit_liquidations()

    def _submit_liquidations(self) -> None:
        engine = self.spec.engine
        stamped = int(np.count_nonzero(self.trigger >= 0))
        fits = max(1, (self.chain.gas_limit - engine.base_gas) // engine.liquidation_gas)
        budget = int(min(stamped, engine.max_liquidations_per_block, fits))
        gas = min(engine.base_gas + engine.liquidation_gas * budget, self.chain.gas_limit)

        def done(tx) -> None:
            self._pending = None

        self._pending = self.chain.submit(
            sender=self.engine_account, agent_type=AGENT_TYPE, kind="perps_liquidation", gas_used=gas,
            action=lambda block: self.liquidate_block(block, budget), target=("perps_liquidate", self.name),
            on_result=done, **self.policy.fixed(self.chain))

    def liquidate_block(self, block: "Block", budget: int) -> int:
        """Liquidate up to ``budget`` accounts inside the current transaction (the engine's
        transaction calls this); returns how many positions were processed."""
        for oracle in self.oracles:
            oracle.refresh()
        ids = np.flatnonzero(self.trigger >= 0)
        if ids.size == 0:
            return 0
        prices = self.prices()
        tnc, tmmr, mmr = self.risk(ids, prices)
        live = pm.is_liquidatable(tnc, tmmr)
        ids, tnc, tmmr, mmr = ids[live], tnc[live], tmmr[live], mmr[live]
        if ids.size == 0:
            return 0
        market = np.argmax(mmr, axis=1)
        rows = np.arange(ids.size)
        size = self.book.size[ids, market]
        pmmr = mmr[rows, market]
        engine = self.spec.engine
        fill = pm.fillable_price(prices[market], size, tnc, tmmr, pmmr, engine.bankruptcy_adjustment,
                                 engine.spread_to_maintenance_margin_ratio)
        distance = np.abs(fill / prices[market] - 1.0)
        notional = np.abs(size) * prices[market]
        order = np.lexsort((ids, -notional, -distance))[:budget]
        block_left = math.inf if engine.max_notional_per_block is None else engine.max_notional_per_block
        done = 0
        for j in order:
            if block_left <= 0.0:
                break
            used = self._liquidate_position(int(ids[j]), int(market[j]), block_left)
            block_left -= used
            done += 1
        return done

    def _liquidate_position(self, i: int, k: int, block_left: float) -> float:
        """Liquidate account ``i``'s position in market ``k``; returns the notional filled."""
        sim, book, engine = self.sim, self.book, self.spec.engine
        prices = self.prices()
        p = float(prices[k])
        tnc, tmmr, mmr_i = self.account_risk(i, prices)
        if not pm.is_liquidatable(tnc, tmmr):
            self._restamp_account(i, int(self.trigger[i]))
            return 0.0
        s = float(book.size[i, k])
        side = 1.0 if s > 0 else -1.0
        sell = s > 0
        abs_s = abs(s)
        pmmr = mmr_i[k]
        margin = self.margins[k]
        fillable = float(pm.fillable_price(p, s, tnc, tmmr, pmmr, engine.bankruptcy_adjustment,
                                           engine.spread_to_maintenance_margin_ratio))
        bankrupt = float(pm.bankruptcy_price(p, s, tnc, tmmr, pmmr))

        def bq(c: float) -> float:
            """Bankruptcy quote of closing ``c`` units (received: +, paid: -)."""
            dmmr = margin.maintenance_of((abs_s - c) * p) - pmmr
            return side * c * p - tnc * abs(dmmr) / tmmr      # pm.bankruptcy_quote, on scalars

        cap_notional = min(abs_s * p, max(engine.min_position_notional, engine.max_position_portion * abs_s * p))
        if engine.max_notional_per_account is not None:
            cap_notional = min(cap_notional, engine.max_notional_per_account)
        cap_notional = min(cap_notional, block_left)
        cap_size = min(abs_s, cap_notional / p)
        hedge = self.hedges[k]
        x_cap = min(hedge.control_for_size(sell, cap_size), hedge.limit_control(sell, fillable),
                    hedge.inventory_control(sell))
        fund = self.insurance_fund()

        def shortfall(x: float) -> float:
            """What the fund would pay for control ``x``, minus the fund (NaN: cannot fill)."""
            c = hedge.size_of(sell, x)
            q = hedge.quote_of(sell, x)
            c = min(c, abs_s)
            received = q if sell else -q
            return -(received - bq(c)) - fund

        x, binding = x_cap if x_cap > 0.0 else 0.0, False
        if x > 0.0:
            gap = shortfall(x)
            if not gap <= 0.0:       # the fund cannot cover the loss of this size, or no fill (NaN)
                binding = gap > 0.0
                lo, hi = 0.0, x
                for _ in range(_BISECTIONS):
                    mid = 0.5 * (lo + hi)
                    if mid <= lo or mid >= hi:
                        break
                    if shortfall(mid) <= 0.0:
                        lo = mid
                    else:
                        hi = mid
                x = lo if lo > 1e-9 * x_cap else 0.0     # no dust fills from the search
        elif fund <= 0.0 and tnc < 0.0:
            binding = True   # nothing can be filled and the fund is empty
        closed = quote_paid = 0.0
        delta = 0.0
        if x > 0.0:
            base_moved, quote_moved = hedge.execute(sell, x)
            closed = min(base_moved, abs_s)
            quote_amount = quote_moved * (closed / base_moved) if base_moved > 0 else 0.0
            received = quote_amount if sell else -quote_amount
            d = received - bq(closed)
            ledger = sim.ledger
            if binding:
                # the fund pays all it has (the fill was sized for that); a sale that ended up at
                # the bankruptcy price to within the search's tolerance (d > 0) pays no fee
                pay = self.insurance_fund() if d <= 0.0 else 0.0
                ledger.transfer(self.insurance_account, self.account, self.quote_asset, pay)
                credit, delta = received + pay, -pay
            elif d <= 0.0:
                pay = min(-d, self.insurance_fund())
                ledger.transfer(self.insurance_account, self.account, self.quote_asset, pay)
                credit, delta = received + pay, -pay
            else:
                fee = min(abs(received) * engine.max_liquidation_fee, d)
                ledger.transfer(self.account, self.insurance_account, self.quote_asset, fee)
                credit, delta = received - fee, fee
            self._set_rows(book.quote, i, book.quote[i] + credit)
            self._set_cell(book.size, i, k, 0.0 if closed >= abs_s else s - side * closed)
            self._add_mm(-received, k, side * closed)
            quote_paid = received
        tnc_after = self.account_risk(i, self.prices())[0]
        left = abs(float(book.size[i, k]))
        adl_size = 0.0
        trigger = int(self.trigger[i])
        induced = bool(self.induced[i])
        liq_id = -1
        if closed > 0.0 or (binding and tnc_after < 0.0 and left > 0.0):
            liq_id = sim.next_id("liquidation")
            update = sim.oracle_updates.get(trigger)
            generation, parent = sim.cascade.generation(update, induced, sim.env.now)
            if binding and tnc_after < 0.0 and left > 0.0:
                adl_size = self._deleverage(i, k, liq_id)
            left = abs(float(book.size[i, k]))
            block = sim.current_block
            usd = sim.usd_price(self.quote_asset)
            sim.recorder.add("perps_liquidations", (
                liq_id, sim.env.now, block.number, sim.current_tx_id, self.name, self.market_names[k], i,
                "isolated" if book.isolated[i] else "cross", "long" if sell else "short", abs_s, closed, adl_size,
                left, p, abs(quote_paid) / closed if closed > 0 else math.nan, fillable, bankrupt, quote_paid,
                delta, self.insurance_fund(), tnc, tmmr, hedge.name, trigger, induced, generation, parent))
            if closed > 0.0:
                sim.recorder.add("liquidations", (
                    liq_id, sim.env.now, block.number, sim.current_tx_id, self.name, i, self.engine_account,
                    self.market_specs[k].base, self.quote_asset, abs(quote_paid), closed, abs(quote_paid) * usd,
                    closed * p * usd, p, tnc / tmmr, bankrupt, trigger, induced, generation, parent, math.nan, left))
                sim.cascade.add(sim.env.now, generation, liq_id, closed * p * usd)
        self._restamp_account(i, trigger if trigger >= 0 else self._latest_update_id())
        return closed * p

    # ------------------------------------------------------------------------------------ ADL
    def adl_scores(self, k: int, side: float, prices: np.ndarray | None = None,
                   exclude: int = -1) -> tuple[np.ndarray, np.ndarray]:
        """The ADL queue of market ``k`` against a liquidated position of sign ``side``:
        ``(account ids in queue order, their scores)`` (scores NaN for ``dydx``).

        Candidates hold the opposite side of market ``k`` and have positive TNC. BitMEX:
        :func:`contagion.perps.bitmex_adl_ranking` with each candidate's own bankruptcy price of
        its whole position; Binance: :func:`contagion.perps.binance_leverage_pnl` with the
        account's unrealized PnL ``sum s (P - entry)``, wallet balance ``TNC - UPnL`` and
        ``TMMR``; dYdX: ids in increasing order from a pseudo-random start (stream
        ``protocol:<name>:adl``).
        """
        book = self.book
        prices = self.prices() if prices is None else prices
        rows = self.holders[k]
        rows = rows[(np.sign(book.size[rows, k]) == -side) & (rows != exclude)]
        if rows.size == 0:
            return rows, np.zeros(0)
        tnc, tmmr, mmr = self.risk(rows, prices)
        ok = tnc > 0.0
        rows, tnc, tmmr, mmr = rows[ok], tnc[ok], tmmr[ok], mmr[ok]
        if rows.size == 0:
            return rows, np.zeros(0)
        method = self.spec.adl_ranking
        if method == "dydx":
            start = int(self.adl_rng.integers(rows.size))
            order = (np.arange(rows.size) + start) % rows.size
            return rows[order], np.full(rows.size, math.nan)
        s = book.size[rows, k]
        if method == "bitmex":
            bankrupt = pm.bankruptcy_price(prices[k], s, tnc, tmmr, mmr[:, k])
            scores = np.asarray(pm.bitmex_adl_ranking(s, book.entry[rows, k], prices[k], bankrupt)[2])
        else:
            held = book.size[rows] != 0.0
            upnl = np.where(held, book.size[rows] * (prices - book.entry[rows]), 0.0).sum(axis=1)
            scores = np.asarray(pm.binance_leverage_pnl(upnl, tnc - upnl, tmmr))
        order = pm.adl_order(scores)
        return rows[order], scores[order]

    def _deleverage(self, i: int, k: int, liq_id: int) -> float:
        """Offset account ``i``'s position in market ``k`` against the ADL queue at its bankruptcy
        price; returns the size offset."""
        sim, book = self.sim, self.book
        prices = self.prices()
        p = float(prices[k])
        tnc, tmmr, mmr_i = self.account_risk(i, prices)
        pmmr = mmr_i[k]
        s = float(book.size[i, k])
        side = 1.0 if s > 0 else -1.0
        total = abs(s)
        price = float(pm.bankruptcy_quote(tnc, tmmr, -s * p, -pmmr)) * side / total
        queue, scores = self.adl_scores(k, side, prices, exclude=i)
        if queue.size == 0:
            return 0.0
        c_tnc = self.risk(queue, prices)[0]
        remaining = total
        block = sim.current_block
        touched = []
        for rank, (j, score, tnc_j) in enumerate(zip(queue, scores, c_tnc)):
            j = int(j)
            s_j = float(book.size[j, k])
            b = min(remaining, abs(s_j))
            if tnc_j - side * b * (price - p) < 0.0:
                continue        # the offset would take the counterparty below zero
            last = b >= remaining
            self._set_rows(book.quote, i, book.quote[i] + side * b * price)
            self._set_cell(book.size, i, k, 0.0 if last else float(book.size[i, k]) - side * b)
            self._set_rows(book.quote, j, book.quote[j] - side * b * price)
            self._set_cell(book.size, j, k, 0.0 if b >= abs(s_j) else s_j + side * b)
            touched.append(j)
            sim.recorder.add("adl", (
                sim.next_id("adl"), sim.env.now, block.number, sim.current_tx_id, self.name, self.market_names[k],
                liq_id, i, j, "long" if side > 0 else "short", b, price, p, self.spec.adl_ranking, rank,
                float(score), s_j, float(book.entry[j, k]), float(tnc_j), self.insurance_fund()))
            remaining = 0.0 if last else remaining - b
            if remaining <= 0.0:
                break
        if touched:
            trigger = int(self.trigger[i])
            self._restamp(np.asarray(touched), trigger if trigger >= 0 else self._latest_update_id())
        return total - remaining

    # -------------------------------------------------------------------------------- funding
    def _funding_loop(self, k: int, interval: float):
        env = self.sim.env
        while True:
            yield env.timeout(interval)
            self.chain.submit(sender=self.engine_account, agent_type=AGENT_TYPE, kind="perps_funding",
                              gas_used=self.spec.engine.base_gas, action=lambda block, k=k: self.pay_funding(block, k),
                              target=("perps_funding", self.name, self.market_names[k]), **self.policy.fixed(self.chain))

    def pay_funding(self, block: "Block", k: int) -> float:
        """Settle one funding payment of market ``k`` inside the current transaction; returns the
        rate. Longs pay ``size * P * rate`` to shorts (the reverse when negative)."""
        sim, book = self.sim, self.book
        funding = self.market_specs[k].funding
        oracle = self.oracles[k]
        oracle.refresh()
        p = oracle.answer
        mark = self.premium_sources[k].price()
        rate = float(pm.funding_rate(mark, p, funding.interest, funding.max_rate))
        rows = self.holders[k]
        pay = np.asarray(pm.funding_payments(book.size[rows, k], p, rate))
        self._set_rows(book.quote, rows, book.quote[rows] - pay)
        mm_pay = -math.fsum(pay)
        self._add_mm(-mm_pay, k, 0.0)
        longs = book.size[rows, k] > 0
        sim.recorder.add("perps_funding", (
            sim.env.now, block.number, sim.current_tx_id, self.name, self.market_names[k], p, mark, mark / p - 1.0,
            rate, math.fsum(pay[longs]), math.fsum(pay[~longs]), mm_pay))
        self._restamp(rows, oracle.latest.update_id)      # funding moved only these accounts' quote
        return rate

    # -------------------------------------------------------------------------------- records
    def _record_state(self, block: "Block") -> None:
        if self.book is None:
            return
        prices = self.prices()
        tnc = self.risk(None, prices)[0]
        value = self.book.size * prices
        self.sim.recorder.add("perps_state", (
            block.time, block.number, self.name, self.insurance_fund(), math.fsum(-tnc[tnc < 0.0]),
            float(value[value > 0].sum()), float(-value[value < 0].sum()), self.market_maker_equity(),
            int(np.count_nonzero(np.any(self.book.size != 0.0, axis=1))), int(np.count_nonzero(self.trigger >= 0)),
            int(np.count_nonzero(tnc < 0.0))))

    def snapshot_row(self, block: "Block") -> tuple:
        """A ``protocols`` row: ``collateral`` is the quote held for the accounts' margin (token
        units), ``debt`` and ``debt_value`` NaN, ``bad_debt`` in USD, ``price`` the first market's
        oracle price."""
        held = self.sim.ledger.balance(self.account, self.quote_asset)
        usd = self.sim.usd_price(self.quote_asset)
        n_active = int(np.count_nonzero(np.any(self.book.size != 0.0, axis=1)))
        return (block.time, block.number, self.name, held, math.nan, held * usd, math.nan, self.bad_debt() * usd,
                n_active, int(np.count_nonzero(self.trigger >= 0)), float(self.oracles[0].answer))

    def positions_columns(self, snapshot: str) -> dict:
        """A ``positions`` snapshot: ``collateral`` = TNC and ``debt`` = TMMR (quote units),
        ``health_factor`` = TNC / TMMR, ``liquidation_price`` for one-position accounts (the oracle
        price at which TNC = TMMR within the position's current bracket; NaN otherwise)."""
        book = self.book
        prices = self.prices()
        tnc, tmmr, _ = self.risk(None, prices)
        held = book.size != 0.0
        liq = np.full(book.n, math.nan)
        single = np.flatnonzero(held.sum(axis=1) == 1)
        if single.size:
            k = np.argmax(held[single], axis=1)
            s = book.size[single, k]
            rate, amount = np.empty(single.size), np.empty(single.size)
            for m, margin in enumerate(self.margins):
                pick = k == m
                if pick.any():
                    rate[pick], amount[pick] = margin.bracket(np.abs(s[pick]) * prices[m])
            with np.errstate(divide="ignore", invalid="ignore"):
                liq[single] = -(book.quote[single] + amount) / (s - np.abs(s) * rate)
        with np.errstate(divide="ignore", invalid="ignore"):
            hf = np.where(tmmr > 0, tnc / tmmr, np.inf)
        return {"protocol": [self.name] * book.n, "position": np.arange(book.n), "snapshot": [snapshot] * book.n,
                "collateral": tnc, "debt": tmmr, "liquidation_price": liq, "health_factor": hf}

    def check(self) -> None:
        """The protocol's quote balance equals the book's quote entries; every market nets to zero
        size; every account is stamped exactly when it is liquidatable."""
        if self.book is None:
            return
        book = self.book
        held = self.sim.ledger.balance(self.account, self.quote_asset)
        booked = math.fsum(book.quote) + self.mm_quote
        scale = math.fsum(np.abs(book.quote)) + abs(self.mm_quote) + 1.0
        if abs(held - booked) > 1e-9 * scale:
            raise InvariantError(f"{self.name}: protocol holds {held!r} {self.quote_asset} but its accounts' "
                                 f"quote balances sum to {booked!r}")
        for k, name in enumerate(self.market_names):
            net = math.fsum(book.size[:, k]) + float(self.mm_size[k])
            gross = float(np.abs(book.size[:, k]).sum()) + abs(float(self.mm_size[k])) + 1e-300
            if abs(net) > 1e-9 * gross:
                raise InvariantError(f"{self.name}: market {name} sizes sum to {net!r}, not 0")
        tnc, tmmr, _ = self.risk()
        liquidatable = pm.is_liquidatable(tnc, tmmr)
        stamped = self.trigger >= 0
        bad = np.flatnonzero(liquidatable != stamped)
        if bad.size:
            j = int(bad[0])
            raise InvariantError(f"{self.name}: account {j} liquidatable={bool(liquidatable[j])} but "
                                 f"trigger={int(self.trigger[j])}")
