"""Shared fixtures.

Reference vectors are read from ``$CONTAGION_VECTORS`` if set, else from ``../shared/vectors``
next to the repository; tests that need them skip with the reason when neither exists.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from _support import MINIMAL, vectors_path


@pytest.fixture(scope="session")
def vectors():
    """``vectors(name)`` -> parsed JSON of ``<name>.json``; skips if the folder is absent."""
    folder = vectors_path()
    if folder is None:
        pytest.skip("reference vectors not found: set CONTAGION_VECTORS or place them in ../shared/vectors")

    def load(name: str) -> dict:
        path = folder / f"{name}.json"
        if not path.exists():
            pytest.skip(f"reference vector file {path} is absent")
        return json.loads(path.read_text())

    return load


@pytest.fixture(scope="session")
def minimal_data() -> dict:
    """The parsed ``networks/minimal.yaml`` (do not mutate: use ``scenario_data``)."""
    return yaml.safe_load(MINIMAL.read_text())


@pytest.fixture
def scenario_data(minimal_data) -> dict:
    """A fresh, mutable copy of the minimal scenario's data."""
    return copy.deepcopy(minimal_data)


@pytest.fixture(scope="session")
def minimal_net():
    import contagion

    return contagion.load_network(MINIMAL)


@pytest.fixture(scope="session")
def minimal_result(minimal_net):
    """``networks/minimal.yaml`` run with seed 1 (shared by the tests that only read it)."""
    import contagion

    return contagion.run(minimal_net, seed=1)
