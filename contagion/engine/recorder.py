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
