"""`gitbot db current|upgrade|backup` end to end, and processes that find an older schema."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from workdbs import load_revision_0001

from gitbot.cli import main
from gitbot.statusdb import ObjectStatus, StatusStore
from gitbot.work.store import SharedStatusStore, Store

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    monkeypatch.setenv("GITBOT_DATA_DIR", str(data))
    monkeypatch.delenv("GITBOT_DATABASE_URL", raising=False)
    return data


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["db", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_current_then_upgrade_an_older_database(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{data_dir / 'gitbot.db'}"
    assert run(capsys, "current") == (
        0,
        f"{url} has no gitbot tables yet (`gitbot db upgrade` or gitbot serve adds them)\n",
        "",
    )
    load_revision_0001(url)
    assert run(capsys, "current") == (
        0,
        f"{url} is at revision 0001; this gitbot reads 0005: run `gitbot db upgrade`\n",
        "",
    )
    assert run(capsys, "upgrade") == (0, f"upgraded {url} from revision 0001 to 0005\n", "")
    assert run(capsys, "upgrade") == (0, f"{url} is already at revision 0005\n", "")
    assert run(capsys, "current") == (0, f"{url} is at revision 0005 (up to date)\n", "")


def test_a_server_finding_an_older_schema_refuses_to_start(data_dir: Path) -> None:
    load_revision_0001(f"sqlite:///{data_dir / 'gitbot.db'}")
    env = {**os.environ, "GITBOT_WEBHOOK_SECRET": "s3cret", "GITBOT_GITHUB_TOKEN": "t"}
    for command in ("web", "worker"):
        done = subprocess.run(
            [sys.executable, "-m", "gitbot", command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == (
            f"gitbot: error: sqlite:///{data_dir / 'gitbot.db'} has the work database schema of "
            "an older gitbot (revision 0001; this gitbot reads 0005): stop every gitbot process "
            "using it, back it up, and run `gitbot db upgrade`\n"
        )


def status(commit: str, hour: int) -> ObjectStatus:
    return ObjectStatus(
        status={"message": f"at {commit}"},
        outcome="succeeded",
        spec_hash="h",
        source_commit=commit,
        pipelines={"install": "Succeeded"},
        updated_at=datetime(2026, 11, 30, hour, tzinfo=UTC),
    )


def test_upgrade_copies_the_status_file_into_a_configured_database_keeping_the_newer(
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv("GITBOT_DATABASE_URL", url)
    with StatusStore(data_dir / "status.sqlite") as file:
        file.put("acme/source", "a/A//one", status("c1", 9))
        file.put("acme/source", "a/A//two", status("c1", 9))
        file.put("acme/other", "a/A//one", status("c1", 9))
    with Store(url) as store:  # another machine's worker already wrote a newer one
        SharedStatusStore(store).put("acme/source", "a/A//two", status("c2", 10))
    copied = f"object statuses from {data_dir / 'status.sqlite'} into {url}"
    assert run(capsys, "upgrade") == (
        0,
        f"{url} is already at revision 0005\n"
        f"copied 2 {copied} (1 kept: the database's were as new or newer)\n",
        "",
    )
    with Store(url) as store:
        shared = SharedStatusStore(store)
        assert shared.all("acme/source") == {
            "a/A//one": status("c1", 9),
            "a/A//two": status("c2", 10),
        }
        assert shared.all("acme/other") == {"a/A//one": status("c1", 9)}
    assert run(capsys, "upgrade")[1].endswith(
        f"copied 0 {copied} (3 kept: the database's were as new or newer)\n"
    )


def test_backup_copies_the_work_database_and_the_status_store(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(f"sqlite:///{data_dir / 'gitbot.db'}") as store:
        store.register_repository("my-org/platform", 42)
    StatusStore(data_dir / "status.sqlite").close()
    target = tmp_path / "backups" / "gitbot.db"
    assert run(capsys, "backup", str(target)) == (
        0,
        f"backed up sqlite:///{data_dir / 'gitbot.db'} to {target}\n"
        f"backed up {data_dir / 'status.sqlite'} to {target}.status\n",
        "",
    )
    with Store(f"sqlite:///{target}") as copy:
        assert [repo.full_name for repo in copy.repositories()] == ["my-org/platform"]
    conn = sqlite3.connect(f"{target}.status")
    try:
        assert conn.execute("SELECT count(*) FROM object_status").fetchone() == (0,)
    finally:
        conn.close()


def test_backup_of_an_unreadable_database_is_a_clear_error(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir.mkdir()
    (data_dir / "gitbot.db").mkdir()  # not a file
    assert run(capsys, "backup", str(tmp_path / "b.db")) == (
        3,
        "",
        f"gitbot: error: database sqlite:///{data_dir / 'gitbot.db'}: unable to open database "
        "file\n",
    )
    assert not (tmp_path / "b.db").exists()


@pytest.mark.parametrize("action", ["current", "upgrade", "backup"])
def test_each_db_action_help_has_description_examples_and_environment(
    action: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["db", action, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: gitbot db {action}")
    description = text.split("\n\n")[1]
    assert len(description) > 60, text  # says what it does, not only argparse's boilerplate
    examples = text.partition("\nExamples:\n")[2].partition("\nEnvironment variables:\n")
    assert len([line for line in examples[0].splitlines() if "gitbot db " in line]) >= 2, text
    assert "  GITBOT_DATABASE_URL  " in examples[2] and "  GITBOT_DATA_DIR  " in examples[2]
