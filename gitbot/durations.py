"""Go durations (`1h30m`, `90s`, `1.5h`): parsed exactly as Go's `time.ParseDuration` does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from fractions import Fraction

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NS = (1 << 63) - 1
_HINT = "use ns, us, ms, s, m or h, like 1h30m"


def parse_go_duration(text: str) -> timedelta:
    """`time.ParseDuration` semantics; ValueError with a clear message on bad input."""
    ns = _parse_ns(text)
    seconds, rest = divmod(ns, 1_000_000_000)
    return timedelta(seconds=seconds, microseconds=rest / 1000)


def _parse_ns(text: str) -> int:
    s = text
    negative = s[:1] == "-"
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f"invalid duration '{text}': empty ({_HINT})")
    total = Fraction(0)
    while s:
        number, s = _take(s, lambda c: c.isascii() and (c.isdigit() or c == "."))
        if not number or number == "." or number.count(".") > 1:
            raise ValueError(f"invalid duration '{text}': expected a number ({_HINT})")
        unit, s = _take(s, lambda c: not (c.isascii() and (c.isdigit() or c == ".")))
        if not unit:
            raise ValueError(f"invalid duration '{text}': missing unit ({_HINT})")
        if unit not in _UNITS_NS:
            raise ValueError(f"invalid duration '{text}': unknown unit '{unit}' ({_HINT})")
        whole, _, fraction = number.partition(".")
        value = Fraction(int(whole or "0"))
        if fraction:
            value += Fraction(int(fraction), 10 ** len(fraction))
        total += value * _UNITS_NS[unit]
    ns = int(total)  # Go truncates fractions of a nanosecond
    if ns > _MAX_NS:
        raise ValueError(f"invalid duration '{text}': too long (at most about 292 years)")
    return -ns if negative else ns


def _take(s: str, accept: Callable[[str], bool]) -> tuple[str, str]:
    i = 0
    while i < len(s) and accept(s[i]):
        i += 1
    return s[:i], s[i:]
