"""`gitbot validate` as a pre-commit hook, run by the real `pre-commit` in a real git repo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from gitfixtures import commit_all, git, init_source, write

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(sys.executable).parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"


def pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(repo.parent / "pre-commit-home")}
    return subprocess.run(
        [str(BIN / "pre-commit"), *args],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_the_hook_manifest_is_valid_for_pre_commit() -> None:
    result = pre_commit(ROOT, "validate-manifest", str(MANIFEST))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_the_hook_blocks_a_commit_with_a_broken_request(tmp_path: Path) -> None:
    """Our hook as written, except that it runs this environment's gitbot instead of one
    pre-commit would install from the repository (`language: python`, ~1 min per fresh
    environment)."""
    [hook] = yaml.safe_load(MANIFEST.read_text())
    hook = {**hook, "language": "system", "entry": f"{BIN / 'gitbot'} validate"}
    repo = init_source(tmp_path / "platform")
    config = {"repos": [{"repo": "local", "hooks": [hook]}]}
    write(repo, {".pre-commit-config.yaml": yaml.safe_dump(config)})
    commit_all(repo, "pre-commit")
    request = repo / "promises/postgres/resource-request.yaml"
    # Only the request changes: the hook still checks it against its Promise's schema.
    write(repo, {str(request): request.read_text().replace("size: large", "size: 12")})
    git(repo, "add", "-A")
    result = pre_commit(repo, "run")
    assert result.returncode == 1, result.stdout
    assert "gitbot validate" in result.stdout
    assert "Failed" in result.stdout
    assert (
        "promises/postgres/resource-request.yaml:7: spec.size: expected a string, got an integer"
    ) in result.stdout
    assert "1 problem(s) found" in result.stdout
    write(repo, {str(request): request.read_text().replace("size: 12", "size: small")})
    git(repo, "add", "-A")
    result = pre_commit(repo, "run")
    assert result.returncode == 0, result.stdout
    assert "Passed" in result.stdout
