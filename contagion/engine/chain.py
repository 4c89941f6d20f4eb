"""Chains: blocks in slots (jitter, missed slots, halts), built from a mempool, executed in order.

A transaction carries the gas it uses, its fee bid and an *action*: a function run against the
chain's state when the transaction is included. An action signals failure by raising
:class:`Revert`; its state changes are then rolled back (the journal), but in a public mempool
the sender still pays for the gas, as on Ethereum. Transactions whose sender cannot pay the gas
are dropped without being included.

Fee markets
-----------
``first_price`` (before London): a bid is a gas price; pending transactions are ordered by it,
highest first, ties by arrival (first seen first, as geth does), and each pays its bid.

``eip1559``: a bid is ``(max_fee, priority_fee)`` (gwei per gas; a legacy bid ``gas_price`` is
both). A transaction can be included only while ``max_fee >= base_fee``; it pays
``base_fee + min(priority_fee, max_fee - base_fee)`` per gas, of which the base fee is burned
and the tip goes to the block producer. Pending transactions are ordered by effective tip, ties
by arrival. After each block the base fee moves towards the gas target (``gas_limit /
elasticity``) by go-ethereum's ``CalcBaseFee`` rule (:func:`contagion.fees.next_base_fee`, in
integer wei). Senders and nonces are not modelled: each transaction stands alone.

Mempools
--------
``public``: agents see every pending transaction and whom it targets; a transaction replaces one
of the same sender only if both its fee caps are at least ``replacement_bump`` higher (else it is
rejected, "replacement transaction underpriced"); reverted transactions pay gas.
``sealed``: transactions go privately to the builder as bundles: agents see only their own, and
a transaction that would revert is left out of the block and pays nothing.

Block timing
------------
Slots are ``block_time`` apart; a block comes a uniform draw in ``[0, block_time_jitter]``
after its slot (propagation; stream ``chain:<name>:blocks``); a slot is missed with
``missed_slot_probability`` (the next chance is one slot later); no slot falls inside a halt
window, and the first one after it is at the window's end.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable

import simpy

from contagion.engine.ledger import InsufficientBalance
from contagion.errors import SimulationError
from contagion.fees import effective_tip, next_base_fee
from contagion.scenario.models import Chain as ChainSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["Revert", "Transaction", "Block", "Mempool", "Chain", "GWEI"]

log = logging.getLogger(__name__)
GWEI = 1e-9  # native units per gwei
WEI_PER_GWEI = 10**9


class Revert(Exception):
    """Raised by a transaction's action to revert it (the sender still pays gas)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Block:
    """A produced block: its chain, number, timestamp (seconds) and base fee (gwei, 0 before London)."""

    chain: str
    number: int
    time: float
    base_fee: float = 0.0


@dataclass(eq=False)
class Transaction:
    """A pending or processed transaction.

    Attributes
    ----------
    tx_id : int
        Run-wide id.
    sender : str
        Ledger account that pays gas.
    agent_type : str
        ``keeper``, ``arbitrageur``, ``oracle``, ``background``, ... (for gas statistics).
    kind : str
        What it does: ``liquidation``, ``swap``, ``oracle_update``, ...
    gas_used : int
        Gas consumed when executed (also when it reverts in a public mempool).
    max_fee, priority_fee : float
        Fee caps, gwei per gas (equal for a legacy / first-price bid).
    action : callable(Block) -> Any, or None
        Executed at inclusion; raises :class:`Revert` to fail. ``None``: a plain transfer of
        someone else's (background demand) that only uses block space.
    target : hashable, optional
        What it competes for (e.g. ``("liquidate", "lend", 17)``), visible to other agents in a
        public mempool.
    on_result : callable(Transaction), optional
        Called once its fate is known: included, reverted, dropped, expired, replaced or rejected.
    status : str
        ``pending``, ``included``, ``reverted``, ``dropped``, ``expired``, ``replaced``, ``rejected``.
    gas_price : float
        Gwei per gas actually paid (set at inclusion); for a pending transaction, its max fee.
    """

    tx_id: int
    sender: str
    agent_type: str
    kind: str
    gas_used: int
    max_fee: float
    priority_fee: float
    action: Callable[[Block], Any] | None
    target: Hashable | None = None
    on_result: Callable[["Transaction"], None] | None = None
    submitted_at: float = 0.0
    expires_at: float = math.inf
    arrival: int = 0
    status: str = "pending"
    revert_reason: str = ""
    block: Block | None = None
    result: Any = None
    paid_gas_price: float = math.nan
    record: bool = True
    meta: dict = field(default_factory=dict)

    @property
    def gas_price(self) -> float:
        return self.max_fee if math.isnan(self.paid_gas_price) else self.paid_gas_price

    def tip(self, base_fee: float) -> float:
        """Effective tip per gas at ``base_fee`` (``-inf`` if it cannot be included)."""
        return effective_tip(self.max_fee, self.priority_fee, base_fee)


class Mempool:
    """Pending transactions of one chain.

    In a public mempool anyone sees who targets what; in a sealed one (bundles sent to the
    builder) a viewer sees only its own transactions.
    """

    def __init__(self, public: bool = True) -> None:
        self.public = public
        self._pending: dict[int, Transaction] = {}
        self._targets: dict[Hashable, dict[int, Transaction]] = {}
        self._arrivals = 0
        self._listeners: list[Callable[[Transaction], None]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, tx: Transaction) -> None:
        tx.arrival = self._arrivals
        self._arrivals += 1
        self._pending[tx.tx_id] = tx
        if tx.target is not None:
            self._targets.setdefault(tx.target, {})[tx.tx_id] = tx
            if self.public:
                for listener in self._listeners:
                    listener(tx)

    def listen(self, listener: Callable[[Transaction], None]) -> None:
        """Call ``listener(tx)`` when a transaction with a target arrives (public mempools only:
        that is how bots watch for competitors)."""
        self._listeners.append(listener)

    def remove(self, tx: Transaction) -> None:
        del self._pending[tx.tx_id]
        if tx.target is not None:
            same = self._targets[tx.target]
            del same[tx.tx_id]
            if not same:
                del self._targets[tx.target]

    def __contains__(self, tx: Transaction) -> bool:
        return tx.tx_id in self._pending

    def _visible(self, txs, viewer: str | None) -> list[Transaction]:
        if self.public:
            return list(txs)
        return [tx for tx in txs if tx.sender == viewer]

    def pending(self, viewer: str | None = None) -> list[Transaction]:
        """Pending transactions ``viewer`` can see, in arrival order."""
        return self._visible(self._pending.values(), viewer)

    def targets(self, viewer: str | None = None) -> dict[Hashable, list[Transaction]]:
        """Every target with the pending transactions ``viewer`` can see."""
        out = {target: self._visible(txs.values(), viewer) for target, txs in self._targets.items()}
        return {target: txs for target, txs in out.items() if txs}

    def targeted(self, target: Hashable, viewer: str | None = None) -> list[Transaction]:
        """Pending transactions that target ``target`` (those ``viewer`` can see)."""
        return self._visible(self._targets.get(target, {}).values(), viewer)

    def is_targeted(self, target: Hashable, viewer: str | None = None) -> bool:
        return bool(self.targeted(target, viewer))

    def ordered(self, base_fee: float = 0.0) -> list[Transaction]:
        """Transactions that can be included at ``base_fee``, in block-building order: effective
        tip, highest first, then arrival."""
        keyed = [(-tx.tip(base_fee), tx.arrival, tx) for tx in self._pending.values() if tx.max_fee >= base_fee]
        keyed.sort(key=lambda item: (item[0], item[1]))
        return [tx for _, _, tx in keyed]

    def expired(self, now: float) -> list[Transaction]:
        return [tx for tx in self._pending.values() if tx.expires_at <= now]


class Chain:
    """A chain process: produces blocks, executes transactions, announces each block.

    Agents wait for ``chain.block_event`` (a simpy event that succeeds with the new
    :class:`Block` and is replaced by a fresh one for the next block).
    """

    def __init__(self, sim: "Simulation", name: str, spec: ChainSpec):
        self.sim = sim
        self.name = name
        self.spec = spec
        self.block_time = spec.block_time
        self.gas_limit = spec.gas_limit
        self.native_asset = spec.native_asset
        self.eip1559 = spec.fee_market == "eip1559"
        self.mempool = Mempool(public=spec.mempool == "public")
        self.height = 0
        self.last_block: Block | None = None
        self.base_fee_wei = round(spec.initial_base_fee * WEI_PER_GWEI) if self.eip1559 else 0
        self.producer_account = sim.ledger.add_account(f"producer:{name}", "producer")
        self.escrow_account = sim.ledger.add_account(f"gas-escrow:{name}", "producer")
        self.block_event: simpy.Event = sim.env.event()
        self._block_hooks: list[Callable[[Block], None]] = []
        self._rng = sim.rng.stream(f"chain:{name}:blocks")
        self._slot = 0.0            # time of the last slot (produced or missed)
        self._missed = 0            # slots missed since the last block
        self.background = None
        if spec.background is not None:
            from contagion.engine.background import BackgroundDemand

            self.background = BackgroundDemand(sim, self, spec.background)
        self.process = sim.env.process(self._run())

    @property
    def base_fee(self) -> float:
        """Base fee of the next block, gwei per gas (0 in a first-price market)."""
        return self.base_fee_wei / WEI_PER_GWEI

    @property
    def public_mempool(self) -> bool:
        return self.mempool.public

    # ------------------------------------------------------------------------- submission
    def submit(self, *, sender: str, agent_type: str, kind: str, gas_used: int,
               action: Callable[[Block], Any] | None, gas_price: float | None = None,
               max_fee: float | None = None, priority_fee: float | None = None,
               target: Hashable | None = None, on_result: Callable[[Transaction], None] | None = None,
               replaces: Transaction | None = None, expires_in: float | None = None, record: bool = True,
               **meta: Any) -> Transaction:
        """Send a transaction; returns it (its ``status`` changes when its fate is known).

        Bid either ``gas_price`` (legacy: max fee = priority fee = gas price) or ``max_fee`` and
        ``priority_fee`` (gwei per gas). ``replaces`` is a pending transaction of the same sender
        that this one replaces if both its fee caps are at least ``replacement_bump`` higher;
        otherwise this one is rejected and the old one stays. ``expires_in`` (seconds, default the
        chain's ``tx_expiry``) drops it if it is still pending by then. ``record=False`` keeps it
        out of the ``transactions`` table (background demand is counted per block instead).
        """
        if gas_price is not None:
            if max_fee is not None or priority_fee is not None:
                raise SimulationError("submit: give gas_price or max_fee and priority_fee, not both")
            max_fee = priority_fee = gas_price
        elif max_fee is None or priority_fee is None:
            raise SimulationError("submit: a bid needs gas_price, or max_fee and priority_fee")
        if not (0 <= priority_fee <= max_fee):
            raise SimulationError(f"submit: need 0 <= priority_fee <= max_fee, got {priority_fee!r} and {max_fee!r}")
        now = self.sim.env.now
        expiry = self.spec.tx_expiry if expires_in is None else expires_in
        tx = Transaction(tx_id=self.sim.next_id("tx"), sender=sender, agent_type=agent_type, kind=kind,
                         gas_used=int(gas_used), max_fee=float(max_fee), priority_fee=float(priority_fee),
                         action=action, target=target, on_result=on_result, submitted_at=now,
                         expires_at=now + expiry if expiry is not None else math.inf, record=record, meta=meta)
        if replaces is not None:
            if replaces.sender != sender or replaces not in self.mempool:
                raise SimulationError(f"submit: tx {replaces.tx_id} is not a pending transaction of {sender}")
            bump = 1.0 + self.spec.replacement_bump
            if tx.max_fee < replaces.max_fee * bump or tx.priority_fee < replaces.priority_fee * bump:
                self._finish(tx, "rejected", None, 0.0, "replacement transaction underpriced")
                return tx
            self.mempool.remove(replaces)
            self._finish(replaces, "replaced", None, 0.0, f"replaced by tx {tx.tx_id}")
        self.mempool.add(tx)
        return tx

    def on_block(self, hook: Callable[[Block], None]) -> None:
        """Call ``hook(block)`` after each block is executed (before agents hear of it)."""
        self._block_hooks.append(hook)

    # ------------------------------------------------------------------------ production
    def next_block_time(self) -> float:
        """When the next block comes: the next slot that is neither missed nor halted, plus the
        block's propagation jitter (draws from the chain's own stream)."""
        spec = self.spec
        t = self._slot
        while True:
            t += self.block_time
            moved = True
            while moved:
                moved = False
                for halt in spec.halts:
                    if halt.start <= t < halt.end:
                        t, moved = halt.end, True
            if spec.missed_slot_probability > 0 and self._rng.random() < spec.missed_slot_probability:
                self._missed += 1
                continue
            self._slot = t
            if spec.block_time_jitter > 0:
                return t + self._rng.uniform(0.0, spec.block_time_jitter)
            return t

    def _run(self):
        env = self.sim.env
        while True:
            yield env.timeout(max(0.0, self.next_block_time() - env.now))
            block = Block(self.name, self.height + 1, env.now, self.base_fee)
            self.height = block.number
            self._build(block)
            self.last_block = block
            for hook in self._block_hooks:
                hook(block)
            event, self.block_event = self.block_event, env.event()
            event.succeed(block)

    def _finish(self, tx: Transaction, status: str, block: Block | None, fee: float, reason: str = "") -> None:
        tx.status, tx.revert_reason = status, reason or tx.revert_reason
        if tx.record:
            self._record_tx(tx, block, fee)
        if tx.on_result is not None:
            tx.on_result(tx)

    def _build(self, block: Block) -> None:
        sim = self.sim
        ledger = sim.ledger
        journal = sim.journal
        public = self.mempool.public
        for tx in self.mempool.expired(block.time):
            self.mempool.remove(tx)
            self._finish(tx, "expired", None, 0.0, "not included before it expired")
        base = block.base_fee
        gas_left = self.gas_limit
        used = n_tx = n_reverted = n_background = background_gas = 0
        prices: list[float] = []
        for tx in self.mempool.ordered(base):
            if tx.gas_used > gas_left:
                continue
            price = base + tx.tip(base)
            fee = tx.gas_used * price * GWEI
            self.mempool.remove(tx)
            if ledger.balance(tx.sender, self.native_asset) < fee:
                self._finish(tx, "dropped", None, 0.0, "cannot pay gas")
                continue
            # the gas is paid up front (into escrow), so the action cannot spend it
            ledger.transfer(tx.sender, self.escrow_account, self.native_asset, fee)
            tx.block = block
            status, reason = "included", ""
            if tx.action is not None:
                journal.begin()
                sim.current_block, sim.current_tx_id = block, tx.tx_id
                try:
                    tx.result = tx.action(block)
                except Revert as rev:
                    journal.rollback()
                    status, reason = "reverted", rev.reason
                except InsufficientBalance as err:
                    journal.rollback()
                    status, reason = "reverted", f"insufficient balance: {err}"
                except BaseException:
                    journal.rollback()
                    raise
                else:
                    journal.commit()
                finally:
                    sim.current_block, sim.current_tx_id = None, -1
            if status == "reverted" and not public:  # a bundle that would revert is left out
                ledger.transfer(self.escrow_account, tx.sender, self.native_asset, fee)
                tx.block = None
                self._finish(tx, "dropped", None, 0.0, f"bundle not included (would revert: {reason})")
                continue
            burned = min(tx.gas_used * base * GWEI, fee)
            if burned > 0:
                ledger.burn(self.escrow_account, self.native_asset, burned)
            ledger.transfer(self.escrow_account, self.producer_account, self.native_asset,
                            ledger.balance(self.escrow_account, self.native_asset))
            tx.paid_gas_price = price
            gas_left -= tx.gas_used
            used += tx.gas_used
            n_tx += 1
            n_reverted += status == "reverted"
            if tx.action is None:
                n_background += 1
                background_gas += tx.gas_used
            prices.append(price)
            self._finish(tx, status, block, fee, reason)
        sim.recorder.add("blocks", (self.name, block.number, block.time, used, self.gas_limit, n_tx,
                                    n_reverted, min(prices) if prices else math.nan,
                                    max(prices) if prices else math.nan, base, n_background, background_gas,
                                    self._missed))
        self._missed = 0
        if self.eip1559:
            self.base_fee_wei = next_base_fee(self.base_fee_wei, used, self.gas_limit,
                                              elasticity=self.spec.elasticity,
                                              denominator=self.spec.base_fee_change_denominator)

    def _record_tx(self, tx: Transaction, block: Block | None, fee: float) -> None:
        included = block is not None and tx.status in ("included", "reverted")
        native_usd = self.sim.usd_price(self.native_asset) if included else 0.0
        self.sim.recorder.add("transactions", (
            tx.tx_id, self.name, block.number if included else -1, tx.sender, tx.agent_type, tx.kind,
            "" if tx.target is None else str(tx.target), tx.gas_used,
            tx.paid_gas_price if included else math.nan, tx.max_fee, tx.priority_fee,
            block.base_fee if included else math.nan,
            fee if included else 0.0, fee * native_usd if included else 0.0, tx.status,
            tx.revert_reason, tx.submitted_at, block.time if included else math.nan,
            block.time - tx.submitted_at if included else math.nan,
        ))

    def pending_rows(self) -> list[tuple]:
        """``transactions`` rows for what is still in the mempool (status ``pending``)."""
        return [(tx.tx_id, self.name, -1, tx.sender, tx.agent_type, tx.kind,
                 "" if tx.target is None else str(tx.target), tx.gas_used, math.nan, tx.max_fee,
                 tx.priority_fee, math.nan, 0.0, 0.0, "pending", "", tx.submitted_at, math.nan, math.nan)
                for tx in self.mempool.ordered(-math.inf) if tx.record]
