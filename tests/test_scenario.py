"""Scenario files: validation, error messages, durations, overrides, schema."""

from __future__ import annotations

import json
import re

import pytest

from contagion.errors import ScenarioError
from contagion.scenario import json_schema, load_scenario, parse_scenario
from contagion.units import format_duration, parse_duration

from _support import MINIMAL, NETWORKS

SRC = "networks/x.yaml"


def parse(data, overrides=None):
    return parse_scenario(data, source=SRC, overrides=overrides, base_dir=NETWORKS)


def error_of(data, overrides=None) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        parse(data, overrides)
    return info.value


# ------------------------------------------------------------------------------------ durations
@pytest.mark.parametrize("text, seconds", [
    ("12s", 12.0), ("10min", 600.0), ("1h", 3600.0), ("2d", 172800.0), ("1h30min", 5400.0),
    ("500ms", 0.5), (" 2 h ", 7200.0), ("1w", 604800.0), ("0.25s", 0.25), (".5h", 1800.0),
    (90, 90.0), (1.5, 1.5), ("42", 42.0),
])
def test_parse_duration_accepts_units(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds, rel=0, abs=1e-12)


@pytest.mark.parametrize("text, message", [
    ("10m", "ambiguous"), ("1 hour", "must be a duration"), ("", "must be a duration"),
    ("h", "must be a duration"), (-5, ">= 0"), (True, "must be a duration"), (None, "must be a duration"),
    ("nan", "finite"),
])
def test_parse_duration_rejects(text, message):
    with pytest.raises(ValueError, match=message):
        parse_duration(text)


def test_format_duration_round_trips():
    for seconds in (0.0, 0.25, 12.0, 90.0, 3600.0, 5400.0, 172800.0 + 61.0):
        assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)


# -------------------------------------------------------------------------------- valid files
def test_minimal_loads_with_units_converted():
    loaded = load_scenario(MINIMAL)
    scn = loaded.model
    assert scn.until == 3 * 3600
    assert scn.chains["ethereum"].block_time == 12.0
    assert scn.oracles["eth_usd"].heartbeat == 3600.0
    assert scn.venues["cex_eth_usd"].path.points[2] == (9000.0, 1300.0)
    assert scn.venues["cex_eth_usd"].permanent_impact == 2.0e-6  # YAML "2.0e-6" is a float
    assert loaded.source == str(MINIMAL)


def test_models_are_frozen(scenario_data):
    scn = parse(scenario_data).model
    with pytest.raises(Exception, match="frozen"):
        scn.pools["uni_eth_usdc"].fee = 0.01


def test_scientific_notation_without_dot_is_a_number(scenario_data, tmp_path):
    text = MINIMAL.read_text().replace("permanent_impact: 2.0e-6", "permanent_impact: 2e-6")
    text = text.replace("gas_limit: 30000000", "gas_limit: 3e7")
    path = tmp_path / "sci.yaml"
    path.write_text(text)
    scn = load_scenario(path).model
    assert scn.venues["cex_eth_usd"].permanent_impact == 2e-6
    assert scn.chains["ethereum"].gas_limit == 30_000_000


# --------------------------------------------------------------------- one test per error class
def test_unknown_key_names_file_path_and_suggests(scenario_data):
    scenario_data["oracles"]["eth_usd"]["heartbat"] = 600
    err = error_of(scenario_data)
    assert str(err) == f"{SRC}: oracles.eth_usd.heartbat: unknown key (did you mean 'heartbeat'?), got 600"


def test_unknown_top_level_key(scenario_data):
    scenario_data["pool"] = {}
    assert "pool: unknown key (did you mean 'pools'?)" in str(error_of(scenario_data))


def test_wrong_type(scenario_data):
    scenario_data["pools"]["uni_eth_usdc"]["fee"] = "high"
    assert str(error_of(scenario_data)) == f"{SRC}: pools.uni_eth_usdc.fee: must be a number, got 'high'"


def test_wrong_type_bool_for_number(scenario_data):
    scenario_data["agents"]["keepers"]["gas_price"] = True
    assert "agents.keepers.gas_price: must be a number, not true/false, got True" in str(error_of(scenario_data))


def test_out_of_range(scenario_data):
    scenario_data["pools"]["uni_eth_usdc"]["fee"] = 1.5
    assert str(error_of(scenario_data)) == f"{SRC}: pools.uni_eth_usdc.fee: must be in [0, 1), got 1.5"


def test_not_a_whole_number(scenario_data):
    scenario_data["agents"]["keepers"]["count"] = 2.5
    assert str(error_of(scenario_data)) == f"{SRC}: agents.keepers.count: must be a whole number, got 2.5"


def test_dangling_reference(scenario_data):
    scenario_data["pools"]["uni_eth_usdc"]["assets"] = ["ETH", "USDT"]
    err = error_of(scenario_data)
    assert err.problems[0] == (f"{SRC}: pools.uni_eth_usdc.assets[1]: must name an entry of assets "
                               "(ETH, USDC), got 'USDT'")
    # the protocol and the arbitrageur that use the pool are reported too, in file order
    assert any(p.startswith(f"{SRC}: protocols.lend.liquidates_into[0]:") for p in err.problems)


def test_missing_required_key(scenario_data):
    del scenario_data["chains"]["ethereum"]["block_time"]
    assert str(error_of(scenario_data)) == f"{SRC}: chains.ethereum.block_time: required key is missing"


def test_invalid_kind_points_at_the_discriminator(scenario_data):
    scenario_data["oracles"]["eth_usd"]["kind"] = "chainlink"
    assert str(error_of(scenario_data)) == (f"{SRC}: oracles.eth_usd.kind: must be one of 'push', 'osm', 'median', "
                                            "'twap', 'spot', 'pull', 'fixed', got 'chainlink'")


def test_bad_duration_in_file(scenario_data):
    scenario_data["oracles"]["eth_usd"]["heartbeat"] = "10m"
    assert "oracles.eth_usd.heartbeat: must be a duration" in str(error_of(scenario_data))
    assert "write 'min'" in str(error_of(scenario_data))


def test_name_with_dot_is_rejected(scenario_data):
    scenario_data["pools"] = {"uni.v2": scenario_data["pools"]["uni_eth_usdc"]}
    assert f"{SRC}: pools.uni.v2: name must be a name" in str(error_of(scenario_data))


def test_names_unique_across_sections(scenario_data):
    scenario_data["assets"]["lend"] = {"chain": "ethereum"}
    assert (f"{SRC}: protocols.lend: name already used by assets.lend; names must be unique across "
            "sections, got 'lend'") in error_of(scenario_data).problems


def test_all_problems_reported_together(scenario_data):
    scenario_data["pools"]["uni_eth_usdc"]["fee"] = 2
    scenario_data["oracles"]["eth_usd"]["heartbeat"] = -1
    scenario_data["agents"]["keepers"]["colour"] = "red"
    problems = error_of(scenario_data).problems
    assert len(problems) == 3
    assert all(p.startswith(f"{SRC}: ") for p in problems)


def test_cross_checks_on_oracle_sources(scenario_data):
    scenario_data["oracles"]["eth_usd"]["sources"] = ["cex_eth_usd", "nowhere"]
    assert re.search(r"oracles\.eth_usd\.sources\[1\]: must name a venue or a pool .*got 'nowhere'",
                     str(error_of(scenario_data)))


def test_protocol_needs_an_oracle_per_asset(scenario_data):
    del scenario_data["protocols"]["lend"]["oracles"]["USDC"]
    assert (f"{SRC}: protocols.lend.oracles.USDC: required: an oracle for each market asset"
            in error_of(scenario_data).problems)


def test_duplicate_yaml_key_is_an_error(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(MINIMAL.read_text().replace("  usdc_usd:\n", "  eth_usd:\n", 1))
    with pytest.raises(ScenarioError, match=r"dup\.yaml:\d+: duplicate key 'eth_usd'"):
        load_scenario(path)


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nchains: [\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_scenario(path)


def test_missing_file():
    with pytest.raises(ScenarioError, match="nope.yaml: file not found"):
        load_scenario("nope.yaml")


def test_top_level_must_be_mapping():
    with pytest.raises(ScenarioError, match="a scenario must be a mapping"):
        parse([1, 2])


def test_unsafe_yaml_tags_are_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ScenarioError, match="invalid YAML"):
        load_scenario(path)


# ---------------------------------------------------------------------------------- overrides
def test_override_sets_a_value_and_is_validated_like_the_file(minimal_data):
    loaded = parse(minimal_data, {"oracles.eth_usd.heartbeat": "10min"})
    assert loaded.model.oracles["eth_usd"].heartbeat == 600.0
    assert loaded.overrides == {"oracles.eth_usd.heartbeat": "10min"}
    assert minimal_data["oracles"]["eth_usd"]["heartbeat"] == "1h"  # the input is not mutated


def test_override_strings_from_the_command_line(minimal_data):
    loaded = parse(minimal_data, ["oracles.eth_usd.heartbeat=600", "pools.uni_eth_usdc.reserves[0]=1000",
                                  "pools.uni_eth_usdc.reserves.1=2e6", "agents.keepers.inventory.ETH=5"])
    scn = loaded.model
    assert scn.oracles["eth_usd"].heartbeat == 600.0
    assert scn.pools["uni_eth_usdc"].reserves == (1000.0, 2_000_000.0)
    assert scn.agents["keepers"].inventory["ETH"] == 5.0


def test_bad_override_path_names_the_override(minimal_data):
    err = error_of(minimal_data, {"oracles.eth_usd.heartbat": 600})
    assert str(err) == (f"{SRC} (override): oracles.eth_usd.heartbat: unknown key "
                        "(did you mean 'heartbeat'?), got 600")


def test_override_of_unknown_entry(minimal_data):
    err = error_of(minimal_data, {"oracles.eth_usdd.heartbeat": 600})
    assert str(err) == f"{SRC} (override): oracles.eth_usdd: unknown name (known: eth_usd, usdc_usd), got 600"


def test_override_index_out_of_range(minimal_data):
    err = error_of(minimal_data, ["pools.uni_eth_usdc.reserves[5]=3"])
    assert "pools.uni_eth_usdc.reserves[5]: index out of range (this list has 2 items)" in str(err)


def test_override_with_invalid_value(minimal_data):
    err = error_of(minimal_data, {"pools.uni_eth_usdc.fee": 3})
    assert str(err) == f"{SRC} (override): pools.uni_eth_usdc.fee: must be in [0, 1), got 3"


def test_override_string_without_equals(minimal_data):
    with pytest.raises(ScenarioError, match="expected 'key.path=value'"):
        parse(minimal_data, ["oracles.eth_usd.heartbeat"])


def test_override_malformed_path(minimal_data):
    with pytest.raises(ScenarioError, match="empty segment"):
        parse(minimal_data, {"oracles..heartbeat": 1})


# ------------------------------------------------------------------------------------- schema
def test_json_schema_describes_the_format():
    schema = json_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    assert schema["additionalProperties"] is False
    assert {"chains", "assets", "venues", "pools", "oracles", "protocols", "agents"} <= set(schema["properties"])
    text = json.dumps(schema)
    push = schema["$defs"]["PushOracle"]["properties"]
    threshold = push["deviation_threshold"]
    assert (threshold["type"], threshold["minimum"], threshold["exclusiveMaximum"]) == ("number", 0, 1)
    assert threshold["description"]
    assert push["heartbeat"]["anyOf"][1]["type"] == "string"
    assert "exclusiveMinimum" in text
