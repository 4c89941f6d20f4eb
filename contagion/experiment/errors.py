"""Errors and warnings of batch experiments."""

from __future__ import annotations

from contagion.errors import ContagionError

__all__ = ["SweepError", "RunFailedWarning"]


class SweepError(ContagionError, RuntimeError):
    """A sweep cannot go on: its folder is locked by another sweep, or a worker process died.

    Finished runs are kept in the sweep's folder; running the same sweep again resumes it.
    """


class RunFailedWarning(UserWarning):
    """Some runs of a sweep raised; they are in the sweep table with ``status == "failed"`` and,
    with their tracebacks, in the failures table."""
