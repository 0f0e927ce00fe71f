"""Reading and updating the server's bare repositories with git plumbing (one subprocess each)."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT = 30.0
_SHA = re.compile(r"[0-9a-f]{4,40}")
_IDENTITY = {
    "GIT_AUTHOR_NAME": "GitHub",
    "GIT_AUTHOR_EMAIL": "noreply@github.com",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
}


class GitError(Exception):
    """A git command failed; carries the command, exit code and output."""


@dataclass(frozen=True)
class CommitInfo:
    """What the REST side shows of a commit."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


def git_env() -> dict[str, str]:
    """An environment that ignores the user's and system's git config and never prompts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    return env


def run(repo: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run git in `repo` with a timeout, capturing its output."""
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        input=input,
        capture_output=True,
        timeout=GIT_TIMEOUT,
        env={**git_env(), **_IDENTITY},
    )


def git(repo: Path, *args: str, input: bytes | None = None, ok: tuple[int, ...] = (0,)) -> str:
    """Run git in `repo` and return its stdout; raise GitError on an unexpected exit code."""
    done = run(repo, *args, input=input)
    if done.returncode not in ok:
        raise GitError(
            f"git -C {repo} {' '.join(args)} exited {done.returncode}: "
            f"{done.stderr.decode(errors='replace')}"
        )
    return done.stdout.decode()


def init(path: Path, default_branch: str, readme: str | None) -> None:
    """Create a bare repository, with one commit holding README.md when `readme` is given."""
    path.parent.mkdir(parents=True, exist_ok=True)
    git(path.parent, "init", "-q", "--bare", f"--initial-branch={default_branch}", str(path))
    git(path, "config", "http.receivepack", "true")
    if readme is None:
        return
    blob = git(path, "hash-object", "-w", "--stdin", input=readme.encode()).strip()
    tree = git(path, "mktree", input=f"100644 blob {blob}\tREADME.md\n".encode()).strip()
    commit = git(path, "commit-tree", tree, "-m", "Initial commit").strip()
    git(path, "update-ref", f"refs/heads/{default_branch}", commit)


def branches(path: Path) -> dict[str, str]:
    """Branch name -> commit sha."""
    out = git(path, "for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/")
    result = {}
    for line in out.splitlines():
        sha, ref = line.split(" ", 1)
        result[ref.removeprefix("refs/heads/")] = sha
    return result


def ref_sha(path: Path, ref: str) -> str | None:
    """The commit a full ref (`refs/heads/x`) points at, or None."""
    out = git(path, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", ok=(0, 1)).strip()
    return out or None


def resolve(path: Path, name: str) -> str | None:
    """A branch, tag or (abbreviated) sha as a commit sha, or None when it names nothing."""
    for ref in (f"refs/heads/{name}", f"refs/tags/{name}"):
        sha = ref_sha(path, ref)
        if sha is not None:
            return sha
    return ref_sha(path, name) if _SHA.fullmatch(name) else None


def commit_info(path: Path, sha: str) -> CommitInfo:
    """Author, committer, parents and message of a commit."""
    fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
    fields = git(path, "show", "-s", f"--format={fmt}", sha).split("\x00")
    return CommitInfo(
        sha=fields[0],
        tree=fields[1],
        parents=tuple(fields[2].split()),
        author_name=fields[3],
        author_email=fields[4],
        author_date=fields[5],
        committer_name=fields[6],
        committer_email=fields[7],
        committer_date=fields[8],
        message=fields[9].rstrip("\n"),
    )


def is_ancestor(path: Path, older: str, newer: str) -> bool:
    """Whether `older` is reachable from `newer`."""
    return run(path, "merge-base", "--is-ancestor", older, newer).returncode == 0


def count_commits(path: Path, base: str, head: str) -> int:
    """Commits on `head` that `base` lacks."""
    return int(git(path, "rev-list", "--count", f"{base}..{head}").strip())


def merge(path: Path, base_ref: str, head_sha: str, message: str) -> str:
    """Merge `head_sha` into branch `base_ref`: fast-forward when possible, else a merge commit."""
    base_sha = ref_sha(path, f"refs/heads/{base_ref}")
    if base_sha is None:
        raise GitError(f"branch {base_ref} does not exist")
    if is_ancestor(path, base_sha, head_sha):
        new = head_sha
    else:
        tree = git(path, "merge-tree", "--write-tree", base_sha, head_sha).split("\n", 1)[0]
        new = git(path, "commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", message).strip()
    git(path, "update-ref", f"refs/heads/{base_ref}", new, base_sha)
    return new


def delete_branch(path: Path, name: str) -> None:
    """Delete a branch if it exists."""
    git(path, "update-ref", "-d", f"refs/heads/{name}", ok=(0, 1))
