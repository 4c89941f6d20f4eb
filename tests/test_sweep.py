"""contagion.sweep: plans, seeds, the table's columns and values, bad input (serial executor)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion.errors import ScenarioError
from contagion.experiment import SweepPlan, SweepStore, load_sweep, run_key, spawn_seeds
from contagion.experiment.executors import CHUNK_TARGET_S, CHUNKS_PER_WORKER, Chunker
from contagion.experiment.runner import RunOutcome, RunTask
from _support import small_scenario

HEARTBEAT = "oracles.eth_usd.heartbeat"
FEE = "pools.uni_eth_usdc.fee"
RESERVES = "pools.uni_eth_usdc.reserves"
ARB_ETH = "agents.arbitrageur.inventory.ETH"


@pytest.fixture(scope="module")
def net():
    """The small scenario: 100 positions, a 10 % fall over 20 simulated minutes."""
    return contagion.Network.from_dict(small_scenario(), source="small.yaml")


# ------------------------------------------------------------------------------------ seeds
def test_spawned_seeds_follow_seed_sequence_and_extend():
    seeds = spawn_seeds(7, 4)
    expected = [int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))
                for child in np.random.SeedSequence(7).spawn(4)]
    assert seeds == expected
    assert spawn_seeds(7, 6)[:4] == seeds          # more seeds keep the first ones
    assert spawn_seeds(8, 4) != seeds
    assert all(0 <= s < 2**63 for s in seeds) and len(set(seeds)) == 4


def test_plan_is_the_product_of_grid_and_zip_times_seeds(net):
    plan = SweepPlan.build(net, grid={HEARTBEAT: ["10min", "1h", "3h"], FEE: [0.003, 0.01]},
                           zip={RESERVES: [[2000, 4e6], [4000, 8e6]], ARB_ETH: [2000, 4000]}, seeds=[5, 9])
    assert len(plan.points) == 3 * 2 * 2 and len(plan) == 3 * 2 * 2 * 2
    assert plan.parameters == [HEARTBEAT, FEE, RESERVES, ARB_ETH]
    expected = [dict(zip(plan.parameters, [h, f, r, a]))
                for h, f, (r, a) in itertools.product(["10min", "1h", "3h"], [0.003, 0.01],
                                                      [([2000, 4e6], 2000), ([4000, 8e6], 4000)])]
    assert plan.points == expected
    frame = plan.frame()
    assert list(frame.columns[:5]) == ["run_id", "run_key", "point", "replicate", "seed"]
    assert frame["run_id"].tolist() == list(range(24))
    assert frame["point"].tolist() == [p for p in range(12) for _ in range(2)]
    assert frame["seed"].tolist() == [5, 9] * 12
    assert frame[RESERVES].iloc[0] == "[2000, 4000000.0]"       # lists are stored as JSON text
    assert frame["run_key"].is_unique


def test_run_keys_depend_on_the_scenario_as_validated(net):
    a = SweepPlan.build(net, grid={HEARTBEAT: ["1h"]}, seeds=[3])
    b = SweepPlan.build(net, grid={HEARTBEAT: [3600]}, seeds=[3])
    c = SweepPlan.build(net, grid={HEARTBEAT: [3601]}, seeds=[3])
    assert a.runs[0].key == b.runs[0].key != c.runs[0].key
    scenario = net.with_overrides({HEARTBEAT: "1h"}).to_dict()
    assert a.runs[0].key == run_key(scenario, 3, net.scenario.until)
    assert run_key(scenario, 4, net.scenario.until) != a.runs[0].key
    assert run_key(scenario, 3, 60.0) != a.runs[0].key


# ------------------------------------------------------------------------------- the table
def test_rows_are_the_summaries_of_the_same_runs(net, tmp_path):
    grid = {HEARTBEAT: ["10min", "1h"], FEE: [0.003, 0.02]}
    table = contagion.sweep(net, grid=grid, seeds=2, seed=11, executor="serial", out=tmp_path / "s")
    assert len(table) == 2 * 2 * 2
    assert table["status"].eq("ok").all() and table["error"].isna().all()
    assert table["seed"].tolist() == spawn_seeds(11, 2) * 4
    assert table[HEARTBEAT].tolist() == ["10min"] * 4 + ["1h"] * 4
    assert table[FEE].tolist() == [0.003, 0.003, 0.02, 0.02] * 2
    assert list(table.columns).count("seed") == 1               # the summary's seed is not repeated
    for _, row in table.iloc[[0, 3, 6]].iterrows():
        direct = contagion.run(net, seed=int(row["seed"]), overrides={HEARTBEAT: row[HEARTBEAT], FEE: row[FEE]})
        summary = direct.summary().drop("seed")
        for metric, value in summary.items():
            got = row[metric]
            if isinstance(value, float) and np.isnan(value):
                assert np.isnan(got), metric
            else:
                assert got == value, metric
    # the fee changes what the pool pays out, so the liquidation outcome differs between fees
    assert table.groupby(FEE)["liquidated_collateral_usd"].sum().nunique() == 2
    pd.testing.assert_frame_equal(load_sweep(tmp_path / "s"), table, check_exact=True)


def test_explicit_seeds_are_used_as_given(net):
    table = contagion.sweep(net, seeds=range(3), executor="serial")
    assert table["seed"].tolist() == [0, 1, 2] and table["point"].tolist() == [0, 0, 0]
    assert table["replicate"].tolist() == [0, 1, 2]
    # different seeds draw different books
    assert table["threshold_proximity"].nunique() == 3
    assert table["threshold_proximity"].iloc[2] == contagion.run(net, seed=2).summary()["threshold_proximity"]


def test_until_and_fixed_overrides_apply_to_every_run(net):
    table = contagion.sweep(net, grid={FEE: [0.003, 0.01]}, seeds=[1], until="5min",
                            overrides={"agents.keepers.count": 1}, executor="serial")
    assert table["until_s"].tolist() == [300.0, 300.0]
    table = contagion.sweep(net, grid={"until": ["5min", "10min"]}, seeds=[1], executor="serial")
    assert table["until_s"].tolist() == [300.0, 600.0]


def test_sweep_accepts_a_scenario_file(tmp_path):
    import yaml

    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_scenario()))
    table = contagion.sweep(path, grid={FEE: [0.003]}, seeds=[4], executor="serial")
    assert table["scenario"].tolist() == ["minimal"] and table["seed"].tolist() == [4]


def test_store_layout_after_a_sweep(net, tmp_path):
    out = tmp_path / "s"
    table = contagion.sweep(net, grid={FEE: [0.003, 0.01]}, seeds=2, executor="serial", out=out)
    store = SweepStore(out)
    assert store.manifest["state"] == "complete" and store.manifest["runs"] == 4
    assert store.manifest["grid"] == {FEE: [0.003, 0.01]}
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(table["run_key"])
    assert not list((out / "runs").glob(".tmp-*")) and not (out / ".lock").exists()
    for key in table["run_key"]:
        assert sorted(p.name for p in (out / "runs" / key).iterdir()) == ["run.json", "summary.parquet"]
    assert store.run_info(table["run_key"][0])["status"] == "ok"
    pd.testing.assert_frame_equal(pd.read_parquet(out / "table.parquet"), table, check_exact=True)
    assert len(pd.read_parquet(out / "failures.parquet")) == 0


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, message", [
    ({"grid": {"oracles.eth_usd.heartbat": [60, 120]}},
     r"small\.yaml \(override\): oracles\.eth_usd\.heartbat: unknown key \(did you mean 'heartbeat'\?\)"),
    ({"grid": {"pools.nope.fee": [0.01]}}, r"pools\.nope: unknown name"),
    ({"grid": {HEARTBEAT: []}}, r"small\.yaml \(sweep grid\): oracles\.eth_usd\.heartbeat: values must be a "
                                r"non-empty list, got \[\]"),
    ({"grid": {HEARTBEAT: "10min"}}, r"oracles\.eth_usd\.heartbeat: values must be a non-empty list, got '10min'"),
    ({"grid": {FEE: [0.003, 1.5]}}, r"pools\.uni_eth_usdc\.fee: must be in \[0, 1\), got 1\.5"),
    ({"zip": {FEE: [0.003, 0.01], HEARTBEAT: ["1h"]}},
     r"\(sweep zip\): lists varied together must have the same length: pools\.uni_eth_usdc\.fee has 2, "
     r"oracles\.eth_usd\.heartbeat has 1"),
    ({"zip": {ARB_ETH: []}}, r"\(sweep zip\): agents\.arbitrageur\.inventory\.ETH: values must be a non-empty"),
    ({"grid": {FEE: [0.01]}, "zip": {FEE: [0.02]}}, r"pools\.uni_eth_usdc\.fee: key path given twice"),
    ({"grid": {"seed": [1, 2]}}, r"seed: vary seeds with seeds=, not as a parameter"),
    ({"grid": {HEARTBEAT: ["1h", 3600]}}, r"points 0 and 1 are the same scenario"),
    ({"grid": {"oracles..heartbeat": [1]}}, r"'oracles\.\.heartbeat': key path 'oracles\.\.heartbeat' has an "
                                            r"empty segment"),
    ({"seeds": 0}, r"seeds: a count must be at least 1, got 0"),
    ({"seeds": []}, r"seeds: must not be empty"),
    ({"seeds": [1, 2, 1]}, r"seeds: each seed may appear once, got 1"),
    ({"seeds": [1, -2]}, r"seeds: every seed must be a non-negative integer, got -2"),
    ({"seeds": 2, "seed": -1}, r"seed: must be a non-negative integer, got -1"),
    ({"until": "soon"}, r"until: must be a duration"),
])
def test_bad_input_is_a_scenario_error_naming_the_key_path(net, tmp_path, kwargs, message):
    with pytest.raises(ScenarioError, match=message):
        contagion.sweep(net, executor="serial", out=tmp_path / "s", **kwargs)
    assert not (tmp_path / "s").exists()                    # nothing ran, nothing was written


@pytest.mark.parametrize("kwargs, message", [
    ({"executor": "threads"}, r"executor must be one of serial, processes, dask, got 'threads'"),
    ({"executor": "processes", "workers": 0}, r"workers must be a whole number >= 1, got 0"),
    ({"executor": "serial", "scheduler": "tcp://localhost:8786"}, r"scheduler= is for executor='dask'"),
    ({"executor": "serial", "chunksize": 0}, r"chunksize must be a whole number >= 1, got 0"),
    ({"executor": "processes", "start_method": "teleport"}, r"start_method must be one of"),
])
def test_bad_executor_options(net, kwargs, message):
    with pytest.raises(ValueError, match=message):
        contagion.sweep(net, **kwargs)


# ------------------------------------------------------------------------------- chunking
def _tasks(n):
    return [RunTask(key=f"k{i}", seed=i, overrides={}, until=60.0, token="t") for i in range(n)]


def test_chunks_start_at_one_run_then_aim_at_half_a_second_and_keep_workers_busy():
    chunker = Chunker(_tasks(1000), workers=2)
    assert [len(chunker.take()) for _ in range(4)] == [1, 1, 1, 1]
    chunker.observe([RunOutcome(key="k", token="t", status="ok", elapsed_s=0.01) for _ in range(4)])
    assert len(chunker.take()) == round(CHUNK_TARGET_S / 0.01) == 50
    chunker.observe([RunOutcome(key="k", token="t", status="ok", elapsed_s=0.39) for _ in range(4)])
    assert len(chunker.take()) == 3                     # mean 0.2 s per run: 3 runs = 0.6 s
    while chunker.remaining > 20:
        chunker.take()
    chunker.observe([RunOutcome(key="k", token="t", status="ok", elapsed_s=0.0001) for _ in range(400)])
    left = chunker.remaining                          # fast runs, but few left: keep 4 chunks per worker
    assert CHUNKS_PER_WORKER == 4                      # the documented rule: 4 chunks per worker remain
    assert len(chunker.take()) == max(1, left // 8)
    fixed = Chunker(_tasks(10), workers=2, chunksize=4)
    assert [len(fixed.take()) for _ in range(4)] == [4, 4, 2, 0]
