"""`gitbot db current`, `gitbot db upgrade`, `gitbot db backup FILE`: the work database's upkeep."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gitbot.errors import EXIT_OK
from gitbot.settings import Settings, database_url, load_settings

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) loads only when `gitbot db` runs
    from gitbot.work.store import Store

STATUS_FILE = "status.sqlite"  # the object status store in the data directory (gitbot.statusdb)


def add_arguments(db: argparse.ArgumentParser) -> None:
    """The `db` subcommand's actions (gitbot.cli makes the subcommand itself)."""
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    actions.add_parser("current", help="print the database's schema revision")
    actions.add_parser("upgrade", help="migrate the database to this gitbot's schema")
    backup = actions.add_parser(
        "backup", help="copy a SQLite work database (and the status store) while gitbot runs"
    )
    backup.add_argument("file", type=Path, metavar="FILE")


def db_command(args: argparse.Namespace, out: TextIO) -> int:
    """Run one `gitbot db` action against GITBOT_DATABASE_URL (or the data directory's SQLite)."""
    from gitbot.work.store import Store

    settings = load_settings()
    with Store(database_url(settings), check_schema=False) as store:
        if args.db_command == "current":
            out.write(_describe(store.schema_revision(), store.name) + "\n")
        elif args.db_command == "upgrade":
            before, after = store.upgrade()
            if before == after:
                out.write(f"{store.name} is already at revision {after}\n")
            else:
                out.write(f"upgraded {store.name} from revision {before or '(empty)'} to {after}\n")
        else:
            _backup(store, settings, args.file, out)
    return EXIT_OK


def _describe(revision: str | None, name: str) -> str:
    from gitbot.work import migrations

    head = migrations.head()
    if revision is None:
        return f"{name} has no gitbot tables yet (`gitbot db upgrade` or gitbot serve adds them)"
    if revision == head:
        return f"{name} is at revision {revision} (up to date)"
    migrations.check_known(revision, name)
    return f"{name} is at revision {revision}; this gitbot reads {head}: run `gitbot db upgrade`"


def _backup(store: Store, settings: Settings, target: Path, out: TextIO) -> None:
    from gitbot.work.store import sqlite_backup

    store.backup(target)
    out.write(f"backed up {store.name} to {target}\n")
    status = settings.data_dir / STATUS_FILE
    if status.is_file():
        # Object statuses (the next run's object.yaml, where suspended workflows resume).
        copy = status_backup_path(target)
        sqlite_backup(status, copy)
        out.write(f"backed up {status} to {copy}\n")


def status_backup_path(target: Path) -> Path:
    """Where `gitbot db backup FILE` puts the status store's copy: FILE.status."""
    return target.with_name(f"{target.name}.status")
