"""Reading scenario files: safe YAML, overrides, validation, and error messages.

Every problem becomes one line ``FILE: key.path: rule, got VALUE`` of a
:class:`~contagion.errors.ScenarioError`; all problems of a file are reported together.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contagion.errors import ScenarioError
from contagion.scenario.models import Scenario
from contagion.scenario.paths import PathError, format_path, model_at, parse_path, resolve
from contagion.scenario.references import check_references

__all__ = ["LoadedScenario", "load_scenario", "parse_scenario", "parse_override_value", "yaml_load"]

_MISSING = object()


# ------------------------------------------------------------------------------------- YAML
class _Loader(yaml.SafeLoader):
    """Safe loader that reads ``1e6``/``2e-6`` as floats and refuses duplicate keys."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int):
        self.key, self.line = key, line


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def yaml_load(text: str, source: str) -> Any:
    """Parse YAML safely; syntax errors and duplicate keys become a ScenarioError."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except _DuplicateKey as dup:
        raise ScenarioError(f"{source}:{dup.line}: duplicate key {dup.key!r}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(err, "problem", None) or str(err)
        raise ScenarioError(f"{where}: invalid YAML: {problem}") from err


def parse_override_value(text: str) -> Any:
    """Value of a ``key=value`` override from the command line, read as a YAML scalar/list."""
    return yaml_load(text, "<override>") if text.strip() else ""


# ------------------------------------------------------------------------------- formatting
def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        text = f"{value:g}" if abs(value) < 1e6 else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def problem(source: str, path: str, rule: str, value: Any = _MISSING) -> str:
    """One error line: ``FILE: key.path: rule, got VALUE``."""
    text = f"{source}: {path}: {rule}" if path else f"{source}: {rule}"
    return text if value is _MISSING else f"{text}, got {_show(value)}"


def _walk_loc(loc: tuple, raw: Any) -> tuple[list[str | int], bool]:
    """Turn a pydantic error location into key-path parts, dropping union tags."""
    parts: list[str | int] = []
    node = raw
    is_key = False
    for element in loc:
        if element == "[key]":
            is_key = True
            continue
        if isinstance(node, dict):
            if element in node:
                parts.append(element)
                node = node[element]
                continue
            if element in (node.get("kind"), node.get("type")):
                continue
            parts.append(element)
            node = None
        elif isinstance(node, (list, tuple)) and isinstance(element, int):
            parts.append(element)
            node = node[element] if element < len(node) else None
        else:
            parts.append(element)
            node = None
    return parts, is_key


def _rule(err: dict, parts: list, raw: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    msg = err["msg"]
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"^(Value|Assertion) error, ", "", msg)
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        return _unknown_key(parts, raw)
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}"
    if kind == "union_tag_invalid":
        return f"must be one of {ctx.get('expected_tags', '')}"
    if kind == "union_tag_not_found":
        return f"missing the key {ctx.get('discriminator', 'kind')} that says which kind of entry this is"
    if kind in ("float_type", "float_parsing"):
        return "must be a number"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if kind in ("string_type",):
        return "must be a string"
    if kind in ("list_type", "tuple_type"):
        return "must be a list"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a mapping"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s)"
    return msg[0].lower() + msg[1:] if msg else kind


def _unknown_key(parts: list, raw: Any) -> str:
    """``unknown key`` with the closest allowed key, or the list of allowed keys."""
    model = model_at(Scenario, parts[:-1], raw)
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(parts[-1]), allowed, n=1)
    return f"unknown key (did you mean {close[0]!r}?)" if close else \
        f"unknown key (allowed: {', '.join(allowed)})"


def _origin(source: str, path: str, overridden: Iterable[str]) -> str:
    """Label a problem as coming from an override when its path is (under) an overridden key."""
    for key in overridden:
        if path == key or path.startswith(key + ".") or path.startswith(key + "["):
            return f"{source} (override)"
    return source


def _validation_problems(err: ValidationError, raw: Any, source: str,
                         overridden: Iterable[str] = ()) -> list[str]:
    lines = []
    for item in err.errors(include_url=False):
        parts, is_key = _walk_loc(tuple(item["loc"]), raw)
        if item["type"] == "union_tag_invalid":  # point at the discriminator key itself
            parts.append(str((item.get("ctx") or {}).get("discriminator", "kind")).strip("'\""))
        rule = _rule(item, parts, raw)
        path = format_path(parts)
        if is_key:
            rule = f"name {rule}"
        if item["type"] in ("missing", "union_tag_not_found"):
            value = _MISSING
        elif item["type"] == "union_tag_invalid":
            value = (item.get("ctx") or {}).get("tag", _MISSING)
        else:
            value = item.get("input", _MISSING)
        if isinstance(value, (dict, list)) and len(str(value)) > 80:
            value = _MISSING
        lines.append(problem(_origin(source, path, overridden), path, rule, value))
    return lines


# -------------------------------------------------------------------------------- overrides
def _normalize_overrides(overrides: Mapping[str, Any] | Iterable[str] | None) -> list[tuple[str, Any]]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [(str(k), v) for k, v in overrides.items()]
    items = []
    for text in overrides:
        if not isinstance(text, str) or "=" not in text:
            raise ScenarioError(f"<override>: expected 'key.path=value', got {text!r}")
        key, _, value = text.partition("=")
        items.append((key.strip(), parse_override_value(value)))
    return items


def apply_overrides(raw: dict, overrides: Mapping[str, Any] | Iterable[str] | None,
                    source: str) -> tuple[dict, dict[str, Any]]:
    """Return a copy of ``raw`` with the overrides set, and the normalized overrides.

    Each path is checked against the scenario models first, so a typo is reported as an
    unknown key (with a suggestion) naming the override, not as a confusing validation error.
    """
    items = _normalize_overrides(overrides)
    data = copy.deepcopy(raw)
    applied: dict[str, Any] = {}
    problems = []
    where = f"{source} (override)"
    for key, value in items:
        try:
            parts = parse_path(key)
        except ValueError as err:
            problems.append(problem(where, key, str(err), value))
            continue
        try:
            resolve(Scenario, parts, data)
        except PathError as err:
            bad = parts[: err.depth + 1]
            rule = _unknown_key(bad, data) if err.rule == "unknown key" else err.rule
            problems.append(problem(where, format_path(bad), rule, value))
            continue
        node: Any = data
        for part in parts[:-1]:
            if isinstance(node, dict):
                node = node.setdefault(part, {})
            else:
                node = node[part]
        last = parts[-1]
        if isinstance(node, list):
            node[last] = value
        elif isinstance(node, tuple):  # pragma: no cover - YAML gives lists
            raise ScenarioError(problem(where, key, "cannot set an item of a tuple", value))
        else:
            node[last] = value
        applied[format_path(parts)] = value
    if problems:
        raise ScenarioError(problems)
    return data, applied


# ----------------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class LoadedScenario:
    """A validated scenario with where it came from.

    Attributes
    ----------
    model : Scenario
        The validated, frozen scenario.
    raw : dict
        The data the model was validated from (overrides applied).
    source : str
        File name used in messages (``"<dict>"`` for data built in Python).
    base_dir : pathlib.Path
        Folder that relative paths in the scenario (position snapshots) are resolved from.
    overrides : dict
        The overrides applied, by key path.
    """

    model: Scenario
    raw: dict
    source: str
    base_dir: Path
    overrides: dict[str, Any] = field(default_factory=dict)


def parse_scenario(data: Any, source: str = "<dict>", overrides=None,
                   base_dir: str | os.PathLike | None = None) -> LoadedScenario:
    """Validate scenario data (a mapping, e.g. parsed YAML) with optional overrides."""
    if not isinstance(data, dict):
        raise ScenarioError(problem(source, "", "a scenario must be a mapping at the top level",
                                    type(data).__name__))
    raw, applied = apply_overrides(data, overrides, source)
    try:
        model = Scenario.model_validate(raw)
    except ValidationError as err:
        raise ScenarioError(_validation_problems(err, raw, source, applied)) from None
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    problems = [problem(_origin(source, path, applied), path, rule, _MISSING if value is ... else value)
                for path, rule, value in check_references(model, base)]
    if problems:
        raise ScenarioError(problems)
    return LoadedScenario(model=model, raw=raw, source=source, base_dir=base, overrides=applied)


def load_scenario(path: str | os.PathLike, overrides=None) -> LoadedScenario:
    """Read, override and validate a scenario file.

    Parameters
    ----------
    path : path-like
        A YAML file.
    overrides : mapping or iterable of ``"key.path=value"`` strings, optional
        Values to set before validation, addressed by key path
        (``{"oracles.eth_usd.heartbeat": 600}`` or ``["oracles.eth_usd.heartbeat=600"]``).

    Raises
    ------
    ScenarioError
        Listing every problem as ``FILE: key.path: rule, got VALUE``.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{source}: file not found") from None
    except OSError as err:
        raise ScenarioError(f"{source}: cannot read: {err.strerror}") from err
    data = yaml_load(text, source)
    return parse_scenario(data, source=source, overrides=overrides, base_dir=path.parent)
