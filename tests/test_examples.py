"""The scripts in ``examples/`` run and produce what they promise."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from _support import REPO

pytestmark = pytest.mark.slow


def test_oracle_lag_study_quick(tmp_path):
    out = tmp_path / "study"
    subprocess.run([sys.executable, str(REPO / "examples" / "oracle_lag_study.py"), "--quick", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=600)
    table = pd.read_csv(out / "study.csv")
    assert len(table) == 4 and (out / "study.png").stat().st_size > 10_000
    assert set(table["deviation_threshold"]) == {0.005, 0.02}
    # a coarser deviation threshold publishes less often, lags the market more, and acts later
    for heartbeat, group in table.groupby("heartbeat"):
        fine, coarse = (group.set_index("deviation_threshold").loc[t] for t in (0.005, 0.02))
        assert coarse["oracle_updates"] < fine["oracle_updates"], heartbeat
        assert coarse["answer_error"] > fine["answer_error"], heartbeat
        assert coarse["time_to_liquidation_s"] > fine["time_to_liquidation_s"], heartbeat
