"""The git adapter: bare cached clones of remotes, read with plumbing, written as leased pushes.

There are no working trees. Reading uses `ls-tree` and `cat-file --batch`, a folder at a time
where a big tree would be slow to list whole (`TreeView`); writing rebuilds only the folders a
change touches (`mktree`, `commit-tree`) and pushes the commit with `--force-with-lease`, so a
write either lands whole or not at all and costs what the change costs, not what the tree holds.
Every git process starts in `_execute`, with a timeout and an environment that keeps user
configuration, prompts and credentials helpers out. GitPython is imported by this module only.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit, urlunsplit

import git
from git.exc import GitCommandNotFound

from gitbot.errors import ExternalError
from gitbot.secrets import REDACTED, Redactor, Secret

OUTPUT_TAIL_LINES = 20
_LOCK_POLL_SECONDS = 0.05
_REMOTE = "origin"
_TRACKING = "refs/remotes/origin/"
_TREE_MODE = b"40000"
_FILE_MODE = b"100644"
_KIND = {b"40000": "tree", b"160000": "commit"}  # every other mode is a blob
_PATHSPECS_PER_CALL = 500  # folders per `ls-tree`, far below any command-line limit
_SHA_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_IDENT_RE = re.compile(r"^(?P<name>.*) <(?P<email>[^<>]*)> \d+ [+-]\d{4}$")
# Characters and sequences git refuses in ref names (git-check-ref-format(1)).
_BAD_BRANCH_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|/\.|\.lock(?:/|$)")
_SCP_LIKE_RE = re.compile(r"^[^/]*:")
_AUTH_FAILED_RE = re.compile(
    r"could not read (?:Username|Password)|Authentication failed|returned error: 40[13]"
)

# Set on every git call: no prompts, no askpass helpers, no system or user config (so no
# credential helpers, signing or hooks paths we did not choose), C locale for parseable output.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_ASKPASS": "",
    "SSH_ASKPASS": "",
    "GCM_INTERACTIVE": "never",
    "LC_ALL": "C",
    "LANGUAGE": "C",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_PARAMETERS": "",
    "GIT_CONFIG_COUNT": "0",
    "GIT_LITERAL_PATHSPECS": "1",
    "GIT_NO_REPLACE_OBJECTS": "1",
    # These would print the Authorization header; the redactor is only the second line.
    "GIT_TRACE_CURL": "0",
    "GIT_CURL_VERBOSE": "0",
}


class GitError(ExternalError):
    """A git command failed; carries the command (credentials redacted), exit code and output."""

    def __init__(
        self, message: str, *, command: str = "", status: int | None = None, output: str = ""
    ) -> None:
        self.message = message
        self.command = command
        self.status = status
        self.output = output
        super().__init__(message)

    def __str__(self) -> str:
        lines = [self.message]
        if self.command:
            lines.append(f"  command: {self.command}")
        if self.status is not None:
            lines.append(f"  exit code: {self.status}")
        if self.output:
            lines.append("  output:")
            lines.extend(f"    {line}".rstrip() for line in self.output.splitlines())
        return "\n".join(lines)


class UnknownRef(GitError):
    """A branch, tag or commit the repository does not have; `ref` is the name asked for."""

    def __init__(self, message: str, ref: str) -> None:
        self.ref = ref
        super().__init__(message)


class PushRejected(GitError):
    """The remote branch moved (the lease failed) or the remote refused the push."""


class RemoteUnreachable(GitError):
    """The remote could not be reached, refused access, or did not answer in time."""


@dataclass(frozen=True)
class Identity:
    """A commit author or committer."""

    name: str
    email: str


@dataclass(frozen=True)
class CommitInfo:
    """One commit as stored: its tree, parents, people and message (ends with a newline)."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author: Identity
    committer: Identity
    message: str


@dataclass(frozen=True)
class _Result:
    status: int
    stdout: bytes
    stderr: str


def _execute(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    redactor: Redactor,
    stdin: bytes | None = None,
    ok: Collection[int] | None = (0,),
    remote: str | None = None,
) -> _Result:
    """Run `git argv` (gitbot's only way to start git); GitError unless its status is in ok."""
    runner = git.Git(cwd)
    full_env = {**_BASE_ENV, **env}
    command = [str(git.Git.GIT_PYTHON_GIT_EXECUTABLE or "git"), *argv]
    started = time.monotonic()
    with tempfile.TemporaryFile() as istream:
        if stdin is not None:
            istream.write(stdin)
            istream.seek(0)
        try:
            raw = runner.execute(
                command,
                istream=istream if stdin is not None else None,
                kill_after_timeout=timeout,
                env=full_env,
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                strip_newline_in_stdout=False,
            )
        except GitCommandNotFound as e:
            raise GitError(f"git is not installed or not on PATH: {e}") from e
    status, stdout, stderr = raw
    result = _Result(status, stdout or b"", stderr or "")
    if status < 0 and time.monotonic() - started >= timeout:
        # GitPython killed git (and its helpers) at the deadline. A network command's timeout
        # (remote names its remote) means the remote did not answer.
        cls = GitError if remote is None else RemoteUnreachable
        where = f" talking to {remote}" if remote else ""
        raise _error(
            cls, f"git {argv[0]} timed out after {timeout:g} s{where}", argv, result, redactor
        )
    if ok is not None and status not in ok:
        raise _error(GitError, f"git {argv[0]} failed", argv, result, redactor)
    return result


def _error(
    cls: type[GitError], message: str, argv: Sequence[str], result: _Result, redactor: Redactor
) -> GitError:
    """An error of type cls for a finished git command, with every known secret redacted."""
    output = result.stderr.strip() or result.stdout.decode("utf-8", "replace").strip()
    tail = "\n".join(output.splitlines()[-OUTPUT_TAIL_LINES:])
    return cls(
        redactor(message),
        command=redactor(shlex.join(["git", *argv])),
        status=result.status,
        output=redactor(tail),
    )


def _reason(result: _Result) -> str:
    """git's own one-line reason for a failure (its first fatal/error line), for messages."""
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    for prefix in ("fatal: ", "error: "):
        found = [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]
        if found:
            return found[0]
    return lines[-1] if lines else f"exit code {result.status}"


class RepoCache:
    """Bare clones of remotes under one folder, one per normalized URL, fetched on open."""

    def __init__(
        self,
        root: Path,
        *,
        timeout: float = 120.0,
        auth_header: Callable[[str], Secret | None] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.root = Path(root)
        self.timeout = timeout
        self.auth_header = auth_header
        self.redactor = redactor if redactor is not None else Redactor()

    def open(self, url: str) -> CachedRepo:
        """The cached clone of url, cloned on first use and fetched on every call."""
        remote = normalize_url(url)
        key = hashlib.sha256(remote.encode()).hexdigest()[:16]
        self.root.mkdir(parents=True, exist_ok=True)
        repo = CachedRepo(self, remote, self.root / f"{key}.git")
        with repo._locked():
            if (repo.path / "HEAD").is_file():
                repo._fetch()
            else:
                self._clone(repo, key)
        return repo

    def _clone(self, repo: CachedRepo, key: str) -> None:
        # Built beside its final place and renamed in, so a failed clone leaves nothing behind.
        staging = Path(tempfile.mkdtemp(prefix=f"{key}.", suffix=".tmp", dir=self.root))
        try:
            fresh = CachedRepo(self, repo.url, staging)
            fresh._run(["init", "--quiet", "--bare", "--initial-branch=main"])
            fresh._run(["remote", "add", _REMOTE, repo.url])
            # Auto gc in the background would outlive our lock and timeout.
            fresh._run(["config", "gc.autoDetach", "false"])
            fresh._fetch()
            if repo.path.exists():
                shutil.rmtree(repo.path)  # a cache without HEAD is broken: replace it
            os.rename(staging, repo.path)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class CachedRepo:
    """One bare cached clone: read commits, build commits, push them with a lease."""

    def __init__(self, cache: RepoCache, url: str, path: Path) -> None:
        self.url = url
        self.path = path
        self._cache = cache

    def __repr__(self) -> str:
        return f"CachedRepo({self.url!r}, {str(self.path)!r})"

    # -- remote ------------------------------------------------------------------------------

    def fetch(self) -> None:
        """Fetch every branch (pruning deleted ones) and tags into the remote-tracking refs."""
        with self._locked():
            self._fetch()

    def _fetch(self) -> None:
        argv = ["fetch", "--quiet", "--prune", "--tags", "--force", _REMOTE]
        result, authed = self._remote(argv)
        if result.status != 0:
            raise self._unreachable(argv, result, authed)

    def ensure_pull_request_commit(self, number: int, commit: str) -> None:
        """Make sure `commit` is here: if no fetched branch has it, fetch `refs/pull/<number>/head`,
        where GitHub keeps every pull request's head, a fork's included."""
        if self.has_commit(commit):
            return
        refspec = f"+refs/pull/{int(number)}/head:refs/gitbot/pull/{int(number)}"
        argv = ["fetch", "--quiet", "--force", _REMOTE, refspec]
        with self._locked():
            result, authed = self._remote(argv)
        if result.status != 0:
            raise self._unreachable(argv, result, authed)

    def has_commit(self, sha: str) -> bool:
        """Whether the cache holds this commit (given as a full sha)."""
        if not _SHA_RE.match(sha):
            raise ValueError(f"not a full commit sha: {sha!r}")
        argv = ["cat-file", "-e", f"{sha}^{{commit}}"]
        return self._run(argv, ok=(0, 1, 128)).status == 0

    def default_branch(self) -> str | None:
        """The branch the remote's HEAD points at; None for an empty repository."""
        argv = ["ls-remote", "--symref", _REMOTE, "HEAD"]
        result, authed = self._remote(argv)
        if result.status != 0:
            raise self._unreachable(argv, result, authed)
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            target, _, name = line.partition("\t")
            if name == "HEAD" and target.startswith("ref: refs/heads/"):
                return target.removeprefix("ref: refs/heads/")
        return None

    def branches(self) -> list[str]:
        """The remote's branches as of the last fetch or push, sorted."""
        argv = ["for-each-ref", "--format=%(refname)", _TRACKING]
        names = self._run(argv).stdout.decode("utf-8", "replace").splitlines()
        return sorted(n.removeprefix(_TRACKING) for n in names if n != f"{_TRACKING}HEAD")

    def branch_sha(self, branch: str) -> str | None:
        """The commit of a remote branch as of the last fetch or push, None if it has none."""
        _check_branch(branch)
        argv = ["rev-parse", "--verify", "--quiet", f"{_TRACKING}{branch}^{{commit}}"]
        result = self._run(argv, ok=(0, 1))
        return result.stdout.decode().strip() if result.status == 0 else None

    def push(self, commit: str, branch: str, *, expected: str | None) -> None:
        """Point a remote branch at commit if it is still at expected (None: if it is absent)."""
        # A branch already at commit counts as success whatever expected says, so a retry
        # after a lost answer does not fail.
        _check_branch(branch)
        sha = self._commit(commit)
        self._run(["cat-file", "-e", f"{sha}^{{commit}}"])  # a clear error before the network
        self._leased_push(f"{sha}:refs/heads/{branch}", branch, expected)

    def delete_branch(self, branch: str, *, expected: str) -> None:
        """Delete a remote branch if it is still at expected."""
        _check_branch(branch)
        self._leased_push(f":refs/heads/{branch}", branch, expected)

    def _leased_push(self, refspec: str, branch: str, expected: str | None) -> None:
        if expected is not None and not _SHA_RE.match(expected):
            # git would resolve anything else as a local ref name.
            raise ValueError(f"expected must be a full commit sha, not {expected!r}")
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        argv = ["push", "--porcelain", lease, _REMOTE, refspec]
        with self._locked():
            result, authed = self._remote(argv)
        if result.status == 0:
            return  # git moved the remote-tracking ref too; "up to date" also lands here
        rejected = [
            line.split("\t")[-1]
            for line in result.stdout.decode("utf-8", "replace").splitlines()
            if line.startswith("!\t")
        ]
        if not rejected:
            raise self._unreachable(argv, result, authed)
        reason = rejected[0].strip()
        if "stale info" in reason:
            was = f"at {expected}" if expected else "absent"
            reason = f"{reason}: the branch is no longer {was}"
        message = f"push to branch '{branch}' of {self.url} rejected: {reason}"
        raise _error(PushRejected, message, argv, result, self._cache.redactor)

    def _remote(self, argv: Sequence[str]) -> tuple[_Result, bool]:
        """Run a command that talks to the remote; also whether it sent an auth header."""
        auth = self._auth_env()
        return self._run(argv, env=auth, ok=None, network=True), bool(auth)

    def _unreachable(self, argv: Sequence[str], result: _Result, authed: bool) -> GitError:
        reason = _reason(result)
        if _AUTH_FAILED_RE.search(result.stderr):
            # git's own words here ("could not read Username") hide that a header was refused.
            if authed:
                reason = "access denied: the remote refused gitbot's credentials"
            else:
                reason = "the remote requires authentication and none is configured for it"
        message = f"cannot reach {self.url}: {reason}"
        return _error(RemoteUnreachable, message, argv, result, self._cache.redactor)

    # -- reading -----------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The commit a remote branch name, tag or (abbreviated) sha names."""
        if not ref or ref.startswith("-") or any(c.isspace() for c in ref):
            raise UnknownRef(f"unknown ref {ref!r} in {self.url}", ref)
        names = [ref] if _SHA_RE.match(ref) else [f"{_TRACKING}{ref}", f"refs/tags/{ref}", ref]
        stdin = "".join(f"{name}^{{commit}}\n" for name in names).encode()
        result = self._run(["cat-file", "--batch-check"], stdin=stdin)
        for line in result.stdout.decode("utf-8", "replace").splitlines():
            fields = line.split(" ")
            if len(fields) == 3 and fields[1] == "commit":
                return fields[0]
        raise UnknownRef(f"unknown ref {ref!r} in {self.url}: not a branch, tag or commit", ref)

    def list_files(self, commit: str, prefix: str = "") -> list[str]:
        """Every file path under prefix (a folder; '' for all) at commit, sorted."""
        return sorted(path for path, _ in self._blobs(commit, prefix))

    def read_files(self, commit: str, paths: Iterable[str]) -> dict[str, bytes]:
        """The contents of the given files at commit; absent paths (and folders) are left out."""
        sha = self._commit(commit)
        wanted = list(dict.fromkeys(check_path(p) for p in paths))
        if not wanted:
            return {}
        stdin = "".join(f"{sha}:{path}\n" for path in wanted).encode()
        objects = self._cat_batch(stdin, len(wanted))
        return {
            path: found[1]
            for path, found in zip(wanted, objects, strict=True)
            if found is not None and found[0] == "blob"
        }

    def tree_view(self, commit: str) -> TreeView:
        """The files of a commit, looked up a folder at a time (see TreeView)."""
        return TreeView(self, self._commit(commit))

    def read_tree(self, commit: str, prefix: str = "") -> dict[str, bytes]:
        """Every file under prefix (a folder; '' for all) at commit, with its contents."""
        blobs = self._blobs(commit, prefix)
        if not blobs:
            return {}
        stdin = "".join(f"{blob}\n" for _, blob in blobs).encode()
        objects = self._cat_batch(stdin, len(blobs))
        return {path: found[1] for (path, _), found in zip(blobs, objects, strict=True) if found}

    def commit_info(self, sha: str) -> CommitInfo:
        """The tree, parents, author, committer and message of a commit."""
        commit = self._commit(sha)
        raw = self._run(["cat-file", "commit", commit]).stdout.decode("utf-8", "replace")
        header, _, message = raw.partition("\n\n")
        fields: dict[str, list[str]] = {}
        for line in header.splitlines():
            if not line.startswith(" "):  # continuation lines belong to gpgsig and the like
                key, _, value = line.partition(" ")
                fields.setdefault(key, []).append(value)
        return CommitInfo(
            sha=commit,
            tree=fields["tree"][0],
            parents=tuple(fields.get("parent", ())),
            author=_parse_ident(fields["author"][0]),
            committer=_parse_ident(fields["committer"][0]),
            message=message,
        )

    def tree_of(self, sha: str) -> str:
        """The tree sha of a commit."""
        commit = self._commit(sha)
        return self._run(["rev-parse", "--verify", f"{commit}^{{tree}}"]).stdout.decode().strip()

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether ancestor is reachable from descendant (a commit is its own ancestor)."""
        argv = ["merge-base", "--is-ancestor", self._commit(ancestor), self._commit(descendant)]
        return self._run(argv, ok=(0, 1)).status == 0

    def commits_changing(self, commit: str, path: str, limit: int = 100) -> list[str]:
        """The newest `limit` commits reachable from `commit` that changed `path`, newest first."""
        argv = ["rev-list", f"--max-count={limit}", self._commit(commit), "--", check_path(path)]
        return self._run(argv).stdout.decode().split()

    def changed_paths(self, old: str, new: str) -> list[tuple[str, str]]:
        """(A, M or D, path) for every file that differs between two commits, by path."""
        argv = ["diff-tree", "-r", "-z", "--no-renames", "--name-status"]
        out = self._run([*argv, self._commit(old), self._commit(new)]).stdout.decode(
            "utf-8", "surrogateescape"
        )
        fields = out.split("\0")[:-1]
        # A type change (file <-> symlink) is a modification for gitbot's purposes.
        return [("M" if s == "T" else s, p) for s, p in zip(fields[::2], fields[1::2], strict=True)]

    def _ls_tree(self, commit: str, folders: Sequence[str]) -> list[str]:
        """Every file path (blobs only, as list_files) under these non-empty folders at a full
        commit sha, with one `ls-tree`."""
        argv = ["ls-tree", "-r", "-z", "--full-tree", commit, "--"]
        out = self._run([*argv, *(check_path(f) for f in folders)]).stdout
        prefixes = tuple(f"{f}/" for f in folders)
        paths = []
        for entry in out.decode("utf-8", "surrogateescape").split("\0"):
            meta, _, path = entry.partition("\t")
            if meta.split(" ")[1:2] == ["blob"] and path.startswith(prefixes):
                paths.append(path)
        return paths

    def _blobs(self, commit: str, prefix: str) -> list[tuple[str, str]]:
        """(path, blob sha) of every file under prefix at commit, in tree order."""
        folder = prefix.rstrip("/")
        argv = ["ls-tree", "-r", "-z", "--full-tree", self._commit(commit)]
        if folder:
            argv += ["--", check_path(folder)]
        blobs = []
        for entry in self._run(argv).stdout.decode("utf-8", "surrogateescape").split("\0"):
            meta, _, path = entry.partition("\t")
            kind = meta.split(" ")
            if (
                len(kind) == 3
                and kind[1] == "blob"
                and (not folder or path.startswith(folder + "/"))
            ):
                blobs.append((path, kind[2]))
        return blobs

    def _cat_batch(self, stdin: bytes, count: int) -> list[tuple[str, bytes] | None]:
        """(type, content) for each object named on stdin, None where it is missing."""
        return [None if o is None else (o[1], o[2]) for o in self._cat_objects(stdin, count)]

    def _cat_objects(self, stdin: bytes, count: int) -> list[tuple[str, str, bytes] | None]:
        """(sha, type, content) for each object named on stdin, None where it is missing."""
        out = self._run(["cat-file", "--batch"], stdin=stdin).stdout
        found: list[tuple[str, str, bytes] | None] = []
        pos = 0
        for _ in range(count):
            end = out.index(b"\n", pos)
            fields = out[pos:end].decode("utf-8", "replace").split(" ")
            pos = end + 1
            if len(fields) != 3 or not fields[2].isdigit():  # "<name> missing" and the like
                found.append(None)
                continue
            size = int(fields[2])
            found.append((fields[0], fields[1], out[pos : pos + size]))
            pos += size + 1  # the content is followed by a newline
        return found

    def _commit(self, ref: str) -> str:
        """A full sha as is (git checks it when used), anything else through resolve."""
        return ref if _SHA_RE.match(ref) else self.resolve(ref)

    # -- writing -----------------------------------------------------------------------------

    def commit_files(
        self,
        base: str | None,
        changes: Mapping[str, bytes | None],
        message: str,
        author: Identity,
    ) -> CommitInfo:
        """A local commit of base's tree with changes applied (None deletes; base None: root)."""
        # Nothing is pushed here. No-op changes still give a new commit, whose tree equals
        # base's: callers compare trees to skip empty commits. Files are written as 100644.
        for path, content in changes.items():
            check_path(path)
            if content is not None and not isinstance(content, bytes):
                raise TypeError(f"content of {path!r} must be bytes or None")
        _check_identity(author)
        parent = self._commit(base) if base is not None else None
        with tempfile.TemporaryDirectory(prefix="gitbot-blobs-") as tmp:
            writes = sorted(p for p, c in changes.items() if c is not None)
            blobs = self._write_blobs(Path(tmp), [cast(bytes, changes[p]) for p in writes])
        edits: dict[str, str | None] = {p: None for p, c in changes.items() if c is None}
        edits.update(zip(writes, blobs, strict=True))
        tree = self._write_tree(self.tree_of(parent) if parent else None, edits)
        argv = ["commit-tree", tree, *(["-p", parent] if parent else [])]
        text = message if message.endswith("\n") else message + "\n"
        result = self._run([*argv, "-F", "-"], stdin=text.encode(), env=_identity_env(author))
        return self.commit_info(result.stdout.decode().strip())

    def _write_blobs(self, tmp: Path, contents: list[bytes]) -> list[str]:
        """Store contents as blobs with one `hash-object` process; their shas in order."""
        if not contents:
            return []
        folder = tmp / "blobs"
        folder.mkdir()
        names = []
        for i, content in enumerate(contents):
            (folder / str(i)).write_bytes(content)
            names.append(str(folder / str(i)))
        stdin = "".join(f"{name}\n" for name in names).encode()
        argv = ["hash-object", "-w", "--no-filters", "--stdin-paths"]
        shas = self._run(argv, stdin=stdin).stdout.decode().split()
        if len(shas) != len(contents):
            raise GitError(f"git hash-object returned {len(shas)} ids for {len(contents)} files")
        return shas

    def _write_tree(self, base_tree: str | None, edits: Mapping[str, str | None]) -> str:
        """The tree of base_tree with edits applied (path -> blob sha written as 100644, or None
        to remove the file), rebuilding only the folders on the edited paths.

        Follows what a temporary index would make (`read-tree`, `update-index`, `write-tree`):
        removing an absent file or a folder's path does nothing, a folder left empty goes, every
        other entry keeps its mode. A path that would be both a file and a folder is a GitError.
        """
        folders = {""}
        for path in edits:
            parts = path.split("/")
            folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        hexlen = len(base_tree) if base_tree else len(self._empty_tree())
        found = self._read_folders(base_tree, folders) if base_tree else {}
        present = _present(found)
        before = {folder: sha for folder, (sha, _) in present.items()}
        by_folder: dict[str, list[tuple[bytes, str | None]]] = {}
        for path, blob in sorted(edits.items()):
            folder, _, leaf = path.rpartition("/")
            by_folder.setdefault(folder, []).append((leaf.encode("utf-8"), blob))
        children: dict[str, list[tuple[bytes, str | None]]] = {}
        made: dict[str, str | None] = {}  # folder -> its new tree, None when it is left empty
        to_write: list[tuple[str, list[tuple[bytes, bytes, str]]]] = []
        # Deepest first, so every folder's subfolders are made before it.
        for folder in sorted(folders, key=lambda f: (-f.count("/") - bool(f), f)):
            entries = dict(present.get(folder, ("", {}))[1])
            edited = by_folder.get(folder, [])
            for name, blob in edited:
                if blob is None and name in entries and entries[name][0] != _TREE_MODE:
                    del entries[name]
            for name, sub in children.get(folder, []):
                old = entries.get(name)
                if sub is None:
                    if old is not None and old[0] == _TREE_MODE:
                        del entries[name]
                elif old is not None and old[0] != _TREE_MODE:
                    raise self._both(folder, name)
                else:
                    entries[name] = (_TREE_MODE, sub)
            for name, blob in edited:
                if blob is not None:
                    if name in entries and entries[name][0] == _TREE_MODE:
                        raise self._both(folder, name)
                    entries[name] = (_FILE_MODE, blob)
            listed = sorted(
                ((mode, name, sha) for name, (mode, sha) in entries.items()),
                key=lambda e: e[1] + b"/" if e[0] == _TREE_MODE else e[1],
            )
            sha = _tree_sha(listed, hexlen) if listed or not folder else None
            made[folder] = sha
            if sha is not None and sha != before.get(folder):
                to_write.append((sha, listed))
            if folder:
                parent, _, base_name = folder.rpartition("/")
                children.setdefault(parent, []).append((base_name.encode("utf-8"), sha))
        self._make_trees(to_write)
        root = made[""]
        assert root is not None
        return root

    def _make_trees(self, trees: Sequence[tuple[str, list[tuple[bytes, bytes, str]]]]) -> None:
        """Store trees (children before parents) with one `mktree`, checking each sha."""
        if not trees:
            return
        stdin = b"".join(
            b"".join(
                b"%s %s %s\t%s\0" % (mode, _KIND.get(mode, "blob").encode(), sha.encode(), name)
                for mode, name, sha in listed
            )
            + b"\0"
            for _, listed in trees
        )
        made = self._run(["mktree", "-z", "--batch"], stdin=stdin).stdout.decode().split()
        if made != [sha for sha, _ in trees]:
            raise GitError(f"git mktree made trees {made} where gitbot expected another")

    def _both(self, folder: str, name: bytes) -> GitError:
        path = f"{folder}/" if folder else ""
        path += name.decode("utf-8", "replace")
        return GitError(f"cannot commit {path!r} in {self.url}: it is both a file and a folder")

    def _read_folders(self, treeish: str, folders: Collection[str]) -> dict[str, _Folder | None]:
        """Each folder's tree sha and entries at a full commit or tree sha, with one `cat-file`;
        None for a folder that is absent (or a file)."""
        wanted = sorted(folders)
        if not wanted:
            return {}
        names = [f"{treeish}:{check_path(f)}" if f else f"{treeish}^{{tree}}" for f in wanted]
        objects = self._cat_objects("".join(f"{n}\n" for n in names).encode(), len(names))
        return {
            folder: (obj[0], _parse_tree(obj[2], len(treeish)))
            if obj is not None and obj[1] == "tree"
            else None
            for folder, obj in zip(wanted, objects, strict=True)
        }

    def _empty_tree(self) -> str:
        """The empty tree's sha in this repository's object format."""
        argv = ["hash-object", "-t", "tree", "--stdin"]
        return self._run(argv, stdin=b"").stdout.decode().strip()

    # -- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold this cache's file lock (for fetches and ref updates), waiting at most timeout."""
        lock_path = self.path.with_suffix(".lock")
        timeout = self._cache.timeout
        with open(lock_path, "a+b") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise GitError(
                            f"timed out after {timeout:g} s waiting for the lock {lock_path}"
                        ) from None
                    time.sleep(_LOCK_POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def _run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        ok: Collection[int] | None = (0,),
        network: bool = False,
    ) -> _Result:
        full_env = {
            "GIT_DIR": str(self.path),
            "GIT_INDEX_FILE": str(self.path / "index"),
            **(env or {}),
        }
        return _execute(
            argv,
            cwd=self.path,
            env=full_env,
            timeout=self._cache.timeout,
            redactor=self._cache.redactor,
            stdin=stdin,
            ok=ok,
            remote=self.url if network else None,
        )

    def _auth_env(self) -> dict[str, str]:
        """The Authorization header as environment-only git config (never argv, URL or file)."""
        provider = self._cache.auth_header
        if provider is None or not self.url.startswith(("http://", "https://")):
            return {}
        value = provider(self.url)
        if value is None:
            return {}
        _register_header(self._cache.redactor, value)
        if any(c in value for c in "\r\n\0"):
            # A line break would smuggle further headers into every request.
            raise GitError(f"the auth header for {self.url} contains a line break")
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: {str.__str__(value)}",
        }


class TreeView:
    """Which files and folders one commit has, read a folder at a time as they are asked about
    and kept (thread-safe): a lookup costs the folders on its path, never the whole tree, so
    asking about a few paths of a 100,000-file tree stays cheap."""

    def __init__(self, repo: CachedRepo, commit: str) -> None:
        self.repo = repo
        self.commit = commit
        self._folders: dict[str, dict[bytes, tuple[bytes, str]] | None] = {}
        self._files: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TreeView({self.repo.url!r}, {self.commit!r})"

    def is_file(self, path: str) -> bool:
        """Whether path is a file (a blob: a regular file or a symlink) at the commit."""
        folder, _, name = path.rpartition("/")
        entry = self._entries(folder).get(name.encode("utf-8"))
        return entry is not None and entry[0] not in _KIND

    def is_dir(self, path: str) -> bool:
        """Whether path is a folder at the commit ('' is the root, always one)."""
        if not path:
            return True
        folder, _, name = path.rpartition("/")
        entry = self._entries(folder).get(name.encode("utf-8"))
        return entry is not None and entry[0] == _TREE_MODE

    def files_in(self, folders: Collection[str]) -> dict[str, list[str]]:
        """Every file under each folder (recursively), sorted; [] for an absent folder. One
        `ls-tree` for all the folders not asked about before."""
        with self._lock:
            missing = sorted({f.rstrip("/") for f in folders} - self._files.keys())
            # Only what is already known absent is left out: checking each folder first would
            # cost a git call per folder, where one ls-tree answers them all.
            present = [f for f in missing if f and not self._known_absent(f)]
        found: dict[str, list[str]] = {f: [] for f in missing}
        for start in range(0, len(present), _PATHSPECS_PER_CALL):
            chunk = present[start : start + _PATHSPECS_PER_CALL]
            asked = set(chunk)
            for path in self.repo._ls_tree(self.commit, chunk):
                parts = path.split("/")
                for depth in range(1, len(parts)):
                    if (folder := "/".join(parts[:depth])) in asked:
                        found[folder].append(path)
        with self._lock:
            self._files.update({f: sorted(paths) for f, paths in found.items()})
            return {f: self._files[f.rstrip("/")] for f in folders}

    def _known_absent(self, folder: str) -> bool:
        """Whether the folders read so far show that folder is absent (the lock held)."""
        parts = folder.split("/")
        for depth in range(len(parts)):
            here = "/".join(parts[:depth])
            if here not in self._folders:
                return False  # not read yet: it may be there
            known = self._folders[here]
            if known is None or known.get(parts[depth].encode("utf-8"), (b"",))[0] != _TREE_MODE:
                return True
        return False

    def _entries(self, folder: str) -> dict[bytes, tuple[bytes, str]]:
        """The folder's entries ({} when absent). A folder under one known to be absent costs no
        git call; otherwise it and its unread parents are read with one."""
        parts = folder.split("/") if folder else []
        chain = ["/".join(parts[:i]) for i in range(len(parts) + 1)]
        with self._lock:
            for depth, here in enumerate(chain):
                if here not in self._folders:
                    unread = chain[depth:]
                    break
                known = self._folders[here]
                if known is None or (
                    here != folder
                    and known.get(parts[depth].encode("utf-8"), (b"",))[0] != _TREE_MODE
                ):
                    return {}
            else:
                return self._folders[folder] or {}
        found = self.repo._read_folders(self.commit, unread)
        with self._lock:
            for here in unread:
                entry = found[here]
                self._folders[here] = entry[1] if entry is not None else None
            entry = found[folder]
        return entry[1] if entry is not None else {}


_Folder = tuple[str, dict[bytes, tuple[bytes, str]]]  # a tree's sha and its entries by name


def _present(found: Mapping[str, _Folder | None]) -> dict[str, _Folder]:
    return {folder: entry for folder, entry in found.items() if entry is not None}


def _parse_tree(raw: bytes, hexlen: int) -> dict[bytes, tuple[bytes, str]]:
    """A raw tree object's entries: name -> (mode, sha), modes in git's canonical octal."""
    size = hexlen // 2
    entries: dict[bytes, tuple[bytes, str]] = {}
    pos = 0
    while pos < len(raw):
        space = raw.index(b" ", pos)
        nul = raw.index(b"\0", space)
        mode = b"%o" % int(raw[pos:space], 8)
        entries[raw[space + 1 : nul]] = (mode, raw[nul + 1 : nul + 1 + size].hex())
        pos = nul + 1 + size
    return entries


def _tree_sha(listed: Sequence[tuple[bytes, bytes, str]], hexlen: int) -> str:
    """The sha git gives a tree of these (mode, name, sha) entries, already in tree order."""
    body = b"".join(b"%s %s\0%s" % (mode, name, bytes.fromhex(sha)) for mode, name, sha in listed)
    digest = hashlib.sha1() if hexlen == 40 else hashlib.sha256()
    digest.update(b"tree %d\0" % len(body) + body)
    return digest.hexdigest()


def normalize_url(url: str) -> str:
    """The canonical form of a remote (absolute path, file:// or http(s) URL) or GitError."""
    if not url or url != url.strip() or any(c in url for c in "\0\n\r"):
        raise GitError(f"invalid remote URL {url!r}")
    if "://" not in url:
        if _SCP_LIKE_RE.match(url):
            raise GitError(_unsupported(url))
        return str(Path(url).expanduser().resolve())
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
            raise GitError(_unsupported(url))
        return "file://" + str(Path(parts.path).resolve())
    if scheme not in ("http", "https"):
        raise GitError(_unsupported(url))
    if "@" in parts.netloc:
        shown = urlunsplit(
            (parts.scheme, f"{REDACTED}@{parts.netloc.rpartition('@')[2]}", *parts[2:])
        )
        raise GitError(
            f"remote URL {shown} has credentials in it: remove them and configure "
            "authentication (a GitHub App) instead"
        )
    if not parts.hostname or parts.query or parts.fragment:
        raise GitError(_unsupported(url))
    return urlunsplit((scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))


def _unsupported(url: str) -> str:
    return f"unsupported remote URL {url!r}: use https://, http://, file:// or a local path"


def check_path(path: str) -> str:
    """path if it is a safe repository file path, else ValueError naming it and the problem."""
    problem = _path_problem(path)
    if problem:
        raise ValueError(f"invalid path {path!r}: {problem}")
    return path


def _path_problem(path: str) -> str | None:
    if not isinstance(path, str) or not path:
        return "must be a non-empty string"
    if any(c in path for c in "\0\n\r"):
        return "control characters are not allowed"
    if path.startswith("/"):
        return "must be relative"
    for segment in path.split("/"):
        if not segment:
            return "empty segments are not allowed"
        if segment in (".", ".."):
            return f"'{segment}' segments are not allowed"
        if segment.lower() == ".git":
            return "'.git' segments are not allowed"
    return None


def _check_branch(branch: str) -> None:
    if (
        not branch
        or branch.startswith(("-", "/", ".", "refs/"))
        or branch.endswith(("/", "."))
        or branch == "@"
        or _BAD_BRANCH_RE.search(branch)
    ):
        raise ValueError(f"invalid branch name {branch!r}")


def _check_identity(who: Identity) -> None:
    for value in (who.name, who.email):
        if not value.strip() or any(c in value for c in "<>\n\0"):
            raise ValueError(f"invalid commit identity {who.name!r} <{who.email}>")


def _identity_env(who: Identity) -> dict[str, str]:
    # Dates set explicitly so an inherited GIT_*_DATE cannot backdate our commits.
    now = f"{int(time.time())} +0000"
    env = {}
    for role in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{role}_NAME"] = who.name
        env[f"GIT_{role}_EMAIL"] = who.email
        env[f"GIT_{role}_DATE"] = now
    return env


def _parse_ident(value: str) -> Identity:
    match = _IDENT_RE.match(value)
    if match is None:
        return Identity(name=value, email="")
    return Identity(name=match["name"], email=match["email"])


def _register_header(redactor: Redactor, value: str) -> None:
    """Teach the redactor the header, its credentials and, for Basic, the decoded token."""
    raw = str.__str__(value)
    redactor.add(raw)
    scheme, _, credentials = raw.partition(" ")
    if not credentials:
        return
    redactor.add(credentials)
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return
        redactor.add(decoded)
        redactor.add(decoded.partition(":")[2])
