"""Every shipped scenario loads, and networks/README.md documents every field of the format."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel

import contagion
from contagion.scenario import models
from _support import NETWORKS

SCENARIOS = sorted(NETWORKS.glob("*.yaml"))


def test_there_are_shipped_scenarios():
    assert any(p.name == "minimal.yaml" for p in SCENARIOS)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_scenario_loads_and_is_listed(path):
    net = contagion.load_network(path)
    assert net.scenario.description.strip(), f"{path.name} has no description"
    assert net.describe()
    assert f"`{path.name}`" in (NETWORKS / "README.md").read_text()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_scenario_runs_briefly(path):
    res = contagion.run(contagion.load_network(path), until=120)
    assert len(res.blocks) > 0


def _models():
    """Every scenario model: those of ``models``, ``common`` and the protocol-family modules."""
    from contagion.scenario import common, families

    modules = [models, common, *(getattr(families, name) for name in ("money_markets", "pooled", "cdp", "perps", "options"))]
    names = {m.__name__ for m in modules}
    seen = {}
    for module in modules:
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ in names:
                seen[obj.__qualname__ + obj.__module__] = obj
    return list(seen.values())


def test_readme_documents_every_field():
    text = (NETWORKS / "README.md").read_text()
    missing = [f"{model.__name__}.{name}" for model in _models() for name in model.model_fields
               if not re.search(rf"`{re.escape(name)}`", text)]
    assert not missing, f"undocumented fields: {missing}"
