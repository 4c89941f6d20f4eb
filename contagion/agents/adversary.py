"""Oracle manipulators: one atomic transaction that moves a thin pool, liquidates, and unwinds.

An adversary of a ``kind: adversary`` population watches lending protocols whose collateral
oracle reads a pool (a ``spot`` or ``twap`` oracle; or the ``pool`` it is given). After each block
(plus its reaction latency) it considers, for each watched protocol, one transaction that:

1. borrows collateral with a flash loan (``flash_loan``; its own collateral is used first);
2. sells ``q`` collateral into the pool, pushing its price — and a spot oracle reading it — down;
3. liquidates, through the protocol's ``liquidate``, the positions that this made liquidatable
   (riskiest first, each as many times as it stays liquidatable, at most ``max_liquidations``
   calls), repaying with the sale's proceeds, its own debt asset, and flash-borrowed debt asset;
4. buys back in the pool the collateral it needs to restore its own holding and repay the
   collateral loan (if the seized collateral does not already cover it), and sells collateral
   for the debt asset the debt loan needs;
5. repays the flash loans with their fee (the fee stays with the lender; if the adversary cannot
   repay, the transaction reverts).

It finds ``q`` by executing that transaction against the current state without committing it
(:meth:`contagion.Simulation.dry_run`, an ``eth_call``): a screen at the largest size — what it
can borrow, at most the sale that moves the pool's price down by ``max_price_move`` — then sizes
halving from there and a golden-section refinement around the best. It sends
the best attack only if its estimated profit net of gas exceeds ``min_profit``, and the
transaction itself reverts if, when included, it would not. With a TWAP oracle the sale cannot
move the price that the same block reads (a block's contribution to the average is fixed by the
previous block's end), so the screen finds nothing to liquidate and no attack is sent.

Accounting (every attack, sent or estimated, is a row of the ``attacks`` table), in USD at the
prices before the attack (``Simulation.usd_price``): ``liquidation_gain = seized × P_c − repaid ×
P_d``; ``swap_fees = pool fee × value of each swap's input``; ``slippage`` = what the round trip
lost to price impact beyond the fees; ``flash_fee = fee × value borrowed``; ``gas``. The profit is
the change of the adversary's holdings at those prices minus gas, and equals
``liquidation_gain − swap_fees − slippage − flash_fee − gas``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from contagion import kernels
from contagion.agents.flash import FlashLender
from contagion.agents.base import Agent
from contagion.engine.chain import GWEI, Block, Revert
from contagion.engine.gas import GasPolicy
from contagion.engine.ledger import InsufficientBalance
from contagion.errors import AmmError
from contagion.scenario.models import AdversaryAgents
from contagion.scenario.references import oracle_pool

if TYPE_CHECKING:  # pragma: no cover
    from contagion.engine.simulation import Simulation
    from contagion.markets.pool import RuntimePool
    from contagion.protocols.lending import LendingMarket

__all__ = ["Adversary", "AttackOutcome"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_SIZES = 8            # sizes tried: the largest, then halving
_REFINE = 6           # golden-section steps around the best size


@dataclass
class AttackOutcome:
    """What one execution of the attack did (token units; USD at the pre-attack prices)."""

    sold: float = 0.0
    proceeds: float = 0.0
    bought: float = 0.0
    spent: float = 0.0
    flash_collateral: float = 0.0
    flash_debt: float = 0.0
    liquidations: int = 0
    repaid: float = 0.0
    seized: float = 0.0
    swaps: int = 0
    price_before: float = math.nan
    price_manipulated: float = math.nan
    oracle_before: float = math.nan
    oracle_manipulated: float = math.nan
    liquidation_gain_usd: float = 0.0
    swap_fees_usd: float = 0.0
    slippage_usd: float = 0.0
    flash_fee_usd: float = 0.0
    gross_usd: float = 0.0
    positions: list[int] = field(default_factory=list)


@dataclass
class _Plan:
    size: float
    outcome: AttackOutcome
    gas: int
    net_usd: float


class Adversary(Agent):
    """One oracle manipulator."""

    agent_type = "adversary"

    def __init__(self, sim: "Simulation", population: str, number: int, spec: AdversaryAgents):
        super().__init__(sim, population, number, spec)
        self.markets: list["LendingMarket"] = [sim.protocols[p] for p in spec.watches]
        self.pools: dict[str, "RuntimePool"] = {
            m.name: sim.pools[spec.pool or oracle_pool(sim.scenario, m.oracle_collateral.name)]
            for m in self.markets}
        self.lender = FlashLender(sim, population, spec.flash_loan) if spec.flash_loan is not None else None
        self.flash_fee = self.lender.fee if self.lender is not None else 0.0
        self.pending = None
        self.watch(m.chain for m in self.markets)

    def on_block(self, chain) -> None:
        if self.pending is not None:
            return
        for market in self.markets:
            if market.chain is chain:
                plan = self.plan(market)
                if plan is not None:
                    self._submit(market, plan)
                    return

    # ----------------------------------------------------------------------------- helpers
    def _balance(self, asset: str) -> float:
        return self.sim.ledger.balance(self.account, asset)

    def _lendable(self, asset: str) -> float:
        return self.lender.available(asset) if self.lender is not None else 0.0

    def _borrow(self, asset: str, amount: float) -> None:
        if amount > 0:
            if self.lender is None:
                raise InsufficientBalance(f"{self.name} has no flash lender to borrow {amount!r} {asset}")
            self.lender.borrow(self.account, asset, amount)

    @staticmethod
    def _input_for(pool: "RuntimePool", asset_in: str, asset_out: str, amount_out: float, max_in: float) -> float:
        """Smallest input (to a relative 1e-12) whose swap returns at least ``amount_out``, at most ``max_in``."""

        def out(x: float) -> float:
            try:
                return pool.quote(asset_in, x, asset_out)
            except AmmError:
                return -math.inf

        if not max_in > 0 or out(max_in) < amount_out:
            return max_in
        lo, hi = 0.0, max_in
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if out(mid) >= amount_out:
                hi = mid
            else:
                lo = mid
            if hi - lo <= 1e-12 * hi:
                break
        return hi

    def _gas(self, market: "LendingMarket", pool: "RuntimePool", outcome: AttackOutcome) -> int:
        flash = self.spec.flash_loan.gas if (outcome.flash_collateral > 0 or outcome.flash_debt > 0) else 0
        return flash + outcome.swaps * pool.swap_gas + outcome.liquidations * market.spec.liquidation_gas

    # ------------------------------------------------------------------------------ attack
    def _attack(self, market: "LendingMarket", pool: "RuntimePool", size: float) -> AttackOutcome:
        """Execute the attack with a sale of ``size`` collateral inside the current transaction."""
        sim = self.sim
        acct = self.account
        coll, debt = market.collateral_asset, market.debt_asset
        usd_c, usd_d = sim.usd_price(coll), sim.usd_price(debt)
        own_c, own_d = self._balance(coll), self._balance(debt)
        fee = self.flash_fee
        size = min(size, own_c + self._lendable(coll))
        out = AttackOutcome(price_before=pool.price_of(coll, debt))
        for oracle in market.oracles_used:
            oracle.refresh()
        out.oracle_before = market.oracle_collateral.answer
        before = set(market.liquidatable_ids().tolist())

        # 1-2: borrow and sell
        out.flash_collateral = max(0.0, size - own_c)
        self._borrow(coll, out.flash_collateral)
        out.sold = size
        out.proceeds = pool.swap(acct, coll, size, 0.0, self.agent_type, debt)
        out.swaps = 1
        for oracle in market.oracles_used:
            oracle.refresh()
        out.price_manipulated = pool.price_of(coll, debt)
        out.oracle_manipulated = market.oracle_collateral.answer

        # 3: liquidate what the sale made liquidatable
        ratio = market.ratio
        limit = self.spec.max_liquidations
        for i in (int(k) for k in market.liquidatable_ids().tolist() if k not in before):
            while out.liquidations < limit:
                c, d = float(market.collateral[i]), float(market.debt[i])
                if c <= 0.0 or d <= 0.0:
                    break
                budget = self._balance(debt) + self._lendable(debt)
                repay, _ = kernels.liquidation.seize(budget, c, d, ratio, market.lt, market.close_factor,
                                                     market.full_close_hf, market.bonus)
                if repay <= 0.0:
                    break
                short = repay - self._balance(debt)
                if short > 0:
                    self._borrow(debt, short)
                    out.flash_debt += short
                try:
                    repaid, seized = market.liquidate(acct, i, repay, self.name)
                except Revert:
                    break
                out.liquidations += 1
                out.repaid += repaid
                out.seized += seized
                if i not in out.positions:
                    out.positions.append(i)
            if out.liquidations >= limit:
                break

        # 4-5: buy back, repay the loans
        need_c = own_c + out.flash_collateral * (1.0 + fee) - self._balance(coll)
        if need_c > 1e-12 * max(1.0, own_c + out.flash_collateral):
            spend = self._input_for(pool, debt, coll, need_c, self._balance(debt))
            if spend > 0:
                out.bought += pool.swap(acct, debt, spend, 0.0, self.agent_type, coll)
                out.spent += spend
                out.swaps += 1
        if out.flash_collateral > 0:
            self.lender.repay(acct, coll, out.flash_collateral)
        if out.flash_debt > 0:
            need_d = out.flash_debt * (1.0 + fee) - self._balance(debt)
            if need_d > 0:
                sell = self._input_for(pool, coll, debt, need_d, self._balance(coll))
                if sell > 0:
                    out.proceeds += pool.swap(acct, coll, sell, 0.0, self.agent_type, debt)
                    out.sold += sell
                    out.swaps += 1
            self.lender.repay(acct, debt, out.flash_debt)

        # accounting at the pre-attack prices
        out.gross_usd = (self._balance(coll) - own_c) * usd_c + (self._balance(debt) - own_d) * usd_d
        out.liquidation_gain_usd = out.seized * usd_c - out.repaid * usd_d
        out.swap_fees_usd = pool.fee * (out.sold * usd_c + out.spent * usd_d)
        out.flash_fee_usd = fee * (out.flash_collateral * usd_c + out.flash_debt * usd_d)
        out.slippage_usd = ((out.sold * usd_c - out.proceeds * usd_d) + (out.spent * usd_d - out.bought * usd_c)
                            - out.swap_fees_usd)
        return out

    # ---------------------------------------------------------------------------- planning
    def _gas_price(self, market: "LendingMarket") -> float:
        """Gwei per gas the adversary's bid pays at the current base fee (inf if priced out)."""
        policy = GasPolicy(self.spec)
        return policy.expected_price(market.chain, policy.fixed(market.chain))

    def _gas_usd(self, market: "LendingMarket", gas: int, gas_price: float | None = None) -> float:
        price = self._gas_price(market) if gas_price is None else gas_price
        return gas * price * GWEI * self.sim.usd_price(market.chain.native_asset)

    def _max_gas(self, market: "LendingMarket", pool: "RuntimePool") -> int:
        """Gas of the largest attack (flash loans, three swaps, every liquidation call)."""
        flash = self.spec.flash_loan.gas if self.spec.flash_loan is not None else 0
        return flash + 3 * pool.swap_gas + self.spec.max_liquidations * market.spec.liquidation_gas

    def _estimate(self, market: "LendingMarket", pool: "RuntimePool", size: float,
                  upfront_gas: int = 0) -> _Plan | None:
        """The attack executed on the current state and undone; with ``upfront_gas``, after paying
        that gas first, as the chain makes every sender do."""
        sim = self.sim
        gas_usd_per_gas = self._gas_usd(market, 1)
        with sim.dry_run(market.chain):
            try:
                if upfront_gas:
                    sim.ledger.burn(self.account, market.chain.native_asset,
                                    upfront_gas * self._gas_price(market) * GWEI)
                outcome = self._attack(market, pool, size)
            except (Revert, InsufficientBalance, AmmError):
                return None
        gas = self._gas(market, pool, outcome)
        return _Plan(size, outcome, gas, outcome.gross_usd - gas * gas_usd_per_gas)

    def _reaches(self, market: "LendingMarket", pool: "RuntimePool", size: float) -> bool:
        """Whether selling ``size`` makes any position liquidatable (a dry run of the sale only)."""
        coll, debt = market.collateral_asset, market.debt_asset
        with self.sim.dry_run(market.chain):
            try:
                for oracle in market.oracles_used:
                    oracle.refresh()
                before = market.index.count(market.ratio)
                self._borrow(coll, max(0.0, size - self._balance(coll)))
                pool.swap(self.account, coll, size, 0.0, self.agent_type, debt)
                for oracle in market.oracles_used:
                    oracle.refresh()
                return market.index.count(market.ratio) > before
            except (Revert, InsufficientBalance, AmmError):
                return False

    def plan(self, market: "LendingMarket") -> _Plan | None:
        """The most profitable attack on ``market`` now (None if none is worth ``min_profit``)."""
        pool = self.pools[market.name]
        coll = market.collateral_asset
        if not self._gas_price(market) < math.inf:
            return None                        # priced out at this base fee
        own = self._balance(coll)
        if coll == market.chain.native_asset:  # the gas is paid before the attack runs
            own -= self._max_gas(market, pool) * self._gas_price(market) * GWEI
        capacity = max(0.0, own) + self._lendable(coll)
        try:
            largest = min(capacity, pool.depth(coll, self.spec.max_price_move))
        except (AmmError, ArithmeticError, ValueError):
            largest = capacity
        if not largest > 0 or not self._reaches(market, pool, largest):
            return None
        tried: dict[float, _Plan | None] = {}

        def net(size: float) -> float:
            if size not in tried:
                tried[size] = self._estimate(market, pool, size)
            plan = tried[size]
            return plan.net_usd if plan is not None else -math.inf

        sizes = [largest * 0.5**k for k in range(_SIZES)]
        values = [net(s) for s in sizes]
        k = max(range(len(sizes)), key=lambda j: values[j])
        lo = sizes[min(k + 1, len(sizes) - 1)]
        hi = sizes[max(k - 1, 0)]
        a, b = lo, hi
        c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        for _ in range(_REFINE):
            if net(c) >= net(d):
                b, d = d, c
                c = b - _GOLDEN * (b - a)
            else:
                a, c = c, d
                d = a + _GOLDEN * (b - a)
        best = max((p for p in tried.values() if p is not None), key=lambda p: p.net_usd, default=None)
        if best is None or best.outcome.liquidations == 0:
            return None
        best = self._estimate(market, pool, best.size, upfront_gas=best.gas)  # exactly as it will run
        if best is None or not best.net_usd > self.spec.min_profit or best.outcome.liquidations == 0:
            return None
        return best

    # -------------------------------------------------------------------------- execution
    def _submit(self, market: "LendingMarket", plan: _Plan) -> None:
        sim = self.sim
        pool = self.pools[market.name]
        gas_usd_max = self._gas_usd(market, plan.gas)

        def attack(block: Block) -> AttackOutcome:
            outcome = self._attack(market, pool, plan.size)
            if not outcome.gross_usd - gas_usd_max > self.spec.min_profit:
                raise Revert(f"attack not profitable: {outcome.gross_usd:.2f} USD before "
                             f"{gas_usd_max:.2f} USD of gas")
            return outcome

        def record(tx) -> None:
            self.pending = None
            included = tx.status == "included"
            outcome = tx.result if included else plan.outcome
            paid = tx.status in ("included", "reverted")
            gas_usd = self._gas_usd(market, tx.gas_used, tx.gas_price) if paid else 0.0
            profit = outcome.gross_usd - gas_usd if included else -gas_usd
            block = tx.block.number if tx.block is not None and paid else -1
            sim.recorder.add("attacks", (
                sim.next_id("attack"), sim.env.now, block, tx.tx_id, self.name, market.name, pool.name,
                market.oracle_collateral.name, tx.status, tx.revert_reason, outcome.sold, outcome.proceeds,
                outcome.bought, outcome.spent, outcome.flash_collateral, outcome.flash_debt, outcome.liquidations,
                outcome.repaid, outcome.seized, outcome.price_before, outcome.price_manipulated,
                outcome.oracle_before, outcome.oracle_manipulated, outcome.liquidation_gain_usd,
                outcome.swap_fees_usd, outcome.slippage_usd, outcome.flash_fee_usd, gas_usd, plan.net_usd, profit))

        self.pending = market.chain.submit(
            sender=self.account, agent_type=self.agent_type, kind="attack", gas_used=plan.gas,
            action=attack, target=("attack", market.name), on_result=record,
            **GasPolicy(self.spec).fixed(market.chain))
