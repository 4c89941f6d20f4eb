"""Token balances of every account, with exact conservation accounting.

Every holder of tokens (pools, protocols, keepers, arbitrageurs, borrowers, venues, block
producers, oracle transmitters) is an account. Tokens move only by :meth:`Ledger.transfer`;
they appear or disappear only by :meth:`Ledger.mint` / :meth:`Ledger.burn`, which are recorded.

Conservation is checked against a rigorous floating-point bound: each transfer changes two
balances, each rounded once, so it can change the exact sum of balances by at most half an ulp
of each new balance. The ledger accumulates that bound, and :meth:`Ledger.conservation` compares
``|sum(balances) - (minted - burned)|`` with it (``math.fsum`` makes the sums exact).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from contagion.engine.journal import Journal
from contagion.errors import InvariantError, SimulationError

__all__ = ["Ledger", "InsufficientBalance", "ConservationRow"]

_HALF_ULP = 2.0**-53


class InsufficientBalance(SimulationError):
    """A transfer asked for more than the account holds."""


@dataclass(frozen=True)
class ConservationRow:
    asset: str
    expected: float      # minted - burned
    actual: float        # exact sum of balances
    error: float         # actual - expected
    bound: float         # accumulated rounding bound

    @property
    def ok(self) -> bool:
        return abs(self.error) <= self.bound + 1e-300


class Ledger:
    """Balances by (account, asset), in token units."""

    def __init__(self, journal: Journal | None = None):
        self.journal = journal or Journal()
        self._assets: list[str] = []
        self._asset_ix: dict[str, int] = {}
        self._accounts: list[str] = []
        self._account_ix: dict[str, int] = {}
        self._account_kind: list[str] = []
        self._bal: list[list[float]] = []
        self._minted: dict[str, list[float]] = {}
        self._burned: dict[str, list[float]] = {}
        self._bound: list[float] = []

    # ---------------------------------------------------------------------------- registry
    def add_asset(self, asset: str) -> None:
        if asset in self._asset_ix:
            return
        self._asset_ix[asset] = len(self._assets)
        self._assets.append(asset)
        self._minted[asset] = []
        self._burned[asset] = []
        self._bound.append(0.0)
        for row in self._bal:
            row.append(0.0)

    def add_account(self, account: str, kind: str) -> str:
        if account in self._account_ix:
            raise SimulationError(f"ledger: account {account!r} already exists")
        self._account_ix[account] = len(self._accounts)
        self._accounts.append(account)
        self._account_kind.append(kind)
        self._bal.append([0.0] * len(self._assets))
        return account

    @property
    def assets(self) -> list[str]:
        return list(self._assets)

    @property
    def accounts(self) -> list[str]:
        return list(self._accounts)

    def kind_of(self, account: str) -> str:
        return self._account_kind[self._account_ix[account]]

    def _ix(self, account: str, asset: str) -> tuple[int, int]:
        try:
            return self._account_ix[account], self._asset_ix[asset]
        except KeyError as err:
            raise SimulationError(f"ledger: unknown account or asset {err.args[0]!r}") from None

    # ---------------------------------------------------------------------------- balances
    def balance(self, account: str, asset: str) -> float:
        a, k = self._ix(account, asset)
        return self._bal[a][k]

    def balances(self, account: str) -> dict[str, float]:
        row = self._bal[self._account_ix[account]]
        return {asset: row[k] for k, asset in enumerate(self._assets)}

    def _set(self, a: int, k: int, value: float) -> None:
        row = self._bal[a]
        old = row[k]
        row[k] = value
        if self.journal.active:
            self.journal.record(lambda: row.__setitem__(k, old))

    def _add_bound(self, k: int, amount: float) -> None:
        old = self._bound[k]
        self._bound[k] = old + amount
        if self.journal.active:
            self.journal.record(lambda: self._bound.__setitem__(k, old))

    def transfer(self, src: str, dst: str, asset: str, amount: float) -> None:
        """Move ``amount`` of ``asset`` from ``src`` to ``dst``.

        Raises :class:`InsufficientBalance` if ``src`` holds less (beyond a relative 1e-12
        tolerance for rounding); a negative or NaN amount is a :class:`SimulationError`.
        """
        if not amount >= 0.0:
            raise SimulationError(f"ledger: transfer amount must be >= 0, got {amount!r}")
        if amount == 0.0:
            return
        s, k = self._ix(src, asset)
        d, _ = self._ix(dst, asset)
        have = self._bal[s][k]
        if amount > have * (1.0 + 1e-12) + 1e-12:
            raise InsufficientBalance(f"{src} holds {have!r} {asset}, needs {amount!r}")
        new_src = have - amount
        new_dst = self._bal[d][k] + amount
        self._set(s, k, new_src)
        self._set(d, k, new_dst)
        self._add_bound(k, _HALF_ULP * (abs(new_src) + abs(new_dst)))

    def mint(self, account: str, asset: str, amount: float) -> None:
        """Create ``amount`` of ``asset`` in ``account`` (genesis balances, protocol mints)."""
        if not amount >= 0.0:
            raise SimulationError(f"ledger: mint amount must be >= 0, got {amount!r}")
        a, k = self._ix(account, asset)
        new = self._bal[a][k] + amount
        self._set(a, k, new)
        self._add_bound(k, _HALF_ULP * abs(new))
        minted = self._minted[asset]
        minted.append(amount)
        if self.journal.active:
            self.journal.record(minted.pop)

    def burn(self, account: str, asset: str, amount: float) -> None:
        """Destroy ``amount`` of ``asset`` held by ``account``."""
        a, k = self._ix(account, asset)
        have = self._bal[a][k]
        if amount > have * (1.0 + 1e-12) + 1e-12:
            raise InsufficientBalance(f"{account} holds {have!r} {asset}, cannot burn {amount!r}")
        new = have - amount
        self._set(a, k, new)
        self._add_bound(k, _HALF_ULP * abs(new))
        burned = self._burned[asset]
        burned.append(amount)
        if self.journal.active:
            self.journal.record(burned.pop)

    # ------------------------------------------------------------------------ conservation
    def total(self, asset: str, kind: str | None = None) -> float:
        """Exact sum of balances of ``asset`` (optionally only accounts of one kind)."""
        k = self._asset_ix[asset]
        return math.fsum(row[k] for row, kd in zip(self._bal, self._account_kind)
                         if kind is None or kd == kind)

    def conservation(self) -> list[ConservationRow]:
        rows = []
        for k, asset in enumerate(self._assets):
            expected = math.fsum(self._minted[asset]) - math.fsum(self._burned[asset])
            actual = self.total(asset)
            bound = self._bound[k] + _HALF_ULP * (abs(expected) + abs(actual))
            rows.append(ConservationRow(asset, expected, actual, actual - expected, bound))
        return rows

    def check_conservation(self) -> None:
        """Raise :class:`InvariantError` if any asset's total differs from minted - burned."""
        bad = [r for r in self.conservation() if not r.ok]
        if bad:
            text = "; ".join(f"{r.asset}: sum {r.actual!r} != minted-burned {r.expected!r} "
                             f"(error {r.error:.3g} > bound {r.bound:.3g})" for r in bad)
            raise InvariantError(f"token conservation violated: {text}")
