"""Key paths into scenario data: parsing, formatting, and resolving them against the models.

A key path names one value of a scenario: mapping keys joined by dots, list items by index,
either as ``[i]`` or as a dotted number (``pools.uni.reserves[0]`` = ``pools.uni.reserves.0``).
Scenario names cannot contain dots, so the split is unambiguous.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, Union

from pydantic import BaseModel

__all__ = ["parse_path", "format_path", "resolve", "model_at", "Step", "field_names", "PathError"]

_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(text: str) -> list[str | int]:
    """``"pools.uni.reserves[0]"`` -> ``["pools", "uni", "reserves", 0]``.

    Raises ValueError for an empty path or an empty segment.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("key path must be a non-empty string")
    parts: list[str | int] = []
    for chunk in text.strip().split("."):
        if not chunk:
            raise ValueError(f"key path {text!r} has an empty segment")
        pos = 0
        for match in _SEGMENT.finditer(chunk):
            if match.start() != pos:
                raise ValueError(f"key path {text!r} is malformed near {chunk!r}")
            key, index = match.groups()
            parts.append(int(index) if index is not None else (int(key) if key.isdigit() else key))
            pos = match.end()
        if pos != len(chunk):
            raise ValueError(f"key path {text!r} is malformed near {chunk!r}")
    return parts


def format_path(parts: typing.Iterable[str | int]) -> str:
    """Inverse of :func:`parse_path`: list indices as ``[i]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class Step(typing.NamedTuple):
    """Where a path leads: the annotation found there and the raw value (None if absent)."""

    annotation: Any
    raw: Any
    exists: bool


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _union_members(annotation: Any) -> list[Any] | None:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return [a for a in typing.get_args(annotation) if a is not type(None)]
    return None


def _pick_variant(members: list[Any], raw: Any) -> Any:
    """Choose a union member: the model whose discriminator literal matches the raw data."""
    models = [m for m in (_unwrap(x) for x in members) if isinstance(m, type) and issubclass(m, BaseModel)]
    if isinstance(raw, dict):
        for model in models:
            for tag in ("kind", "type"):
                field = model.model_fields.get(tag)
                if field is not None and raw.get(tag) in typing.get_args(_unwrap(field.annotation)):
                    return model
    if len(members) == 1:
        return _unwrap(members[0])
    if models and len(models) == len(members):
        return models[0] if len(models) == 1 else None
    scalars = [m for m in members if not (isinstance(_unwrap(m), type) and issubclass(_unwrap(m), BaseModel))]
    return scalars[0] if scalars else None


def field_names(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts, in declaration order."""
    return list(model.model_fields)


class PathError(ValueError):
    """A key path that does not lead to a value of the scenario format."""

    def __init__(self, depth: int, rule: str):
        self.depth = depth  # number of leading segments that were valid
        self.rule = rule
        super().__init__(rule)


def resolve(root: type[BaseModel], parts: list[str | int], raw: Any, *,
            allow_new_names: bool = False) -> Step:
    """Follow ``parts`` through the model types (and the raw data, to pick union variants).

    Raises :class:`PathError` naming the first segment that does not exist. Entries of named
    sections (``dict[str, Model]``) must exist unless ``allow_new_names``; keys of plain maps
    (``dict[str, float]``, e.g. inventories) may be new.
    """
    annotation: Any = root
    node = raw
    exists = True
    for depth, part in enumerate(parts):
        annotation = _unwrap(annotation)
        members = _union_members(annotation)
        if members is not None:
            annotation = _pick_variant(members, node)
            if annotation is None:
                raise PathError(depth, "cannot tell which kind of entry this is")
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if not isinstance(part, str) or part not in annotation.model_fields:
                raise PathError(depth, "unknown key")
            annotation = annotation.model_fields[part].annotation
        elif origin is dict:
            value_type = _unwrap(typing.get_args(annotation)[1])
            named = isinstance(value_type, type) and issubclass(value_type, BaseModel) or \
                _union_members(value_type) is not None
            present = isinstance(node, dict) and part in node
            if named and not present and not allow_new_names:
                known = ", ".join(map(str, node)) if isinstance(node, dict) and node else "none"
                raise PathError(depth, f"unknown name (known: {known})")
            annotation = value_type
        elif origin in (list, tuple):
            args = typing.get_args(annotation)
            if not isinstance(part, int):
                raise PathError(depth, "expected a list index")
            length = len(node) if isinstance(node, (list, tuple)) else None
            if origin is tuple and args and args[-1] is not Ellipsis:
                length = len(args) if length is None else length
                if part >= len(args):
                    raise PathError(depth, f"index out of range (this list has {len(args)} items)")
                annotation = args[part]
            else:
                if length is not None and part >= length:
                    raise PathError(depth, f"index out of range (this list has {length} items)")
                annotation = args[0] if args else Any
        else:
            raise PathError(depth, "this value has no sub-keys")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node, exists = None, False
    return Step(annotation, node, exists)


def model_at(root: type[BaseModel], parts: list[str | int], raw: Any) -> type[BaseModel] | None:
    """The model class found at ``parts`` (union variants picked from the raw data), or None."""
    try:
        step = resolve(root, parts, raw, allow_new_names=True)
    except PathError:
        return None
    annotation = _unwrap(step.annotation)
    members = _union_members(annotation)
    if members is not None:
        annotation = _pick_variant(members, step.raw)
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
