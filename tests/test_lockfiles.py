"""The lock files pin every dependency pyproject.toml names, so nothing installs unpinned."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==\S+ \\$", re.MULTILINE)


def _name(requirement: str) -> str:
    """A requirement's project name, normalised as PyPI does (PEP 503)."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found[0]).lower()


def _pinned(lock: str) -> set[str]:
    text = (ROOT / lock).read_text()
    return {re.sub(r"[-_.]+", "-", name).lower() for name in PIN.findall(text)}


def _project() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"": project["dependencies"], **project["optional-dependencies"]}


@pytest.mark.parametrize(
    ("lock", "groups"),
    [("requirements.lock", ("", "postgres")), ("requirements-dev.lock", ("", "postgres", "dev"))],
)
def test_every_dependency_is_pinned_with_a_hash(lock: str, groups: tuple[str, ...]) -> None:
    wanted = {_name(r) for group in groups for r in _project()[group]}
    missing = wanted - _pinned(lock)
    assert not missing, f"{lock} lacks {sorted(missing)}: run scripts/lock"
    text = (ROOT / lock).read_text()
    # Every pin carries at least one hash (pip then installs in hash-checking mode).
    assert text.count("==") == len(PIN.findall(text)) > 0
    assert "--hash=sha256:" in text


def test_the_lock_files_name_no_local_path() -> None:
    for lock in ("requirements.lock", "requirements-dev.lock"):
        assert "file://" not in (ROOT / lock).read_text()
