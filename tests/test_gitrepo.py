"""The git adapter against real repositories, a real git HTTP server and a silent socket."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from gitbot.gitrepo import (
    CachedRepo,
    GitError,
    Identity,
    PushRejected,
    RemoteUnreachable,
    RepoCache,
    check_path,
)
from gitbot.secrets import Redactor, Secret

BOT = Identity("gitbot", "gitbot@example.com")
TOKEN = "ghs_test0123456789abcdef"
FILES = {
    "README.md": b"state\n",
    "destinations/dev/a.yaml": b"a: 1\n",
    "destinations/dev/sub/b.yaml": b"b: 2\n",
    "destinations/prod/c.yaml": b"c: 3\n",
}
# Isolated from the machine's git config, with a fixed identity for fixture commits.
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "someone",
    "GIT_AUTHOR_EMAIL": "someone@example.com",
    "GIT_COMMITTER_NAME": "someone",
    "GIT_COMMITTER_EMAIL": "someone@example.com",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(cwd: Path, *args: str) -> str:
    """Run git for fixture setup and checks (not through the adapter)."""
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_worktree(path: Path, files: dict[str, bytes], branch: str = "main") -> Path:
    """A non-bare repository with one commit holding files on branch, tagged v1."""
    path.mkdir(parents=True)
    git(path, "init", "-q", f"--initial-branch={branch}")
    for name, content in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_bytes(content)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "initial")
    git(path, "tag", "v1")
    return path


def push_from_elsewhere(remote: Path, tmp: Path, branch: str, files: dict[str, bytes]) -> str:
    """Someone else adds a commit to branch of remote; returns it."""
    other = tmp / f"other-{time.monotonic_ns()}"
    git(tmp, "clone", "-q", "--branch", branch, str(remote), str(other))
    for name, content in files.items():
        (other / name).parent.mkdir(parents=True, exist_ok=True)
        (other / name).write_bytes(content)
    git(other, "add", "-A")
    git(other, "commit", "-qm", "elsewhere")
    git(other, "push", "-q", "origin", branch)
    return git(other, "rev-parse", "HEAD")


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    return make_worktree(tmp_path / "work", FILES)


@pytest.fixture
def remote(tmp_path: Path, worktree: Path) -> Path:
    """A bare repository (what a push goes to) cloned from worktree."""
    path = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(worktree), str(path))
    return path


@pytest.fixture
def cache(tmp_path: Path) -> RepoCache:
    return RepoCache(tmp_path / "cache", timeout=30)


@pytest.fixture
def repo(cache: RepoCache, remote: Path) -> CachedRepo:
    return cache.open(str(remote))


# -- opening and reading ---------------------------------------------------------------------


def test_open_non_bare_repo_and_read(cache: RepoCache, worktree: Path) -> None:
    repo = cache.open(str(worktree))
    head = git(worktree, "rev-parse", "HEAD")
    assert repo.url == str(worktree)
    assert repo.path.parent == cache.root and repo.path.name.endswith(".git")
    assert git(repo.path, "rev-parse", "--is-bare-repository") == "true"
    assert repo.default_branch() == "main"
    assert repo.branch_sha("main") == head
    assert repo.branch_sha("nope") is None
    assert repo.read_tree(head) == FILES


def test_open_bare_repo_and_file_url(cache: RepoCache, remote: Path) -> None:
    by_path = cache.open(str(remote))
    by_url = cache.open(f"file://{remote}")
    assert by_url.url == f"file://{remote}"
    assert by_path.path != by_url.path
    for repo in (by_path, by_url):
        assert repo.default_branch() == "main"
        assert repo.list_files("main") == sorted(FILES)


def test_relative_path_is_normalized(
    cache: RepoCache, remote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(remote.parent)
    assert cache.open("remote.git/").path == cache.open(str(remote)).path


def test_list_read_files_and_tree_with_prefix(repo: CachedRepo) -> None:
    head = repo.resolve("main")
    assert repo.list_files(head, "destinations/dev") == [
        "destinations/dev/a.yaml",
        "destinations/dev/sub/b.yaml",
    ]
    assert repo.list_files(head, "destinations/dev/") == repo.list_files(head, "destinations/dev")
    assert repo.list_files(head, "destinations/de") == []
    assert repo.list_files(head, "README.md") == []
    assert repo.read_tree(head, "destinations/prod") == {"destinations/prod/c.yaml": b"c: 3\n"}
    got = repo.read_files(head, ["README.md", "missing.yaml", "destinations", "README.md"])
    assert got == {"README.md": b"state\n"}
    assert repo.read_files(head, []) == {}


def test_binary_and_empty_files_round_trip(repo: CachedRepo) -> None:
    blob = bytes(range(256)) * 3 + b"\n\n"
    made = repo.commit_files("main", {"bin/x": blob, "empty": b""}, "binary", BOT)
    assert repo.read_files(made.sha, ["bin/x", "empty"]) == {"bin/x": blob, "empty": b""}
    assert repo.read_tree(made.sha, "bin") == {"bin/x": blob}


def test_resolve_branch_tag_and_sha(repo: CachedRepo, worktree: Path) -> None:
    head = git(worktree, "rev-parse", "HEAD")
    assert repo.resolve("main") == head
    assert repo.resolve("v1") == head
    assert repo.resolve(head) == head
    assert repo.resolve(head[:10]) == head
    with pytest.raises(GitError) as e:
        repo.resolve("no-such-branch")
    assert (
        str(e.value) == f"unknown ref 'no-such-branch' in {repo.url}: not a branch, tag or commit"
    )


def test_commit_info_tree_and_ancestry(repo: CachedRepo, worktree: Path) -> None:
    head = git(worktree, "rev-parse", "HEAD")
    info = repo.commit_info(head)
    assert info.sha == head
    assert info.tree == git(worktree, "rev-parse", "HEAD^{tree}") == repo.tree_of(head)
    assert info.parents == ()
    assert info.author == Identity("someone", "someone@example.com")
    assert info.message == "initial\n"
    child = repo.commit_files(head, {"x": b"x"}, "child", BOT)
    assert repo.is_ancestor(head, child.sha)
    assert repo.is_ancestor(head, head)
    assert not repo.is_ancestor(child.sha, head)


def test_fetch_sees_commits_pushed_elsewhere(
    cache: RepoCache, repo: CachedRepo, remote: Path, tmp_path: Path
) -> None:
    before = repo.branch_sha("main")
    pushed = push_from_elsewhere(remote, tmp_path, "main", {"new.yaml": b"new\n"})
    assert repo.branch_sha("main") == before
    repo.fetch()
    assert repo.branch_sha("main") == pushed
    assert repo.read_files("main", ["new.yaml"]) == {"new.yaml": b"new\n"}
    # A second open of the same remote fetches too.
    again = push_from_elsewhere(remote, tmp_path, "main", {"newer.yaml": b"newer\n"})
    assert cache.open(str(remote)).branch_sha("main") == again


def test_fetch_prunes_deleted_branches(repo: CachedRepo, remote: Path) -> None:
    git(remote, "branch", "gone", "main")
    repo.fetch()
    assert repo.branch_sha("gone") is not None
    git(remote, "branch", "-D", "gone")
    repo.fetch()
    assert repo.branch_sha("gone") is None


def test_a_pull_requests_head_is_fetched_from_its_pull_ref_and_survives_fetches(
    repo: CachedRepo, remote: Path, tmp_path: Path
) -> None:
    sha = push_from_elsewhere(remote, tmp_path, "main", {"fork.txt": b"from a fork\n"})
    git(remote, "update-ref", "refs/pull/3/head", sha)  # where GitHub keeps a fork's head
    git(remote, "update-ref", "refs/heads/main", "main~1")  # the commit is in no branch
    repo.fetch()
    assert not repo.has_commit(sha)
    repo.ensure_pull_request_commit(3, sha)
    assert repo.has_commit(sha)
    repo.fetch()  # a later fetch prunes branches, not pull heads
    assert repo.read_files(sha, ["fork.txt"]) == {"fork.txt": b"from a fork\n"}
    with pytest.raises(ValueError, match="not a full commit sha"):
        repo.has_commit("--output=/tmp/x")


def test_concurrent_opens_share_one_cache(cache: RepoCache, remote: Path) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        repos = list(pool.map(lambda _: cache.open(str(remote)), range(4)))
    assert {r.path for r in repos} == {repos[0].path}
    assert sorted(p.name for p in cache.root.iterdir()) == sorted(
        [repos[0].path.name, repos[0].path.with_suffix(".lock").name]
    )


def test_empty_remote(cache: RepoCache, tmp_path: Path) -> None:
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "-q", "--bare", str(empty))
    repo = cache.open(str(empty))
    assert repo.default_branch() is None
    assert repo.branch_sha("main") is None
    root = repo.commit_files(None, {"a/b.yaml": b"b\n"}, "first", BOT)
    assert root.parents == ()
    repo.push(root.sha, "main", expected=None)
    assert git(empty, "rev-parse", "refs/heads/main") == root.sha
    assert repo.branch_sha("main") == root.sha


# -- building commits ------------------------------------------------------------------------


def test_commit_files_adds_changes_and_deletes(repo: CachedRepo) -> None:
    base = repo.resolve("main")
    changes: dict[str, bytes | None] = {
        "destinations/dev/a.yaml": b"a: changed\n",
        "destinations/prod/c.yaml": None,
        "destinations/staging/deep/new.yaml": b"new\n",
        "never-there.yaml": None,
    }
    made = repo.commit_files(base, changes, "Update dev, add staging, drop prod", BOT)
    assert made.parents == (base,)
    assert made.author == made.committer == BOT
    assert made.message == "Update dev, add staging, drop prod\n"
    assert repo.read_tree(made.sha) == {
        "README.md": b"state\n",
        "destinations/dev/a.yaml": b"a: changed\n",
        "destinations/dev/sub/b.yaml": b"b: 2\n",
        "destinations/staging/deep/new.yaml": b"new\n",
    }
    assert repo.changed_paths(base, made.sha) == [
        ("M", "destinations/dev/a.yaml"),
        ("D", "destinations/prod/c.yaml"),
        ("A", "destinations/staging/deep/new.yaml"),
    ]
    # The base is untouched: nothing was pushed and no branch moved.
    assert repo.branch_sha("main") == base


def test_commit_files_root_commit(repo: CachedRepo) -> None:
    made = repo.commit_files(None, {"only/file.txt": b"1", "gone": None}, "root", BOT)
    assert made.parents == ()
    assert repo.read_tree(made.sha) == {"only/file.txt": b"1"}
    empty = repo.commit_files(None, {}, "empty root", BOT)
    assert empty.parents == ()
    assert empty.tree == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree
    assert repo.list_files(empty.sha) == []


def test_no_op_changes_keep_the_tree(repo: CachedRepo) -> None:
    base = repo.commit_info("main")
    same = repo.commit_files(
        base.sha, {"README.md": b"state\n", "absent.yaml": None}, "nothing", BOT
    )
    assert same.sha != base.sha
    assert same.tree == base.tree
    assert repo.commit_files(base.sha, {}, "nothing at all", BOT).tree == base.tree
    assert repo.changed_paths(base.sha, same.sha) == []


def test_file_replaced_by_folder_in_one_change_set(repo: CachedRepo) -> None:
    made = repo.commit_files("main", {"README.md": None, "README.md/inner": b"x"}, "swap", BOT)
    assert "README.md/inner" in repo.list_files(made.sha)


def _mixed_remote(tmp_path: Path) -> Path:
    """A bare repository whose tree has an executable, a symlink, a submodule entry and a
    non-UTF-8 name beside plain files, several folders deep."""
    work = make_worktree(
        tmp_path / "mixed",
        {
            "bin/run.sh": b"#!/bin/sh\n",
            "keep/deep/a.yaml": b"a\n",
            "keep/deep/b.yaml": b"b\n",
            "gone/only.yaml": b"only\n",
            "dir/x.yaml": b"x\n",
        },
    )
    (work / "bin" / "run.sh").chmod(0o755)
    (work / "keep" / "link").symlink_to("deep/a.yaml")
    (
        work / "keep" / "caf\xe9.yaml".encode("latin-1").decode("utf-8", "surrogateescape")
    ).write_bytes(b"latin-1 name\n")
    head = git(work, "rev-parse", "HEAD")
    git(work, "add", "-A")
    git(work, "update-index", "--add", "--cacheinfo", f"160000,{head},keep/sub")
    git(work, "commit", "-qm", "mixed")
    remote = tmp_path / "mixed.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(remote))
    return remote


def _index_tree(repo: CachedRepo, base: str, changes: dict[str, bytes | None]) -> str:
    """The tree git's own index makes of base with changes (read-tree, update-index, write-tree)."""
    env_index = repo.path / "test-index"
    entries = []
    for path, content in sorted(changes.items(), key=lambda kv: kv[1] is not None):
        if content is None:
            entries.append(f"0 {'0' * 40}\t{path}")
        else:
            blob = (
                subprocess.run(
                    ["git", "hash-object", "-w", "--stdin"],
                    cwd=repo.path,
                    input=content,
                    capture_output=True,
                    check=True,
                    timeout=30,
                )
                .stdout.decode()
                .strip()
            )
            entries.append(f"100644 {blob}\t{path}")
    env = {**GIT_ENV, "GIT_DIR": str(repo.path), "GIT_INDEX_FILE": str(env_index)}

    def run(*args: str, stdin: bytes = b"") -> str:
        done = subprocess.run(
            ["git", *args], env=env, input=stdin, capture_output=True, check=True, timeout=30
        )
        return done.stdout.decode().strip()

    run("read-tree", base)
    run(
        "update-index",
        "-z",
        "--add",
        "--index-info",
        stdin="".join(f"{e}\0" for e in entries).encode(),
    )
    tree = run("write-tree")
    env_index.unlink()
    return tree


def test_commit_rebuilds_touched_folders_as_an_index_would(
    cache: RepoCache, tmp_path: Path
) -> None:
    repo = cache.open(str(_mixed_remote(tmp_path)))
    base = repo.resolve("main")
    changes: dict[str, bytes | None] = {
        "keep/deep/a.yaml": b"a changed\n",  # beside a symlink, a submodule, a latin-1 name
        "keep/new/file.yaml": b"new\n",
        "gone/only.yaml": None,  # the folder goes with its last file
        "dir": None,  # a folder's path: nothing happens
        "bin/absent": None,
        "top.yaml": b"top\n",
    }
    made = repo.commit_files(base, changes, "mixed change", BOT)
    assert made.tree == _index_tree(repo, base, changes)
    listing = git(repo.path, "ls-tree", "-r", made.sha)
    assert "100755 blob" in next(line for line in listing.splitlines() if "bin/run.sh" in line)
    assert "120000 blob" in next(line for line in listing.splitlines() if "keep/link" in line)
    assert "160000 commit" in next(line for line in listing.splitlines() if "keep/sub" in line)
    assert "gone/" not in listing
    assert git(repo.path, "fsck", "--no-dangling") == ""
    # Rewriting the executable makes it a plain file, as the index did.
    again = repo.commit_files(made.sha, {"bin/run.sh": b"#!/bin/sh\n"}, "plain", BOT)
    assert again.tree == _index_tree(repo, made.sha, {"bin/run.sh": b"#!/bin/sh\n"})
    assert "100644 blob" in git(repo.path, "ls-tree", again.sha, "bin/run.sh")


def test_deleting_every_file_leaves_the_empty_tree(repo: CachedRepo) -> None:
    made = repo.commit_files("main", dict.fromkeys(FILES), "all gone", BOT)
    assert made.tree == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@pytest.mark.parametrize(
    "changes",
    [
        {"destinations": b"a file where a folder is"},
        {"README.md/inner": b"a folder where a file is"},
        {"new": b"file", "new/inner": b"and folder"},
    ],
)
def test_a_path_both_file_and_folder_is_refused(
    repo: CachedRepo, changes: dict[str, bytes | None]
) -> None:
    with pytest.raises(GitError, match="both a file and a folder"):
        repo.commit_files("main", changes, "clash", BOT)


def test_tree_view_answers_folder_by_folder(cache: RepoCache, tmp_path: Path) -> None:
    repo = cache.open(str(_mixed_remote(tmp_path)))
    view = repo.tree_view("main")
    assert view.is_file("keep/deep/a.yaml")
    assert view.is_file("keep/link")  # a symlink is a file, as list_files says
    assert not view.is_file("keep/sub")  # a submodule is not
    assert not view.is_file("keep/deep")
    assert not view.is_file("missing/deep/a.yaml")
    assert view.is_dir("keep/deep") and view.is_dir("")
    assert not view.is_dir("keep/deep/a.yaml")
    assert not view.is_dir("bin/run.sh/below")
    assert view.files_in(["keep/deep", "gone/", "missing", "keep/dee"]) == {
        "keep/deep": ["keep/deep/a.yaml", "keep/deep/b.yaml"],
        "gone/": ["gone/only.yaml"],
        "missing": [],
        "keep/dee": [],
    }
    assert view.files_in(["keep"])["keep"] == [
        p for p in repo.list_files("main", "keep") if p != "keep/sub"
    ]
    nested = view.files_in(["bin", "keep/deep/", "keep"])
    assert nested["keep/deep/"] == ["keep/deep/a.yaml", "keep/deep/b.yaml"]
    assert "keep/deep/a.yaml" in nested["keep"] and nested["bin"] == ["bin/run.sh"]


def test_lookups_and_commits_never_read_the_whole_tree(
    cache: RepoCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = cache.open(str(_mixed_remote(tmp_path)))
    base = repo.resolve("main")
    ran: list[list[str]] = []
    real_run = CachedRepo._run

    def spy(self: CachedRepo, argv: Any, **kwargs: Any) -> Any:
        ran.append(list(argv))
        return real_run(self, argv, **kwargs)

    monkeypatch.setattr(CachedRepo, "_run", spy)
    view = repo.tree_view(base)
    assert not view.is_dir("missing/a/b/c")
    asked = len(ran)
    # Below a folder known to be absent, nothing more is read.
    assert not view.is_file("missing/a/b/c/d.yaml") and not view.is_dir("missing/x")
    assert view.files_in(["missing/a", "missing/b"]) == {"missing/a": [], "missing/b": []}
    assert len(ran) == asked
    assert view.files_in(["keep/deep"])["keep/deep"] == ["keep/deep/a.yaml", "keep/deep/b.yaml"]
    repo.commit_files(base, {"keep/deep/a.yaml": b"new\n", "keep/link": None}, "change", BOT)
    whole = [argv for argv in ran if argv[0] == "read-tree" or argv[-1] in (base, "--")]
    assert whole == []
    assert all(argv[-1] != base for argv in ran if argv[0] == "ls-tree")


def test_many_files_in_one_commit(repo: CachedRepo) -> None:
    changes: dict[str, bytes | None] = {f"many/{i:04}.yaml": f"{i}\n".encode() for i in range(2000)}
    made = repo.commit_files("main", changes, "many", BOT)
    tree = repo.read_tree(made.sha, "many")
    assert len(tree) == 2000
    assert tree["many/1234.yaml"] == b"1234\n"


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "must be a non-empty string"),
        ("/etc/passwd", "must be relative"),
        ("a/../b", "'..' segments are not allowed"),
        ("./a", "'.' segments are not allowed"),
        ("a//b", "empty segments are not allowed"),
        ("a/", "empty segments are not allowed"),
        (".git/config", "'.git' segments are not allowed"),
        ("x/.GIT/hooks/pre-push", "'.git' segments are not allowed"),
        ("a\nb", "control characters are not allowed"),
    ],
)
def test_bad_paths_refused(repo: CachedRepo, path: str, problem: str) -> None:
    message = f"invalid path {path!r}: {problem}"
    with pytest.raises(ValueError) as e:
        repo.commit_files("main", {"ok.yaml": b"", path: b"x"}, "bad", BOT)
    assert str(e.value) == message
    with pytest.raises(ValueError):
        repo.read_files("main", [path])
    assert check_path("fine/.gitignore") == "fine/.gitignore"


@pytest.mark.parametrize("branch", ["", "-f", "a..b", "a b", "a:b", "x.lock", "refs/heads/x", "a/"])
def test_bad_branch_names_refused(repo: CachedRepo, branch: str) -> None:
    with pytest.raises(ValueError, match="invalid branch name"):
        repo.push(repo.resolve("main"), branch, expected=None)


# -- pushing ---------------------------------------------------------------------------------


def test_push_creates_branch(repo: CachedRepo, remote: Path) -> None:
    made = repo.commit_files("main", {"x.yaml": b"x\n"}, "add x", BOT)
    repo.push(made.sha, "gitbot/run-1", expected=None)
    assert git(remote, "rev-parse", "refs/heads/gitbot/run-1") == made.sha
    assert repo.branch_sha("gitbot/run-1") == made.sha
    # Updating it with the right lease works too.
    later = repo.commit_files(made.sha, {"y.yaml": b"y\n"}, "add y", BOT)
    repo.push(later.sha, "gitbot/run-1", expected=made.sha)
    assert git(remote, "rev-parse", "refs/heads/gitbot/run-1") == later.sha


def test_push_with_stale_lease_is_rejected(repo: CachedRepo, remote: Path, tmp_path: Path) -> None:
    base = repo.resolve("main")
    moved = push_from_elsewhere(remote, tmp_path, "main", {"theirs": b"1"})
    ours = repo.commit_files(base, {"ours": b"1"}, "ours", BOT)
    with pytest.raises(PushRejected) as e:
        repo.push(ours.sha, "main", expected=base)
    assert e.value.message == (
        f"push to branch 'main' of {repo.url} rejected: "
        f"[rejected] (stale info): the branch is no longer at {base}"
    )
    assert git(remote, "rev-parse", "refs/heads/main") == moved


def test_push_expecting_absence_fails_when_branch_exists(repo: CachedRepo, remote: Path) -> None:
    before = git(remote, "rev-parse", "refs/heads/main")
    made = repo.commit_files("main", {"x": b"x"}, "x", BOT)
    with pytest.raises(PushRejected, match="the branch is no longer absent"):
        repo.push(made.sha, "main", expected=None)
    assert git(remote, "rev-parse", "refs/heads/main") == before


def test_push_refused_by_remote_hook(repo: CachedRepo, remote: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'no pushes today' >&2\nexit 1\n")
    hook.chmod(0o755)
    made = repo.commit_files("main", {"x": b"x"}, "x", BOT)
    with pytest.raises(PushRejected, match=r"\[remote rejected\] \(pre-receive hook declined\)"):
        repo.push(made.sha, "blocked", expected=None)


def test_push_of_unknown_commit_fails_before_the_network(repo: CachedRepo) -> None:
    with pytest.raises(GitError, match="git cat-file failed") as e:
        repo.push("1" * 40, "x", expected=None)
    assert not isinstance(e.value, RemoteUnreachable)


def test_expected_must_be_a_full_sha(repo: CachedRepo) -> None:
    with pytest.raises(ValueError, match="expected must be a full commit sha"):
        repo.push(repo.resolve("main"), "x", expected="main")


def test_delete_branch_with_lease(repo: CachedRepo, remote: Path) -> None:
    made = repo.commit_files("main", {"x": b"x"}, "x", BOT)
    repo.push(made.sha, "doomed", expected=None)
    with pytest.raises(PushRejected, match="stale info"):
        repo.delete_branch("doomed", expected=repo.resolve("main"))
    assert git(remote, "rev-parse", "refs/heads/doomed") == made.sha
    repo.delete_branch("doomed", expected=made.sha)
    assert "doomed" not in git(remote, "branch", "--list")
    assert repo.branch_sha("doomed") is None


# -- failures --------------------------------------------------------------------------------


def test_nonexistent_path_is_unreachable(cache: RepoCache, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.git"
    with pytest.raises(RemoteUnreachable) as e:
        cache.open(str(missing))
    assert e.value.message == (
        f"cannot reach {missing}: '{missing}' does not appear to be a git repository"
    )
    assert e.value.command == "git fetch --quiet --prune --tags --force origin"
    assert e.value.status == 128
    # The failed clone leaves only its lock file behind.
    assert [p.suffix for p in cache.root.iterdir()] == [".lock"]


def test_refused_connection_is_unreachable_quickly(cache: RepoCache) -> None:
    started = time.monotonic()
    with pytest.raises(RemoteUnreachable) as e:
        cache.open("http://127.0.0.1:9/x.git")
    assert time.monotonic() - started < 10
    assert e.value.message.startswith("cannot reach http://127.0.0.1:9/x.git: unable to access")
    assert "Failed to connect to 127.0.0.1 port 9" in e.value.message


@pytest.mark.parametrize(
    "url",
    [
        "https://user:hunter2pass@github.com/org/state.git",
        "https://x-access-token:ghs_abcdef@github.com/org/state.git",
    ],
)
def test_credentials_in_url_refused(cache: RepoCache, url: str) -> None:
    with pytest.raises(GitError) as e:
        cache.open(url)
    assert str(e.value) == (
        "remote URL https://****@github.com/org/state.git has credentials in it: "
        "remove them and configure authentication (a GitHub App) instead"
    )


@pytest.mark.parametrize(
    "url", ["ssh://git@github.com/org/x.git", "git@github.com:org/x.git", "ext::sh -c x"]
)
def test_unsupported_urls_refused(cache: RepoCache, url: str) -> None:
    with pytest.raises(GitError, match="unsupported remote URL"):
        cache.open(url)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A socket that accepts connections (in the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/state.git"


def test_timeout_kills_git(tmp_path: Path, silent_server: str) -> None:
    cache = RepoCache(tmp_path / "cache", timeout=1.0)
    started = time.monotonic()
    with pytest.raises(GitError) as e:
        cache.open(silent_server)
    assert time.monotonic() - started < 10
    assert e.value.message == f"git fetch timed out after 1 s talking to {silent_server}"


# -- git over HTTP with an Authorization header ------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def git_http_app(project_root: Path, token: str) -> Callable[..., Iterable[bytes]]:
    """A WSGI app serving `git http-backend` to clients with GitHub's installation-token auth."""
    expected = "Basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"bad credentials\n"]
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        cgi = {
            "PATH": os.environ["PATH"],
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_PROJECT_ROOT": str(project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "x-access-token",  # enables receive-pack (pushes)
            "REMOTE_ADDR": "127.0.0.1",
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "PATH_INFO": environ["PATH_INFO"],
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": environ.get("HTTP_CONTENT_ENCODING", ""),
            "GIT_PROTOCOL": environ.get("HTTP_GIT_PROTOCOL", ""),
        }
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=cgi, capture_output=True, timeout=30
        )
        head, _, content = done.stdout.partition(b"\r\n\r\n")
        status = "200 OK"
        headers = []
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(": ")
            if name.lower() == "status":
                status = value
            elif name:
                headers.append((name, value))
        start_response(status, headers)
        return [content]

    return app


@pytest.fixture
def http_remote(remote: Path) -> Iterator[str]:
    """The bare remote served over HTTP on loopback, requiring TOKEN."""
    server: WSGIServer = make_server(
        "127.0.0.1", 0, git_http_app(remote.parent, TOKEN), handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/{remote.name}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def basic(token: str) -> Callable[[str], Secret | None]:
    def header(url: str) -> Secret | None:
        credentials = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        return Secret(f"Basic {credentials}")

    return header


def test_auth_header_clones_and_pushes_over_http(
    tmp_path: Path, http_remote: str, remote: Path
) -> None:
    seen: list[str] = []

    def header(url: str) -> Secret | None:
        seen.append(url)
        return basic(TOKEN)(url)

    redactor = Redactor()
    cache = RepoCache(tmp_path / "cache", timeout=30, auth_header=header, redactor=redactor)
    repo = cache.open(http_remote)
    assert redactor(f"token {TOKEN}.") == "token ****."
    assert repo.default_branch() == "main"
    made = repo.commit_files("main", {"over/http.yaml": b"yes\n"}, "over http", BOT)
    repo.push(made.sha, "gitbot/http", expected=None)
    assert git(remote, "rev-parse", "refs/heads/gitbot/http") == made.sha
    assert set(seen) == {http_remote}
    # The token was given to git through the environment only: nothing on disk has it.
    for path in repo.path.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_wrong_token_fails_without_showing_it(tmp_path: Path, http_remote: str) -> None:
    wrong = "ghs_wrong0123456789"
    cache = RepoCache(tmp_path / "cache", timeout=30, auth_header=basic(wrong))
    with pytest.raises(RemoteUnreachable) as e:
        cache.open(http_remote)
    assert e.value.message == (
        f"cannot reach {http_remote}: access denied: the remote refused gitbot's credentials"
    )
    text = str(e.value)
    encoded = base64.b64encode(f"x-access-token:{wrong}".encode()).decode()
    for secret in (wrong, encoded):
        assert secret not in text
        assert secret not in repr(e.value)


def test_no_auth_header_is_refused_by_the_server(cache: RepoCache, http_remote: str) -> None:
    with pytest.raises(RemoteUnreachable) as e:
        cache.open(http_remote)
    assert e.value.message == (
        f"cannot reach {http_remote}: "
        "the remote requires authentication and none is configured for it"
    )
    assert "terminal prompts disabled" in e.value.output


def test_auth_header_with_line_break_refused(tmp_path: Path, http_remote: str) -> None:
    def header(url: str) -> Secret | None:
        return Secret(f"Basic abcd\r\nX-Evil: {TOKEN}")

    cache = RepoCache(tmp_path / "cache", timeout=30, auth_header=header)
    with pytest.raises(GitError) as e:
        cache.open(http_remote)
    assert str(e.value) == f"the auth header for {http_remote} contains a line break"
