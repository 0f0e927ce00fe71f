"""A GitHub world for end-to-end tests of gitbot's service: the in-tree GitHub server with a
source and a state repository, gitbot's processes (`gitbot serve` unless told otherwise), signed
pushes of GitHub's published payloads, and waiting for what they lead to."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitfixtures import commit_all, git, init_source, write
from openapi_check import request_violations

from ghserver import GitHubServer
from gitbot.github.events import sign
from gitbot.work.store import Store

SECRET = b"webhook-secret-for-tests"
PAYLOADS = Path(__file__).resolve().parent / "data" / "webhooks"
ROOT = Path(__file__).resolve().parent.parent
ZERO = "0" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], Any], timeout: float = 90.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class Bot:
    """gitbot's processes (`gitbot serve` unless told otherwise) and what they need."""

    def __init__(self, tmp: Path, server: GitHubServer, installation: int, key: Path, app_id: int):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "GITBOT_WEBHOOK_SECRET": SECRET.decode(),
            "GITBOT_GITHUB_API_URL": server.api_url,
            "GITBOT_GITHUB_APP_ID": str(app_id),
            "GITBOT_GITHUB_PRIVATE_KEY_FILE": str(key),
            "GITBOT_GITHUB_WRITE_INTERVAL": "0",
            "GITBOT_DATA_DIR": str(tmp / "data"),
            "GITBOT_WORKERS": "2",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        self.log = tmp / "serve.log"
        self.installation = installation
        self.commands = [
            [sys.executable, "-m", "gitbot", "serve", "--port", str(self.port), "--lease", "3"]
        ]
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.processes[0] if self.processes else None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.processes = [
                subprocess.Popen(
                    command, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
                )
                for command in self.commands
            ]
        wait_for(self._healthy, 30, "gitbot to answer /healthz")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(sig)
                process.wait(30)

    def deliver(
        self, event: str, payload: dict[str, Any], guid: str, secret: bytes = SECRET
    ) -> int:
        body = json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.url}/webhook",
            data=body,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": guid,
                "X-Hub-Signature-256": sign(secret, body),
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as e:
            return int(e.code)


def push_payload(
    server: GitHubServer, installation: int, before: str, after: str
) -> dict[str, Any]:
    """GitHub's published push example, pointed at our repository and commits."""
    payload = copy.deepcopy(json.loads((PAYLOADS / "push.default.json").read_text()))
    payload.update(
        ref="refs/heads/main",
        before=before,
        after=after,
        created=before == ZERO,
        deleted=False,
        forced=False,
    )
    repo = payload["repository"]
    repo.update(
        name="platform-source",
        full_name="acme/platform-source",
        default_branch="main",
        master_branch="main",
        clone_url=server.clone_url("acme", "platform-source"),
    )
    repo["owner"]["login"] = "acme"
    payload["installation"] = {"id": installation, "node_id": "x"}
    return payload


@contextmanager
def running_world(
    tmp_path: Path,
    env: dict[str, str] | None = None,
    commands: Callable[[Bot], list[list[str]]] | None = None,
) -> Iterator[tuple[GitHubServer, Bot, Path]]:
    """The in-tree GitHub server with source and state repos, and `gitbot serve` for them."""
    server = GitHubServer(tmp_path / "github", request_check=request_violations)
    server.start()
    app = server.create_app()
    server.create_repo("acme", "platform-source")
    server.create_repo("acme", "platform-state")
    installation = server.install(app.id, "acme", ["platform-source", "platform-state"])
    work = init_source(tmp_path / "source", with_examples=False)
    bot = Bot(tmp_path, server, installation, app.private_key_path, app.id)
    bot.env.update(env or {})
    if commands is not None:
        bot.commands = commands(bot)
    bot.start()
    try:
        yield server, bot, work
    finally:
        bot.stop()
        server.stop()
        if any(p.returncode not in (0, None) for p in bot.processes):
            print(bot.log.read_text())
    # gitbot's requests and the test's own: each as GitHub would accept it.
    assert server.request_violations == [], "requests GitHub would refuse with 422"


def push(
    server: GitHubServer, bot: Bot, work: Path, files: dict[str, str | None], guid: str
) -> str:
    try:
        before = git(work, "rev-parse", "--verify", "HEAD")
    except AssertionError:
        before = ZERO  # the first push creates the branch
    write(work, files)
    after = commit_all(work, guid)
    git(work, "push", "-q", "-f", str(server.repo_path("acme", "platform-source")), "main")
    assert bot.deliver("push", push_payload(server, bot.installation, before, after), guid) == 202
    return after


def examples() -> dict[str, str]:
    files = {".gitbot.yaml": "stateRepository: acme/platform-state\n"}
    for name in ("promise.yaml", "resource-request.yaml"):
        files[f"postgres/{name}"] = (ROOT / "promises/postgres" / name).read_text()
    files["postgres/second-request.yaml"] = (
        (ROOT / "promises/postgres/resource-request.yaml").read_text().replace("orders", "billing")
    )
    return files


def open_pr(server: GitHubServer) -> dict[str, Any] | None:
    pulls = [p for p in server.pulls("acme", "platform-state") if p["state"] == "open"]
    return pulls[0] if pulls else None


def state_files(server: GitHubServer, ref: str) -> list[str]:
    out = git(server.repo_path("acme", "platform-state"), "ls-tree", "-r", "--name-only", ref)
    return out.splitlines()


def delivery_outcome(bot: Bot, guid: str) -> tuple[str, str] | None:
    store = Store(f"sqlite:///{bot.env['GITBOT_DATA_DIR']}/gitbot.db")
    try:
        delivery = store.delivery(guid)
    finally:
        store.close()
    if delivery is None or delivery.status in ("queued", "running"):
        return None
    return delivery.status, delivery.reason
