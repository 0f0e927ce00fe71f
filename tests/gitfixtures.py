"""Real git repositories for tests: a source repo to commit to, a bare state remote to read."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
    "PATH": "/usr/bin:/bin:/usr/local/bin",
}


def git(repo: Path, *args: str) -> str:
    """Run git in repo; its stdout (stripped)."""
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env=ENV, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def init_source(path: Path, with_examples: bool = True) -> Path:
    """A source repository holding the example Promises, requests and Destinations."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    if with_examples:
        for name in ("app-namespace", "postgres"):
            target = path / "promises" / name
            target.mkdir(parents=True)
            for file in ("promise.yaml", "resource-request.yaml"):
                shutil.copy(ROOT / "promises" / name / file, target / file)
        shutil.copy(ROOT / "promises" / "destinations.yaml", path / "destinations.yaml")
        commit_all(path, "examples")
    return path


def init_state(path: Path) -> Path:
    """An empty bare repository, as a fresh state repository would be."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True, timeout=60)
    return path


def write(repo: Path, files: dict[str, str | None]) -> None:
    for name, content in files.items():
        target = repo / name
        if content is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def files_on(bare: Path, ref: str) -> list[str]:
    out = git(bare, "ls-tree", "-r", "--name-only", ref)
    return out.splitlines() if out else []


def show(bare: Path, ref: str, path: str) -> str:
    return git(bare, "show", f"{ref}:{path}")


def branches(bare: Path) -> list[str]:
    out = git(bare, "for-each-ref", "--format=%(refname:short)", "refs/heads")
    return sorted(out.splitlines())
