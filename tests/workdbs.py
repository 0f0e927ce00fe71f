"""Work databases for tests: fresh PostgreSQL databases, and databases older gitbots wrote."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DUMPS = Path(__file__).resolve().parent / "data" / "work-db-0001"


@contextmanager
def fresh_postgres_database(server: str) -> Iterator[str]:
    """A new, empty database on the server (dropped afterwards): its URL."""
    name = f"gitbot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield make_url(server).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    finally:
        admin.dispose()


def load_revision_0001(url: str) -> None:
    """Fill an empty database with the rows the pre-migration gitbot wrote (revision 0001)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(parsed.database)
        try:
            conn.executescript((DUMPS / "sqlite.sql").read_text())
        finally:
            conn.close()
        return
    engine = create_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute((DUMPS / "postgresql.sql").read_text())  # no parameters: many statements
            cursor.close()
            raw.commit()
        finally:
            raw.close()
    finally:
        engine.dispose()
