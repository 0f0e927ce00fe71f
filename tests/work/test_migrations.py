"""Schema migrations: new databases, databases written before migrations, unknown revisions.

Each test runs on SQLite and PostgreSQL. The pre-migration databases are the SQL dumps in
`tests/data/work-db-0001/`, written by gitbot's own store before it had migrations.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from workdbs import load_revision_0001

from gitbot.errors import UserError
from gitbot.work import migrations
from gitbot.work.schema import metadata
from gitbot.work.store import RegisteredRepo, Store

MADE_AT = datetime(2026, 10, 1, 9, 0, 0, 250000, tzinfo=UTC)  # the dumps' clock


@pytest.fixture
def old_url(url: str) -> str:
    load_revision_0001(url)
    return url


def schema_differences(url: str) -> list[object]:
    """What Alembic's autogenerate finds between the database and gitbot/work/schema.py."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(compare_metadata(MigrationContext.configure(conn), metadata))
    finally:
        engine.dispose()


def test_the_revisions_run_in_order() -> None:
    assert migrations.revisions() == ["0001", "0002", "0003", "0004", "0005"]
    assert migrations.head() == "0005"


def test_a_new_database_gets_every_migration(url: str) -> None:
    with Store(url) as store:
        assert store.schema_revision() == migrations.head()
    # The migrations build exactly the tables, columns and indexes the code declares.
    assert schema_differences(url) == []


def test_an_older_schema_is_refused_naming_the_command(old_url: str) -> None:
    with pytest.raises(UserError) as raised:
        Store(old_url)
    assert str(raised.value) == (
        f"{make_url(old_url).render_as_string(hide_password=True)} has the work database schema "
        "of an older gitbot (revision 0001; this gitbot reads 0005): stop every gitbot process "
        "using it, back it up, and run `gitbot db upgrade`"
    )


def test_upgrading_keeps_every_row_and_the_queue_carries_on(old_url: str) -> None:
    clock = Clock(MADE_AT + timedelta(minutes=10))
    with Store(old_url, check_schema=False, clock=clock) as store:
        assert store.schema_revision() == "0001"
        assert store.upgrade() == ("0001", "0005")
        assert store.upgrade() == ("0005", "0005")  # a second upgrade changes nothing
    assert schema_differences(old_url) == []

    with Store(old_url, clock=clock) as store:
        pushed = store.delivery("d-push-1")
        assert pushed is not None
        assert (pushed.status, pushed.reason, pushed.repository, pushed.installation_id) == (
            "succeeded",
            "2 jobs",
            "my-org/platform",
            42,
        )
        assert pushed.payload == b'{"ref":"refs/heads/main","after":"c1"}'
        assert pushed.received_at == MADE_AT
        assert pushed.payload_pruned_at is None
        invalid = store.delivery("d-bad")
        assert invalid is not None and invalid.payload == bytes(range(256))
        # A redelivery of a delivery that already ran is still recognised.
        assert store.record_delivery("d-push-1", "push", None, b"{}", "queued")[1] is False

        jobs = {job.id: job for job in store.recent_jobs()}
        assert {n: (j.kind, j.status) for n, j in jobs.items()} == {
            1: ("delivery", "succeeded"),
            2: ("reconcile", "succeeded"),
            3: ("reconcile", "failed"),
            4: ("reconcile", "superseded"),
            5: ("reconcile", "running"),
            6: ("preview", "queued"),
            7: ("delivery", "queued"),
        }
        assert jobs[2].result == {"outcome": "opened", "pull_request": 7}
        assert jobs[3].error == "pipeline failed: exit 1"
        assert jobs[5].lease_until == MADE_AT + timedelta(seconds=66)

        assert store.repositories() == [
            RegisteredRepo("my-org/other", 43, "trunk", MADE_AT, None, None),
            RegisteredRepo(
                "my-org/platform",
                42,
                "main",
                MADE_AT,
                MADE_AT,
                '{"interval":3600,"outcome":"succeeded","retries":{"redis":"2026-10-01T09:05:00.250000+00:00"}}',
            ),
        ]
        assert store.take_due_retries("my-org/platform", clock()) == ["redis"]

        # The queue carries on: the crashed worker's job comes back first, ids keep growing,
        # and the delivery job for my-org/platform waits for the preview job it overlaps.
        requeued, preview, waiting = (store.claim("new-worker", 60) for _ in range(3))
        assert requeued is not None and (requeued.id, requeued.attempts) == (5, 2)
        assert preview is not None and preview.id == 6
        assert waiting is None
        assert store.complete(6, "new-worker", {})
        routed = store.claim("new-worker", 60)
        assert routed is not None and routed.id == 7
        assert store.enqueue("reconcile", "my-org/platform", None, "c3", {}).id == 8


def test_a_newer_revision_is_refused(url: str) -> None:
    Store(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    name = make_url(url).render_as_string(hide_password=True)
    expected = (
        f"{name} has work database schema revision 0099, which this gitbot does not know "
        "(it reads 0005): was it upgraded by a newer gitbot?"
    )
    with pytest.raises(UserError) as raised:
        Store(url)
    assert str(raised.value) == expected
    with Store(url, check_schema=False) as store, pytest.raises(UserError) as raised:
        store.upgrade()
    assert str(raised.value) == expected


def test_an_unknown_pre_migration_version_is_refused(old_url: str) -> None:
    engine = create_engine(old_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 2"))
    engine.dispose()
    with pytest.raises(UserError) as raised:
        Store(old_url)
    assert str(raised.value) == (
        f"{make_url(old_url).render_as_string(hide_password=True)} has work database schema "
        "version 2, which no gitbot release wrote; point gitbot at another database"
    )


class Clock:
    """A fixed clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
