"""Quantities with units in scenario files: durations.

A duration is a number of seconds, or a string of one or more ``<number><unit>`` terms with the
units ``ms``, ``s``, ``min``, ``h``, ``d`` and ``w`` (``"12s"``, ``"10min"``, ``"1h30min"``,
``"2d"``, ``"0.5s"``). A bare ``m`` is refused as ambiguous (minutes or months?).
"""

from __future__ import annotations

import math
import re
from numbers import Real

__all__ = ["parse_duration", "format_duration", "DURATION_PATTERN", "UNIT_SECONDS"]

UNIT_SECONDS = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_TERM = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|sec|s|min|h|d|w)\s*")
DURATION_PATTERN = r"^\s*((\d+(\.\d*)?|\.\d+)\s*(ms|sec|s|min|h|d|w)\s*)+$"


def parse_duration(value: object) -> float:
    """Seconds in ``value`` (a number of seconds or a string such as ``"1h30min"``).

    Raises
    ------
    ValueError
        With a message that says what is accepted, for anything else (negative numbers too).
    """
    if isinstance(value, bool):
        raise ValueError("must be a duration (seconds or a string like '12s', '10min', '1h', '2d')")
    if isinstance(value, Real):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            pos, seconds = 0, 0.0
            for match in _TERM.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * UNIT_SECONDS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                hint = " ('m' is ambiguous: write 'min')" if re.search(r"\d\s*m(?![a-z])", text) else ""
                raise ValueError(
                    "must be a duration (seconds or a string like '12s', '10min', '1h', '2d')" + hint
                ) from None
    else:
        raise ValueError("must be a duration (seconds or a string like '12s', '10min', '1h', '2d')")
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError("must be a finite duration")
    if seconds < 0:
        raise ValueError("must be a duration >= 0")
    return seconds


def format_duration(seconds: float) -> str:
    """Compact human form: ``3600 -> '1h'``, ``90 -> '1min30s'``, ``0.25 -> '250ms'``."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    parts = []
    rest = float(seconds)
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if rest >= size:
            count = math.floor(rest / size)
            parts.append(f"{count}{unit}")
            rest -= count * size
    if rest > 1e-9 or not parts:
        parts.append(f"{rest:g}s")
    return "".join(parts)
