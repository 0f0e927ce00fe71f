"""GitHub webhook deliveries: signature check and parsing into typed events (pure, no Flask).

Every key gitbot reads from a payload is read here; the rest of gitbot sees only the frozen
dataclasses below. A payload gitbot cannot read raises `PayloadError`, whose `reason` names the
key path (`repository.full_name: expected a string, got null`); no other exception escapes
`parse_event`, whatever the bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

SIGNATURE_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
# Ids and numbers must fit a signed 64-bit column (SQLite INTEGER, PostgreSQL BIGINT).
_MAX_ID = 2**63 - 1


# --- signatures -------------------------------------------------------------------------------


def sign(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`: "sha256=<hex>"."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, body: bytes, header: str | None) -> bool:
    """True if `header` is a well-formed "sha256=<hex>" HMAC of `body` under `secret`."""
    if header is None or not header.startswith(SIGNATURE_PREFIX):
        return False
    given = header[len(SIGNATURE_PREFIX) :]
    # Checked before comparing: compare_digest raises on non-ASCII strings.
    if not _HEX_DIGEST.fullmatch(given):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, bytes.fromhex(given))


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoRef:
    """A repository as installation events list it: id and owner/name only."""

    id: int
    full_name: str


@dataclass(frozen=True)
class Repository:
    """The repository a delivery is about."""

    id: int
    full_name: str
    default_branch: str
    clone_url: str
    private: bool


@dataclass(frozen=True)
class Ping:
    """GitHub's hello when a hook is created; `repository` is None for organisation hooks."""

    hook_id: int | None
    zen: str
    repository: Repository | None


@dataclass(frozen=True)
class Push:
    """Commits pushed to (or a ref created or deleted in) a repository."""

    installation_id: int | None
    repository: Repository
    ref: str
    before: str
    after: str
    created: bool
    deleted: bool
    forced: bool
    sender: str

    @property
    def branch(self) -> str | None:
        """The branch name for "refs/heads/<name>" refs, None for tags and other refs."""
        prefix = "refs/heads/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None


@dataclass(frozen=True)
class InstallationChanged:
    """The App was installed, uninstalled, suspended... (`installation` event)."""

    action: str
    installation_id: int
    account: str
    repositories: tuple[RepoRef, ...]


@dataclass(frozen=True)
class InstallationRepositoriesChanged:
    """Repositories were added to or removed from an installation."""

    action: str
    installation_id: int
    account: str
    added: tuple[RepoRef, ...]
    removed: tuple[RepoRef, ...]


@dataclass(frozen=True)
class PullRequestChanged:
    """Something happened to a pull request (`action`: opened, synchronize, closed...)."""

    action: str
    installation_id: int | None
    repository: Repository
    number: int
    state: str
    merged: bool
    head_ref: str
    head_sha: str
    base_ref: str
    sender: str
    head_repository: str | None = None  # full name; another one for a fork, None if deleted
    author_association: str = "NONE"  # OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE...

    @property
    def from_fork(self) -> bool:
        return self.head_repository != self.repository.full_name


@dataclass(frozen=True)
class IssueCommentCreated:
    """A comment on an issue or pull request; `action` says whether it was created or not."""

    action: str
    installation_id: int | None
    repository: Repository
    issue_number: int
    on_pull_request: bool
    comment_id: int
    body: str
    author: str
    author_association: str


@dataclass(frozen=True)
class ChecksRerequested:
    """A "Re-run" click: `check_run` (one check run, `name` set) or `check_suite` (all of a
    commit's checks, `name` None). GitHub sends them only to the App that made the checks."""

    event: str  # "check_run" or "check_suite"
    action: str  # "rerequested" is the click; created, completed... need no work
    installation_id: int | None
    repository: Repository
    head_sha: str
    head_branch: str | None  # None when the commit is on no branch (a fork's pull request)
    name: str | None
    pull_requests: tuple[int, ...]  # numbers of the open pull requests with this head
    sender: str


@dataclass(frozen=True)
class Ignored:
    """A delivery gitbot does not read, and why."""

    event: str
    reason: str


Event: TypeAlias = (
    Ping
    | Push
    | InstallationChanged
    | InstallationRepositoriesChanged
    | PullRequestChanged
    | IssueCommentCreated
    | ChecksRerequested
    | Ignored
)


class PayloadError(ValueError):
    """A signed payload gitbot cannot read: `reason` says why.

    Either the JSON error with its position, or the missing or mistyped key path, such as
    'repository.full_name: expected a string, got null'.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- reading JSON with key paths --------------------------------------------------------------


def _describe(value: object) -> str:
    """The JSON type of a decoded value, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


@dataclass(frozen=True)
class _Node:
    """A JSON object and its key path from the top of the payload."""

    data: dict[str, object]
    path: str

    def _where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def _get(self, key: str, expected: str) -> object:
        if key not in self.data:
            raise PayloadError(f"{self._where(key)}: missing, expected {expected}")
        return self.data[key]

    def _wrong(self, key: str, expected: str, value: object) -> PayloadError:
        return PayloadError(f"{self._where(key)}: expected {expected}, got {_describe(value)}")

    def node(self, key: str) -> _Node:
        value = self._get(key, "an object")
        if not isinstance(value, dict):
            raise self._wrong(key, "an object", value)
        return _Node(value, self._where(key))

    def maybe_node(self, key: str) -> _Node | None:
        """The object at `key`, or None if the key is missing or null."""
        if self.data.get(key) is None:
            return None
        return self.node(key)

    def nodes(self, key: str, *, optional: bool = False) -> tuple[_Node, ...]:
        """The objects in the array at `key`; `optional`: a missing or null key is empty."""
        if optional and self.data.get(key) is None:
            return ()
        value = self._get(key, "an array")
        if not isinstance(value, list):
            raise self._wrong(key, "an array", value)
        items = []
        for index, item in enumerate(value):
            where = f"{self._where(key)}[{index}]"
            if not isinstance(item, dict):
                raise PayloadError(f"{where}: expected an object, got {_describe(item)}")
            items.append(_Node(item, where))
        return tuple(items)

    def text(self, key: str) -> str:
        value = self._get(key, "a string")
        if not isinstance(value, str):
            raise self._wrong(key, "a string", value)
        try:
            # JSON allows lone surrogates ("\ud800"); they cannot be stored or logged as UTF-8.
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError(f"{self._where(key)}: not valid Unicode (lone surrogate)") from None
        return value

    def integer(self, key: str) -> int:
        expected = "an integer"
        value = self._get(key, expected)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(key, expected, value)
        if not 0 <= value <= _MAX_ID:
            raise PayloadError(
                f"{self._where(key)}: out of range, expected an integer from 0 to 2**63-1"
            )
        return value

    def maybe_integer(self, key: str) -> int | None:
        """The integer at `key`, or None if the key is missing or null."""
        return None if self.data.get(key) is None else self.integer(key)

    def flag(self, key: str, *, null: bool | None = None) -> bool:
        """The boolean at `key`; `null`: what a JSON null means (None: null is an error)."""
        value = self._get(key, "a boolean")
        if value is None and null is not None:
            return null
        if not isinstance(value, bool):
            raise self._wrong(key, "a boolean", value)
        return value


def _load(body: bytes) -> _Node:
    """The top-level JSON object of `body`; PayloadError for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise PayloadError(
            f"invalid JSON: not UTF-8 (byte 0x{body[e.start]:02x} at position {e.start})"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise PayloadError(f"invalid JSON: {e}") from None
    except RecursionError:
        raise PayloadError("invalid JSON: nested too deeply") from None
    except ValueError as e:  # an integer literal longer than sys.get_int_max_str_digits()
        raise PayloadError(f"invalid JSON: {e}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"top level: expected an object, got {_describe(data)}")
    return _Node(data, "")


# --- event parsers ----------------------------------------------------------------------------


def _repository(node: _Node) -> Repository:
    return Repository(
        id=node.integer("id"),
        full_name=node.text("full_name"),
        default_branch=node.text("default_branch"),
        clone_url=node.text("clone_url"),
        private=node.flag("private"),
    )


def _repo_ref(node: _Node) -> RepoRef:
    return RepoRef(id=node.integer("id"), full_name=node.text("full_name"))


def _installation_id(root: _Node) -> int | None:
    installation = root.maybe_node("installation")
    return None if installation is None else installation.integer("id")


def _account(installation: _Node) -> str:
    """The login of the account the App is installed on (an enterprise has a slug instead)."""
    account = installation.node("account")
    if "login" not in account.data and "slug" in account.data:
        return account.text("slug")
    return account.text("login")


def _ping(root: _Node) -> Ping:
    repository = root.maybe_node("repository")
    return Ping(
        hook_id=root.maybe_integer("hook_id"),
        zen=root.text("zen"),
        repository=None if repository is None else _repository(repository),
    )


def _push(root: _Node) -> Push:
    return Push(
        installation_id=_installation_id(root),
        repository=_repository(root.node("repository")),
        ref=root.text("ref"),
        before=root.text("before"),
        after=root.text("after"),
        created=root.flag("created"),
        deleted=root.flag("deleted"),
        forced=root.flag("forced"),
        sender=root.node("sender").text("login"),
    )


def _installation(root: _Node) -> InstallationChanged:
    installation = root.node("installation")
    return InstallationChanged(
        action=root.text("action"),
        installation_id=installation.integer("id"),
        account=_account(installation),
        # Absent on suspend/unsuspend.
        repositories=tuple(_repo_ref(r) for r in root.nodes("repositories", optional=True)),
    )


def _installation_repositories(root: _Node) -> InstallationRepositoriesChanged:
    installation = root.node("installation")
    return InstallationRepositoriesChanged(
        action=root.text("action"),
        installation_id=installation.integer("id"),
        account=_account(installation),
        added=tuple(_repo_ref(r) for r in root.nodes("repositories_added")),
        removed=tuple(_repo_ref(r) for r in root.nodes("repositories_removed")),
    )


def _pull_request(root: _Node) -> PullRequestChanged:
    pull = root.node("pull_request")
    head = pull.node("head")
    head_repo = head.maybe_node("repo")
    return PullRequestChanged(
        action=root.text("action"),
        installation_id=_installation_id(root),
        repository=_repository(root.node("repository")),
        number=root.integer("number"),
        state=pull.text("state"),
        # GitHub's schema allows null ("not known yet"); only true means merged.
        merged=pull.flag("merged", null=False),
        head_ref=head.text("ref"),
        head_sha=head.text("sha"),
        base_ref=pull.node("base").text("ref"),
        sender=root.node("sender").text("login"),
        head_repository=head_repo.text("full_name") if head_repo is not None else None,
        author_association=pull.text("author_association"),
    )


def _issue_comment(root: _Node) -> IssueCommentCreated:
    issue = root.node("issue")
    comment = root.node("comment")
    return IssueCommentCreated(
        action=root.text("action"),
        installation_id=_installation_id(root),
        repository=_repository(root.node("repository")),
        issue_number=issue.integer("number"),
        # Issues and pull requests share numbers; only PR issues carry `pull_request`.
        on_pull_request=issue.maybe_node("pull_request") is not None,
        comment_id=comment.integer("id"),
        body=comment.text("body"),
        author=comment.node("user").text("login"),
        author_association=comment.text("author_association"),
    )


def _checks(root: _Node, event: str) -> ChecksRerequested:
    run = root.node(event)
    suite = run.node("check_suite") if event == "check_run" else run
    branch = suite.data.get("head_branch")
    return ChecksRerequested(
        event=event,
        action=root.text("action"),
        installation_id=_installation_id(root),
        repository=_repository(root.node("repository")),
        head_sha=run.text("head_sha"),
        head_branch=None if branch is None else suite.text("head_branch"),
        name=run.text("name") if event == "check_run" else None,
        pull_requests=tuple(p.integer("number") for p in run.nodes("pull_requests")),
        sender=root.node("sender").text("login"),
    )


_PARSERS: dict[str, Callable[[_Node], Event]] = {
    "ping": _ping,
    "push": _push,
    "installation": _installation,
    "installation_repositories": _installation_repositories,
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "check_run": lambda root: _checks(root, "check_run"),
    "check_suite": lambda root: _checks(root, "check_suite"),
}
HANDLED_EVENTS = frozenset(_PARSERS)


def parse_event(event: str, body: bytes) -> Event:
    """The typed event for a delivery's `X-GitHub-Event` name and raw body.

    Unknown event names are Ignored without reading the body; every action of a known event is
    parsed (the caller decides what to act on); an unreadable payload raises PayloadError.
    """
    parser = _PARSERS.get(event)
    if parser is None:
        return Ignored(event, f"gitbot does not handle {event!r} events")
    return parser(_load(body))


# --- comment commands -------------------------------------------------------------------------

_COMMAND = re.compile(r"[ \t]*/gitbot[ \t]+reconcile(?:[ \t]+(?P<promise>\S+))?[ \t]*")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_FENCE = re.compile(r"[ \t]{0,3}(```|~~~)")


@dataclass(frozen=True)
class ReconcileCommand:
    """`/gitbot reconcile [promise]`: rerun one Promise, or every Promise when None."""

    promise: str | None


def parse_command(comment: str) -> ReconcileCommand | None:
    """The first `/gitbot reconcile [promise]` line of a comment, outside code blocks, or None."""
    in_code = False
    for line in comment.splitlines():
        # A command quoted in a fenced code block is documentation, not a request.
        if _FENCE.match(line):
            in_code = not in_code
            continue
        match = None if in_code else _COMMAND.fullmatch(line)
        if match is None:
            continue
        promise = match["promise"]
        if promise is None or (len(promise) <= 253 and _DNS_SUBDOMAIN.fullmatch(promise)):
            return ReconcileCommand(promise)
    return None
