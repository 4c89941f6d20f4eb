"""Ledger: transfers, mint/burn, journaled rollback, the conservation bound."""

from __future__ import annotations

import math

import pytest

from contagion.engine.journal import Journal
from contagion.engine.ledger import InsufficientBalance, Ledger
from contagion.errors import InvariantError, SimulationError


@pytest.fixture
def ledger():
    led = Ledger(Journal())
    for asset in ("ETH", "USDC"):
        led.add_asset(asset)
    for name in ("alice", "bob", "pool"):
        led.add_account(name, "test")
    led.mint("alice", "ETH", 10.0)
    led.mint("pool", "USDC", 1_000_000.0)
    return led


def test_transfer_moves_exact_amounts(ledger):
    ledger.transfer("alice", "bob", "ETH", 2.5)
    assert ledger.balance("alice", "ETH") == 7.5
    assert ledger.balance("bob", "ETH") == 2.5
    assert ledger.total("ETH") == 10.0
    ledger.check_conservation()


def test_insufficient_balance(ledger):
    with pytest.raises(InsufficientBalance, match="alice holds 10.0 ETH, needs 11.0"):
        ledger.transfer("alice", "bob", "ETH", 11.0)


@pytest.mark.parametrize("amount", [-1.0, math.nan])
def test_invalid_amount(ledger, amount):
    with pytest.raises(SimulationError, match="must be >= 0"):
        ledger.transfer("alice", "bob", "ETH", amount)


def test_unknown_account(ledger):
    with pytest.raises(SimulationError, match="unknown account or asset 'carol'"):
        ledger.transfer("carol", "bob", "ETH", 1.0)


def test_duplicate_account(ledger):
    with pytest.raises(SimulationError, match="already exists"):
        ledger.add_account("alice", "test")


def test_rollback_restores_exact_values(ledger):
    # amounts chosen so that a - x + x != a in floating point
    ledger.mint("bob", "USDC", 0.1)
    before = (ledger.balance("bob", "USDC"), ledger.balance("pool", "USDC"))
    ledger.journal.begin()
    ledger.transfer("pool", "bob", "USDC", 0.7)
    ledger.transfer("bob", "alice", "USDC", 0.3)
    ledger.mint("alice", "ETH", 1.0)
    ledger.journal.rollback()
    assert (ledger.balance("bob", "USDC"), ledger.balance("pool", "USDC")) == before
    assert ledger.balance("alice", "USDC") == 0.0
    assert ledger.balance("alice", "ETH") == 10.0
    assert [r.expected for r in ledger.conservation()] == [10.0, 1_000_000.1]


def test_commit_keeps_changes(ledger):
    ledger.journal.begin()
    ledger.transfer("alice", "bob", "ETH", 1.0)
    ledger.journal.commit()
    ledger.journal.rollback()  # nothing open: no effect
    assert ledger.balance("bob", "ETH") == 1.0


def test_mint_and_burn_are_accounted(ledger):
    ledger.burn("alice", "ETH", 4.0)
    rows = {r.asset: r for r in ledger.conservation()}
    assert rows["ETH"].expected == 6.0 and rows["ETH"].actual == 6.0
    with pytest.raises(InsufficientBalance):
        ledger.burn("alice", "ETH", 100.0)


def test_many_transfers_stay_within_the_rounding_bound(ledger):
    amounts = [0.1 * k + 1e-7 for k in range(1, 200)]
    for a in amounts:
        ledger.transfer("pool", "bob", "USDC", a)
        ledger.transfer("bob", "alice", "USDC", a / 3)
    for row in ledger.conservation():
        assert abs(row.error) <= row.bound
    ledger.check_conservation()


def test_conservation_detects_a_leak(ledger):
    ledger._bal[ledger._account_ix["bob"]][ledger._asset_ix["USDC"]] += 1e-6  # a bug creating tokens
    with pytest.raises(InvariantError, match="USDC: sum .* != minted-burned"):
        ledger.check_conservation()


def test_journal_refuses_nesting():
    journal = Journal()
    journal.begin()
    with pytest.raises(SimulationError, match="already open"):
        journal.begin()
