"""Keepers of Maker's auctions (``kind: auction_keeper``).

Each keeper is one process with its own account. After every block of a watched protocol's chain
it waits its reaction latency (plus a uniform jitter from its stream ``agents:<name>:latency``),
reads the protocol's state and sends transactions, at most ``max_actions_per_block``, never two
for the same target while one of its own is pending:

1. ``deal`` of every auction it has won (flip, flop) once it is finished;
2. with ``kick``: ``bite``/``bark`` of unsafe vaults that no pending transaction bidding at least
   its own gas price targets (while the liquidation limit has room), ``tick`` of auctions that
   ended without a bid, ``redo`` of Dutch auctions that need a reset, and ``vow.flop`` when a
   debt auction can start;
3. bids in the auction kinds of ``houses``, valued at the market price of what it buys (the first
   of ``price_sources`` trading the asset against DAI — default the protocol's
   ``liquidates_into`` — else the assets' USD prices) less ``discount``:

   * ``flip`` tend phase: ``value`` keepers bid ``min(tab, lot * value)`` when that is an accepted
     step; ``minimum`` keepers bid the smallest accepted step (``min_bid`` DAI first) while it is
     within their valuation. Dent phase: the smallest lot worth the tab to them (``value``) or
     the largest accepted lot (``minimum``), if that lot is worth the tab;
   * ``clip``: take as much of the lot as its DAI pays for (all of it with a ``flash_loan``)
     once the price is at or below its valuation, with that valuation as ``max``;
   * ``flop``: lower the governance-token lot to what ``sump`` DAI is worth to it (``value``) or
     by one step (``minimum``), if that lot is still worth the DAI.

A bid needs the keeper's DAI: its balance less what its pending transactions may spend. A keeper
without DAI cannot bid, and one whose gas bid keeps its transactions out of congested blocks bids
too late — the failures of 12 March 2020. A flash-funded take borrows the DAI it lacks, sells the
collateral it receives into the first of ``sell_into`` (default: the protocol's pools) before the
clipper pulls the DAI (``clipperCall``), repays the loan with its fee, and reverts if it would lose
DAI. Collateral won otherwise stays in the keeper's account.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Hashable

from contagion import auctions as au
from contagion.agents.base import Agent
from contagion.agents.flash import FlashLender
from contagion.engine.chain import GWEI, Revert
from contagion.engine.gas import GasPolicy, price_of
from contagion.markets.venue import Venue

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.protocols.maker import MakerVaults
    from contagion.scenario.families.cdp import AuctionKeeperAgents

__all__ = ["AuctionKeeper"]


class AuctionKeeper(Agent):
    """One keeper of Maker auctions."""

    agent_type = "auction_keeper"

    def __init__(self, sim: "Simulation", population: str, number: int, spec: "AuctionKeeperAgents"):
        super().__init__(sim, population, number, spec)
        self.protocols: list["MakerVaults"] = [sim.protocols[p] for p in spec.watches]
        self.rng = sim.rng.stream(f"agents:{self.name}:latency")
        self.gas = GasPolicy(spec)
        self.lender = FlashLender(sim, population, spec.flash_loan) if spec.flash_loan is not None else None
        self.pending: dict[Hashable, float] = {}     # own pending targets -> DAI they may spend
        self.watch(p.chain for p in self.protocols)

    # -------------------------------------------------------------------------- helpers
    def reaction_delay(self) -> float:
        jitter = self.spec.latency_jitter
        return self.spec.reaction_latency + (self.rng.uniform(0.0, jitter) if jitter > 0 else 0.0)

    def dai_available(self, protocol: "MakerVaults") -> float:
        """DAI balance less what pending transactions may still spend."""
        return self.sim.ledger.balance(self.account, protocol.debt_asset) - self._committed

    @property
    def _committed(self) -> float:
        return math.fsum(self.pending.values()) if self.pending else 0.0

    def value(self, protocol: "MakerVaults", asset: str) -> float:
        """Market value of one unit of ``asset`` in the protocol's DAI (NaN if nothing prices it)."""
        dai = protocol.debt_asset
        for name in self.spec.price_sources or protocol.spec.liquidates_into:
            market = self.sim.market(name)
            if isinstance(market, Venue):
                if (market.base, market.quote_asset) == (asset, dai):
                    return market.price()
                if (market.base, market.quote_asset) == (dai, asset):
                    return 1.0 / market.price()
            elif asset in market.assets and dai in market.assets:
                return market.price_of(asset, dai)
        return self.sim.usd_price(asset) / self.sim.usd_price(dai)

    def on_block(self, chain) -> None:
        for protocol in self.protocols:
            if protocol.chain is chain:
                self.act(protocol)

    # ------------------------------------------------------------------------- decisions
    def act(self, p: "MakerVaults") -> int:
        """Send this block's transactions for protocol ``p``; returns how many were sent."""
        self._sent = 0
        self._native = self.sim.ledger.balance(self.account, p.chain.native_asset)
        self._dai = self.dai_available(p)
        now = p.now()
        spec = self.spec
        gas = p.spec.gas
        # 1. collect what was won
        if p.flip is not None:
            for bid in list(p.flip.live.values()):
                if bid.guy == self.account and p.flip.finished(bid, now):
                    self._send(p, ("flip", p.name, bid.id), "deal", gas.deal,
                               lambda b, i=bid.id: p.flip.deal(i, self.name))
        if p.flop is not None:
            for bid in list(p.flop.live.values()):
                if bid.guy == self.account and p.flop.finished(bid, now):
                    self._send(p, ("flop", p.name, bid.id), "deal", gas.deal,
                               lambda b, i=bid.id: p.flop.deal(i, self.name))
        # 2. kicks and restarts
        if spec.kick:
            self._kicks(p, now)
        # 3. bids
        if "flip" in spec.houses and p.flip is not None:
            self._flip_bids(p, now)
        if "clip" in spec.houses and p.clip is not None:
            self._clip_takes(p, now)
        if "flop" in spec.houses and p.flop is not None:
            self._flop_bids(p, now)
        return self._sent

    def _kicks(self, p: "MakerVaults", now: float) -> None:
        gas = p.spec.gas
        room = p.room()
        for i in p.liquidatable_ids().tolist():
            if room <= max(0.0, p.dust) or self._sent >= self.spec.max_actions_per_block:
                break
            target = ("bite", p.name, i)
            if self._ahead(p, target):
                continue
            if self._send(p, target, "liquidation", gas.bite, lambda b, i=i: p.liquidate(i, self.account, self.name)):
                room -= float(p.debts(i)) * (1.0 + p.chop)
        if p.flip is not None:
            for bid in list(p.flip.live.values()):
                if bid.tic == 0 and bid.end < now:
                    self._send(p, ("flip", p.name, bid.id), "tick", gas.tick,
                               lambda b, i=bid.id: p.flip.tick(i, self.name))
        if p.clip is not None and p.clip.live:
            sales = list(p.clip.live.values())
            _, done = p.clip.prices(now, sales)
            for sale, needs in zip(sales, done):
                if needs:
                    self._send(p, ("clip", p.name, sale.id), "redo", gas.redo,
                               lambda b, i=sale.id: p.clip.redo(i, self.account))
        if p.flop is not None:
            for bid in list(p.flop.live.values()):
                if bid.tic == 0 and bid.end < now:
                    self._send(p, ("flop", p.name, bid.id), "tick", gas.tick,
                               lambda b, i=bid.id: p.flop.tick(i, self.name))
            target = ("flop_kick", p.name)
            if p.can_flop() and not self._ahead(p, target):
                self._send(p, target, "debt_auction", gas.flop, lambda b: p.start_debt_auction(self.name))

    def _flip_bids(self, p: "MakerVaults", now: float) -> None:
        spec = self.spec
        beg = p.flip.beg
        unit = self.value(p, p.collateral_asset) * (1.0 - spec.discount)
        if not unit > 0:
            return
        for bid in list(p.flip.live.values()):
            if bid.guy == self.account or not (bid.tic == 0 or bid.tic > now) or not bid.end > now:
                continue
            worth = bid.lot * unit
            if bid.bid < bid.tab:                                   # tend: raise the DAI bid
                step = au.min_tend(bid.bid, bid.tab, beg, first_bid=spec.min_bid)
                amount = step if spec.strategy == "minimum" else min(bid.tab, worth)
                if not (amount >= step and amount <= worth and au.tend_accepted(bid.bid, amount, bid.tab, beg)):
                    continue
                if amount > self._dai:
                    continue
                self._send(p, ("flip", p.name, bid.id), "tend", p.spec.gas.tend,
                           lambda b, i=bid.id, lot=bid.lot, x=amount: p.flip.tend(i, lot, x, self.account, self.name),
                           dai=amount)
            else:                                                   # dent: lower the collateral
                smallest = bid.tab / unit
                largest = au.max_dent(bid.lot, beg)
                lot = largest if spec.strategy == "minimum" else smallest
                if not (smallest <= largest and au.dent_accepted(bid.lot, lot, beg)):
                    continue
                if bid.tab > self._dai:
                    continue
                self._send(p, ("flip", p.name, bid.id), "dent", p.spec.gas.dent,
                           lambda b, i=bid.id, x=lot, t=bid.tab: p.flip.dent(i, x, t, self.account, self.name),
                           dai=bid.tab)

    def _clip_takes(self, p: "MakerVaults", now: float) -> None:
        if not p.clip.live:
            return
        spec = self.spec
        unit = self.value(p, p.collateral_asset) * (1.0 - spec.discount)
        if not unit > 0:
            return
        sales = list(p.clip.live.values())
        prices, done = p.clip.prices(now, sales)
        for sale, price, needs in zip(sales, prices, done):
            if needs or not price <= unit or price <= 0:
                continue
            own = max(0.0, self._dai)
            if self.lender is not None:
                amt = sale.lot
                spend = own
            else:
                amt = min(sale.lot, own / price)
                spend = min(own, amt * price)
                if not amt > 0:
                    continue
            self._send(p, ("clip", p.name, sale.id), "take", p.spec.gas.take + (
                       self.lender.gas if self.lender is not None else 0),
                       self._take_action(p, sale.id, amt, unit), dai=spend)

    def _take_action(self, p: "MakerVaults", auction_id: int, amt: float, max_price: float) -> Callable:
        sim, account, lender = self.sim, self.account, self.lender
        dai, coll = p.debt_asset, p.collateral_asset
        if lender is None:
            return lambda block: p.clip.take(auction_id, amt, max_price, account, self.name)
        pools = [sim.pools[n] for n in (self.spec.sell_into or p.spec.liquidates_into)
                 if n in sim.pools and coll in sim.pools[n].assets and dai in sim.pools[n].assets]
        if not pools:
            return lambda block: p.clip.take(auction_id, amt, max_price, account, self.name)
        pool = pools[0]
        tol = self.spec.slippage_tolerance
        loan = {"amount": 0.0}

        def sell_then_pay(slice_: float, owe: float) -> None:   # clipperCall: before the DAI is pulled
            short = max(0.0, owe - sim.ledger.balance(account, dai))
            if short > 0:
                lender.borrow(account, dai, short)
                loan["amount"] = short
            if slice_ > 0:
                quoted = pool.quote(coll, slice_, dai)
                pool.swap(account, coll, slice_, quoted * (1.0 - tol), self.agent_type, dai)

        def take(block) -> None:
            before = sim.ledger.balance(account, dai)
            loan["amount"] = 0.0
            p.clip.take(auction_id, amt, max_price, account, self.name, callback=sell_then_pay)
            lender.repay(account, dai, loan["amount"])
            if sim.ledger.balance(account, dai) < before:
                raise Revert("take: the sale does not repay the loan")

        return take

    def _flop_bids(self, p: "MakerVaults", now: float) -> None:
        spec = self.spec
        beg = p.flop.spec.beg
        unit = self.value(p, p.governance_asset) * (1.0 - spec.discount)
        if not unit > 0:
            return
        for bid in list(p.flop.live.values()):
            if bid.guy == self.account or not (bid.tic == 0 or bid.tic > now) or not bid.end > now:
                continue
            smallest = bid.bid / unit           # governance tokens worth the DAI to this keeper
            largest = au.max_dent(bid.lot, beg)
            lot = largest if spec.strategy == "minimum" else smallest
            if not (smallest <= largest and au.dent_accepted(bid.lot, lot, beg)):
                continue
            if bid.bid > self._dai:
                continue
            self._send(p, ("flop", p.name, bid.id), "dent", p.spec.gas.dent,
                       lambda b, i=bid.id, x=lot, d=bid.bid: p.flop.dent(i, x, d, self.account, self.name), dai=bid.bid)

    # ------------------------------------------------------------------------ sending
    def _ahead(self, p: "MakerVaults", target: Hashable) -> bool:
        """Whether a pending transaction (visible to this keeper) for ``target`` pays at least as
        much gas as this keeper would, so it will be included first."""
        chain = p.chain
        own = self.gas.expected_price(chain, self.gas.fixed(chain))
        base = chain.base_fee
        return any(price_of(tx, base) >= own for tx in chain.mempool.targeted(target, viewer=self.account))

    def _send(self, p: "MakerVaults", target: Hashable, kind: str, gas_used: int, action: Callable,
              dai: float = 0.0) -> bool:
        """Submit one transaction unless the block's budget, a pending one of ours for the same
        target, the bid's price or the keeper's native balance forbids it."""
        if self._sent >= self.spec.max_actions_per_block or target in self.pending:
            return False
        chain = p.chain
        bid = self.gas.fixed(chain)
        price = self.gas.expected_price(chain, bid)
        fee = gas_used * price * GWEI
        if not math.isfinite(price) or fee > self._native:
            return False
        self.pending[target] = dai

        def done(tx) -> None:
            if tx.status != "replaced":
                self.pending.pop(target, None)

        chain.submit(sender=self.account, agent_type=self.agent_type, kind=kind, gas_used=gas_used, action=action,
                     target=target, on_result=done, **bid)
        self._sent += 1
        self._native -= fee
        self._dai -= dai
        return True
