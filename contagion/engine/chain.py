"""Chains: blocks every ``block_time``, built from a mempool by gas price, executed in order.

A transaction carries the gas it uses, the gas price it bids (gwei) and an *action*: a function
run against the chain's state when the transaction is included. An action signals failure by
raising :class:`Revert`; its state changes are then rolled back (the journal), but the sender
still pays for the gas, as on Ethereum. Transactions whose sender cannot pay the gas are dropped
without being included.

Block building (``fee_market: first_price``): pending transactions are ordered by gas price,
highest first, ties by arrival (first seen first, as geth does), and included while the block's
gas limit allows; those that do not fit wait for the next block.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable

import simpy

from contagion.engine.ledger import InsufficientBalance
from contagion.scenario.models import Chain as ChainSpec

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation

__all__ = ["Revert", "Transaction", "Block", "Mempool", "Chain", "GWEI"]

log = logging.getLogger(__name__)
GWEI = 1e-9  # native units per gwei


class Revert(Exception):
    """Raised by a transaction's action to revert it (the sender still pays gas)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Block:
    """A produced block: its chain, number and timestamp (seconds)."""

    chain: str
    number: int
    time: float


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
        ``keeper``, ``arbitrageur``, ``oracle``, ... (for gas statistics).
    kind : str
        What it does: ``liquidation``, ``swap``, ``oracle_update``, ...
    gas_used : int
        Gas consumed when executed (also when it reverts).
    gas_price : float
        Bid, gwei.
    action : callable(Block) -> Any
        Executed at inclusion; raises :class:`Revert` to fail.
    target : hashable, optional
        What it competes for (e.g. ``("lend", 17)``), visible to other agents in the mempool.
    on_result : callable(Transaction), optional
        Called after inclusion (success or revert) inside block processing.
    """

    tx_id: int
    sender: str
    agent_type: str
    kind: str
    gas_used: int
    gas_price: float
    action: Callable[[Block], Any]
    target: Hashable | None = None
    on_result: Callable[["Transaction"], None] | None = None
    submitted_at: float = 0.0
    arrival: int = 0
    status: str = "pending"
    revert_reason: str = ""
    block: Block | None = None
    result: Any = None
    meta: dict = field(default_factory=dict)


class Mempool:
    """Pending transactions of one chain, public: agents can see who targets what."""

    def __init__(self) -> None:
        self._pending: list[Transaction] = []
        self._targets: dict[Hashable, list[Transaction]] = {}
        self._arrivals = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, tx: Transaction) -> None:
        tx.arrival = self._arrivals
        self._arrivals += 1
        self._pending.append(tx)
        if tx.target is not None:
            self._targets.setdefault(tx.target, []).append(tx)

    def remove(self, tx: Transaction) -> None:
        self._pending.remove(tx)
        if tx.target is not None:
            same = self._targets[tx.target]
            same.remove(tx)
            if not same:
                del self._targets[tx.target]

    def pending(self) -> list[Transaction]:
        return list(self._pending)

    def targets(self) -> dict[Hashable, list[Transaction]]:
        """Every target with its pending transactions."""
        return {target: list(txs) for target, txs in self._targets.items()}

    def targeted(self, target: Hashable) -> list[Transaction]:
        """Pending transactions that target ``target``."""
        return list(self._targets.get(target, ()))

    def is_targeted(self, target: Hashable) -> bool:
        return target in self._targets

    def ordered(self) -> list[Transaction]:
        """Pending transactions in block-building order: gas price desc, then arrival."""
        return sorted(self._pending, key=lambda tx: (-tx.gas_price, tx.arrival))


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
        self.mempool = Mempool()
        self.height = 0
        self.last_block: Block | None = None
        self.producer_account = sim.ledger.add_account(f"producer:{name}", "producer")
        self.block_event: simpy.Event = sim.env.event()
        self._block_hooks: list[Callable[[Block], None]] = []
        self.process = sim.env.process(self._run())

    # ------------------------------------------------------------------------- submission
    def submit(self, *, sender: str, agent_type: str, kind: str, gas_used: int, gas_price: float,
               action: Callable[[Block], Any], target: Hashable | None = None,
               on_result: Callable[[Transaction], None] | None = None, **meta: Any) -> Transaction:
        """Put a transaction in the mempool; returns it (its ``status`` changes when processed)."""
        tx = Transaction(tx_id=self.sim.next_id("tx"), sender=sender, agent_type=agent_type, kind=kind,
                         gas_used=int(gas_used), gas_price=float(gas_price), action=action,
                         target=target, on_result=on_result, submitted_at=self.sim.env.now, meta=meta)
        self.mempool.add(tx)
        return tx

    def on_block(self, hook: Callable[[Block], None]) -> None:
        """Call ``hook(block)`` after each block is executed (before agents hear of it)."""
        self._block_hooks.append(hook)

    # ------------------------------------------------------------------------ production
    def _run(self):
        env = self.sim.env
        while True:
            yield env.timeout(self.block_time)
            block = Block(self.name, self.height + 1, env.now)
            self.height = block.number
            self._build(block)
            self.last_block = block
            for hook in self._block_hooks:
                hook(block)
            event, self.block_event = self.block_event, env.event()
            event.succeed(block)

    def _build(self, block: Block) -> None:
        sim = self.sim
        ledger = sim.ledger
        journal = sim.journal
        gas_left = self.gas_limit
        used = n_tx = n_reverted = 0
        prices: list[float] = []
        native_usd = sim.usd_price(self.native_asset)
        for tx in self.mempool.ordered():
            if tx.gas_used > gas_left:
                continue
            fee = tx.gas_used * tx.gas_price * GWEI
            if ledger.balance(tx.sender, self.native_asset) < fee:
                self.mempool.remove(tx)
                tx.status, tx.revert_reason = "dropped", "cannot pay gas"
                self._record_tx(tx, block, fee, native_usd)
                if tx.on_result is not None:
                    tx.on_result(tx)
                continue
            self.mempool.remove(tx)
            tx.block = block
            journal.begin()
            sim.current_block, sim.current_tx_id = block, tx.tx_id
            try:
                tx.result = tx.action(block)
            except Revert as rev:
                journal.rollback()
                tx.status, tx.revert_reason = "reverted", rev.reason
                n_reverted += 1
            except InsufficientBalance as err:
                journal.rollback()
                tx.status, tx.revert_reason = "reverted", f"insufficient balance: {err}"
                n_reverted += 1
            except BaseException:
                journal.rollback()
                raise
            else:
                journal.commit()
                tx.status = "included"
            finally:
                sim.current_block, sim.current_tx_id = None, -1
            ledger.transfer(tx.sender, self.producer_account, self.native_asset, fee)
            gas_left -= tx.gas_used
            used += tx.gas_used
            n_tx += 1
            prices.append(tx.gas_price)
            self._record_tx(tx, block, fee, native_usd)
            if tx.on_result is not None:
                tx.on_result(tx)
        sim.recorder.add("blocks", (self.name, block.number, block.time, used, self.gas_limit, n_tx,
                                    n_reverted, min(prices) if prices else float("nan"),
                                    max(prices) if prices else float("nan")))

    def _record_tx(self, tx: Transaction, block: Block | None, fee: float, native_usd: float) -> None:
        included = block is not None and tx.status in ("included", "reverted")
        self.sim.recorder.add("transactions", (
            tx.tx_id, self.name, block.number if included else -1, tx.sender, tx.agent_type, tx.kind,
            "" if tx.target is None else str(tx.target), tx.gas_used, tx.gas_price,
            fee if included else 0.0, fee * native_usd if included else 0.0, tx.status,
            tx.revert_reason, tx.submitted_at, block.time if included else float("nan"),
            block.time - tx.submitted_at if included else float("nan"),
        ))

    def pending_rows(self) -> list[tuple]:
        """``transactions`` rows for what is still in the mempool (status ``pending``)."""
        rows = []
        for tx in self.mempool.ordered():
            rows.append((tx.tx_id, self.name, -1, tx.sender, tx.agent_type, tx.kind,
                         "" if tx.target is None else str(tx.target), tx.gas_used, tx.gas_price, 0.0,
                         0.0, "pending", "", tx.submitted_at, float("nan"), float("nan")))
        return rows
