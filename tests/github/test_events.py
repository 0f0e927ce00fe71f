"""Webhook signatures and payload parsing, against GitHub's published example payloads."""

from __future__ import annotations

import copy
import json
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitbot.github.events import (
    HANDLED_EVENTS,
    ChecksRerequested,
    Event,
    Ignored,
    InstallationChanged,
    InstallationRepositoriesChanged,
    IssueCommentCreated,
    PayloadError,
    Ping,
    PullRequestChanged,
    Push,
    ReconcileCommand,
    RepoRef,
    Repository,
    parse_command,
    parse_event,
    sign,
    verify_signature,
)

WEBHOOKS = Path(__file__).resolve().parent.parent / "data" / "webhooks"
FILES = sorted(p.name for p in WEBHOOKS.glob("*.json"))
EVENT_TYPES = typing.get_args(Event)
SECRET = b"It's a Secret to Everybody"

HELLO_WORLD = Repository(
    id=186853002,
    full_name="Codertocat/Hello-World",
    default_branch="master",
    clone_url="https://github.com/Codertocat/Hello-World.git",
    private=False,
)
SHA = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
ZERO_SHA = "0" * 40
PR_HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def raw(name: str) -> bytes:
    """The bytes of one stored example payload."""
    return (WEBHOOKS / name).read_bytes()


def loaded(name: str) -> dict[str, Any]:
    """One stored example payload, decoded, to mutate."""
    data: dict[str, Any] = json.loads(raw(name))
    return data


def event_of(name: str) -> str:
    """The X-GitHub-Event name of a stored payload: the file name up to the first dot."""
    return name.split(".", 1)[0]


def parse(event: str, payload: object) -> Event:
    """parse_event over a JSON-encoded payload."""
    return parse_event(event, json.dumps(payload).encode())


def reason(event: str, body: bytes) -> str:
    """The PayloadError reason for a body parse_event refuses."""
    with pytest.raises(PayloadError) as caught:
        parse_event(event, body)
    assert str(caught.value) == caught.value.reason
    return caught.value.reason


# --- signatures -------------------------------------------------------------------------------


def test_sign_matches_githubs_documented_example() -> None:
    # docs.github.com "Validating webhook deliveries": secret, payload and expected signature.
    assert (
        sign(SECRET, b"Hello, World!")
        == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_verify_accepts_the_right_signature() -> None:
    body = raw("push.default.json")
    assert verify_signature(SECRET, body, sign(SECRET, body))
    assert verify_signature(SECRET, body, sign(SECRET, body).upper().replace("SHA256=", "sha256="))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256",
        "sha1=" + "0" * 40,
        "sha512=" + "0" * 128,
        "SHA256=" + "0" * 64,
        "sha256=" + "0" * 63,
        "sha256=" + "0" * 65,
        "sha256=" + "g" * 64,
        "sha256=" + "é" * 64,
        "sha256= " + "0" * 63,
        "sha256=" + "0" * 64 + "\n",
    ],
)
def test_verify_refuses_missing_and_malformed_headers(header: str | None) -> None:
    assert not verify_signature(SECRET, b"{}", header)


@pytest.mark.parametrize("position", range(32))
def test_verify_refuses_a_digest_wrong_in_any_one_byte(position: int) -> None:
    # A check that compared only some bytes (the first, a prefix) would pass a forgery.
    body = raw("push.default.json")
    digest = bytearray.fromhex(sign(SECRET, body).removeprefix("sha256="))
    digest[position] ^= 0x01
    assert not verify_signature(SECRET, body, "sha256=" + digest.hex())


def test_verify_refuses_a_digest_wrong_only_in_its_last_hex_digit() -> None:
    body = raw("push.default.json")
    good = sign(SECRET, body)
    for digit in "0123456789abcdef":
        forged = good[:-1] + digit
        assert verify_signature(SECRET, body, forged) == (forged == good)


def test_case_changes_only_the_spelling_of_the_same_digest() -> None:
    # Hex is case-insensitive (the same bytes); the "sha256=" prefix is not, as GitHub sends it.
    body = raw("push.default.json")
    hex_digest = sign(SECRET, body).removeprefix("sha256=")
    assert verify_signature(SECRET, body, "sha256=" + hex_digest.upper())
    assert not verify_signature(SECRET, body, "SHA256=" + hex_digest)
    assert not verify_signature(SECRET, body, "Sha256=" + hex_digest)
    other = sign(SECRET, body + b"x").removeprefix("sha256=")
    assert not verify_signature(SECRET, body, "sha256=" + other.upper())


def test_verify_refuses_an_empty_secret_s_signature_under_a_real_secret() -> None:
    body = raw("push.default.json")
    assert not verify_signature(SECRET, body, sign(b"", body))


def test_verify_refuses_another_secret_or_body() -> None:
    body = raw("push.default.json")
    good = sign(SECRET, body)
    assert not verify_signature(b"another secret", body, good)
    assert not verify_signature(SECRET, body + b" ", good)
    assert not verify_signature(SECRET, body, "sha1=" + good.removeprefix("sha256=")[:40])


# --- the stored payloads ----------------------------------------------------------------------


def test_every_stored_payload_is_tested() -> None:
    assert FILES == [
        "check_run.rerequested.json",
        "check_suite.rerequested.json",
        "installation.created.json",
        "installation.deleted.json",
        "installation_repositories.added.json",
        "installation_repositories.removed.json",
        "issue_comment.created.json",
        "ping.default.json",
        "ping.default.org-hook.json",
        "pull_request.closed.json",
        "pull_request.opened.json",
        "pull_request.synchronize.json",
        "push.default.json",
        "push.default.tag-deleted.json",
    ]


def test_ping() -> None:
    assert parse_event("ping", raw("ping.default.json")) == Ping(
        hook_id=109948940,
        zen="Anything added dilutes everything else.",
        repository=Repository(
            id=186853261,
            full_name="Octocoders/Hello-World",
            default_branch="master",
            clone_url="https://github.com/Octocoders/Hello-World.git",
            private=False,
        ),
    )


def test_ping_from_an_organization_hook_has_no_repository() -> None:
    assert parse_event("ping", raw("ping.default.org-hook.json")) == Ping(
        hook_id=109948940, zen="Anything added dilutes everything else.", repository=None
    )


def test_push_of_a_new_branch() -> None:
    push = parse_event("push", raw("push.default.json"))
    assert push == Push(
        installation_id=1,
        repository=HELLO_WORLD,
        ref="refs/heads/master",
        before=ZERO_SHA,
        after=SHA,
        created=True,
        deleted=False,
        forced=False,
        sender="Codertocat",
    )
    assert isinstance(push, Push)
    assert push.branch == "master"


def test_push_deleting_a_tag() -> None:
    push = parse_event("push", raw("push.default.tag-deleted.json"))
    assert push == Push(
        installation_id=1,
        repository=HELLO_WORLD,
        ref="refs/tags/simple-tag",
        before=SHA,
        after=ZERO_SHA,
        created=False,
        deleted=True,
        forced=False,
        sender="Codertocat",
    )
    assert isinstance(push, Push)
    assert push.branch is None


@pytest.mark.parametrize(
    ("ref", "branch"),
    [
        ("refs/heads/main", "main"),
        ("refs/heads/feature/x", "feature/x"),
        ("refs/tags/v1", None),
        ("refs/pull/1/head", None),
        ("main", None),
    ],
)
def test_push_branch(ref: str, branch: str | None) -> None:
    payload = loaded("push.default.json")
    payload["ref"] = ref
    push = parse("push", payload)
    assert isinstance(push, Push)
    assert push.branch == branch


def test_push_without_an_installation() -> None:
    payload = loaded("push.default.json")
    del payload["installation"]
    push = parse("push", payload)
    assert isinstance(push, Push)
    assert push.installation_id is None


def test_installation_created() -> None:
    assert parse_event("installation", raw("installation.created.json")) == InstallationChanged(
        action="created",
        installation_id=957387,
        account="Codertocat",
        repositories=(RepoRef(186853002, "Codertocat/Hello-World"),),
    )


def test_installation_deleted() -> None:
    assert parse_event("installation", raw("installation.deleted.json")) == InstallationChanged(
        action="deleted",
        installation_id=2,
        account="octocat",
        repositories=(RepoRef(1296269, "octocat/Hello-World"),),
    )


def test_installation_suspended_lists_no_repositories() -> None:
    # GitHub's suspend example has no `repositories` key at all.
    payload = loaded("installation.created.json")
    payload["action"] = "suspend"
    del payload["repositories"]
    assert parse("installation", payload) == InstallationChanged(
        action="suspend", installation_id=957387, account="Codertocat", repositories=()
    )


def test_installation_on_an_enterprise_account_is_named_by_its_slug() -> None:
    payload = loaded("installation.created.json")
    payload["installation"]["account"] = {"id": 1, "slug": "big-corp", "name": "Big Corp"}
    event = parse("installation", payload)
    assert isinstance(event, InstallationChanged)
    assert event.account == "big-corp"


def test_an_account_with_a_login_is_named_by_it_even_with_a_slug() -> None:
    payload = loaded("installation.created.json")
    payload["installation"]["account"].update(login="octo-org", slug="octo-slug")
    event = parse("installation", payload)
    assert isinstance(event, InstallationChanged) and event.account == "octo-org"


@pytest.mark.parametrize("value", [0, 2**63 - 1])
def test_ids_at_the_ends_of_the_range_are_accepted(value: int) -> None:
    payload = loaded("issue_comment.created.json")
    payload["comment"]["id"] = value
    event = parse("issue_comment", payload)
    assert isinstance(event, IssueCommentCreated) and event.comment_id == value


@pytest.mark.parametrize("hook_id", [None, "missing"])
def test_a_ping_without_a_hook_id_has_none(hook_id: object) -> None:
    payload = loaded("ping.default.json")
    if hook_id == "missing":
        del payload["hook_id"]
    else:
        payload["hook_id"] = hook_id
    event = parse("ping", payload)
    assert isinstance(event, Ping) and event.hook_id is None


def test_installation_repositories_added() -> None:
    event = parse_event("installation_repositories", raw("installation_repositories.added.json"))
    assert event == InstallationRepositoriesChanged(
        action="added",
        installation_id=957387,
        account="Codertocat",
        added=(RepoRef(186853007, "Codertocat/Space"),),
        removed=(),
    )


def test_installation_repositories_removed() -> None:
    event = parse_event("installation_repositories", raw("installation_repositories.removed.json"))
    assert event == InstallationRepositoriesChanged(
        action="removed",
        installation_id=2,
        account="octocat",
        added=(),
        removed=(RepoRef(1296269, "octocat/Hello-World"),),
    )


@pytest.mark.parametrize(
    ("name", "action", "state"),
    [
        ("pull_request.opened.json", "opened", "open"),
        ("pull_request.synchronize.json", "synchronize", "open"),
        ("pull_request.closed.json", "closed", "closed"),
    ],
)
def test_pull_request(name: str, action: str, state: str) -> None:
    assert parse_event("pull_request", raw(name)) == PullRequestChanged(
        action=action,
        installation_id=1,
        repository=HELLO_WORLD,
        number=2,
        state=state,
        merged=False,
        head_ref="changes",
        head_sha=PR_HEAD_SHA,
        base_ref="master",
        sender="Codertocat",
        head_repository="Codertocat/Hello-World",
        author_association="OWNER",
    )


def test_a_pull_request_from_a_fork_or_a_deleted_fork_is_told_apart() -> None:
    payload = json.loads(raw("pull_request.opened.json"))
    assert not parse_event("pull_request", json.dumps(payload).encode()).from_fork
    payload["pull_request"]["head"]["repo"]["full_name"] = "someone/Hello-World"
    forked = parse_event("pull_request", json.dumps(payload).encode())
    assert forked.head_repository == "someone/Hello-World" and forked.from_fork
    payload["pull_request"]["head"]["repo"] = None  # the fork was deleted
    gone = parse_event("pull_request", json.dumps(payload).encode())
    assert gone.head_repository is None and gone.from_fork


@pytest.mark.parametrize(("value", "merged"), [(True, True), (False, False), (None, False)])
def test_pull_request_merged(value: bool | None, merged: bool) -> None:
    # GitHub publishes no merged example: the closed one, marked merged (null: not known yet).
    payload = loaded("pull_request.closed.json")
    payload["pull_request"]["merged"] = value
    event = parse("pull_request", payload)
    assert isinstance(event, PullRequestChanged)
    assert event.merged is merged


def test_pull_request_actions_gitbot_ignores_are_still_parsed() -> None:
    payload = loaded("pull_request.opened.json")
    payload["action"] = "labeled"
    event = parse("pull_request", payload)
    assert isinstance(event, PullRequestChanged)
    assert event.action == "labeled"


def test_issue_comment_created() -> None:
    assert parse_event("issue_comment", raw("issue_comment.created.json")) == IssueCommentCreated(
        action="created",
        installation_id=1,
        repository=HELLO_WORLD,
        issue_number=1,
        on_pull_request=False,
        comment_id=492700400,
        body="You are totally right! I'll get this fixed right away.",
        author="Codertocat",
        author_association="OWNER",
    )


def test_issue_comment_on_a_pull_request() -> None:
    # GitHub publishes no such example: a PR's issue carries a `pull_request` object.
    payload = loaded("issue_comment.created.json")
    payload["issue"]["pull_request"] = {
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1",
        "merged_at": None,
    }
    payload["comment"]["body"] = "/gitbot reconcile\r\n"
    event = parse("issue_comment", payload)
    assert isinstance(event, IssueCommentCreated)
    assert event.on_pull_request
    assert parse_command(event.body) == ReconcileCommand(None)


def test_check_run_rerequested() -> None:
    event = parse_event("check_run", raw("check_run.rerequested.json"))
    assert isinstance(event, ChecksRerequested)
    assert (event.event, event.action, event.name, event.installation_id) == (
        "check_run",
        "rerequested",
        "randscape",
        1,
    )
    assert (event.head_sha, event.head_branch, event.pull_requests) == (
        "d6fde92930d4715a2b49857d24b940956b26d2d3",
        "master",
        (),
    )
    assert event.repository.full_name == "github/hello-world"


def test_check_suite_rerequested_on_a_pull_request() -> None:
    event = parse_event("check_suite", raw("check_suite.rerequested.json"))
    assert isinstance(event, ChecksRerequested)
    assert (event.event, event.action, event.name) == ("check_suite", "rerequested", None)
    assert (event.head_sha, event.head_branch, event.pull_requests) == (
        "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
        "changes",
        (2,),
    )
    assert event.sender == "octocoders-linter[bot]"


def test_a_check_suite_of_a_fork_has_no_branch_and_a_wrong_one_names_its_key() -> None:
    payload = loaded("check_suite.rerequested.json")
    payload["check_suite"]["head_branch"] = None
    event = parse("check_suite", payload)
    assert isinstance(event, ChecksRerequested) and event.head_branch is None
    payload["check_suite"]["pull_requests"][0]["number"] = "2"
    with pytest.raises(PayloadError) as raised:
        parse("check_suite", payload)
    assert raised.value.reason == (
        "check_suite.pull_requests[0].number: expected an integer, got a string"
    )


@pytest.mark.parametrize("name", FILES)
def test_stored_payloads_parse_to_their_event_type(name: str) -> None:
    expected = {
        "ping": Ping,
        "push": Push,
        "installation": InstallationChanged,
        "installation_repositories": InstallationRepositoriesChanged,
        "pull_request": PullRequestChanged,
        "issue_comment": IssueCommentCreated,
        "check_run": ChecksRerequested,
        "check_suite": ChecksRerequested,
    }[event_of(name)]
    assert type(parse_event(event_of(name), raw(name))) is expected


# --- events gitbot does not read --------------------------------------------------------------


def test_unknown_events_are_ignored_without_reading_the_body() -> None:
    assert parse_event("star", b"\xff not json") == Ignored(
        "star", "gitbot does not handle 'star' events"
    )
    assert parse_event("", b"") == Ignored("", "gitbot does not handle '' events")


def test_handled_events() -> None:
    assert sorted(HANDLED_EVENTS) == [
        "check_run",
        "check_suite",
        "installation",
        "installation_repositories",
        "issue_comment",
        "ping",
        "pull_request",
        "push",
    ]


# --- payload errors ---------------------------------------------------------------------------


def test_invalid_json() -> None:
    assert reason("push", b'{"ref": }') == "invalid JSON: Expecting value: line 1 column 9 (char 8)"
    assert reason("push", b"") == "invalid JSON: Expecting value: line 1 column 1 (char 0)"


def test_body_that_is_not_utf8() -> None:
    assert reason("push", b'{"ref": "\xff"}') == "invalid JSON: not UTF-8 (byte 0xff at position 9)"


def test_deeply_nested_json() -> None:
    assert reason("push", b"[" * 200_000) == "invalid JSON: nested too deeply"


def test_integer_too_long_for_python() -> None:
    assert reason("push", b'{"n": ' + b"9" * 5000 + b"}").startswith("invalid JSON: Exceeds")


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"[]", "an array"), (b"null", "null"), (b'"x"', "a string"), (b"1.5", "a number")],
)
def test_top_level_must_be_an_object(body: bytes, kind: str) -> None:
    assert reason("ping", body) == f"top level: expected an object, got {kind}"


def test_missing_repository() -> None:
    payload = loaded("push.default.json")
    del payload["repository"]
    assert reason("push", json.dumps(payload).encode()) == "repository: missing, expected an object"


@pytest.mark.parametrize(
    ("name", "mutate", "expected"),
    [
        (
            "push.default.json",
            lambda p: p["repository"].update(full_name=None),
            "repository.full_name: expected a string, got null",
        ),
        (
            "push.default.json",
            lambda p: p["repository"].update(id="186853002"),
            "repository.id: expected an integer, got a string",
        ),
        (
            "push.default.json",
            lambda p: p["repository"].update(id=True),
            "repository.id: expected an integer, got a boolean",
        ),
        (
            "push.default.json",
            lambda p: p["repository"].update(id=2**63),
            "repository.id: out of range, expected an integer from 0 to 2**63-1",
        ),
        (
            "push.default.json",
            lambda p: p["installation"].update(id=-1),
            "installation.id: out of range, expected an integer from 0 to 2**63-1",
        ),
        (
            "push.default.json",
            lambda p: p.update(deleted="false"),
            "deleted: expected a boolean, got a string",
        ),
        (
            "push.default.json",
            lambda p: p.update(installation=[]),
            "installation: expected an object, got an array",
        ),
        (
            "push.default.json",
            lambda p: p.update(ref="refs/heads/\ud800"),
            "ref: not valid Unicode (lone surrogate)",
        ),
        (
            "pull_request.opened.json",
            lambda p: p["pull_request"]["head"].update(sha=1.5),
            "pull_request.head.sha: expected a string, got a number",
        ),
        (
            "pull_request.opened.json",
            lambda p: p["pull_request"].pop("merged"),
            "pull_request.merged: missing, expected a boolean",
        ),
        (
            "installation.created.json",
            lambda p: p["repositories"].append(None),
            "repositories[1]: expected an object, got null",
        ),
        (
            "installation.created.json",
            lambda p: p["repositories"][0].pop("full_name"),
            "repositories[0].full_name: missing, expected a string",
        ),
        (
            "installation.created.json",
            lambda p: p["installation"]["account"].pop("login"),
            "installation.account.login: missing, expected a string",
        ),
        (
            "installation_repositories.added.json",
            lambda p: p.update(repositories_removed={}),
            "repositories_removed: expected an array, got an object",
        ),
        (
            "issue_comment.created.json",
            lambda p: p["comment"].update(user=None),
            "comment.user: expected an object, got null",
        ),
        (
            "issue_comment.created.json",
            lambda p: p["issue"].update(pull_request="yes"),
            "issue.pull_request: expected an object, got a string",
        ),
        (
            "ping.default.json",
            lambda p: p.update(hook_id=[1]),
            "hook_id: expected an integer, got an array",
        ),
        (
            "push.default.json",
            lambda p: p["repository"].update(full_name=7),
            "repository.full_name: expected a string, got an integer",
        ),
        (
            "installation_repositories.added.json",
            lambda p: p.pop("repositories_removed"),
            "repositories_removed: missing, expected an array",
        ),
        (
            "installation_repositories.added.json",
            lambda p: p.update(repositories_added=["octo/repo"]),
            "repositories_added[0]: expected an object, got a string",
        ),
        (
            "issue_comment.created.json",
            lambda p: p["issue"].pop("number"),
            "issue.number: missing, expected an integer",
        ),
    ],
)
def test_wrong_types(name: str, mutate: typing.Callable[[Any], object], expected: str) -> None:
    payload = loaded(name)
    mutate(payload)
    assert reason(event_of(name), json.dumps(payload).encode()) == expected


# --- comment commands -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("/gitbot reconcile", ReconcileCommand(None)),
        ("/gitbot reconcile postgresql", ReconcileCommand("postgresql")),
        ("  /gitbot   reconcile \t redis-ha  ", ReconcileCommand("redis-ha")),
        ("/gitbot reconcile app.example.com", ReconcileCommand("app.example.com")),
        ("Looks good.\r\n\r\n/gitbot reconcile jenkins\r\nThanks!", ReconcileCommand("jenkins")),
        ("/gitbot reconcile Bad_Name\n/gitbot reconcile good", ReconcileCommand("good")),
        ("```\n/gitbot reconcile x\n```\n/gitbot reconcile y", ReconcileCommand("y")),
        ("/gitbot reconcile " + "a" * 253, ReconcileCommand("a" * 253)),
    ],
)
def test_parse_command(comment: str, expected: ReconcileCommand) -> None:
    assert parse_command(comment) == expected


@pytest.mark.parametrize(
    "comment",
    [
        "",
        "LGTM",
        "/gitbot",
        "/gitbot reconcil",
        "/gitbot reconciles",
        "/gitbot reconcile Postgres",
        "/gitbot reconcile under_score",
        "/gitbot reconcile -leading",
        "/gitbot reconcile trailing-",
        "/gitbot reconcile a..b",
        "/gitbot reconcile two names",
        "/gitbot reconcile " + "a" * 254,
        "/GITBOT RECONCILE",
        "/gitbotreconcile",
        "please run /gitbot reconcile",
        "> /gitbot reconcile",
        "`/gitbot reconcile`",
        "```\n/gitbot reconcile\n```",
        "~~~\n/gitbot reconcile\n",
    ],
)
def test_parse_command_refuses(comment: str) -> None:
    assert parse_command(comment) is None


# --- fuzzing ----------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EVENT_NAMES = st.sampled_from([*sorted(HANDLED_EVENTS), "star", ""])
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from([2**63 - 1, 2**63, -(2**63), 10**4000]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
KeyPath = tuple[str | int, ...]


def container_paths(value: object, prefix: KeyPath = (), depth: int = 4) -> list[KeyPath]:
    """Every key path down to `depth` levels, in document order: where gitbot reads."""
    if depth == 0:
        return []
    items: typing.Iterable[tuple[str | int, object]]
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value[:2])
    else:
        return []
    paths: list[KeyPath] = []
    for key, child in items:
        paths.append((*prefix, key))
        paths.extend(container_paths(child, (*prefix, key), depth - 1))
    return paths


def mutate(payload: dict[str, Any], path: KeyPath, value: object, delete: bool) -> None:
    """Delete the key at `path`, or replace its value."""
    parent: Any = payload
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


def assert_event_or_payload_error(event: str, body: bytes) -> None:
    """parse_event's contract: an Event or a PayloadError with a reason, nothing else."""
    try:
        result = parse_event(event, body)
    except PayloadError as e:
        assert e.reason
    else:
        assert isinstance(result, EVENT_TYPES)


@FUZZ
@given(event=EVENT_NAMES, body=st.binary(max_size=512))
def test_fuzz_random_bytes(event: str, body: bytes) -> None:
    assert_event_or_payload_error(event, body)


@FUZZ
@given(event=EVENT_NAMES, value=JSON_VALUES)
def test_fuzz_random_json(event: str, value: object) -> None:
    assert_event_or_payload_error(event, json.dumps(value).encode())


PAYLOADS = {name: loaded(name) for name in FILES}
PATHS = {name: container_paths(payload) for name, payload in PAYLOADS.items()}


@FUZZ
@given(data=st.data())
def test_fuzz_mutated_payloads(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(FILES), label="file")
    payload = copy.deepcopy(PAYLOADS[name])
    # Mostly the payload's own event, sometimes another one's payload under that name.
    event = data.draw(st.sampled_from([event_of(name)] * 3 + sorted(HANDLED_EVENTS)), label="event")
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        paths = container_paths(payload)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        delete = data.draw(st.booleans(), label="delete")
        mutate(payload, path, None if delete else data.draw(JSON_VALUES, label="value"), delete)
    body = json.dumps(payload).encode()
    if data.draw(st.booleans(), label="truncate"):
        body = body[: data.draw(st.integers(0, len(body)), label="length")]
    assert_event_or_payload_error(event, body)


@pytest.mark.parametrize("name", FILES)
def test_every_single_key_deleted_or_replaced(name: str) -> None:
    # Exhaustive over the keys gitbot can read (depth <= 4), where the fuzzer only samples.
    replacements: list[tuple[bool, object]] = [
        (True, None),
        (False, None),
        (False, []),
        (False, {}),
        (False, "x"),
        (False, 1),
        (False, True),
    ]
    for path in PATHS[name]:
        for delete, value in replacements:
            payload = copy.deepcopy(PAYLOADS[name])
            mutate(payload, path, value, delete)
            assert_event_or_payload_error(event_of(name), json.dumps(payload).encode())
