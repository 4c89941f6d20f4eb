"""Constrained field types of the scenario format (numbers with ranges, durations, names).

Each type validates with a message that states the rule ("must be in [0, 1)") and exports
the matching JSON Schema, so editors and the error messages agree.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, ConfigDict, BaseModel, WithJsonSchema

from contagion.units import DURATION_PATTERN, parse_duration

__all__ = [
    "Model",
    "Number",
    "Integer",
    "Duration",
    "PositiveDuration",
    "Positive",
    "NonNegative",
    "Fraction",
    "OpenFraction",
    "UnitInterval",
    "PositiveInt",
    "NonNegativeInt",
    "Name",
    "NAME_PATTERN",
    "number_in",
    "integer_in",
]

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]*$"


class Model(BaseModel):
    """Base of all scenario models: frozen, and unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    return value


def _integer(value: Any) -> Any:
    value = _no_bool(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        return int(value)
    if isinstance(value, str):
        try:
            as_float = float(value)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not as_float.is_integer():
            raise ValueError("must be a whole number")
        return int(as_float)
    return value


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    if low is not None and high is not None:
        return f"must be in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"must be {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"must be {'<' if high_open else '<='} {high:g}"
    return "must be a number"


def _range_schema(kind: str, low, high, low_open, high_open, extra: dict | None = None) -> dict:
    schema: dict[str, Any] = {"type": kind}
    if low is not None:
        schema["exclusiveMinimum" if low_open else "minimum"] = low
    if high is not None:
        schema["exclusiveMaximum" if high_open else "maximum"] = high
    if extra:
        schema.update(extra)
    return schema


def _range_check(low, high, low_open, high_open):
    rule = _range_text(low, high, low_open, high_open)

    def check(value):
        if value != value:  # NaN
            raise ValueError("must be a number, not NaN")
        if low is not None and (value < low or (low_open and value == low)):
            raise ValueError(rule)
        if high is not None and (value > high or (high_open and value == high)):
            raise ValueError(rule)
        return value

    return check


def number_in(low: float | None = None, high: float | None = None, *, low_open: bool = False,
              high_open: bool = False):
    """A float type restricted to a range, e.g. ``number_in(0, 1, high_open=True)`` for [0, 1)."""
    return Annotated[
        float,
        BeforeValidator(_no_bool),
        AfterValidator(_range_check(low, high, low_open, high_open)),
        WithJsonSchema(_range_schema("number", low, high, low_open, high_open)),
    ]


def integer_in(low: int | None = None, high: int | None = None):
    """An integer type restricted to a closed range (floats with no fraction are accepted)."""
    return Annotated[
        int,
        BeforeValidator(_integer),
        AfterValidator(_range_check(low, high, False, False)),
        WithJsonSchema(_range_schema("integer", low, high, False, False)),
    ]


def _duration(value: Any) -> float:
    return parse_duration(value)


def _duration_type(positive: bool):
    schema = {"anyOf": [
        {"type": "number", "exclusiveMinimum" if positive else "minimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ], "description": "seconds, or a string such as '12s', '10min', '1h', '2d'"}
    validators: list[Any] = [BeforeValidator(_duration)]
    if positive:
        validators.append(AfterValidator(_range_check(0.0, None, True, False)))
    return Annotated[float, *validators, WithJsonSchema(schema)]


Number = Annotated[float, BeforeValidator(_no_bool)]
Integer = integer_in()
Duration = _duration_type(positive=False)
PositiveDuration = _duration_type(positive=True)
Positive = number_in(0, None, low_open=True)
NonNegative = number_in(0, None)
Fraction = number_in(0, 1, high_open=True)          # [0, 1)
OpenFraction = number_in(0, 1, low_open=True)        # (0, 1]
UnitInterval = number_in(0, 1)                       # [0, 1]
PositiveInt = integer_in(1, None)
NonNegativeInt = integer_in(0, None)


def _name(value: str) -> str:
    if not re.fullmatch(NAME_PATTERN, value):
        raise ValueError("must be a name: a letter, then letters, digits, '_' or '-' (no dots or spaces)")
    return value


Name = Annotated[str, AfterValidator(_name), WithJsonSchema({"type": "string", "pattern": NAME_PATTERN})]
