"""Settings from the environment: the delivery retention."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitbot.errors import UserError
from gitbot.settings import load_settings


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("", 30 * 86400.0), ("7d", 7 * 86400.0), ("36h", 36 * 3600.0), ("1h", 3600.0)],
)
def test_delivery_retention(raw: str, seconds: float) -> None:
    settings = load_settings({"GITBOT_DELIVERY_RETENTION": raw})
    assert settings.delivery_retention == seconds


@pytest.mark.parametrize("raw", ["59m", "0", "0d", "soon"])
def test_a_bad_delivery_retention_is_refused(raw: str) -> None:
    with pytest.raises(UserError) as raised:
        load_settings({"GITBOT_DELIVERY_RETENTION": raw})
    assert str(raised.value).startswith(f"invalid settings:\n  GITBOT_DELIVERY_RETENTION={raw!r}: ")


def test_a_relative_data_dir_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git runs in other folders (a source's clone), where a relative path means another place.
    monkeypatch.chdir(tmp_path)
    settings = load_settings({"GITBOT_DATA_DIR": "data"})
    assert settings.data_dir == tmp_path / "data"
