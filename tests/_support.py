"""Constants and helpers shared by the tests (importable because pytest puts tests/ on the path)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
NETWORKS = REPO / "networks"
MINIMAL = NETWORKS / "minimal.yaml"


def vectors_path() -> Path | None:
    env = os.environ.get("CONTAGION_VECTORS")
    candidates = [Path(env)] if env else []
    candidates.append(REPO.parent / "shared" / "vectors")
    for path in candidates:
        if path.is_dir():
            return path
    return None


def small_scenario(**changes) -> dict:
    """A fast scenario (100 positions, 20 simulated minutes of a 10 % fall) for engine tests."""
    data = yaml.safe_load(MINIMAL.read_text())
    data["until"] = "20min"
    data["venues"]["cex_eth_usd"]["path"]["points"] = [[0, 2000], ["2min", 2000], ["17min", 1800], ["20min", 1800]]
    data["protocols"]["lend"]["positions"]["count"] = 100
    data["protocols"]["lend"]["positions"]["total_debt"] = 1_500_000
    data["pools"]["uni_eth_usdc"]["reserves"] = [2000, 4_000_000]
    data["agents"]["arbitrageur"]["inventory"] = {"ETH": 2000, "USDC": 4_000_000}
    return apply_changes(data, changes)


def apply_changes(data: dict, changes: dict, none_deletes: bool = False) -> dict:
    """Set ``{"dotted.path": value}`` in scenario data (a list item by its index, ``a.0.b``);
    with ``none_deletes``, a None value removes the key. Values are copied. Returns ``data``."""
    for path, value in changes.items():
        node = data
        *parents, last = path.split(".")
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = copy.deepcopy(value)
        elif value is None and none_deletes:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return data
