"""`gitbot db current`, `gitbot db upgrade`, `gitbot db backup FILE`: the work database's upkeep."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gitbot.errors import EXIT_OK
from gitbot.settings import Settings, database_url, load_settings
from gitbot.statusdb import STATUS_FILE

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) loads only when `gitbot db` runs
    from gitbot.work.store import Store


# Each action's --help in the style of the other commands': what it does, examples, environment.
_ACTIONS: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    (
        "current",
        "print the database's schema revision",
        "Print the work database's schema revision, and whether this gitbot reads it or it\n"
        "needs `gitbot db upgrade` first. Reads only; safe while gitbot runs.",
        (
            ("The database in the data directory", "gitbot db current"),
            (
                "A PostgreSQL database",
                "GITBOT_DATABASE_URL=postgresql://gitbot@db/gitbot gitbot db current",
            ),
        ),
    ),
    (
        "upgrade",
        "migrate the database to this gitbot's schema",
        "Migrate the work database to this gitbot's schema (Alembic migrations, in order).\n"
        "Run it before starting a new gitbot: a process that finds an older schema refuses to\n"
        "start. Says so and changes nothing when the schema is already current. With\n"
        "GITBOT_DATABASE_URL, the object statuses of the data directory's status.sqlite (where\n"
        "gitbot kept them before) are copied into the database, the newer of each kept: run\n"
        "it on each worker machine.",
        (
            ("Migrate the database in the data directory", "gitbot db upgrade"),
            (
                "Migrate a PostgreSQL database",
                "GITBOT_DATABASE_URL=postgresql://gitbot@db/gitbot gitbot db upgrade",
            ),
        ),
    ),
    (
        "backup",
        "copy a SQLite work database (and the status store) while gitbot runs",
        "Copy a SQLite work database to FILE with SQLite's online backup, consistent while\n"
        "gitbot runs, and the object status store beside it as FILE.status.",
        (
            ("Back up to a file", "gitbot db backup /backups/gitbot.db"),
            (
                "Back up another data directory's database",
                "GITBOT_DATA_DIR=/srv/gitbot gitbot db backup /backups/gitbot.db",
            ),
        ),
    ),
)
_ENVIRONMENT = ("GITBOT_DATABASE_URL", "GITBOT_DATA_DIR")


def add_arguments(db: argparse.ArgumentParser) -> None:
    """The `db` subcommand's actions (gitbot.cli makes the subcommand itself)."""
    from gitbot.cli import ENVIRONMENT  # loaded already: it is what calls this

    width = max(len(name) for name in _ENVIRONMENT)
    environment = [f"  {name:<{width}}  {ENVIRONMENT[name]}" for name in _ENVIRONMENT]
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, summary, description, examples in _ACTIONS:
        lines = ["Examples:"]
        for comment, line in examples:
            lines += [f"  # {comment}", f"  {line}", ""]
        action = actions.add_parser(
            name,
            help=summary,
            description=description,
            epilog="\n".join([*lines, "Environment variables:", *environment]),
            usage=f"gitbot db {name}{' FILE' if name == 'backup' else ''} [options]",
            formatter_class=db.formatter_class,
        )
        action._positionals.title = "Arguments"
        action._optionals.title = "Options"
        if name == "backup":
            action.add_argument("file", type=Path, metavar="FILE", help="where the copy goes")


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
            if settings.database_url:
                _copy_statuses(store, settings.data_dir / STATUS_FILE, out)
        else:
            _backup(store, settings, args.file, out)
    return EXIT_OK


def _copy_statuses(store: Store, path: Path, out: TextIO) -> None:
    """Copy the object statuses of a status file into the work database; of two statuses of
    one object, the newer is kept (each worker machine had its own file)."""
    if not path.is_file():
        return
    from gitbot.statusdb import StatusStore
    from gitbot.work.store import SharedStatusStore

    shared = SharedStatusStore(store)
    copied = kept = 0
    with StatusStore(path) as old:
        for source, key, status in old.every():
            stored = shared.get(source, key)
            if stored is not None and stored.updated_at >= status.updated_at:
                kept += 1
                continue
            shared.put(source, key, status)
            copied += 1
    newer = f" ({kept} kept: the database's were as new or newer)" if kept else ""
    out.write(f"copied {copied} object statuses from {path} into {store.name}{newer}\n")


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
