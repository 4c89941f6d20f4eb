"""The scripts in ``examples/`` run and produce what they promise."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from _support import REPO

pytestmark = pytest.mark.slow


def _run(script, *args):
    return subprocess.run([sys.executable, str(REPO / "examples" / script), *args], check=True, capture_output=True,
                          text=True, timeout=600)


def test_oracle_lag_study_quick(tmp_path):
    out = tmp_path / "study"
    _run("oracle_lag_study.py", "--quick", "--out", str(out), "--workers", "2")
    table = pd.read_csv(out / "study.csv")
    assert len(table) == 4 and (out / "study.png").stat().st_size > 10_000
    assert len(pd.read_parquet(out / "sweep" / "table.parquet")) == 4        # the sweep behind it
    assert set(table["deviation_threshold"]) == {0.005, 0.02}
    # a coarser deviation threshold publishes less often, lags the market more, and acts later
    for heartbeat, group in table.groupby("heartbeat"):
        fine, coarse = (group.set_index("deviation_threshold").loc[t] for t in (0.005, 0.02))
        assert coarse["oracle_updates"] < fine["oracle_updates"], heartbeat
        assert coarse["answer_error"] > fine["answer_error"], heartbeat
        assert coarse["time_to_liquidation_s"] > fine["time_to_liquidation_s"], heartbeat


def test_parameter_sweep_quick(tmp_path):
    out = tmp_path / "depth"
    proc = _run("parameter_sweep.py", "--quick", "--out", str(out), "--workers", "2")
    assert f"wrote {out / 'summary.csv'}" in proc.stdout
    depths, close_factors, seeds = [5000.0, 80000.0], [0.5, 1.0], 3
    table = pd.read_parquet(out / "sweep" / "table.parquet")
    assert len(table) == len(depths) * len(close_factors) * seeds and table["status"].eq("ok").all()
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4 and summary["runs"].eq(seeds).all()
    assert (out / "response.png").stat().st_size > 20_000 and (out / "sweep" / "report.html").exists()
    by = table.set_index(["protocols.lend.close_factor", "pools.uni_eth_usdc.reserves[0]", "replicate"])
    # common random numbers: a seed draws the same crash at every point
    assert table.groupby("replicate")["drop.exogenous.cex_eth_usd"].nunique().eq(1).all()
    crashes = table.groupby("replicate")["drop.exogenous.cex_eth_usd"].first()
    assert (crashes > 0.05).all()
    for r in range(seeds):
        for depth in depths:
            # a close factor of 1 repays twice the debt per liquidation: more is liquidated
            assert by.loc[(1.0, depth, r), "liquidated_debt_usd"] > by.loc[(0.5, depth, r), "liquidated_debt_usd"] > 0
        for close_factor in close_factors:
            # the same forced sales move a 16x deeper pool less
            shallow, deep = (by.loc[(close_factor, d, r), "amplification.uni_eth_usdc"] for d in depths)
            assert shallow > deep, (close_factor, r)
