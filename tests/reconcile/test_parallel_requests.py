"""A Promise's requests run side by side within GITBOT_WORKERS, through `gitbot reconcile`.

Kratix's dynamic controller reconciles each request on its own, so their pipelines overlap.
Here the pipelines call a meeting point on the host (an HTTP server the test runs where the
engine's containers reach the host, as the platform API does): a pipeline that must meet
another is answered only once its partner arrives, so the test passes only if both run at the
same time, with no timing in it; the server also counts the pipelines inside at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from builders import BUSYBOX
from gitfixtures import commit_all, files_on, show, write

from gitbot.pipeline.engine import DockerEngine
from gitbot.platform.network import listen_address

Reconcile = Callable[..., tuple[int, str]]  # the `reconcile` fixture of conftest.py
HOLD_SECONDS = 300.0  # how long a pipeline waits for its partner before the server gives up


class MeetingPoint:
    """Pipelines `enter` and `leave` by name; those entering with `?meet=1` are answered in
    pairs, each once a partner has entered. Counts how many were inside at once. Calling again
    with the same name changes nothing, so a pipeline may retry a call whose answer it lost.
    (Thread-safe.)"""

    def __init__(self, host: str) -> None:
        self.host = host  # where containers call it
        self.inside: set[str] = set()
        self.peak = 0
        self.met: list[str] = []
        self._waiting: list[str] = []
        self._paired: set[str] = set()
        self._cond = threading.Condition()
        point = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, body = point.answer(self.path)
                self.send_response(code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        # Every address: Podman's bridge (and its gateway) comes and goes with its containers.
        self.server = ThreadingHTTPServer(("0.0.0.0", 0), Handler)
        self.server.daemon_threads = True

    def answer(self, path: str) -> tuple[int, bytes]:
        what, _, name = path.partition("?")[0].strip("/").partition("/")
        with self._cond:
            if what == "leave":
                self.inside.discard(name)
                return 200, b"bye"
            self.inside.add(name)
            self.peak = max(self.peak, len(self.inside))
            if "meet=1" not in path:
                return 200, b"alone"
            if name not in self._paired and name not in self._waiting:
                self._waiting.append(name)
            if len(self._waiting) == 2:
                self._paired.update(self._waiting)
                self.met.append("+".join(sorted(self._waiting)))
                self._waiting = []
                self._cond.notify_all()
            if not self._cond.wait_for(lambda: name in self._paired, HOLD_SECONDS):
                return 504, b"nobody came"
            return 200, b"together"


@pytest.fixture
def meeting(engine: DockerEngine) -> Iterator[MeetingPoint]:
    host = listen_address(engine.network_gateway(None), None)
    assert host is not None
    point = MeetingPoint(host)
    thread = threading.Thread(target=point.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield point
    finally:
        point.server.shutdown()
        point.server.server_close()


def script(point: MeetingPoint, meet: bool) -> str:
    """Enter (meeting a partner if `meet`), write what the point answered, then leave.
    HTTP through busybox `nc` (Debian's static busybox `wget` crashes in containers), each
    call retried: a connection made while the engine sets up another container's network can
    be lost."""
    host, port = point.host, point.server.server_address[1]
    call = (
        "call() { for try in 1 2 3 4 5 6 7 8 9 10; do "
        f'said=$(printf "GET $1 HTTP/1.0\\r\\n\\r\\n" | nc -w $2 {host} {port} | tail -n 1); '
        '[ -n "$said" ] && return 0; done; return 1; }; '
    )
    query = "?meet=1" if meet else ""
    return (
        call + f"call /enter/$KRATIX_OBJECT_NAME{query} 30; "
        '[ "$said" = together ] || [ "$said" = alone ] || { echo "said: $said"; exit 4; }; '
        'echo "said: $said" > /kratix/output/r.yaml; '
        "call /leave/$KRATIX_OBJECT_NAME 10"
    )


def promise_yaml(
    name: str, promise_script: str, request_script: str, requires: str | None = None
) -> str:
    def pipeline(kind: str, text: str) -> str:
        return (
            f"    {kind}:\n      configure:\n"
            "        - apiVersion: platform.kratix.io/v1alpha1\n          kind: Pipeline\n"
            f"          metadata: {{name: {kind}}}\n          spec:\n"
            "            containers:\n"
            f"              - name: {kind}\n"
            f"                image: {BUSYBOX}\n"
            "                imagePullPolicy: IfNotPresent\n"
            f"                command: [sh, -c, {json.dumps(text)}]\n"
        )

    return (
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\n"
        f"metadata: {{name: {name}}}\nspec:\n"
        + (f"  requiredPromises: [{{name: {requires}}}]\n" if requires else "")
        + "  api:\n"
        "    apiVersion: apiextensions.k8s.io/v1\n    kind: CustomResourceDefinition\n"
        f"    metadata: {{name: things.{name}.example.com}}\n"
        f"    spec:\n      group: {name}.example.com\n"
        "      names: {kind: Thing, plural: things}\n      scope: Namespaced\n"
        "      versions: [{name: v1, served: true, storage: true}]\n"
        "  workflows:\n"
        + pipeline("promise", promise_script)
        + pipeline("resource", request_script)
    )


def request_yaml(promise: str, name: str) -> str:
    return (
        f"apiVersion: {promise}.example.com/v1\nkind: Thing\n"
        f"metadata: {{name: {name}}}\nspec: {{n: 1}}\n"
    )


def test_two_requests_of_one_promise_run_at_the_same_time_and_each_keeps_its_outcome(
    reconcile: Reconcile,
    source: Path,
    state: Path,
    meeting: MeetingPoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITBOT_WORKERS", "2")
    # Requests a and b each wait for the other: run one after another, the first would wait
    # for a partner that never comes. Request c fails on its own.
    meet = script(meeting, meet=True)
    failing = '[ "$KRATIX_OBJECT_NAME" = c ] && exit 3; ' + meet
    files = {"meet.yaml": promise_yaml("meet", "echo promise", failing)}
    write(source, files | {f"{name}.yaml": request_yaml("meet", name) for name in "abc"})
    commit_all(source, "a Promise with three requests")

    code, out = reconcile("--output", "json")

    assert code != 0, out
    runs = json.loads(out)["runs"]
    # The same order however the runs interleaved: the Promise, then its requests (by file).
    assert [(r["object"]["name"], r["failed"]) for r in runs] == [
        ("meet", False),
        ("a", False),
        ("b", False),
        ("c", True),
    ], out
    assert meeting.met == ["a+b"]
    # The failure stays with the request that failed.
    assert [r["run"]["failure"] is not None for r in runs] == [False, False, False, True]
    assert runs[3]["run"]["failure"]["message"] == "exited with code 3"


def test_workflows_running_at_once_never_exceed_the_workers(
    reconcile: Reconcile,
    source: Path,
    state: Path,
    meeting: MeetingPoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITBOT_WORKERS", "2")
    # Every request waits for a partner, so two always run at once; the Promises' own
    # pipelines only pass through. With two workers nobody ever finds a third inside. (Run one
    # after another within each Promise, left's last two requests would find no partner.)
    for promise, count in (("left", 4), ("right", 2)):
        passing, meeting_one = script(meeting, False), script(meeting, True)
        write(source, {f"{promise}.yaml": promise_yaml(promise, passing, meeting_one)})
        write(
            source,
            {f"{promise}-{n}.yaml": request_yaml(promise, f"{promise}-{n}") for n in range(count)},
        )
    commit_all(source, "two Promises with six requests")

    code, out = reconcile()

    assert code == 0, out
    assert meeting.peak == 2, out
    assert meeting.inside == set(), out
    assert len(meeting.met) == 3, out  # six requests, met in pairs
    written = [f for f in files_on(state, "main") if f.endswith("/r.yaml")]
    assert len(written) == 8
    assert {show(state, "main", f).strip() for f in written} == {
        "said: together",
        "said: alone",
    }


def test_one_worker_runs_everything_in_turn_and_a_promise_waiting_for_another_never_starves(
    reconcile: Reconcile, source: Path, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITBOT_WORKERS", "1")
    # app waits for db to settle, and each Promise's thread waits for its requests: with a
    # single runner, none of those waits may hold it.
    render = 'echo "name: $KRATIX_OBJECT_NAME" > /kratix/output/r.yaml'
    files = {
        "db.yaml": promise_yaml("db", "echo db", render),
        "app.yaml": promise_yaml("app", "echo app", render, requires="db"),
    }
    for promise in ("db", "app"):
        files |= {f"{promise}-{n}.yaml": request_yaml(promise, f"{promise}-{n}") for n in (1, 2)}
    write(source, files)
    commit_all(source, "app requires db; two requests each")

    code, out = reconcile("--output", "json")

    assert code == 0, out
    runs = json.loads(out)["runs"]
    assert [(r["object"]["name"], r["run"]["outcome"]) for r in runs] == [
        ("app", "succeeded"),
        ("app-1", "succeeded"),
        ("app-2", "succeeded"),
        ("db", "succeeded"),
        ("db-1", "succeeded"),
        ("db-2", "succeeded"),
    ]
