"""Where the long-running parts keep each object's Kratix status: the shared work database when
GITBOT_DATABASE_URL names one, else the SQLite status file in the data directory."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from gitbot.runtime import object_statuses
from gitbot.secrets import Secret
from gitbot.settings import database_url, load_settings
from gitbot.statusdb import ObjectStatus, StatusStore
from gitbot.web.app import WebConfig
from gitbot.work.store import SharedStatusStore, Store

SOURCE = "acme/platform-source"
KEY = "platform.kratix.io/Promise//postgres"
STATUS = ObjectStatus(
    status={"message": "installed"},
    outcome="succeeded",
    spec_hash="h",
    source_commit="c1",
    pipelines={"install-operator": "Succeeded"},
    updated_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
)


def test_with_a_database_url_statuses_live_in_the_work_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared' / 'gitbot.db'}"
    env = {"GITBOT_DATA_DIR": str(tmp_path / "data"), "GITBOT_DATABASE_URL": url}
    settings = load_settings(env)
    with Store(url) as store:
        statuses = object_statuses(settings, store)
        assert isinstance(statuses, SharedStatusStore)
        statuses.put(SOURCE, KEY, STATUS)
        # What the console shows is what the workers wrote.
        config = WebConfig(Secret("s"), store, statuses=SharedStatusStore(store))
        shown = config.status()
        assert shown is not None and shown.get(SOURCE, KEY) == STATUS
    with Store(url) as other:  # another process, another machine
        assert SharedStatusStore(other).get(SOURCE, KEY) == STATUS
    assert not (tmp_path / "data" / "status.sqlite").exists()


def test_without_a_database_url_statuses_stay_in_the_data_directory(tmp_path: Path) -> None:
    settings = load_settings({"GITBOT_DATA_DIR": str(tmp_path / "data")})
    with Store(database_url(settings)) as store:
        statuses = object_statuses(settings, store)
        assert isinstance(statuses, StatusStore)
        assert statuses.path == tmp_path / "data" / "status.sqlite"
        statuses.put(SOURCE, KEY, STATUS)
        statuses.close()
        assert SharedStatusStore(store).get(SOURCE, KEY) is None
    with StatusStore(tmp_path / "data" / "status.sqlite") as reopened:
        assert reopened.get(SOURCE, KEY) == STATUS
