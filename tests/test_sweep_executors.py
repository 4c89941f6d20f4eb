"""The same sweep gives the same table on every executor: serial, processes, a Dask LocalCluster.

The sweep has a point whose replayed price file is broken, so the comparison covers failed runs
(recorded in their worker, with their error) as well as finished ones.
"""

from __future__ import annotations

import multiprocessing

import pandas as pd
import pytest

import contagion
from contagion.experiment import RunFailedWarning, SweepStore
from contagion.experiment.executors import ProcessExecutor
from _support import small_scenario

PATH = "venues.cex_eth_usd.path.path"
GRID = {"oracles.eth_usd.heartbeat": ["10min", "1h"], PATH: ["fall.csv", "broken.csv"]}
SEEDS = 3
N_RUNS = 2 * 2 * SEEDS
FAILED = r"6 of 12 runs failed: ScenarioError in 6 run\(s\) \(run_id 3, 4, 5, 9, 10 and 1 more\)"
NO_DASK = "dask.distributed is not installed (pip install 'contagion[dask]')"


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    """The small scenario with its venue replaying ``fall.csv`` (a 10 % fall); ``broken.csv``
    has a negative price, which the run finds when it builds the venue."""
    folder = tmp_path_factory.mktemp("scenario")
    (folder / "fall.csv").write_text("time,price\n0,2000\n120,2000\n1020,1800\n1200,1800\n")
    (folder / "broken.csv").write_text("time,price\n0,2000\n600,-5\n")
    data = small_scenario()
    data["venues"]["cex_eth_usd"]["path"] = {"kind": "replay", "path": "fall.csv"}
    return contagion.Network.from_dict(data, source="replay.yaml", base_dir=folder)


@pytest.fixture(scope="module")
def serial_table(net, tmp_path_factory):
    with pytest.warns(RunFailedWarning, match=FAILED):
        return contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="serial", out=tmp_path_factory.mktemp("serial"))


def test_serial_table_has_one_row_per_run(serial_table):
    assert len(serial_table) == N_RUNS and serial_table["run_id"].tolist() == list(range(N_RUNS))
    ok = serial_table[PATH] == "fall.csv"
    assert serial_table.loc[ok, "status"].eq("ok").all() and serial_table.loc[~ok, "status"].eq("failed").all()
    assert serial_table.loc[ok, "liquidations"].sum() > 0          # the fall liquidates something
    assert serial_table.loc[~ok, "error"].str.contains(r"broken\.csv: venues\.cex_eth_usd\.path: price must be a "
                                                       r"number > 0, got -5").all()


def test_processes_give_the_serial_table(net, serial_table, tmp_path):
    before = multiprocessing.get_start_method(allow_none=True)
    with pytest.warns(RunFailedWarning, match=FAILED):
        table = contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="processes", workers=2, out=tmp_path)
    pd.testing.assert_frame_equal(table, serial_table, check_exact=True)
    pids = {SweepStore(tmp_path).run_info(k)["pid"] for k in table["run_key"]}
    assert len(pids) == 2 and multiprocessing.current_process().pid not in pids   # two worker processes did it
    assert multiprocessing.get_start_method(allow_none=True) == before            # chosen per call, not globally
    assert ProcessExecutor().start_method in ("forkserver", "spawn")


def test_processes_with_spawn_and_fixed_chunks(net, serial_table):
    with pytest.warns(RunFailedWarning, match=FAILED):
        table = contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="processes", workers=2, chunksize=5,
                                start_method="spawn")
    pd.testing.assert_frame_equal(table, serial_table, check_exact=True)


def test_dask_local_cluster_gives_the_serial_table(net, serial_table, tmp_path):
    pytest.importorskip("distributed", reason=NO_DASK)
    with pytest.warns(RunFailedWarning, match=FAILED):
        table = contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="dask", workers=2, out=tmp_path)
    pd.testing.assert_frame_equal(table, serial_table, check_exact=True)
    pids = {SweepStore(tmp_path).run_info(k)["pid"] for k in table["run_key"]}
    assert len(pids) == 2                                      # the cluster's two workers


def test_dask_scheduler_address_or_client(net, serial_table):
    distributed = pytest.importorskip("distributed", reason=NO_DASK)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with pytest.warns(RunFailedWarning, match=FAILED):
            by_address = contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="dask",
                                         scheduler=cluster.scheduler_address)
        with pytest.warns(RunFailedWarning, match=FAILED):
            by_client = contagion.sweep(net, grid=GRID, seeds=SEEDS, executor="dask", scheduler=client)
        assert client.status == "running"                     # a client given by the caller stays open
    pd.testing.assert_frame_equal(by_address, serial_table, check_exact=True)
    pd.testing.assert_frame_equal(by_client, serial_table, check_exact=True)
