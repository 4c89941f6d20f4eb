"""Maker's auction houses as simulation state: ``flip`` (English collateral auctions,
Liquidations 1.2), ``clip`` (Dutch collateral auctions, Liquidations 2.0) and ``flop`` (debt
auctions of the governance token).

Each house keeps its live auctions in a dict by id and changes them only inside transactions:
every change records its undo in the simulation's journal, so a reverted call leaves no trace.
The rules are those of dss's ``flip.sol``, ``clip.sol`` and ``flop.sol`` (the float64 arithmetic
is :mod:`contagion.auctions`); a failed ``require`` raises
:class:`~contagion.engine.chain.Revert` with the contract's reason string. Token movements are
ledger transfers between the bidders, the house's account (``auctions:<protocol>``: collateral
on sale), the vow (``vow:<protocol>``: DAI), and the vault owners (``borrowers:<protocol>``).

Times are contract timestamps: whole seconds (``floor`` of the simulation time).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from contagion import auctions as au
from contagion import kernels
from contagion.engine.chain import Revert

if TYPE_CHECKING:  # pragma: no cover
    from contagion.protocols.maker import MakerVaults

__all__ = ["FlipBid", "ClipSale", "FlopBid", "Flipper", "Clipper", "Flopper"]


@dataclass
class FlipBid:
    """A live ``flip`` auction. ``bid``, ``tab``, ``due`` and ``raised`` are DAI; ``lot`` is
    collateral; ``guy`` the high bidder's account (the Cat's kick leaves the protocol's account);
    ``tic`` the bid's expiry (0 before the first bid) and ``end`` the auction's, in seconds;
    ``usr`` the vault (position id)."""

    id: int
    bid: float
    lot: float
    guy: str
    tic: float
    end: float
    usr: int
    tab: float
    due: float
    raised: float
    liquidation_id: int
    trigger: int
    generation: int


@dataclass
class ClipSale:
    """A live ``clip`` auction: DAI ``tab`` left to raise, collateral ``lot`` left, start (or last
    reset) time ``tic``, starting price ``top`` (DAI per collateral unit), the vault ``usr``."""

    id: int
    tab: float
    lot: float
    usr: int
    tic: float
    top: float
    due: float
    raised: float
    liquidation_id: int
    trigger: int
    generation: int


@dataclass
class FlopBid:
    """A live debt auction: ``bid`` DAI (``sump``) for ``lot`` governance tokens; ``guy`` is the
    vow until the first bid."""

    id: int
    bid: float
    lot: float
    guy: str
    tic: float
    end: float


class _House:
    """Journaled dict of live auctions of one protocol."""

    house = "house"

    def __init__(self, protocol: "MakerVaults"):
        self.p = protocol
        self.sim = protocol.sim
        self.live: dict[int, object] = {}

    def _put(self, auction) -> None:
        self.live[auction.id] = auction
        self.sim.journal.record(lambda: self.live.pop(auction.id, None))

    def _delete(self, auction) -> None:
        del self.live[auction.id]
        self.sim.journal.record(lambda: self.live.__setitem__(auction.id, auction))

    def _save(self, auction) -> None:
        old = dict(auction.__dict__)
        self.sim.journal.record(lambda: auction.__dict__.update(old))

    def get(self, auction_id: int, reason: str):
        auction = self.live.get(auction_id)
        if auction is None:
            raise Revert(reason)
        return auction

    def __len__(self) -> int:
        return len(self.live)

    # collateral auctions (flip, clip)
    def expected_cover(self) -> float:
        """DAI the live auctions may still bring towards the debt they carry."""
        return sum(max(0.0, a.due - a.raised) for a in self.live.values())

    def collateral(self) -> float:
        """Collateral the live auctions still sell."""
        return math.fsum(a.lot for a in self.live.values())

    # English auctions (flip, flop): bids expire after ``ttl``, auctions after ``tau``
    def finished(self, auction, now: float) -> bool:
        """``deal`` is allowed: a bid was made and it (or the auction) has expired."""
        return auction.tic != 0 and (auction.tic < now or auction.end < now)

    def _restartable(self, auction_id: int, contract: str):
        """``tick``'s checks: the auction ended without a bid. Returns it (journaled) and the time."""
        auction = self.get(auction_id, f"{contract}/not-finished")
        now = self.p.now()
        if not auction.end < now:
            raise Revert(f"{contract}/not-finished")
        if auction.tic != 0:
            raise Revert(f"{contract}/bid-already-placed")
        self._save(auction)
        return auction, now


class Flipper(_House):
    """``flip.sol``: tend (raise the DAI bid) until the bid reaches the tab, then dent (lower the
    collateral accepted, the rest going back to the vault owner); each bid lives ``ttl``; the
    auction ends ``tau`` after its kick."""

    house = "flip"

    def __init__(self, protocol: "MakerVaults"):
        super().__init__(protocol)
        spec = protocol.spec.flip
        self.beg, self.ttl, self.tau = spec.beg, spec.ttl, spec.tau

    def kick(self, usr: int, tab: float, lot: float, due: float, liquidation_id: int, trigger: int,
             generation: int) -> FlipBid:
        p = self.p
        now = p.now()
        bid = FlipBid(self.sim.next_id("auction"), 0.0, lot, p.account, 0.0, now + self.tau, usr, tab, due, 0.0,
                      liquidation_id, trigger, generation)
        self._put(bid)
        p.record_auction(self.house, "kick", bid.id, usr, "", lot, 0.0, tab, due, 0.0, 0.0, 0.0, 0.0, 0.0,
                         liquidation_id, trigger, generation)
        return bid

    def _biddable(self, bid: FlipBid, now: float) -> None:
        if not (bid.tic > now or bid.tic == 0):
            raise Revert("Flipper/already-finished-tic")
        if not bid.end > now:
            raise Revert("Flipper/already-finished-end")

    def tend(self, auction_id: int, lot: float, amount: float, who: str, agent: str) -> None:
        """Bid ``amount`` DAI for the whole ``lot``."""
        p = self.p
        bid = self.get(auction_id, "Flipper/guy-not-set")
        now = p.now()
        self._biddable(bid, now)
        if lot != bid.lot:
            raise Revert("Flipper/lot-not-matching")
        if not amount <= bid.tab:
            raise Revert("Flipper/higher-than-tab")
        if not amount > bid.bid:
            raise Revert("Flipper/bid-not-higher")
        if not au.tend_accepted(bid.bid, amount, bid.tab, self.beg):
            raise Revert("Flipper/insufficient-increase")
        ledger = self.sim.ledger
        self._save(bid)
        if who != bid.guy:
            ledger.transfer(who, bid.guy, p.debt_asset, bid.bid)
            bid.guy = who
        increment = amount - bid.bid
        ledger.transfer(who, p.vow, p.debt_asset, increment)
        bid.raised += increment
        bid.bid = amount
        bid.tic = now + self.ttl
        p.settle()
        p.record_auction(self.house, "tend", bid.id, bid.usr, agent, bid.lot, amount, bid.tab, bid.due,
                         amount / bid.lot, increment, 0.0, 0.0, 0.0, bid.liquidation_id, bid.trigger, bid.generation)

    def dent(self, auction_id: int, lot: float, amount: float, who: str, agent: str) -> None:
        """Accept ``lot`` collateral for the full tab; the collateral given up goes to the vault owner."""
        p = self.p
        bid = self.get(auction_id, "Flipper/guy-not-set")
        now = p.now()
        self._biddable(bid, now)
        if amount != bid.bid:
            raise Revert("Flipper/not-matching-bid")
        if amount != bid.tab:
            raise Revert("Flipper/tend-not-finished")
        if not lot < bid.lot:
            raise Revert("Flipper/lot-not-lower")
        if not au.dent_accepted(bid.lot, lot, self.beg):
            raise Revert("Flipper/insufficient-decrease")
        ledger = self.sim.ledger
        self._save(bid)
        if who != bid.guy:
            ledger.transfer(who, bid.guy, p.debt_asset, amount)
            bid.guy = who
        returned = bid.lot - lot
        ledger.transfer(p.auction_account, p.borrowers, p.collateral_asset, returned)
        bid.lot = lot
        bid.tic = now + self.ttl
        p.record_auction(self.house, "dent", bid.id, bid.usr, agent, lot, amount, bid.tab, bid.due,
                         amount / lot, 0.0, 0.0, returned, 0.0, bid.liquidation_id, bid.trigger, bid.generation)

    def deal(self, auction_id: int, agent: str) -> None:
        p = self.p
        bid = self.get(auction_id, "Flipper/not-finished")
        if not self.finished(bid, p.now()):
            raise Revert("Flipper/not-finished")
        p.claw(bid.tab)
        self.sim.ledger.transfer(p.auction_account, bid.guy, p.collateral_asset, bid.lot)
        self._delete(bid)
        p.record_auction(self.house, "deal", bid.id, bid.usr, agent, bid.lot, bid.bid, bid.tab, bid.due,
                         bid.bid / bid.lot, 0.0, bid.lot, 0.0, 0.0, bid.liquidation_id, bid.trigger, bid.generation)

    def tick(self, auction_id: int, agent: str) -> None:
        """Restart an auction that ended without a bid."""
        p = self.p
        bid, now = self._restartable(auction_id, "Flipper")
        bid.end = now + self.tau
        p.record_auction(self.house, "tick", bid.id, bid.usr, agent, bid.lot, 0.0, bid.tab, bid.due, 0.0, 0.0,
                         0.0, 0.0, 0.0, bid.liquidation_id, bid.trigger, bid.generation)


class Clipper(_House):
    """``clip.sol``: the price starts at ``top = buf * oracle price`` and falls along the curve;
    anyone takes collateral at the current price; an auction past ``tail`` or below ``cusp`` of
    its start must be reset (``redo``), which pays the keeper again when it is worth it."""

    house = "clip"

    def __init__(self, protocol: "MakerVaults"):
        super().__init__(protocol)
        spec = protocol.spec.clip
        self.spec = spec
        self.calc = spec.calc
        self.chost = protocol.spec.dust * (1.0 + protocol.spec.chop)

    def feed_price(self) -> float:
        """``getFeedPrice``: the oracle's current value with ``par = 1`` (reverts if it has none)."""
        price = self.p.oracle.answer
        if not price > 0:
            raise Revert("Clipper/invalid-price")
        return price

    def kick(self, usr: int, tab: float, lot: float, due: float, kpr: str, liquidation_id: int, trigger: int,
             generation: int) -> tuple[ClipSale, float]:
        p = self.p
        top = self.feed_price() * self.spec.buf
        sale = ClipSale(self.sim.next_id("auction"), tab, lot, usr, p.now(), top, due, 0.0, liquidation_id,
                        trigger, generation)
        self._put(sale)
        coin = 0.0
        if self.spec.tip > 0 or self.spec.chip > 0:
            coin = au.incentive(self.spec.tip, self.spec.chip, tab)
            p.suck(kpr, coin)
        p.record_auction(self.house, "kick", sale.id, usr, kpr, lot, 0.0, tab, due, top, 0.0, 0.0, 0.0, coin,
                         liquidation_id, trigger, generation)
        return sale, coin

    def prices(self, now: float, sales: list[ClipSale] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(price, needs_redo)`` of ``sales`` (default: every live one) at contract time ``now``,
        computed over arrays by the compiled kernel."""
        sales = list(self.live.values()) if sales is None else sales
        top = np.ascontiguousarray([s.top for s in sales], dtype=np.float64)
        dur = np.ascontiguousarray([now - s.tic for s in sales], dtype=np.float64)
        price = np.empty_like(top)
        calc = self.calc
        k = kernels.auctions
        if calc.kind == "linear":
            k.linear_prices(top, dur, calc.tau, price)
        elif calc.kind == "stairstep":
            k.stairstep_prices(top, dur, calc.cut, calc.step, price)
        else:
            k.exponential_prices(top, dur, calc.cut, price)
        done = np.empty(top.size, dtype=np.uint8)
        k.redo_flags(top, price, dur, self.spec.tail, self.spec.cusp, done)
        return price, done.astype(bool)

    def status(self, sale: ClipSale, now: float) -> tuple[bool, float]:
        price, done = self.prices(now, [sale])
        return bool(done[0]), float(price[0])

    def take(self, auction_id: int, amt: float, max_price: float, who: str, agent: str, callback=None) -> au.TakeResult:
        """Buy up to ``amt`` collateral at the current price, at most ``max_price``. ``callback(slice,
        owe)`` runs after the collateral reaches ``who`` and before the DAI is pulled (``clipperCall``)."""
        p = self.p
        sale = self.get(auction_id, "Clipper/not-running-auction")
        done, price = self.status(sale, p.now())
        if done:
            raise Revert("Clipper/needs-reset")
        try:
            result = au.take(sale.tab, sale.lot, price, amt, max_price, self.chost)
        except au.AuctionRevert as err:
            raise Revert(err.reason) from None
        ledger = self.sim.ledger
        ledger.transfer(p.auction_account, who, p.collateral_asset, result.slice)
        if callback is not None:
            callback(result.slice, result.owe)
        ledger.transfer(who, p.vow, p.debt_asset, result.owe)
        p.digs(result.digs)
        self._save(sale)
        sale.raised += result.owe
        sale.tab, sale.lot = result.tab, result.lot
        if result.returned > 0:
            ledger.transfer(p.auction_account, p.borrowers, p.collateral_asset, result.returned)
            sale.lot = 0.0
        if result.finished:
            self._delete(sale)
        p.settle()
        p.record_auction(self.house, "take", sale.id, sale.usr, agent, result.lot, 0.0, result.tab, sale.due, price,
                         result.owe, result.slice, result.returned, 0.0, sale.liquidation_id, sale.trigger,
                         sale.generation)
        return result

    def redo(self, auction_id: int, kpr: str) -> float:
        """Reset an auction that needs it; returns the keeper's reward (DAI minted)."""
        p = self.p
        sale = self.get(auction_id, "Clipper/not-running-auction")
        done, _ = self.status(sale, p.now())
        if not done:
            raise Revert("Clipper/cannot-reset")
        feed = self.feed_price()
        self._save(sale)
        sale.tic = p.now()
        sale.top = feed * self.spec.buf
        coin = 0.0
        if (self.spec.tip > 0 or self.spec.chip > 0) and sale.tab >= self.chost and sale.lot * feed >= self.chost:
            coin = au.incentive(self.spec.tip, self.spec.chip, sale.tab)
            p.suck(kpr, coin)
        p.record_auction(self.house, "redo", sale.id, sale.usr, kpr, sale.lot, 0.0, sale.tab, sale.due, sale.top,
                         0.0, 0.0, 0.0, coin, sale.liquidation_id, sale.trigger, sale.generation)
        return coin


class Flopper(_House):
    """``flop.sol``: a fixed DAI bid (``sump``) for a lot of governance tokens that bidders lower by
    ``beg``; the first bid's DAI settles the debt on auction (``vow.kiss``); the winner's tokens are
    minted at ``deal``; an auction without bids restarts with its lot raised by ``pad``."""

    house = "flop"

    def __init__(self, protocol: "MakerVaults"):
        super().__init__(protocol)
        self.spec = protocol.spec.debt_auctions
        self.minted = 0.0

    def kick(self, lot: float, bid: float, agent: str) -> FlopBid:
        p = self.p
        auction = FlopBid(self.sim.next_id("auction"), bid, lot, p.vow, 0.0, p.now() + self.spec.tau)
        self._put(auction)
        p.record_auction(self.house, "kick", auction.id, -1, agent, lot, bid, bid, bid, bid / lot, 0.0, 0.0, 0.0,
                         0.0, -1, -1, 0)
        return auction

    def dent(self, auction_id: int, lot: float, amount: float, who: str, agent: str) -> None:
        p = self.p
        auction = self.get(auction_id, "Flopper/guy-not-set")
        now = p.now()
        if not (auction.tic > now or auction.tic == 0):
            raise Revert("Flopper/already-finished-tic")
        if not auction.end > now:
            raise Revert("Flopper/already-finished-end")
        if amount != auction.bid:
            raise Revert("Flopper/not-matching-bid")
        if not lot < auction.lot:
            raise Revert("Flopper/lot-not-lower")
        if not au.dent_accepted(auction.lot, lot, self.spec.beg):
            raise Revert("Flopper/insufficient-decrease")
        self._save(auction)
        paid = 0.0
        if who != auction.guy:
            self.sim.ledger.transfer(who, auction.guy, p.debt_asset, amount)
            if auction.tic == 0:   # the first bid pays the vow, which cancels the debt on auction
                p.kiss(min(amount, p.Ash))
                paid = amount
            auction.guy = who
        auction.lot = lot
        auction.tic = now + self.spec.ttl
        p.record_auction(self.house, "dent", auction.id, -1, agent, lot, amount, amount, amount, amount / lot, paid,
                         0.0, 0.0, 0.0, -1, -1, 0)

    def deal(self, auction_id: int, agent: str) -> None:
        p = self.p
        auction = self.get(auction_id, "Flopper/not-finished")
        if not self.finished(auction, p.now()):
            raise Revert("Flopper/not-finished")
        self.sim.ledger.mint(auction.guy, p.governance_asset, auction.lot)
        old = self.minted
        self.minted = old + auction.lot
        self.sim.journal.record(lambda: setattr(self, "minted", old))
        self._delete(auction)
        p.record_auction(self.house, "deal", auction.id, -1, agent, auction.lot, auction.bid, auction.bid,
                         auction.bid, auction.bid / auction.lot, 0.0, auction.lot, 0.0, 0.0, -1, -1, 0)

    def tick(self, auction_id: int, agent: str) -> None:
        p = self.p
        auction, now = self._restartable(auction_id, "Flopper")
        auction.lot *= 1.0 + self.spec.pad
        auction.end = now + self.spec.tau
        p.record_auction(self.house, "tick", auction.id, -1, agent, auction.lot, auction.bid, auction.bid,
                         auction.bid, auction.bid / auction.lot, 0.0, 0.0, 0.0, 0.0, -1, -1, 0)
