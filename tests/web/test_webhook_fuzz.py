"""Fuzzing POST /webhook (hypothesis) through Flask's test client over a real SQLite store.

Bodies are random bytes, random JSON and GitHub's real payloads with keys removed, values of
another JSON type and truncated text; each is sent signed, unsigned or wrongly signed, with real,
unknown or missing event names and fresh, repeated or missing delivery GUIDs. Whatever arrives,
the answer is never a 5xx, no exception escapes (the app propagates them), and what is stored
matches the answer: 401 stores nothing, 400 keeps the delivery as "invalid" and queues nothing,
202 keeps exactly one delivery and, when queued, one "route" job; a GUID that succeeded is
answered 200 and queues nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import event as label
from hypothesis import strategies as st

from gitbot.github.events import HANDLED_EVENTS, Ignored, PayloadError, parse_event, sign
from gitbot.secrets import Secret
from gitbot.web.app import WebConfig, create_app
from gitbot.work.store import RERUNNABLE, Delivery, Job, Store

SECRET = b"fuzzing-secret"
PAYLOADS = Path(__file__).resolve().parent.parent / "data" / "webhooks"
# (event, payload) for every real example; the event is the file name's first part.
REAL = [(p.name.split(".")[0], json.loads(p.read_bytes())) for p in sorted(PAYLOADS.glob("*.json"))]
EVENTS = sorted(HANDLED_EVENTS | {"star", "check_run", "workflow_run"})
GUIDS = ["d-1", "d-2", "d-3"]  # a small pool, so that GUIDs repeat
# Keys the parser reads, so that random JSON objects sometimes get past the first lookup.
KEYS = [
    "action",
    "after",
    "before",
    "created",
    "deleted",
    "forced",
    "full_name",
    "id",
    "installation",
    "ref",
    "repository",
    "sender",
    "zen",
]

# --- strategies -------------------------------------------------------------------------------

# Header values as a WSGI server hands them over: latin-1, no controls, no surrounding space.
header_text = st.text(
    alphabet=st.characters(
        min_codepoint=0x21, max_codepoint=0xFF, blacklist_categories=("Cc", "Zs")
    ),
    min_size=1,
    max_size=40,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats()  # NaN and infinities included: Python's json writes and reads them
    | st.text(max_size=20)  # lone surrogates included: json writes them as \ud800
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path inside a decoded JSON value (dict keys and list indices)."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in items:
        path = (*prefix, key)
        yield path
        if isinstance(child, dict | list) and child:
            yield from _paths(child, path)


def _other_type(value: Any) -> st.SearchStrategy[Any]:
    """A JSON value of another type than `value`."""
    kinds = {
        "null": st.none(),
        "bool": st.booleans(),
        "int": st.integers(min_value=-(2**65), max_value=2**65),
        "float": st.floats(),
        "str": st.text(max_size=10),
        "list": st.lists(scalars, max_size=3),
        "dict": st.dictionaries(st.text(max_size=5), scalars, max_size=3),
    }
    name = {type(None): "null", bool: "bool", int: "int", float: "float", str: "str"}.get(
        type(value), "list" if isinstance(value, list) else "dict"
    )
    return st.one_of(*(s for k, s in kinds.items() if k != name))


@st.composite
def mutated_real(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real payload with a few keys removed or values swapped for another type, maybe cut."""
    event, original = draw(st.sampled_from(REAL))
    payload = copy.deepcopy(original)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        paths = list(_paths(payload))
        if not paths:
            break
        # Half the time a shallow key: those are the ones the parser reads.
        shallow = [p for p in paths if len(p) <= 2]
        path = draw(
            st.sampled_from(shallow) if shallow and draw(st.booleans()) else st.sampled_from(paths)
        )
        parent = payload
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_other_type(parent[path[-1]]))
    body = json.dumps(payload).encode()
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        body = body[: draw(st.integers(min_value=0, max_value=len(body) - 1))]
    return event, body


random_bodies = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda n: b"[" * n, st.integers(min_value=1, max_value=200_000)),  # deep nesting
    st.builds(lambda v: json.dumps(v).encode(), json_values),
    st.builds(
        lambda v: json.dumps(v).encode(),
        st.dictionaries(st.sampled_from(KEYS), json_values, min_size=1, max_size=6),
    ),
)


@dataclass(frozen=True)
class Send:
    """One request: headers are left out when None."""

    event: str | None
    guid: str | None
    body: bytes
    signature: str  # "good", "upper", "missing", "other-secret", "random-hex", "garbage", "sha1"
    garbage: str
    content_type: str | None

    @property
    def signed(self) -> bool:
        return self.signature in ("good", "upper")

    def headers(self) -> dict[str, str]:
        good = sign(SECRET, self.body)
        value = {
            "good": good,
            "upper": "sha256=" + good[len("sha256=") :].upper(),  # the same digest, in capitals
            "other-secret": sign(b"not the secret", self.body),
            "random-hex": "sha256=" + hashlib.sha256(self.garbage.encode()).hexdigest(),
            "garbage": self.garbage,
            "sha1": "sha1=" + hashlib.sha1(self.body).hexdigest(),
        }.get(self.signature)
        headers = {
            "X-GitHub-Event": self.event,
            "X-GitHub-Delivery": self.guid,
            "X-Hub-Signature-256": value,
            "Content-Type": self.content_type,
        }
        return {k: v for k, v in headers.items() if v is not None}

    @property
    def key(self) -> str:
        """The GUID the delivery is stored under (a hash of the body without the header)."""
        return self.guid or "sha256-" + hashlib.sha256(self.body).hexdigest()


@st.composite
def sends(draw: st.DrawFn) -> Send:
    kind = draw(st.sampled_from(["real", "real", "random"]))
    if kind == "real":
        event, body = draw(mutated_real())
        event = draw(st.just(event) | st.sampled_from(EVENTS) | header_text | st.none())
    else:
        body = draw(random_bodies)
        event = draw(st.sampled_from(EVENTS) | header_text | st.none())
    signature = draw(
        st.sampled_from(
            ["good"] * 6 + ["upper", "missing", "other-secret", "random-hex", "garbage", "sha1"]
        )
    )
    return Send(
        event=event,
        guid=draw(st.sampled_from(GUIDS) | header_text | st.none() | st.just("")),
        body=body,
        signature=signature,
        garbage=draw(header_text),
        content_type=draw(
            st.sampled_from([None, "application/json", "application/x-www-form-urlencoded"])
        ),
    )


# A scenario: deliveries, some of them again unchanged (GitHub's "redeliver"), and between them
# the worker's verdict on every queued delivery so far (None: the worker has not run yet).
steps = st.lists(
    st.tuples(
        sends(),
        st.integers(min_value=-1, max_value=5),  # >= 0: redeliver that earlier send instead
        st.sampled_from([None, None, "succeeded", "failed"]),
    ),
    min_size=1,
    max_size=6,
)

# --- the properties ---------------------------------------------------------------------------


def _snapshot(store: Store) -> tuple[dict[str, Delivery], dict[int, Job]]:
    deliveries = {d.guid: d for d in store.recent_deliveries(limit=1000)}
    jobs = {j.id: j for j in store.recent_jobs(limit=1000)}
    return deliveries, jobs


def _expected(send: Send) -> str:
    """What the payload is, for the web layer: "invalid", "ignored" or "queued"."""
    if not send.event:
        return "invalid"
    try:
        parsed = parse_event(send.event, send.body)
    except PayloadError:
        return "invalid"
    return "ignored" if isinstance(parsed, Ignored) else "queued"


def check_one(client: FlaskClient, store: Store, send: Send) -> None:
    """Send one delivery and check the answer against what the store holds before and after."""
    deliveries, jobs = _snapshot(store)
    response = client.post("/webhook", data=send.body, headers=send.headers())
    after, jobs_after = _snapshot(store)
    status, answer = response.status_code, response.get_json()
    label(
        f"{'signed' if send.signed else 'unsigned'} -> {status} {(answer or {}).get('status', '')}"
    )
    new_jobs = [j for i, j in jobs_after.items() if i not in jobs]
    assert status in (200, 202, 400, 401), (status, answer)
    assert {i: j for i, j in jobs_after.items() if i in jobs} == jobs  # old jobs untouched

    if not send.signed:
        assert (status, answer) == (401, {"error": "missing or wrong X-Hub-Signature-256"})
        assert (after, new_jobs) == (deliveries, [])
        return
    guid = send.key
    prior = deliveries.get(guid)
    if prior is not None and prior.status == "succeeded":
        assert (status, answer["status"]) == (200, "already processed")
        assert (after, new_jobs) == (deliveries, [])
        return

    # Only this delivery's row may change, and it is there afterwards.
    assert {g: d for g, d in after.items() if g != guid} == {
        g: d for g, d in deliveries.items() if g != guid
    }
    stored = after[guid]
    expected = _expected(send)
    if expected == "invalid":
        assert status == 400 and answer["error"]
        assert new_jobs == []
        if prior is None:
            assert (stored.status, stored.reason, stored.payload) == (
                "invalid",
                answer["error"],
                send.body,
            )
        else:
            assert stored == prior
        return

    assert status == 202
    assert (answer["status"], answer["delivery"]) == (expected, guid)
    if expected == "ignored":
        assert new_jobs == []
        assert stored == prior if prior is not None else stored.status == "ignored"
        return
    if prior is None or prior.status in RERUNNABLE:
        # Stored whole, with exactly one job to route it.
        assert (stored.status, stored.event, stored.payload) == ("queued", send.event, send.body)
        assert [(j.kind, j.delivery_guid, dict(j.payload)) for j in new_jobs] == [
            ("route", guid, {"guid": guid})
        ]
    else:
        # A GUID stored as queued, running or ignored keeps its row; whether it gets another
        # route job is pinned by test_a_redelivery_of_a_delivery_not_yet_run_queues_no_second_job.
        assert stored == prior
        assert len(new_jobs) <= 1


@settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis folder in the work tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=steps)
def test_any_delivery_is_answered_without_5xx_and_stored_whole_or_not_at_all(
    tmp_path: Path, scenario: list[tuple[Send, int, str | None]]
) -> None:
    # tmp_path is shared by the examples; each builds its own database in its own folder.
    with (
        tempfile.TemporaryDirectory(dir=tmp_path) as folder,
        Store(f"sqlite:///{folder}/gitbot.db") as store,
    ):
        app = create_app(WebConfig(Secret(SECRET.decode()), store))
        app.config["PROPAGATE_EXCEPTIONS"] = True  # an exception fails the test, not a 500
        client = app.test_client()
        sent: list[Send] = []
        for send, again, verdict in scenario:
            if verdict is not None:
                for delivery in store.recent_deliveries(limit=1000):
                    if delivery.status == "queued":
                        store.set_delivery_status(delivery.guid, verdict, "by the test")
            chosen = sent[again] if 0 <= again < len(sent) else send
            check_one(client, store, chosen)
            sent.append(chosen)


# --- a known gap, pinned ----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(f"sqlite:///{tmp_path / 'gitbot.db'}") as opened:
        yield opened


@pytest.mark.parametrize(
    ("first_event", "worker_status"),
    [("push", None), ("push", "running"), ("star", None)],
    ids=["still-queued", "running", "stored-as-ignored"],
)
def test_a_redelivery_of_a_delivery_not_yet_run_queues_no_second_job(
    store: Store, first_event: str, worker_status: str | None
) -> None:
    client = create_app(WebConfig(Secret(SECRET.decode()), store)).test_client()
    body = (PAYLOADS / "push.default.json").read_bytes()

    def deliver(event: str) -> int:
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": "d-1",
            "X-Hub-Signature-256": sign(SECRET, body),
        }
        return client.post("/webhook", data=body, headers=headers).status_code

    assert deliver(first_event) == 202
    if worker_status is not None:
        store.set_delivery_status("d-1", worker_status)
    jobs = len(store.jobs_for_delivery("d-1"))
    assert deliver("push") in (200, 202)
    assert len(store.jobs_for_delivery("d-1")) == jobs


def test_every_real_payload_parses_as_its_event() -> None:
    """The mutations start from payloads gitbot reads: unchanged, each one would be queued."""
    assert {event for event, _ in REAL} <= HANDLED_EVENTS
    for event, payload in REAL:
        assert _expected(Send(event, "g", json.dumps(payload).encode(), "good", "", None)) == (
            "queued"
        )
