"""Results: tables, manifest, save/load round trip."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import contagion
from contagion.engine.recorder import SCHEMAS
from contagion.errors import ResultError
from contagion.results import TABLES


def test_tables_have_their_schemas(minimal_result):
    for table in ("blocks", "transactions", "prices", "oracle_updates", "swaps", "liquidations", "protocols",
                  "positions"):
        frame = getattr(minimal_result, table)
        assert list(frame.columns) == list(SCHEMAS[table])
        assert len(frame) > 0, table


def test_manifest_records_provenance(minimal_result):
    m = minimal_result.manifest
    assert m["seed"] == 1 and m["until"] == 3 * 3600
    assert m["version"] == contagion.__version__
    assert m["scenario"]["name"] == "minimal"
    assert m["scenario"]["oracles"]["eth_usd"]["heartbeat"] == 3600.0
    assert m["overrides"] == {}
    assert {row["asset"] for row in m["conservation"]} == {"ETH", "USDC"}


def test_overrides_are_in_the_manifest(minimal_net):
    res = contagion.run(minimal_net, seed=3, until="15min", overrides={"oracles.eth_usd.heartbeat": "10min"})
    assert res.manifest["overrides"] == {"oracles.eth_usd.heartbeat": "10min"}
    assert res.manifest["scenario"]["oracles"]["eth_usd"]["heartbeat"] == 600.0
    assert res.manifest["until"] == 900.0


def test_save_and_load_round_trip(minimal_result, tmp_path):
    out = minimal_result.save(tmp_path / "run")
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{t}.parquet" for t in TABLES] + ["manifest.json"])
    loaded = contagion.load_result(out)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, table), getattr(minimal_result, table), check_dtype=False)
    pd.testing.assert_series_equal(loaded.summary(), minimal_result.summary())
    assert json.loads((out / "manifest.json").read_text())["seed"] == 1


def test_load_errors(tmp_path):
    with pytest.raises(ResultError, match="not a saved run"):
        contagion.load_result(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ResultError, match="invalid JSON"):
        contagion.load_result(tmp_path)


def test_unknown_attribute(minimal_result):
    with pytest.raises(AttributeError):
        minimal_result.nonexistent_table
    assert "liquidations" in dir(minimal_result)
