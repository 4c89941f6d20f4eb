"""Scenario files: YAML -> validated, frozen models (see ``networks/README.md``)."""

from contagion.scenario.loader import LoadedScenario, load_scenario, parse_scenario
from contagion.scenario.models import Scenario

__all__ = ["LoadedScenario", "Scenario", "load_scenario", "parse_scenario", "json_schema"]


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of the scenario format, for editors and validators."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "contagion scenario"
    return schema
