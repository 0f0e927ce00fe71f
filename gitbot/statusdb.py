"""Each object's Kratix status between runs: what a status store does (`ObjectStatuses`), and
the SQLite file under the data directory that keeps it for one machine (`StatusStore`).

With a shared work database (`GITBOT_DATABASE_URL`), workers on several machines keep statuses
there instead (`gitbot.work.store.SharedStatusStore`), so that a job handed to another machine
sees what the first one wrote.

In the SQLite file every thread gets its own connection (WAL mode lets readers run beside the
one writer), every write is one short transaction, and the file is marked with an application
id and a schema version so that a foreign file is refused and later versions can migrate.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from gitbot.errors import ExternalError, UserError

# "deleted": its delete workflow ran through, and its files may still be on the base branch
OUTCOMES = ("succeeded", "failed", "suspended", "paused", "deleted")
STATUS_FILE = "status.sqlite"  # the SQLite status store's name in the data directory
SCHEMA_VERSION = 2
APPLICATION_ID = int.from_bytes(b"gbst", "big")  # marks the file as a gitbot status store
TIMEOUT_SECONDS = 10.0

_SCHEMA = (
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE object_status (
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        status TEXT NOT NULL,
        outcome TEXT NOT NULL,
        spec_hash TEXT NOT NULL,
        source_commit TEXT NOT NULL,
        pipelines TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (source, key)
    ) WITHOUT ROWID""",
)
_COLUMNS = "status, outcome, spec_hash, source_commit, pipelines, updated_at, state"


@dataclass(frozen=True)
class ObjectStatus:
    """An object's status after its last run, fed into the next run's `object.yaml`."""

    status: Mapping[str, Any]  # the object's .status: message, conditions, status.yaml keys
    outcome: str  # one of OUTCOMES
    spec_hash: str
    source_commit: str
    pipelines: Mapping[str, str]  # pipeline name -> Succeeded, Failed, Suspended or Pending
    updated_at: datetime  # UTC
    # The state repository the run wrote for ("": unknown, a status from before gitbot kept it):
    # an object's delete workflow runs for its status alone only in that state repository.
    state: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}: {self.outcome!r}")
        if self.updated_at.utcoffset() is None:
            raise ValueError("updated_at must be timezone-aware")


class ObjectStatuses(Protocol):
    """Object statuses by (source repository, object key); safe to share between threads.

    `source` names the source repository (`owner/name` or a URL), `key` the object
    (`group/kind/namespace/name`). Errors: ExternalError when the store is busy or unreachable
    (worth retrying), UserError when it is unusable.
    """

    def get(self, source: str, key: str) -> ObjectStatus | None:
        """The stored status of one object, or None if there is none."""
        ...

    def put(self, source: str, key: str, status: ObjectStatus) -> None:
        """Store (or replace) one object's status."""
        ...

    def forget(self, source: str, key: str) -> None:
        """Drop one object's status (no error if there is none)."""
        ...

    def all(self, source: str) -> dict[str, ObjectStatus]:
        """Every stored status of one source repository, by object key."""
        ...

    def promise_keys(self) -> dict[str, list[str]]:
        """The keys of every stored Promise's status, by source repository."""
        ...


class StatusStore:
    """Object statuses by (source repository, object key) in one SQLite file (`ObjectStatuses`);
    safe to share between threads."""

    def __init__(self, path: Path, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the directory of {path}: {exc.strerror}") from exc
        try:
            with self._errors():
                self._setup(self._connection())
        except BaseException:
            self.close()
            raise

    def get(self, source: str, key: str) -> ObjectStatus | None:
        """The stored status of one object, or None if there is none."""
        with self._errors():
            row = (
                self._connection()
                .execute(
                    f"SELECT {_COLUMNS} FROM object_status WHERE source = ? AND key = ?",
                    (source, key),
                )
                .fetchone()
            )
        return None if row is None else _from_row(row)

    def put(self, source: str, key: str, status: ObjectStatus) -> None:
        """Store (or replace) one object's status."""
        values = (
            source,
            key,
            to_json(status.status),
            status.outcome,
            status.spec_hash,
            status.source_commit,
            to_json(status.pipelines),
            status.updated_at.astimezone(UTC).isoformat(),
            status.state,
        )
        with self._errors():
            self._connection().execute(
                f"INSERT OR REPLACE INTO object_status (source, key, {_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

    def forget(self, source: str, key: str) -> None:
        """Drop one object's status (no error if there is none)."""
        with self._errors():
            self._connection().execute(
                "DELETE FROM object_status WHERE source = ? AND key = ?", (source, key)
            )

    def all(self, source: str) -> dict[str, ObjectStatus]:
        """Every stored status of one source repository, by object key."""
        with self._errors():
            rows = (
                self._connection()
                .execute(
                    f"SELECT key, {_COLUMNS} FROM object_status WHERE source = ? ORDER BY key",
                    (source,),
                )
                .fetchall()
            )
        return {row[0]: _from_row(row[1:]) for row in rows}

    def every(self) -> Iterator[tuple[str, str, ObjectStatus]]:
        """Every stored status as (source, key, status), by source and key: for copying the
        file into a shared database."""
        with self._errors():
            rows = (
                self._connection()
                .execute(f"SELECT source, key, {_COLUMNS} FROM object_status ORDER BY source, key")
                .fetchall()
            )
        for row in rows:
            yield row[0], row[1], _from_row(row[2:])

    def promise_keys(self) -> dict[str, list[str]]:
        """The keys of every stored Promise's status (`platform.kratix.io/...`), by source
        repository: which Promises each source has, without decoding any status."""
        with self._errors():
            rows = (
                self._connection()
                .execute(
                    "SELECT source, key FROM object_status WHERE key LIKE 'platform.kratix.io/%'"
                )
                .fetchall()
            )
        found: dict[str, list[str]] = {}
        for source, key in rows:
            found.setdefault(source, []).append(key)
        return found

    def close(self) -> None:
        """Close every thread's connection; the store cannot be used afterwards."""
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()

    def __enter__(self) -> StatusStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- connections -------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and not self._closed:
            return connection
        with self._lock:
            if self._closed:
                raise RuntimeError(f"status store {self.path} is closed")
            # Autocommit: each statement is its own short transaction unless BEGIN is issued.
            # check_same_thread=False only so close() can close other threads' connections.
            connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            self._connections.append(connection)
        self._local.connection = connection
        connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, fewer fsyncs
        return connection

    def _setup(self, connection: sqlite3.Connection) -> None:
        """Create the schema in a new file; refuse a foreign or newer one."""
        connection.execute("BEGIN IMMEDIATE")  # one process at a time decides and creates
        try:
            app_id = connection.execute("PRAGMA application_id").fetchone()[0]
            tables = {
                row[0]
                for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%'"
                )
            }
            if app_id == 0 and not tables:
                for statement in _SCHEMA:
                    connection.execute(statement)
                connection.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
                connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            else:
                self._check_schema(connection, app_id, tables)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def _check_schema(self, connection: sqlite3.Connection, app_id: int, tables: set[str]) -> None:
        if app_id != APPLICATION_ID or "schema_version" not in tables:
            found = ", ".join(sorted(tables)) or "none"
            raise UserError(
                f"{self.path} is not a gitbot status database (tables: {found}); "
                "move it away or point gitbot at another data directory"
            )
        version = connection.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        if version == 1:
            # Version 2 keeps the state repository each status was written for; older rows
            # name none ("": unknown).
            connection.execute(
                "ALTER TABLE object_status ADD COLUMN state TEXT NOT NULL DEFAULT ''"
            )
            connection.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            version = SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise UserError(
                f"{self.path} has status database schema version {version}; this gitbot "
                f"reads version {SCHEMA_VERSION} (was it written by a newer gitbot?)"
            )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite errors as gitbot errors naming the file."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise ExternalError(f"status database {self.path}: {text}") from exc
            raise UserError(f"cannot use status database {self.path}: {text}") from exc
        except sqlite3.DatabaseError as exc:
            raise UserError(
                f"status database {self.path} is unreadable: {exc} "
                "(move it away and gitbot starts a new one)"
            ) from exc


def to_json(value: Mapping[str, Any]) -> str:
    """A status (or pipeline phases) as compact JSON with sorted keys, as every store keeps it."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _from_row(row: tuple[Any, ...]) -> ObjectStatus:
    status, outcome, spec_hash, source_commit, pipelines, updated_at, state = row
    return ObjectStatus(
        status=json.loads(status),
        outcome=outcome,
        spec_hash=spec_hash,
        source_commit=source_commit,
        pipelines=json.loads(pipelines),
        updated_at=datetime.fromisoformat(updated_at).astimezone(UTC),
        state=state,
    )
