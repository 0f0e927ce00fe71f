"""The GitHub call counter sits on PyGithub's logger: its other messages keep their usual path."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from gitbot.github.calls import count_github_calls


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)  # like gitbot's JSON handler: loggers' levels decide
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.levelname, record.getMessage()))


@pytest.fixture
def root_at_info() -> Iterator[_Collect]:
    root = logging.getLogger()
    handler, level = _Collect(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def test_pygithubs_other_messages_keep_their_usual_level(root_at_info: _Collect) -> None:
    count_github_calls()
    injected = logging.getLogger("gitbot.github.calls")
    injected.debug("sleeping %ss before next GitHub request", 0.2)
    injected.warning("Following Github server redirection from %s", "/a")
    assert root_at_info.seen == [("WARNING", "Following Github server redirection from /a")]
