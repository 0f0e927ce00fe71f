"""The poller: catches pushes whose webhook delivery never arrived (GitHub never redelivers).

Every GITBOT_POLL_INTERVAL, for each registered source repository whose followed branch gitbot
knows (from a delivered push or a whole reconcile), it reads the branch's head with a conditional
request (`If-None-Match` with the ETag of the last answer). GitHub answers 304 for an unchanged
branch and does not count that against the rate limit, so polling unchanged repositories is
free. A head that is neither the last commit gitbot rendered nor one a delivery already brought
gets a poll job, routed like the push it stands for. It runs beside the scheduler, in the one
process that runs the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gitbot.errors import GitbotError
from gitbot.github.client import GitHubApp
from gitbot.metrics import POLLED_PUSHES, POLLS
from gitbot.work.handlers import BRANCH, ETAG, POLL, RENDERED, SEEN
from gitbot.work.store import Store

log = logging.getLogger("gitbot.poller")


class Poller:
    """Compares each followed source branch's head with what gitbot rendered or was told."""

    def __init__(self, store: Store, github: GitHubApp) -> None:
        self.store = store
        self.github = github

    def poll(self) -> int:
        """One round over every registered repository; how many pushes it caught."""
        caught = 0
        for repo in self.store.repositories():
            summary = self.store.summary(repo.full_name) or {}
            try:
                caught += self._poll_one(repo.full_name, summary)
            except GitbotError as e:
                POLLS.labels(result="error").inc()
                log.warning(
                    "cannot poll %s: %s", repo.full_name, e, extra={"repository": repo.full_name}
                )
        if caught:
            log.info("the poller caught %d push(es) no delivery brought", caught)
        return caught

    def _poll_one(self, repo: str, summary: Mapping[str, Any]) -> int:
        branch = summary.get(BRANCH)
        if not isinstance(branch, str):
            return 0  # not a source repository yet, or never reconciled: nothing to compare
        etag = summary.get(ETAG)
        head = self.github.branch_head(repo, branch, etag if isinstance(etag, str) else None)
        if not head.modified:
            POLLS.labels(result="not_modified").inc()
            return 0
        POLLS.labels(result="modified").inc()
        known = (summary.get(RENDERED), summary.get(SEEN))
        if head.sha is None or head.sha in known:
            self.store.merge_summary(repo, {ETAG: head.etag})
            return 0
        before = summary.get(RENDERED) or summary.get(SEEN)
        payload = {"reason": "poll", "branch": branch, "before": before}
        self.store.enqueue(POLL, repo, None, head.sha, payload)
        self.store.merge_summary(repo, {ETAG: head.etag, SEEN: head.sha})
        POLLED_PUSHES.inc()
        log.info(
            "%s: %s is at %s, which no delivery brought; queued",
            repo,
            branch,
            head.sha[:12],
            extra={"repository": repo, "commit": head.sha},
        )
        return 1
