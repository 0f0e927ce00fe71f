"""Fill a work database with today's gitbot (commit 6ecee20, schema version 1)."""

import sys
from datetime import UTC, datetime, timedelta

from gitbot.work.store import Store

url = sys.argv[1]
now = [datetime(2026, 10, 1, 9, 0, 0, 250000, tzinfo=UTC)]


def clock():
    return now[0]


def tick(seconds):
    now[0] += timedelta(seconds=seconds)


with Store(url, clock=clock) as s:
    s.register_repository("my-org/platform", 42, "main")
    s.register_repository("my-org/other", 43, "trunk")
    s.set_last_reconcile("my-org/platform", now[0], '{"interval":3600,"outcome":"succeeded"}')
    s.add_retries("my-org/platform", {"redis": now[0] + timedelta(minutes=5)})
    s.record_delivery(
        "d-push-1",
        "push",
        None,
        b'{"ref":"refs/heads/main","after":"c1"}',
        "queued",
        "",
        "my-org/platform",
        42,
        route_job=("delivery", "my-org/platform"),
    )
    tick(1)
    s.record_delivery("d-bad", "push", None, bytes(range(256)), "invalid", "not JSON")
    tick(1)
    s.record_delivery("d-ping", "ping", None, b'{"zen":"hi"}', "ignored", "ping")
    tick(1)
    route = s.claim("host-a:1", 60)
    s.complete(route.id, "host-a:1", {"queued": 2})
    s.set_delivery_status("d-push-1", "succeeded", "2 jobs")
    a = s.enqueue(
        "reconcile", "my-org/platform", "redis", "c1", {"commit": "c1"}, delivery_guid="d-push-1"
    )
    b = s.enqueue(
        "reconcile", "my-org/platform", "postgres", "c1", {"commit": "c1"}, delivery_guid="d-push-1"
    )
    tick(1)
    ja = s.claim("host-a:1", 60)
    s.complete(ja.id, "host-a:1", {"pull_request": 7, "outcome": "opened"})
    jb = s.claim("host-a:2", 60)
    s.fail(jb.id, "host-a:2", "pipeline failed: exit 1")
    tick(1)
    s.enqueue("reconcile", "my-org/other", None, "c9", {"reason": "schedule"})
    s.enqueue("reconcile", "my-org/other", None, "c10", {"reason": "schedule"})  # supersedes c9
    tick(1)
    running = s.claim("host-b:1", 60)
    s.enqueue("preview", "my-org/platform", "redis", "c2", {"pull": 3}, supersede=False)
    s.record_delivery(
        "d-push-2",
        "push",
        None,
        b'{"ref":"refs/heads/main","after":"c2"}',
        "queued",
        "",
        "my-org/platform",
        42,
        route_job=("delivery", "my-org/platform"),
    )
    print([(j.id, j.kind, j.status) for j in s.recent_jobs()])
