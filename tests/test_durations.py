"""Go durations: parsed like time.ParseDuration, printed short."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gitbot.durations import parse_go_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1h", timedelta(hours=1)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        ("300ms", timedelta(milliseconds=300)),
        ("10m0s", timedelta(minutes=10)),
        ("0", timedelta(0)),
        ("+5m", timedelta(minutes=5)),
        ("-1m", timedelta(minutes=-1)),
        (".5s", timedelta(milliseconds=500)),
        ("1.s", timedelta(seconds=1)),
        ("2h45m10.5s", timedelta(hours=2, minutes=45, seconds=10.5)),
        ("1500us", timedelta(microseconds=1500)),
        ("1\u00b5s", timedelta(microseconds=1)),
        ("1\u03bcs", timedelta(microseconds=1)),
        ("1000ns", timedelta(microseconds=1)),
        ("1m1m", timedelta(minutes=2)),
    ],
)
def test_parse_go_duration(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


HINT = "(use ns, us, ms, s, m or h, like 1h30m)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"invalid duration '': empty {HINT}"),
        ("-", f"invalid duration '-': empty {HINT}"),
        ("10", f"invalid duration '10': missing unit {HINT}"),
        ("1d", f"invalid duration '1d': unknown unit 'd' {HINT}"),
        ("1 h", f"invalid duration '1 h': unknown unit ' h' {HINT}"),
        ("h", f"invalid duration 'h': expected a number {HINT}"),
        (".h", f"invalid duration '.h': expected a number {HINT}"),
        ("1.2.3h", f"invalid duration '1.2.3h': expected a number {HINT}"),
        ("3000000h", "invalid duration '3000000h': too long (at most about 292 years)"),
    ],
)
def test_parse_go_duration_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_go_duration(text)
    assert str(info.value) == message
