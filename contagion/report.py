"""Reports of a run or a sweep; the implementation lives in :mod:`contagion.reports`.

Kept so that ``from contagion.report import write_report`` goes on working.
"""

from __future__ import annotations

from contagion.reports import write_folder_report, write_report, write_sweep_report

__all__ = ["write_report", "write_sweep_report", "write_folder_report"]
