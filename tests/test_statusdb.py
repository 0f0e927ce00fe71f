"""The SQLite status store: round trips, persistence, threads, and refusing foreign files."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gitbot.errors import ExternalError, UserError
from gitbot.statusdb import APPLICATION_ID, ObjectStatus, StatusStore

SOURCE = "my-org/platform"
WHEN = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def status(outcome: str = "succeeded", commit: str = "abc123", **extra: object) -> ObjectStatus:
    return ObjectStatus(
        status={
            "message": "Resource requested",
            "conditions": [{"type": "ConfigureWorkflowCompleted", "status": "True"}],
            **extra,
        },
        outcome=outcome,
        spec_hash="hash-1",
        source_commit=commit,
        pipelines={"instance-configure": "Succeeded", "second": "Pending"},
        updated_at=WHEN,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "status.sqlite"


@pytest.fixture
def store(db_path: Path) -> Iterator[StatusStore]:
    with StatusStore(db_path) as opened:
        yield opened


def test_round_trip(store: StatusStore) -> None:
    stored = status(endpoint="redis://x", nested={"b": [1, 2.5, None, True], "a": "é"})
    store.put(SOURCE, "Promise/redis", stored)
    assert store.get(SOURCE, "Promise/redis") == stored


def test_missing_is_none(store: StatusStore) -> None:
    assert store.get(SOURCE, "Promise/none") is None
    assert store.all(SOURCE) == {}


def test_overwrite(store: StatusStore) -> None:
    store.put(SOURCE, "redis/default/cache", status())
    newer = status("failed", commit="def456")
    store.put(SOURCE, "redis/default/cache", newer)
    assert store.get(SOURCE, "redis/default/cache") == newer
    assert len(store.all(SOURCE)) == 1


def test_forget(store: StatusStore) -> None:
    store.put(SOURCE, "a", status())
    store.put(SOURCE, "b", status())
    store.forget(SOURCE, "a")
    store.forget(SOURCE, "never-stored")
    assert store.get(SOURCE, "a") is None
    assert list(store.all(SOURCE)) == ["b"]


def test_all_is_per_source(store: StatusStore) -> None:
    store.put(SOURCE, "postgres/shop/orders", status())
    store.put(SOURCE, "Promise/postgres", status("paused"))
    store.put("other/repo", "Promise/postgres", status("suspended"))
    assert store.all(SOURCE) == {
        "Promise/postgres": status("paused"),
        "postgres/shop/orders": status(),
    }
    assert store.all("other/repo") == {"Promise/postgres": status("suspended")}
    store.forget("other/repo", "Promise/postgres")
    assert store.get(SOURCE, "Promise/postgres") == status("paused")


def test_promise_keys_lists_each_sources_promises_only(store: StatusStore) -> None:
    store.put("acme/a", "platform.kratix.io/Promise//redis", status())
    store.put("acme/a", "example.org/Redis/default/cache", status())
    store.put("acme/b", "platform.kratix.io/Promise//pg", status())
    assert store.promise_keys() == {
        "acme/a": ["platform.kratix.io/Promise//redis"],
        "acme/b": ["platform.kratix.io/Promise//pg"],
    }


def test_updated_at_comes_back_in_utc(store: StatusStore) -> None:
    local = WHEN.astimezone(timezone(timedelta(hours=2)))
    stored = ObjectStatus({}, "succeeded", "h", "c", {}, local)
    store.put(SOURCE, "k", stored)
    loaded = store.get(SOURCE, "k")
    assert loaded is not None
    assert loaded.updated_at == WHEN
    assert loaded.updated_at.tzinfo == UTC


def test_status_is_json_with_sorted_keys(store: StatusStore, db_path: Path) -> None:
    store.put(SOURCE, "k", status(zeta=1, alpha=2))
    with sqlite3.connect(db_path) as raw:
        (text,) = raw.execute("SELECT status FROM object_status").fetchone()
    raw.close()
    assert text.index('"alpha"') < text.index('"conditions"') < text.index('"zeta"')


def test_persists_across_reopen(db_path: Path) -> None:
    with StatusStore(db_path) as first:
        first.put(SOURCE, "Promise/redis", status())
    with StatusStore(db_path) as second:
        assert second.all(SOURCE) == {"Promise/redis": status()}


def test_wal_mode_and_schema_version(store: StatusStore, db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(2,)]
    finally:
        raw.close()


def test_concurrent_puts_from_eight_threads(store: StatusStore) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(25):
                store.put(SOURCE, f"t{n}/o{i}", status(commit=f"c{n}-{i}"))
                store.put(SOURCE, "shared", status(commit=f"c{n}-{i}"))
                assert store.get(SOURCE, f"t{n}/o{i}") == status(commit=f"c{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    stored = store.all(SOURCE)
    assert len(stored) == 8 * 25 + 1
    assert stored["t3/o7"].source_commit == "c3-7"


def test_two_stores_on_one_file(db_path: Path) -> None:
    with StatusStore(db_path) as a, StatusStore(db_path) as b:
        a.put(SOURCE, "k", status())
        assert b.get(SOURCE, "k") == status()


def test_closed_store_refuses_use(db_path: Path) -> None:
    store = StatusStore(db_path)
    store.close()
    with pytest.raises(RuntimeError, match="is closed"):
        store.get(SOURCE, "k")


def test_corrupt_file(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database\n" * 200)
    with pytest.raises(UserError) as info:
        StatusStore(db_path)
    assert str(info.value) == (
        f"status database {db_path} is unreadable: file is not a database "
        "(move it away and gitbot starts a new one)"
    )


def test_damaged_pages(db_path: Path) -> None:
    with StatusStore(db_path) as store:
        for i in range(200):
            store.put(SOURCE, f"k{i}", status(padding="x" * 500))
    raw = sqlite3.connect(db_path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    data = bytearray(db_path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[page_size:] = b"\xff" * (len(data) - page_size)  # keep the header, wreck every page
    db_path.write_bytes(bytes(data))
    with pytest.raises(UserError) as info:
        StatusStore(db_path)
    assert str(info.value).startswith(f"status database {db_path} is unreadable: ")


def test_foreign_database(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE deliveries (id TEXT)")
    raw.commit()
    raw.close()
    with pytest.raises(UserError) as info:
        StatusStore(db_path)
    assert str(info.value) == (
        f"{db_path} is not a gitbot status database (tables: deliveries); "
        "move it away or point gitbot at another data directory"
    )


def test_newer_schema_version(db_path: Path) -> None:
    StatusStore(db_path).close()
    raw = sqlite3.connect(db_path)
    raw.execute("UPDATE schema_version SET version = 7")
    raw.commit()
    raw.close()
    with pytest.raises(UserError) as info:
        StatusStore(db_path)
    assert str(info.value) == (
        f"{db_path} has status database schema version 7; this gitbot reads version 2 "
        "(was it written by a newer gitbot?)"
    )


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(UserError) as info:
        StatusStore(tmp_path)
    assert str(info.value) == f"cannot use status database {tmp_path}: unable to open database file"


def test_locked_database_is_an_external_error(store: StatusStore, db_path: Path) -> None:
    raw = sqlite3.connect(db_path, isolation_level=None)
    other = StatusStore(db_path, timeout=0.05)
    try:
        raw.execute("BEGIN EXCLUSIVE")
        with pytest.raises(ExternalError) as info:
            other.put(SOURCE, "k", status())
        assert str(info.value) == f"status database {db_path}: database is locked"
        raw.execute("ROLLBACK")
        other.put(SOURCE, "k", status())
        assert store.get(SOURCE, "k") == status()
    finally:
        other.close()
        raw.close()


def test_data_directory_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError) as info:
        StatusStore(tmp_path / "file" / "data" / "status.sqlite")
    assert str(info.value).startswith(f"cannot create the directory of {tmp_path}/file/data/")


@pytest.mark.parametrize(
    ("outcome", "when", "message"),
    [
        (
            "done",
            WHEN,
            "outcome must be one of succeeded, failed, suspended, paused, deleted: 'done'",
        ),
        ("failed", datetime(2024, 1, 1), "updated_at must be timezone-aware"),
    ],
)
def test_object_status_checks(outcome: str, when: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ObjectStatus({}, outcome, "h", "c", {}, when)


def test_the_state_repository_round_trips(store: StatusStore) -> None:
    written = replace(status(), state="my-org/state")
    store.put(SOURCE, "k", written)
    assert store.get(SOURCE, "k") == written
    assert store.all(SOURCE)["k"].state == "my-org/state"


def test_a_version_1_file_is_upgraded_its_rows_naming_no_state(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    raw.execute(
        "CREATE TABLE object_status (source TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT "
        "NULL, outcome TEXT NOT NULL, spec_hash TEXT NOT NULL, source_commit TEXT NOT NULL, "
        "pipelines TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (source, key)) "
        "WITHOUT ROWID"
    )
    raw.execute("INSERT INTO schema_version VALUES (1)")
    raw.execute(
        "INSERT INTO object_status VALUES (?, 'k', '{}', 'succeeded', 'h', 'c', '{}', ?)",
        (SOURCE, WHEN.isoformat()),
    )
    raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    raw.commit()
    raw.close()
    with StatusStore(db_path) as store:
        assert store.get(SOURCE, "k") == ObjectStatus({}, "succeeded", "h", "c", {}, WHEN)
    with StatusStore(db_path) as again:  # upgraded once
        assert again.get(SOURCE, "k") is not None
