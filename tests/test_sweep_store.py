"""Streaming to the sweep folder: resume after an interruption or a kill, failed runs, kept tables, lock."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import contagion
from contagion.experiment import RunFailedWarning, SweepError, SweepStore, load_sweep
from _support import small_scenario

FEE = "pools.uni_eth_usdc.fee"
HEARTBEAT = "oracles.eth_usd.heartbeat"
GRID = {FEE: [0.003, 0.01, 0.03], HEARTBEAT: ["10min", "1h"]}
SEEDS = 2
N_RUNS = 3 * 2 * SEEDS


@pytest.fixture(scope="module")
def net():
    return contagion.Network.from_dict(small_scenario(), source="small.yaml")


@pytest.fixture(scope="module")
def complete(net, tmp_path_factory):
    """The sweep run in one go."""
    return contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="serial", out=tmp_path_factory.mktemp("complete"))


def _stop_after(k):
    def hook(record):
        if record.done >= k:
            raise KeyboardInterrupt
    return hook


def _assert_same_folder(out, table):
    runs = sorted(p.name for p in (out / "runs").iterdir())
    assert runs == sorted(table["run_key"])                      # no missing run, no extra one
    assert table["run_id"].is_unique and table["run_key"].is_unique


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_interrupted_sweep_resumes_to_the_same_table(net, complete, tmp_path, executor):
    out = tmp_path / "s"
    seen = []
    with pytest.raises(KeyboardInterrupt):
        contagion.sweep(net, grid=GRID, seeds=SEEDS, executor=executor, workers=2, out=out,
                        on_run=lambda r: (seen.append(r.run_key), _stop_after(4)(r)))
    stored = SweepStore(out)
    assert stored.manifest["state"] == "running" and not (out / "table.parquet").exists()
    assert set(stored.finished()) == set(seen) and len(seen) == 4
    partial = load_sweep(out)                                    # the runs finished so far
    assert sorted(partial["run_key"]) == sorted(seen)
    assert not (out / ".lock").exists()

    resumed = []
    table = contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="serial", out=out, on_run=resumed.append)
    assert len(resumed) == N_RUNS - 4 and not set(seen) & {r.run_key for r in resumed}
    assert resumed[-1].done == N_RUNS and resumed[-1].total == N_RUNS
    pd.testing.assert_frame_equal(table, complete, check_exact=True)
    _assert_same_folder(out, table)
    assert SweepStore(out).manifest["state"] == "complete"
    # a third call has nothing left to do
    again = []
    pd.testing.assert_frame_equal(contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="serial", out=out,
                                                  on_run=again.append), complete, check_exact=True)
    assert again == []


def test_killed_sweep_resumes_to_the_same_table(complete, tmp_path):
    """SIGKILL a sweep in another process after a few runs; the folder holds only whole runs."""
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(small_scenario()))
    out = tmp_path / "s"
    script = textwrap.dedent(f"""
        import sys, time
        import contagion
        def hook(record):
            print("stored", record.run_id, flush=True)
            time.sleep(0.2)
        if __name__ == "__main__":
            net = contagion.load_network({str(scenario)!r})
            contagion.sweep(net, grid={GRID!r}, seeds={SEEDS}, executor="serial", out={str(out)!r}, on_run=hook)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ,                 # the contagion this test imported
                                 "PYTHONPATH": os.pathsep.join([str(Path(contagion.__file__).parent.parent),
                                                                os.environ.get("PYTHONPATH", "")])})
    try:
        lines = []
        deadline = time.monotonic() + 120
        while len(lines) < 3 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert len(lines) == 3, lines
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    lock = json.loads((out / ".lock").read_text())
    assert lock["pid"] == proc.pid                              # left behind by the killed process
    finished = SweepStore(out).finished()
    assert 3 <= len(finished) < N_RUNS
    resumed = []
    net = contagion.load_network(scenario)
    table = contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="serial", out=out, on_run=resumed.append)
    assert len(resumed) == N_RUNS - len(finished)
    # the scenario came from a file here and from a dict there: same scenario, same keys, same table
    pd.testing.assert_frame_equal(table, complete, check_exact=True)
    _assert_same_folder(out, table)
    assert not (out / ".lock").exists()


def test_a_failed_run_is_recorded_with_its_traceback_and_the_others_complete(tmp_path):
    (tmp_path / "fall.csv").write_text("time,price\n0,2000\n120,2000\n1020,1800\n1200,1800\n")
    (tmp_path / "broken.csv").write_text("time,price\n0,2000\n600,nan\n")
    data = small_scenario()
    data["venues"]["cex_eth_usd"]["path"] = {"kind": "replay", "path": "fall.csv"}
    net = contagion.Network.from_dict(data, source="replay.yaml", base_dir=tmp_path)
    out = tmp_path / "s"
    grid = {"venues.cex_eth_usd.path.path": ["fall.csv", "broken.csv", "fall.csv"],
            FEE: [0.003, 0.003, 0.01]}
    with pytest.warns(RunFailedWarning) as caught:
        table = contagion.sweep(net, zip=grid, seeds=[1, 2], executor="serial", out=out)
    message = str(caught[0].message)
    assert message.startswith("2 of 6 runs failed: ScenarioError in 2 run(s) (run_id 2, 3): ")
    assert str(out / "failures.parquet") in message
    assert table["status"].tolist() == ["ok", "ok", "failed", "failed", "ok", "ok"]
    assert table.loc[table["status"] == "ok", "liquidations"].notna().all()
    failures = SweepStore(out).failures()
    assert failures["run_id"].tolist() == [2, 3] and failures["seed"].tolist() == [1, 2]
    assert failures["error_type"].tolist() == ["ScenarioError"] * 2
    assert failures["error"].str.endswith("venues.cex_eth_usd.path: price must be a number > 0, got nan in row 2").all()
    trace = failures["traceback"].iloc[0]
    assert trace.startswith("Traceback (most recent call last):") and "ReplayPath" in trace and "raise bad_row" in trace
    assert pd.read_parquet(out / "failures.parquet").equals(failures)

    # failed runs are finished runs: a second call does not repeat them ...
    again = []
    with pytest.warns(RunFailedWarning):
        contagion.sweep(net, zip=grid, seeds=[1, 2], executor="serial", out=out, on_run=again.append)
    assert again == []
    # ... unless asked to, e.g. after fixing the file
    (tmp_path / "broken.csv").write_text("time,price\n0,2000\n600,1900\n")
    retried = []
    table = contagion.sweep(net, zip=grid, seeds=[1, 2], executor="serial", out=out, retry_failed=True,
                            on_run=retried.append)
    assert [r.run_id for r in retried] == [2, 3] and table["status"].eq("ok").all()
    assert len(SweepStore(out).failures()) == 0


def test_kept_tables_are_the_runs_results(net, tmp_path):
    out = tmp_path / "s"
    table = contagion.sweep(net, grid={FEE: [0.003, 0.03]}, seeds=[5], executor="serial", out=out, keep_tables=True)
    store = SweepStore(out)
    for _, row in table.iterrows():
        res = store.result(row["run_key"])
        assert res.seed == 5 and res.manifest["overrides"] == {FEE: row[FEE]}
        assert res.summary()["liquidated_collateral_usd"] == row["liquidated_collateral_usd"]
        assert len(res.liquidations) == row["liquidations"]
    direct = contagion.run(net, seed=5, overrides={FEE: 0.03})
    pd.testing.assert_frame_equal(store.result(table["run_key"][1]).liquidations, direct.liquidations)
    # runs stored without tables are run again when tables are asked for
    out2 = tmp_path / "s2"
    contagion.sweep(net, grid={FEE: [0.003, 0.03]}, seeds=[5], executor="serial", out=out2)
    with pytest.raises(contagion.ResultError, match="tables were not kept"):
        SweepStore(out2).result(table["run_key"][0])
    rerun = []
    contagion.sweep(net, grid={FEE: [0.003, 0.03]}, seeds=[5], executor="serial", out=out2, keep_tables=True,
                    on_run=rerun.append)
    assert len(rerun) == 2
    assert len(SweepStore(out2).result(table["run_key"][0]).liquidations) == table["liquidations"][0]


def test_a_sweep_extended_with_more_seeds_reuses_the_finished_runs(net, tmp_path):
    out = tmp_path / "s"
    first = contagion.sweep(net, grid={FEE: [0.003, 0.03]}, seeds=2, executor="serial", out=out)
    new = []
    more = contagion.sweep(net, grid={FEE: [0.003, 0.03]}, seeds=3, executor="serial", out=out, on_run=new.append)
    assert len(more) == 6 and len(new) == 2                     # only the third seed of each point ran
    assert more["run_id"].tolist() == list(range(6))
    same = more[more["replicate"] < 2].drop(columns=["run_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(same, first.drop(columns=["run_id"]), check_exact=True)


def test_a_folder_in_use_is_refused(net, tmp_path):
    out = tmp_path / "s"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    with pytest.raises(SweepError, match=f"another sweep is writing here .*pid {os.getpid()}"):
        contagion.sweep(net, seeds=[1], executor="serial", out=out)
    # a lock whose process has ended is taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / ".lock").write_text(json.dumps({"host": socket.gethostname(), "pid": int(dead.stdout)}))
    assert len(contagion.sweep(net, seeds=[1], executor="serial", out=out)) == 1
    assert not (out / ".lock").exists()


def test_leftover_temporary_folders_are_removed(net, tmp_path):
    out = tmp_path / "s"
    contagion.sweep(net, seeds=[1], executor="serial", out=out)
    junk = out / "runs" / ".tmp-0123-abc"
    junk.mkdir()
    (junk / "summary.parquet").write_bytes(b"half a file")
    contagion.sweep(net, seeds=[1], executor="serial", out=out)
    assert not junk.exists()


def test_load_sweep_of_something_else(tmp_path):
    with pytest.raises(contagion.ResultError, match="not a sweep"):
        load_sweep(tmp_path)
