"""The work database's schema history, as Alembic migrations, and the calls that apply them.

Revisions are numbered `0001`, `0002`, ... in `versions/`; `0001` is the schema gitbot created
before it had migrations, which marked itself with a `schema_version` table holding 1 and no
`alembic_version` table. Such a database is read as revision `0001`, so `upgrade` starts there.
Every upgrade runs in the caller's transaction: on SQLite and PostgreSQL (both have transactional
DDL) it applies completely or not at all.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from gitbot.errors import UserError

HERE = Path(__file__).resolve().parent
BASELINE = "0001"  # the schema written before migrations, marked by schema_version = 1
_LEGACY_TABLE = "schema_version"
_VERSION_TABLE = "alembic_version"
WORK_TABLES = frozenset({"deliveries", "jobs", "repositories"})  # in every revision


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = conn
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head() -> str:
    """The revision this gitbot writes and reads."""
    revision = _scripts().get_current_head()
    assert revision is not None
    return revision


def revisions() -> list[str]:
    """Every known revision, oldest first."""
    return [script.revision for script in reversed(list(_scripts().walk_revisions()))]


def current(conn: Connection, name: str) -> str | None:
    """The database's revision; None for a database without gitbot's tables.

    Raises UserError for a database that holds some of gitbot's tables but is not a gitbot work
    database (`name` names it in the message).
    """
    tables = set(inspect(conn).get_table_names())
    if _VERSION_TABLE in tables:
        # Read directly: Alembic's MigrationContext logs a line at every process start.
        revision = conn.execute(text(f"SELECT max(version_num) FROM {_VERSION_TABLE}")).scalar()
        if revision is not None:
            return str(revision)
    present = WORK_TABLES & tables
    if not present:
        return None
    if present != WORK_TABLES or _LEGACY_TABLE not in tables:
        found = ", ".join(sorted(present | (tables & {_LEGACY_TABLE})))
        raise UserError(
            f"{name} is not a gitbot work database (it has the tables {found} but not "
            f"{', '.join(sorted((WORK_TABLES | {_LEGACY_TABLE}) - tables))}); "
            "point gitbot at another database"
        )
    version = conn.execute(text(f"SELECT max(version) FROM {_LEGACY_TABLE}")).scalar()
    if version != 1:
        raise UserError(
            f"{name} has work database schema version {version}, which no gitbot release "
            "wrote; point gitbot at another database"
        )
    return BASELINE


def upgrade(conn: Connection, name: str) -> tuple[str | None, str]:
    """Bring the database to the head revision in the caller's transaction: (from, to).

    A pre-migration database (see BASELINE) is stamped first, then upgraded like any other.
    Raises UserError for a revision this gitbot does not know (a newer gitbot's).
    """
    before = current(conn, name)
    check_known(before, name)
    config = _config(conn)
    if before == BASELINE and _VERSION_TABLE not in inspect(conn).get_table_names():
        command.stamp(config, BASELINE)
    command.upgrade(config, "head")
    return before, head()


def check_known(revision: str | None, name: str) -> None:
    """Raise UserError for a revision that is not in this gitbot's history."""
    if revision is not None and revision not in revisions():
        raise UserError(
            f"{name} has work database schema revision {revision}, which this gitbot does not "
            f"know (it reads {head()}): was it upgraded by a newer gitbot?"
        )
