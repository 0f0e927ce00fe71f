"""The work database, one fixture for both kinds: a SQLite file, or a fresh PostgreSQL database.

PostgreSQL is the server at GITBOT_TEST_POSTGRES_URL (a URL whose user may create databases),
else the one `scripts/postgres-up` starts: every store test runs on both, never skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from workdbs import fresh_postgres_database

ROOT = Path(__file__).resolve().parent.parent.parent
KINDS = ("sqlite", "postgresql")


def _postgres_url() -> str:
    url = os.environ.get("GITBOT_TEST_POSTGRES_URL")
    if url:
        return url
    started = subprocess.run(
        [str(ROOT / "scripts" / "postgres-up")], capture_output=True, text=True, timeout=600
    )
    if started.returncode != 0:
        raise RuntimeError(f"scripts/postgres-up failed:\n{started.stderr}")
    found = re.fullmatch(r"export GITBOT_TEST_POSTGRES_URL='(.*)'", started.stdout.strip())
    assert found, started.stdout
    os.environ["GITBOT_TEST_POSTGRES_URL"] = found[1]
    return found[1]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """A PostgreSQL server URL whose user may create databases."""
    return _postgres_url()


@pytest.fixture(params=KINDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty work database, once for each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'gitbot.db'}"
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_server")) as url:
        yield url
