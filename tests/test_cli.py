"""Command line: run, inspect, schema, report; errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
import yaml

import contagion
from contagion.cli import main, parse_seeds, split_values
from _support import MINIMAL, small_scenario


def test_run_writes_tables_manifest_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(MINIMAL), "--out", str(out), "--until", "50min", "--no-progress", "--seed", "4"])
    assert code == 0
    text = capsys.readouterr().out
    assert "liquidations" in text and "drop.exogenous.cex_eth_usd" in text
    assert (out / "liquidations.parquet").exists() and (out / "manifest.json").exists()
    for plot in ("prices", "liquidations", "protocols", "network", "depth", "gas"):
        assert (out / "plots" / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 4 and manifest["until"] == 3000.0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 4


def test_run_with_overrides(tmp_path, capsys):
    code = main(["run", str(MINIMAL), "--until", "5min", "--no-progress", "--no-plots", "--out", str(tmp_path),
                 "--set", "oracles.eth_usd.heartbeat=600", "--set", "agents.keepers.count=1"])
    assert code == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["overrides"] == {"oracles.eth_usd.heartbeat": 600, "agents.keepers.count": 1}
    assert not (tmp_path / "plots").exists()


def test_bad_override_is_a_clean_error(capsys):
    code = main(["run", str(MINIMAL), "--set", "oracles.eth_usd.heartbat=600", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip() == (f"{MINIMAL} (override): oracles.eth_usd.heartbat: unknown key "
                           "(did you mean 'heartbeat'?), got 600")


def test_bad_file_is_a_clean_error(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.read_text().replace("fee: 0.003", "fee: 1.5"))
    assert main(["inspect", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"{bad}: pools.uni_eth_usdc.fee: must be in [0, 1), got 1.5"


def test_inspect_prints_and_draws(tmp_path, capsys):
    png = tmp_path / "g.png"
    assert main(["inspect", str(MINIMAL), "--png", str(png)]) == 0
    text = capsys.readouterr().out
    assert "  protocol    1  lend" in text
    assert "ETH -[trades]-> cex_eth_usd -[reads]-> eth_usd -[uses_oracle]-> lend" in text
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_schema(capsys, tmp_path):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "contagion scenario"
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == schema


def test_report_from_a_saved_run(minimal_result, tmp_path, capsys):
    minimal_result.save(tmp_path)
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "plots" / "prices.png").exists()
    assert "cascade_depth" in capsys.readouterr().out


def test_report_of_a_missing_run(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nothing")]) == 1
    assert "not a saved run" in capsys.readouterr().err


# ----------------------------------------------------------------------------------- sweep
@pytest.fixture
def small_file(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small_scenario()))
    return path


def test_sweep_writes_the_table_and_a_report(small_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", str(small_file), "--grid", "pools.uni_eth_usdc.fee=0.003,0.03",
                 "--grid", "oracles.eth_usd.heartbeat=10min,1h", "--seeds", "2", "--seed", "5",
                 "--executor", "serial", "--out", str(out), "--progress"])
    assert code == 0
    captured = capsys.readouterr()
    assert "sweep minimal: 8 runs (8 ok, 0 failed), 4 point(s) x 2 seed(s), executor serial" in captured.out
    assert "8/8" in captured.err and "failed=0" in captured.err          # the progress bar
    table = pd.read_parquet(out / "table.parquet")
    assert len(table) == 2 * 2 * 2
    assert table["pools.uni_eth_usdc.fee"].tolist() == [0.003] * 4 + [0.03] * 4
    assert table["oracles.eth_usd.heartbeat"].tolist() == ["10min", "10min", "1h", "1h"] * 2
    assert table["seed"].tolist() == contagion.experiment.spawn_seeds(5, 2) * 4
    assert (out / "report.html").exists() and (out / "plots" / "response_1.png").exists()
    # the same sweep from Python gives the same table
    library = contagion.sweep(small_file, grid={"pools.uni_eth_usdc.fee": [0.003, 0.03],
                                                "oracles.eth_usd.heartbeat": ["10min", "1h"]},
                              seeds=2, seed=5, executor="serial")
    pd.testing.assert_frame_equal(table, library, check_exact=True)

    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "sweep minimal: 8 runs (8 ok, 0 failed)" in text and f"wrote {out / 'report.html'}" in text


def test_sweep_with_zip_seed_list_and_processes(small_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    code = main(["sweep", str(small_file), "--zip", "pools.uni_eth_usdc.reserves=[1000,2e6],[4000,8e6]",
                 "--zip", "agents.arbitrageur.inventory.ETH=1000,4000", "--seeds", "3:5", "--set", "until=10min",
                 "--executor", "processes", "--workers", "2", "--out", str(out), "--no-report", "--no-progress"])
    assert code == 0
    table = pd.read_parquet(out / "table.parquet")
    assert table["seed"].tolist() == [3, 4, 3, 4] and table["until_s"].eq(600.0).all()
    assert table["pools.uni_eth_usdc.reserves"].tolist() == ["[1000, 2000000.0]"] * 2 + ["[4000, 8000000.0]"] * 2
    assert table["agents.arbitrageur.inventory.ETH"].tolist() == [1000, 1000, 4000, 4000]
    assert not (out / "report.html").exists()
    again = contagion.sweep(small_file, zip={"pools.uni_eth_usdc.reserves": [[1000, 2e6], [4000, 8e6]],
                                             "agents.arbitrageur.inventory.ETH": [1000, 4000]},
                            seeds=range(3, 5), overrides=["until=10min"], executor="serial")
    pd.testing.assert_frame_equal(table, again, check_exact=True)


def test_sweep_with_failed_runs_exits_1_and_says_why(tmp_path, capsys):
    (tmp_path / "fall.csv").write_text("time,price\n0,2000\n600,1900\n")
    (tmp_path / "broken.csv").write_text("time,price\n0,2000\n600,-1\n")
    data = small_scenario()
    data["venues"]["cex_eth_usd"]["path"] = {"kind": "replay", "path": "fall.csv"}
    scenario = tmp_path / "replay.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "sweep"
    code = main(["sweep", str(scenario), "--grid", "venues.cex_eth_usd.path.path=fall.csv,broken.csv",
                 "--seeds", "1", "--executor", "serial", "--out", str(out), "--no-report", "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "failed: ScenarioError in 1 run(s) (run_id 1): " in err and "price must be a number > 0" in err
    assert f"tracebacks: {out / 'failures.parquet'}" in err
    assert len(pd.read_parquet(out / "failures.parquet")) == 1


@pytest.mark.parametrize("args, message", [
    (["--grid", "oracles.eth_usd.heartbat=60,120"],
     "(override): oracles.eth_usd.heartbat: unknown key (did you mean 'heartbeat'?), got 60"),
    (["--grid", "oracles.eth_usd.heartbeat"], "--grid 'oracles.eth_usd.heartbeat': expected KEY.PATH=V1,V2,..."),
    (["--grid", "oracles.eth_usd.heartbeat="],
     "(sweep grid): oracles.eth_usd.heartbeat: values must be a non-empty list, got []"),
    (["--grid", "oracles.eth_usd.heartbeat=60,,120"], "--grid oracles.eth_usd.heartbeat: empty value in '60,,120'"),
    (["--zip", "pools.uni_eth_usdc.fee=0.01,0.02", "--zip", "oracles.eth_usd.heartbeat=60"],
     "lists varied together must have the same length"),
    (["--seeds", "many"], "--seeds: expected a count N, a range A:B or a list a,b,c, got 'many'"),
])
def test_sweep_bad_input_is_a_clean_error(small_file, tmp_path, capsys, args, message):
    code = main(["sweep", str(small_file), *args, "--executor", "serial", "--out", str(tmp_path / "s")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_sweep_option_values():
    assert split_values("[1,2],[3, 4],'a,b',5") == ["[1,2]", "[3, 4]", "'a,b'", "5"]
    assert split_values("{ETH: 1, USDC: 2},x") == ["{ETH: 1, USDC: 2}", "x"]
    assert parse_seeds("4") == 4 and parse_seeds("2:5") == range(2, 5) and parse_seeds("7,3") == [7, 3]
    with pytest.raises(SystemExit):
        main(["sweep", "x.yaml", "--out", "o", "--workers", "0"])


def test_module_entry_point(tmp_path):
    # run outside the source tree: `-m` puts the cwd on sys.path
    proc = subprocess.run([sys.executable, "-m", "contagion", "inspect", str(MINIMAL), "--png",
                           str(tmp_path / "x.png")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "exposure paths" in proc.stdout


def test_usage_error_exits_nonzero():
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
