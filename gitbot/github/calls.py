"""Counts every GitHub API call PyGithub makes, by method and status, for /metrics.

PyGithub reports each finished request to its logger at DEBUG level, with the method and status
among the record's arguments; `Requester.injectLogger` is its public hook for that logger. The
counting logger never prints these records (they carry request and response bodies, tokens
included); PyGithub's other messages go on to its usual logger.
"""

from __future__ import annotations

import logging

from github.Requester import Requester

from gitbot.metrics import GITHUB_CALLS

_REQUEST_FORMAT = "%s %s://%s%s %s %s ==> %i %s %s"  # PyGithub's Requester.__log


class _CallCounter(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == _REQUEST_FORMAT and isinstance(record.args, tuple):
            method, status = record.args[0], record.args[6]
            GITHUB_CALLS.labels(str(method), str(status)).inc()
        else:
            usual = logging.getLogger("github.Requester")
            if usual.isEnabledFor(record.levelno):  # handle() itself ignores levels
                usual.handle(record)


def count_github_calls() -> None:
    """Route PyGithub's request log into the call counter (idempotent, process-wide)."""
    logger = logging.getLogger("gitbot.github.calls")
    if not logger.handlers:
        logger.addHandler(_CallCounter())
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
    Requester.injectLogger(logger)
