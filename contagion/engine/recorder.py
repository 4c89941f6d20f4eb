"""Row recorder: tuples appended during a run, DataFrames built once at the end.

Each table has a fixed schema (column names and dtypes). Rows written while a transaction
executes are held until it commits, and dropped if it reverts.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from contagion.engine.journal import Journal
from contagion.errors import SimulationError

__all__ = ["Recorder", "SCHEMAS"]

# column -> dtype ("f8" float, "i8" integer, "b" bool, "s" string)
SCHEMAS: dict[str, dict[str, str]] = {
    "blocks": {
        "chain": "s", "block": "i8", "time": "f8", "gas_used": "i8", "gas_limit": "i8",
        "n_tx": "i8", "n_reverted": "i8", "min_gas_price": "f8", "max_gas_price": "f8", "base_fee": "f8",
        "n_background": "i8", "background_gas": "i8", "missed_slots": "i8",
    },
    "transactions": {
        "tx_id": "i8", "chain": "s", "block": "i8", "sender": "s", "agent_type": "s", "kind": "s",
        "target": "s", "gas_used": "i8", "gas_price": "f8", "max_fee": "f8", "priority_fee": "f8",
        "base_fee": "f8", "fee_native": "f8", "fee_usd": "f8",
        "status": "s", "revert_reason": "s", "submitted_at": "f8", "included_at": "f8",
        "inclusion_delay": "f8",
    },
    "prices": {
        "time": "f8", "block": "i8", "source": "s", "source_kind": "s", "asset": "s", "quote": "s",
        "price": "f8", "exogenous": "f8",
    },
    "oracle_updates": {
        "update_id": "i8", "oracle": "s", "asset": "s", "price": "f8", "exogenous_price": "f8",
        "reason": "s", "observed_at": "f8", "submitted_at": "f8", "published_at": "f8", "block": "i8",
        "tx_id": "i8", "deviation": "f8", "lag": "f8",
    },
    "swaps": {
        "swap_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "market": "s", "market_kind": "s",
        "trader": "s", "agent_type": "s", "asset_in": "s", "amount_in": "f8", "asset_out": "s",
        "amount_out": "f8", "price_before": "f8", "price_after": "f8",
    },
    "liquidations": {
        "liquidation_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s",
        "position": "i8", "keeper": "s", "collateral_asset": "s", "debt_asset": "s", "repaid": "f8",
        "seized": "f8", "repaid_usd": "f8", "seized_usd": "f8", "price": "f8", "health_factor": "f8",
        "liquidation_price": "f8", "trigger_update_id": "i8", "induced": "b", "generation": "i8",
        "parent_id": "i8", "debt_left": "f8", "collateral_left": "f8",
    },
    "protocols": {
        "time": "f8", "block": "i8", "protocol": "s", "collateral": "f8", "debt": "f8",
        "collateral_value": "f8", "debt_value": "f8", "bad_debt": "f8", "n_active": "i8",
        "n_liquidatable": "i8", "price": "f8",
    },
    "lp_events": {
        "time": "f8", "block": "i8", "tx_id": "i8", "pool": "s", "agent": "s", "action": "s", "reason": "s",
        "amount0": "f8", "amount1": "f8", "value": "f8", "volatility": "f8", "drawdown": "f8",
    },
    "borrower_actions": {
        "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "position": "i8", "action": "s",
        "asset": "s", "amount": "f8", "health_factor_before": "f8", "health_factor_after": "f8",
    },
    "oracle_lag": {
        "time": "f8", "block": "i8", "oracle": "s", "kind": "s", "answer": "f8", "reference": "f8",
        "error": "f8", "age": "f8",
    },
    "attacks": {
        "attack_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "agent": "s", "protocol": "s",
        "pool": "s", "oracle": "s", "status": "s", "reason": "s", "sold": "f8", "proceeds": "f8",
        "bought": "f8", "spent": "f8", "flash_collateral": "f8", "flash_debt": "f8", "liquidations": "i8",
        "repaid": "f8", "seized": "f8", "price_before": "f8", "price_manipulated": "f8",
        "oracle_before": "f8", "oracle_manipulated": "f8", "liquidation_gain_usd": "f8",
        "swap_fees_usd": "f8", "slippage_usd": "f8", "flash_fee_usd": "f8", "gas_usd": "f8",
        "estimated_profit_usd": "f8", "profit_usd": "f8",
    },
    "options_state": {
        "time": "f8", "block": "i8", "protocol": "s", "price": "f8", "iv": "f8", "iv_target": "f8",
        "drawdown": "f8", "open_interest": "f8", "liability": "f8", "collateral_value": "f8",
        "mm_delta": "f8", "mm_gamma": "f8", "mm_hedge": "f8", "n_open": "i8", "n_liquidatable": "i8",
        "bad_debt": "f8",
    },
    "option_liquidations": {
        "liquidation_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "account": "i8",
        "owner": "s", "owner_kind": "s", "keeper": "s", "collateral_asset": "s", "collateral": "f8",
        "collateral_value": "f8", "liability": "f8", "risk": "f8", "health_factor": "f8", "price": "f8",
        "iv": "f8", "paid": "f8", "seized": "f8", "seized_value": "f8", "returned": "f8", "bad_debt": "f8",
        "contracts": "f8", "trigger_update_id": "i8", "induced": "b", "generation": "i8", "parent_id": "i8",
    },
    "option_settlements": {
        "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "expiry": "f8", "account": "i8",
        "owner_kind": "s", "price": "f8", "contracts": "f8", "owed": "f8", "paid_asset": "s", "paid": "f8",
        "paid_value": "f8", "bad_debt": "f8",
    },
    "hedges": {
        "hedge_id": "i8", "time": "f8", "executed_at": "f8", "block": "i8", "tx_id": "i8", "agent": "s",
        "protocol": "s", "market": "s", "market_kind": "s", "spot": "f8", "iv": "f8", "book_delta": "f8",
        "book_gamma": "f8", "hedge_ratio": "f8", "target": "f8", "position_before": "f8", "trade": "f8",
        "executed": "f8", "price_before": "f8", "price_after": "f8",
    },
    "auctions": {
        "auction_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "house": "s",
        "action": "s", "position": "i8", "keeper": "s", "lot": "f8", "bid": "f8", "tab": "f8", "due": "f8",
        "price": "f8", "paid": "f8", "received": "f8", "returned": "f8", "incentive": "f8",
        "liquidation_id": "i8", "trigger_update_id": "i8", "generation": "i8",
    },
    "vow": {
        "time": "f8", "block": "i8", "protocol": "s", "surplus": "f8", "sin": "f8", "queued": "f8",
        "on_auction": "f8", "bad_debt": "f8", "in_flight": "f8", "active_auctions": "i8",
        "debt_auctions": "i8", "governance_minted": "f8", "incentives": "f8", "healed": "f8",
    },
    "perps_liquidations": {
        "liquidation_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "market": "s",
        "account": "i8", "margin_mode": "s", "side": "s", "size_before": "f8", "size_closed": "f8",
        "size_adl": "f8", "size_left": "f8", "oracle_price": "f8", "fill_price": "f8", "fillable_price": "f8",
        "bankruptcy_price": "f8", "quote_received": "f8", "insurance_delta": "f8", "insurance_fund_after": "f8",
        "net_collateral": "f8", "maintenance_margin": "f8", "hedge_market": "s", "trigger_update_id": "i8",
        "induced": "b", "generation": "i8", "parent_id": "i8",
    },
    "adl": {
        "adl_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "market": "s",
        "liquidation_id": "i8", "account": "i8", "counterparty": "i8", "side": "s", "size": "f8", "price": "f8",
        "oracle_price": "f8", "ranking": "s", "rank": "i8", "score": "f8", "counterparty_size_before": "f8",
        "counterparty_entry_price": "f8", "counterparty_net_collateral": "f8", "insurance_fund": "f8",
    },
    "perps_funding": {
        "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "market": "s", "oracle_price": "f8",
        "mark_price": "f8", "premium": "f8", "rate": "f8", "longs_paid": "f8", "shorts_paid": "f8",
        "market_maker_paid": "f8",
    },
    "perps_state": {
        "time": "f8", "block": "i8", "protocol": "s", "insurance_fund": "f8", "bad_debt": "f8",
        "long_open_interest": "f8", "short_open_interest": "f8", "market_maker_equity": "f8", "n_open": "i8",
        "n_liquidatable": "i8", "n_negative_equity": "i8",
    },
    "absorbs": {
        "absorb_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "account": "i8",
        "absorber": "s", "debt": "f8", "collateral_value": "f8", "credited": "f8", "new_balance": "f8",
        "base_paid_out": "f8", "shortfall": "f8", "reserves_before": "f8", "reserves_after": "f8",
        "trigger_update_id": "i8", "induced": "b", "generation": "i8", "parent_id": "i8",
    },
    "collateral_buys": {
        "buy_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "buyer": "s", "asset": "s",
        "base_paid": "f8", "collateral_bought": "f8", "price": "f8", "oracle_price": "f8", "discount": "f8",
        "reserves_before": "f8", "reserves_after": "f8", "collateral_reserves_after": "f8",
    },
    "comet_state": {
        "time": "f8", "block": "i8", "protocol": "s", "reserves": "f8", "target_reserves": "f8", "for_sale": "b",
        "collateral_reserves_value": "f8", "total_supply": "f8", "total_borrow": "f8", "base_balance": "f8",
    },
    "trove_liquidations": {
        "liquidation_id": "i8", "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "trove": "i8",
        "liquidator": "s", "mode": "s", "icr": "f8", "price": "f8", "debt": "f8", "collateral": "f8",
        "debt_offset": "f8", "collateral_to_sp": "f8", "debt_redistributed": "f8", "collateral_redistributed": "f8",
        "collateral_gas_compensation": "f8", "debt_gas_compensation": "f8", "collateral_surplus": "f8",
    },
    "sp_offsets": {
        "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "liquidator": "s", "troves": "i8",
        "debt_offset": "f8", "collateral_to_sp": "f8", "deposits_before": "f8", "deposits_after": "f8",
        "depositors": "i8", "price": "f8",
    },
    "redistributions": {
        "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "liquidator": "s", "troves": "i8",
        "debt": "f8", "collateral": "f8", "recipients": "i8", "recipient_collateral": "f8",
        "debt_per_collateral": "f8", "collateral_per_collateral": "f8", "price": "f8",
    },
    "sp_withdrawals": {
        "time": "f8", "block": "i8", "tx_id": "i8", "protocol": "s", "depositor": "s", "debt_withdrawn": "f8",
        "collateral_gain": "f8", "deposit_left": "f8", "pool_deposits": "f8", "reason": "s", "drawdown": "f8",
        "tcr": "f8",
    },
    "liquity_state": {
        "time": "f8", "block": "i8", "protocol": "s", "price": "f8", "tcr": "f8", "recovery_mode": "b",
        "sp_deposits": "f8", "sp_collateral": "f8", "total_collateral": "f8", "total_debt": "f8",
        "n_active": "i8", "n_liquidatable": "i8",
    },
    "positions": {
        "protocol": "s", "position": "i8", "snapshot": "s", "collateral": "f8", "debt": "f8",
        "liquidation_price": "f8", "health_factor": "f8",
    },
}

_DTYPES = {"f8": "float64", "i8": "int64", "b": "bool", "s": "string"}


def empty_frame(table: str) -> pd.DataFrame:
    schema = SCHEMAS[table]
    return pd.DataFrame({c: pd.Series([], dtype=_DTYPES[t]) for c, t in schema.items()})


def frame(table: str, rows: list[tuple] | dict[str, Any]) -> pd.DataFrame:
    """DataFrame of ``table`` from row tuples (or a dict of columns), typed by the schema."""
    schema = SCHEMAS[table]
    if isinstance(rows, dict):
        columns = rows
    else:
        if not rows:
            return empty_frame(table)
        columns = dict(zip(schema, zip(*rows)))
    data = {}
    for col, kind in schema.items():
        values = columns[col]
        if kind == "s":
            data[col] = pd.array(list(values), dtype="string")
        else:
            data[col] = np.asarray(values, dtype=_DTYPES[kind])
    return pd.DataFrame(data)


class Recorder:
    """Collects rows per table; rows added inside a journaled transaction wait for its commit."""

    def __init__(self, journal: Journal | None = None):
        self.journal = journal or Journal()
        self._rows: dict[str, list[tuple]] = {name: [] for name in SCHEMAS}
        self._widths = {name: len(schema) for name, schema in SCHEMAS.items()}
        self._bulk: dict[str, list[dict[str, Any]]] = {name: [] for name in SCHEMAS}

    def add(self, table: str, row: tuple) -> None:
        """Append one row (values in schema order)."""
        if len(row) != self._widths[table]:
            raise SimulationError(f"recorder: {table} rows have {self._widths[table]} values, got {len(row)}")
        rows = self._rows[table]
        rows.append(row)
        if self.journal.active:
            self.journal.record(rows.pop)

    def add_columns(self, table: str, columns: dict[str, Any]) -> None:
        """Append many rows at once as columns (e.g. a position snapshot)."""
        missing = set(SCHEMAS[table]) - set(columns)
        if missing:
            raise SimulationError(f"recorder: {table} columns missing: {sorted(missing)}")
        self._bulk[table].append(columns)

    def count(self, table: str) -> int:
        return len(self._rows[table]) + sum(len(next(iter(c.values()))) for c in self._bulk[table])

    def frames(self) -> dict[str, pd.DataFrame]:
        """All tables as DataFrames (tuple rows first, then bulk column blocks)."""
        out = {}
        for table in SCHEMAS:
            parts = [frame(table, self._rows[table])] if self._rows[table] else []
            parts += [frame(table, cols) for cols in self._bulk[table]]
            out[table] = pd.concat(parts, ignore_index=True) if parts else empty_frame(table)
        return out
