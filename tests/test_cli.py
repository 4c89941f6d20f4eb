"""Command line: run, inspect, schema, report; errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from contagion.cli import main
from _support import MINIMAL


def test_run_writes_tables_manifest_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(MINIMAL), "--out", str(out), "--until", "50min", "--no-progress", "--seed", "4"])
    assert code == 0
    text = capsys.readouterr().out
    assert "liquidations" in text and "drop.exogenous.cex_eth_usd" in text
    assert (out / "liquidations.parquet").exists() and (out / "manifest.json").exists()
    for plot in ("prices", "liquidations", "protocols", "network"):
        assert (out / "plots" / f"{plot}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
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
