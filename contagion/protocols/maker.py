"""A Maker collateral type (``type: maker``): vaults, liquidations, collateral auctions, the vow
and debt auctions, as in makerdao/dss.

Vaults
------
A numpy book: per vault ``ink`` (collateral) and ``art`` (normalized debt); it owes
``art * rate`` DAI (``rate`` is the ilk's accumulated stability fee, constant during a run). The
vault is *unsafe* when ``ink * spot < art * rate`` with ``spot = price / mat``, ``price`` the
``oracle``'s answer (an OSM's current value; ``par = 1``): its liquidation price
``art * rate * mat / ink`` is above the price. Vaults are kept in a
:class:`~contagion.liquidation.LiquidationIndex` of liquidation prices, and — as for lending
markets — stamped with the oracle update that made them unsafe (and whether only the simulated
trades did, *induced*), so liquidation rows carry their cascade generation.

Tokens: the protocol's account holds the vaults' collateral, ``auctions:<name>`` the collateral on
sale, ``vow:<name>`` the vow's DAI (surplus), ``borrowers:<name>`` what the vault owners drew (DAI
minted at genesis) and the collateral auctions give back to them.

Liquidation
-----------
``liquidation: flip`` (Liquidations 1.2): ``cat.bite`` takes collateral and debt from an unsafe
vault — at most ``lump`` collateral (the Cat at Maker's launch), or a DAI target of at most
``dunk`` with all auctions in flight within ``box`` (Cat 1.2, whose ``litter`` is released when
an auction is dealt) — and kicks an English auction (:class:`~contagion.protocols.maker_auctions.Flipper`).
``liquidation: clip`` (Liquidations 2.0): ``dog.bark`` within ``hole`` (and ``Hole``), with the
dust rules, kicks a Dutch auction (:class:`~contagion.protocols.maker_auctions.Clipper`) and pays
the keeper ``tip + chip * tab``, minted by ``vat.suck``: the DAI is created in the keeper's
account and the same amount is added to the vow's debt.

The vow
-------
As in ``vow.sol``: a liquidation moves the vault's debt ``due = art * rate`` to the vow's debt
``sin``, queued for ``wait`` seconds (``Sin``, released by ``flog``); auction proceeds reach the
vow's DAI balance. Debt not queued and not on a debt auction (``Ash``) is settled against the
vow's DAI by ``heal``, which burns both. The simulation flogs and heals at the end of every call
that changes the vow (keepers do it in the same transactions as their bids: ``flog`` and ``heal``
are permissionless). When the settled-able debt reaches ``sump`` while the vow holds no DAI (the
surplus is exhausted), a keeper calls ``vow.flop``: ``Ash += sump`` and a debt auction
(:class:`~contagion.protocols.maker_auctions.Flopper`) sells newly minted governance tokens for
``sump`` DAI; its first bid cancels that much debt (``kiss``).

Bad debt (``protocols.bad_debt``) is the vow's debt that neither its DAI nor the live collateral
auctions can cover: ``max(0, sin - dai - sum over live auctions of max(0, due - raised))``. Rows of
``vow`` (one per block) give the vow's state, the governance tokens minted so far, the DAI
minted as keeper rewards and the DAI burned settling debt; ``auctions`` has one row per auction call.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from contagion import auctions as au
from contagion import kernels
from contagion.engine.chain import Revert
from contagion.errors import InvariantError
from contagion.liquidation import LiquidationIndex
from contagion.protocols.base import Protocol, stamp_triggers
from contagion.protocols.maker_auctions import Clipper, Flipper, Flopper
from contagion.protocols.positions import generate_positions, read_snapshot
from contagion.scenario.common import GeneratedPositions

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.chain import Block
    from contagion.engine.simulation import Simulation
    from contagion.markets.oracles.base import OracleUpdate
    from contagion.scenario.families.cdp import MakerProtocol

__all__ = ["MakerVaults"]

class MakerVaults(Protocol):
    """Runtime of a ``type: maker`` protocol (one ilk, its liquidation module, auctions and vow)."""

    def __init__(self, sim: "Simulation", name: str, spec: "MakerProtocol"):
        super().__init__(sim, name, spec)
        self.collateral_asset = spec.collateral
        self.debt_asset = spec.debt
        self.governance_asset = spec.governance
        self.oracle = sim.oracles[spec.oracle]
        self.mat, self.chop, self.rate, self.dust = spec.mat, spec.chop, spec.rate, spec.dust
        self.borrowers = sim.ledger.add_account(f"borrowers:{name}", "borrowers")
        self.auction_account = sim.ledger.add_account(f"auctions:{name}", "protocol")
        self.vow = sim.ledger.add_account(f"vow:{name}", "protocol")
        self.flip = Flipper(self) if spec.liquidation == "flip" else None
        self.clip = Clipper(self) if spec.liquidation == "clip" else None
        self.house = self.flip if self.flip is not None else self.clip
        self.flop = Flopper(self) if spec.debt_auctions is not None else None
        self.price = math.nan
        self.ink = np.zeros(0)
        self.art = np.zeros(0)
        self.trigger = np.zeros(0, dtype=np.int64)
        self.induced = np.zeros(0, dtype=bool)
        self.index: LiquidationIndex | None = None
        # vow and liquidation-module state (DAI)
        self.sin = 0.0            # vat.sin(vow): debt the vow holds
        self.Sin = 0.0            # queued debt
        self.Ash = 0.0            # debt on debt auctions
        self.queue: list[tuple[float, float]] = []   # (era, amount) fessed
        self.flogged = 0          # queue entries already flogged
        self.litter = 0.0         # Cat 1.2
        self.dirt = 0.0           # Dog: this ilk's (and, one ilk per protocol, the global) Dirt
        self.incentives = 0.0     # DAI minted to keepers (vat.suck)
        self.healed = 0.0         # DAI burned against the vow's debt (heal, kiss)
        self.oracle.subscribe(self)
        self.chain.on_block(self._record_vow)

    # ------------------------------------------------------------------------------ clock
    def now(self) -> float:
        """Contract time: the simulation time in whole seconds (``block.timestamp``)."""
        return float(math.floor(self.sim.env.now))

    def _set(self, attribute: str, value) -> None:
        old = getattr(self, attribute)
        setattr(self, attribute, value)
        self.sim.journal.record(lambda: setattr(self, attribute, old))

    # ------------------------------------------------------------------------------ vaults
    def debts(self, ids: np.ndarray | None = None) -> np.ndarray:
        """DAI owed by vaults ``ids`` (default all): ``art * rate``."""
        art = self.art if ids is None else self.art[ids]
        return art * self.rate

    def keys(self, ids: np.ndarray | None = None) -> np.ndarray:
        """Liquidation prices ``art * rate * mat / ink`` (DAI per collateral unit); 0 for vaults
        with nothing to liquidate."""
        ink = self.ink if ids is None else self.ink[ids]
        debt = np.ascontiguousarray(self.debts(ids))
        out = np.empty_like(debt)
        kernels.liquidation.liquidation_prices(np.ascontiguousarray(ink), debt, 1.0 / self.mat, out)
        out[(ink <= 0.0) | (debt <= 0.0)] = 0.0
        return out

    def genesis(self) -> None:
        """Create the vaults at the oracle's time-0 price and fund the accounts."""
        sim, spec = self.sim, self.spec
        self.price = self.initial_ratio = self.oracle.answer
        src = spec.positions
        if isinstance(src, GeneratedPositions):
            rng = sim.rng.stream(f"protocol:{self.name}:positions")
            ink, debt = generate_positions(src, rng, self.price, 1.0 / self.mat)
        else:
            ink, debt = read_snapshot(sim.base_dir / src.path, f"protocols.{self.name}.positions.path")
        self.ink = np.ascontiguousarray(ink, dtype=np.float64)
        self.art = np.ascontiguousarray(debt / self.rate, dtype=np.float64)
        n = self.ink.size
        self.trigger = np.full(n, -1, dtype=np.int64)
        self.induced = np.zeros(n, dtype=bool)
        self.index = LiquidationIndex(self.keys())
        ledger = sim.ledger
        ledger.mint(self.account, self.collateral_asset, float(self.ink.sum()))
        ledger.mint(self.borrowers, self.debt_asset, float(self.debts().sum()))
        ledger.mint(self.vow, self.debt_asset, spec.surplus)
        self.trigger[self.index.liquidatable(self.price)] = self.oracle.latest.update_id

    def on_price_update(self, oracle, update: "OracleUpdate") -> None:
        """The Spotter's ``poke``: new ``spot``; stamp vaults that became unsafe (or safe)."""
        if self.index is None:
            return
        old, new = self.price, oracle.answer
        self._set("price", new)
        stamp_triggers(self, old, new, update.update_id, oracle.answer_exogenous)

    def liquidatable_ids(self, price: float | None = None) -> np.ndarray:
        """Unsafe vaults at the current ``spot`` (or at ``price``), riskiest first (read-only view)."""
        return self.index.liquidatable(self.price if price is None else price)

    def _set_vault(self, i: int, ink: float, art: float) -> None:
        old = float(self.ink[i]), float(self.art[i])
        old_key = float(self.keys(np.array([i]))[0])
        self.ink[i], self.art[i] = ink, art
        self.index.update(i, float(self.keys(np.array([i]))[0]))

        def undo() -> None:
            self.ink[i], self.art[i] = old
            self.index.update(i, old_key)

        self.sim.journal.record(undo)

    def _set_stamp(self, i: int, trigger: int, induced: bool) -> None:
        old = int(self.trigger[i]), bool(self.induced[i])
        self.trigger[i], self.induced[i] = trigger, induced
        self.sim.journal.record(lambda: (self.trigger.__setitem__(i, old[0]), self.induced.__setitem__(i, old[1])))

    # ------------------------------------------------------------------------- liquidation
    def room(self) -> float:
        """DAI of auction targets the liquidation module can still start (inf for the launch Cat)."""
        if self.flip is not None:
            spec = self.spec.flip
            return math.inf if spec.lump is not None else spec.box - self.litter
        spec = self.spec.clip
        hole = spec.hole if spec.Hole is None else min(spec.hole, spec.Hole)
        return hole - self.dirt

    def liquidate(self, position: int, keeper: str, agent: str) -> int:
        """``cat.bite`` or ``dog.bark`` of vault ``position`` inside the current transaction;
        returns the auction id. ``keeper`` receives the Dutch auction's kick reward."""
        sim = self.sim
        i = int(position)
        if not 0 <= i < self.ink.size:
            raise Revert(f"{self.name}: no vault {i}")
        ink, art = float(self.ink[i]), float(self.art[i])
        try:
            if self.flip is not None:
                spec = self.spec.flip
                if spec.lump is not None:
                    cut = au.bite_lump(ink, art, self.rate, self.price, self.mat, self.chop, lump=spec.lump)
                else:
                    cut = au.bite(ink, art, self.rate, self.price, self.mat, self.chop, dust=self.dust,
                                  dunk=spec.dunk, box=spec.box, litter=self.litter)
            else:
                spec = self.spec.clip
                hole = spec.Hole if spec.Hole is not None else math.inf
                cut = au.bark(ink, art, self.rate, self.price, self.mat, self.chop, dust=self.dust,
                              Hole=hole, Dirt=self.dirt, hole=spec.hole, dirt=self.dirt)
        except au.AuctionRevert as err:
            raise Revert(err.reason) from None
        key_before = float(self.keys(np.array([i]))[0])
        ink_left, art_left = ink - cut.ink, art - cut.art
        self._set_vault(i, ink_left, art_left)
        ledger = sim.ledger
        ledger.transfer(self.account, self.auction_account, self.collateral_asset, cut.ink)
        self.fess(cut.due)
        trigger, induced = int(self.trigger[i]), bool(self.induced[i])
        generation, parent = sim.cascade.generation(sim.oracle_updates.get(trigger), induced, sim.env.now)
        if not float(self.keys(np.array([i]))[0]) > self.price:   # safe again, or emptied
            self._set_stamp(i, -1, False)
        liq_id = sim.next_id("liquidation")
        if self.flip is not None:
            if self.spec.flip.lump is None:
                self._set("litter", self.litter + cut.tab)
            auction = self.flip.kick(i, cut.tab, cut.ink, cut.due, liq_id, trigger, generation)
        else:
            self._set("dirt", self.dirt + cut.tab)
            auction, _ = self.clip.kick(i, cut.tab, cut.ink, cut.due, keeper, liq_id, trigger, generation)
        usd_debt = sim.usd_price(self.debt_asset)
        seized_usd = cut.ink * self.price * usd_debt
        block = sim.current_block
        sim.recorder.add("liquidations", (
            liq_id, sim.env.now, block.number, sim.current_tx_id, self.name, i, agent, self.collateral_asset,
            self.debt_asset, cut.due, cut.ink, cut.due * usd_debt, seized_usd, self.price,
            self.price / key_before if key_before > 0 else math.inf, key_before, trigger, induced, generation,
            parent, art_left * self.rate, ink_left))
        sim.cascade.add(sim.env.now, generation, liq_id, seized_usd)
        return auction.id

    def claw(self, tab: float) -> None:
        """``cat.claw``: release an auction's tab from the Cat 1.2 limit when it is dealt."""
        if self.flip is not None and self.spec.flip.lump is None:
            self._set("litter", max(0.0, self.litter - tab))

    def digs(self, amount: float) -> None:
        """``dog.digs``: release DAI from the Dog's limits."""
        self._set("dirt", max(0.0, self.dirt - amount))

    # --------------------------------------------------------------------------------- vow
    def fess(self, due: float) -> None:
        """``vat.grab`` + ``vow.fess``: the vault's debt becomes the vow's, queued at ``now``."""
        self._set("sin", self.sin + due)
        self._set("Sin", self.Sin + due)
        self.queue.append((self.now(), due))
        self.sim.journal.record(self.queue.pop)

    def suck(self, keeper: str, amount: float) -> None:
        """``vat.suck(vow, keeper, amount)``: mint DAI to ``keeper``, as debt of the vow."""
        if amount <= 0:
            return
        self.sim.ledger.mint(keeper, self.debt_asset, amount)
        self._set("sin", self.sin + amount)
        self._set("incentives", self.incentives + amount)

    def flog(self) -> None:
        """Release queued debt older than ``wait`` (``vow.flog`` of every due era)."""
        wait = self.spec.debt_auctions.wait if self.spec.debt_auctions is not None else 0.0
        now = self.now()
        k, released = self.flogged, 0.0
        while k < len(self.queue) and self.queue[k][0] + wait <= now:
            released += self.queue[k][1]
            k += 1
        if k != self.flogged:
            self._set("flogged", k)
            self._set("Sin", max(0.0, self.Sin - released) if k < len(self.queue) else 0.0)

    def settleable(self) -> float:
        """Debt that may be healed or auctioned: ``sin - Sin - Ash`` (DAI, >= 0)."""
        return max(0.0, self.sin - self.Sin - self.Ash)

    def _heal(self, amount: float) -> None:
        if amount <= 0:
            return
        self.sim.ledger.burn(self.vow, self.debt_asset, amount)
        self._set("sin", max(0.0, self.sin - amount))
        self._set("healed", self.healed + amount)

    def settle(self) -> None:
        """``flog`` what is due, then ``heal`` as much debt as the vow's DAI covers."""
        self.flog()
        dai = self.sim.ledger.balance(self.vow, self.debt_asset)
        self._heal(min(dai, self.settleable()))

    def kiss(self, amount: float) -> None:
        """``vow.kiss``: the first bid of a debt auction cancels that much debt on auction."""
        amount = min(amount, self.Ash, self.sim.ledger.balance(self.vow, self.debt_asset))
        self._set("Ash", max(0.0, self.Ash - amount))
        self._heal(amount)

    def can_flop(self) -> bool:
        """Whether ``vow.flop`` would succeed now (after flog and heal)."""
        spec = self.spec.debt_auctions
        if spec is None:
            return False
        dai = self.sim.ledger.balance(self.vow, self.debt_asset)
        wait, now = spec.wait, self.now()
        queued = sum(amount for era, amount in self.queue[self.flogged:] if era + wait > now)
        free = max(0.0, self.sin - queued - self.Ash)
        return free - min(dai, free) >= spec.sump and dai <= free

    def start_debt_auction(self, agent: str) -> int:
        """``vow.flop`` (after ``flog`` and ``heal``): start a debt auction; returns its id."""
        spec = self.spec.debt_auctions
        if spec is None:
            raise Revert(f"{self.name}: no debt auctions")
        self.settle()
        if not spec.sump <= self.settleable():
            raise Revert("Vow/insufficient-debt")
        if self.sim.ledger.balance(self.vow, self.debt_asset) != 0.0:
            raise Revert("Vow/surplus-not-zero")
        self._set("Ash", self.Ash + spec.sump)
        return self.flop.kick(spec.dump, spec.sump, agent).id

    def bad_debt(self) -> float:
        """Vow debt that neither its DAI nor the live collateral auctions can cover, DAI."""
        dai = self.sim.ledger.balance(self.vow, self.debt_asset)
        cover = self.house.expected_cover()
        return max(0.0, self.sin - dai - cover)

    # ------------------------------------------------------------------------------ records
    def record_auction(self, house: str, action: str, auction_id: int, position: int, keeper: str, lot: float,
                       bid: float, tab: float, due: float, price: float, paid: float, received: float,
                       returned: float, incentive: float, liquidation_id: int, trigger: int, generation: int) -> None:
        """One ``auctions`` row (inside the current transaction)."""
        sim = self.sim
        block = sim.current_block
        sim.recorder.add("auctions", (
            auction_id, sim.env.now, block.number if block is not None else -1, sim.current_tx_id, self.name, house,
            action, position, keeper, lot, bid, tab, due, price, paid, received, returned, incentive,
            liquidation_id, trigger, generation))

    def _record_vow(self, block: "Block") -> None:
        dai = self.sim.ledger.balance(self.vow, self.debt_asset)
        self.sim.recorder.add("vow", (
            block.time, block.number, self.name, dai, self.sin, self.Sin, self.Ash, self.bad_debt(),
            self.litter if self.flip is not None else self.dirt, len(self.house), len(self.flop) if self.flop else 0,
            self.flop.minted if self.flop is not None else 0.0, self.incentives, self.healed))

    def snapshot_row(self, block: "Block") -> tuple:
        """A ``protocols`` row: vault collateral and debt, values at the oracle price, bad debt."""
        usd = self.sim.usd_price(self.debt_asset)
        collateral = self.sim.ledger.balance(self.account, self.collateral_asset)
        debt = float(self.debts().sum())
        n_active = int(np.count_nonzero(self.art > 0))
        return (block.time, block.number, self.name, collateral, debt, collateral * self.price * usd, debt * usd,
                self.bad_debt() * usd, n_active, self.index.count(self.price), self.price)

    def positions_columns(self, snapshot: str) -> dict:
        """A ``positions`` snapshot: collateral ``ink``, debt ``art * rate``, liquidation price and
        collateralization relative to ``mat`` (the health factor ``ink * spot / (art * rate)``)."""
        n = self.ink.size
        keys = self.keys()
        with np.errstate(divide="ignore"):
            hf = np.where(keys > 0, self.price / keys, np.inf)
        return {"protocol": [self.name] * n, "position": np.arange(n), "snapshot": [snapshot] * n,
                "collateral": self.ink.copy(), "debt": self.debts(), "liquidation_price": keys,
                "health_factor": hf}

    def check(self) -> None:
        """The ledger agrees with the vaults and the auctions; stamps match unsafe vaults; the
        vow's bookkeeping is non-negative."""
        ledger = self.sim.ledger
        for account, booked, what in (
                (self.account, math.fsum(self.ink), "its vaults hold"),
                (self.auction_account, self.house.collateral(), "its auctions sell")):
            held = ledger.balance(account, self.collateral_asset)
            if not math.isclose(held, booked, rel_tol=1e-9, abs_tol=1e-9):
                raise InvariantError(f"{self.name}: {account} holds {held!r} {self.collateral_asset} but {what} "
                                     f"{booked!r}")
        for attribute in ("sin", "Sin", "Ash", "litter", "dirt"):
            if getattr(self, attribute) < -1e-6:
                raise InvariantError(f"{self.name}: {attribute} is negative ({getattr(self, attribute)!r})")
        live = (self.ink > 0) & (self.art > 0)
        unsafe = np.zeros(self.ink.size, dtype=bool)
        unsafe[self.liquidatable_ids()] = True
        stamped = self.trigger >= 0
        wrong = (stamped != unsafe) & live
        if wrong.any():
            bad = int(np.flatnonzero(wrong)[0])
            raise InvariantError(f"{self.name}: vault {bad} unsafe={unsafe[bad]} but trigger={self.trigger[bad]}")
