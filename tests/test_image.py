"""The image, as the project ships it: the unchanged Dockerfile built and run by the test suite.

No registry is reachable here, so the Dockerfile's base (`python:3.11-slim`, Debian bookworm with
Python 3.11) is stood in for by a Debian bookworm root filesystem with Debian's Python 3.11, made
with `mmdebstrap` from this machine's apt sources and imported under the base image's name; the
same Dockerfile pulls the real base wherever a registry is reachable. The stand-in trusts this
machine's extra CA certificates, so pip and apt inside the build reach their registries.

The built image runs `gitbot serve` with an engine socket mounted and reached through its group;
the tests check /healthz, the image's own HEALTHCHECK, and that the server runs as gitbot, not
root (printing the image's size); and that the server in the image does its work: against the
in-tree GitHub server, a signed push delivery opens a pull request and the next one updates it,
with the pipelines run on the host's engine through the mounted socket and concluded check runs.

The build is cached by the engine's layers (the Dockerfile installs the locked dependencies in a
layer of their own), so only a change to gitbot's code rebuilds, and only its last layer.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import serveworld as e2e
from gitfixtures import git, init_source
from openapi_check import request_violations

from ghserver import GitHubServer

ROOT = Path(__file__).resolve().parent.parent
BASE = "docker.io/library/python:3.11-slim"
IMAGE = "localhost/gitbot-test/gitbot:latest"
STAND_IN = ("python3", "python3-pip", "python-is-python3", "ca-certificates")
HOOKS = (
    'mkdir -p "$1/usr/local/share/ca-certificates"',
    'for c in /usr/local/share/ca-certificates/*.crt; do [ -e "$c" ] && cp "$c" '
    '"$1/usr/local/share/ca-certificates/"; done; true',
    'chroot "$1" update-ca-certificates >/dev/null',
    # python:3.11-slim's pip installs into the system Python; Debian's refuses unless told.
    'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
)
HEALTHCHECK = "{{json .Config.Healthcheck}}"
SOCKET_GROUP = 2375  # the group that may use the engine's socket, as on a Docker host
CONTEXT = ("Dockerfile", "pyproject.toml", "README.md", "requirements.lock")


def _has(client: docker.DockerClient, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def _engine_cli(engine_url: str) -> list[str]:
    """The engine's own command line, on the same image store as the SDK's service.

    For Podman that is podman itself with the service's containers.conf (scripts/engine-up
    writes it beside the socket: runc, ulimits within the host's); builds sent through the
    service's API were killed here, while the same build run by the CLI works.
    """
    if shutil.which("podman") and engine_url.startswith("unix://"):
        conf = Path(engine_url.removeprefix("unix://")).parent / "containers.conf"
        return ["env", f"CONTAINERS_CONF={conf}", "podman"] if conf.is_file() else ["podman"]
    return ["docker", "-H", engine_url]


def _stand_in_base(engine_url: str, work: Path) -> None:
    """Import a Debian bookworm + Python 3.11 root filesystem as the Dockerfile's base."""
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "mmdebstrap"], check=True, timeout=600)
        mmdebstrap = "mmdebstrap"
    rootfs = work / "rootfs.tar"
    hooks = [f"--customize-hook={hook}" for hook in HOOKS]
    command = [mmdebstrap, "--variant=minbase", f"--include={','.join(STAND_IN)}", *hooks]
    subprocess.run(
        [*command, "-q", "bookworm", str(rootfs)],
        check=True,
        timeout=900,
    )
    change = "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
    subprocess.run(
        [*_engine_cli(engine_url), "import", "-q", "--change", change, str(rootfs), BASE],
        check=True,
        timeout=300,
        stdout=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def image(engine_url: str) -> Iterator[tuple[docker.DockerClient, str]]:
    client = docker.DockerClient(base_url=engine_url, timeout=900)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if not _has(client, BASE):
                _stand_in_base(engine_url, work)
            context = work / "context"
            context.mkdir()
            for name in CONTEXT:
                shutil.copy2(ROOT / name, context / name)
            shutil.copytree(ROOT / "gitbot", context / "gitbot", ignore=_caches)
            _build(engine_url, context)
        yield client, IMAGE
    finally:
        client.close()


def _caches(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__"]


def _build(engine_url: str, context: Path) -> None:
    """Build in Docker's image format: Podman's own (OCI) format drops HEALTHCHECK."""
    command = [*_engine_cli(engine_url), "build", "-q"]
    if "podman" in command:
        command += ["--format", "docker"]
    subprocess.run([*command, "-t", IMAGE, str(context)], check=True, timeout=900)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthz(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@pytest.fixture
def engine_socket(engine_url: str, tmp_path: Path) -> Iterator[Path]:
    """An engine socket that a non-root group may use, for mounting into the container.

    Docker's socket is usually group-accessible already; Podman's service socket here is root's
    only, so a second Podman service (same image store and containers.conf) serves a socket
    with group SOCKET_GROUP, as the deploy guide's `--group-add` expects.
    """
    if not (shutil.which("podman") and engine_url.startswith("unix://")):
        yield Path(engine_url.removeprefix("unix://"))
        return
    path = tmp_path / "engine.sock"
    command = [*_engine_cli(engine_url), "system", "service", "--time=0", f"unix://{path}"]
    service = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.exists(), "the Podman service did not start"
        os.chown(path, 0, SOCKET_GROUP)
        path.chmod(0o660)
        yield path
    finally:
        service.terminate()
        service.wait(30)


def test_the_image_serves_as_a_non_root_user_and_reports_healthy(
    image: tuple[docker.DockerClient, str], engine_url: str, engine_socket: Path
) -> None:
    client, name = image
    built = client.images.get(name)
    config = built.attrs["Config"]
    assert config["User"] == "gitbot"
    # Podman's Docker-compatible API leaves HEALTHCHECK out of its answer: ask the engine's CLI.
    health = subprocess.run(
        [*_engine_cli(engine_url), "image", "inspect", "--format", HEALTHCHECK, name],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(health.stdout)["Test"][:2] == ["CMD", "python"]
    print(f"image size: {built.attrs['Size'] / 2**20:.0f} MiB")

    port = _free_port()
    container = client.containers.run(
        name,
        ["serve", "--host", "127.0.0.1", "--port", str(port)],
        detach=True,
        network_mode="host",
        volumes={str(engine_socket): {"bind": "/var/run/docker.sock", "mode": "rw"}},
        group_add=[str(engine_socket.stat().st_gid)],
        environment={
            "GITBOT_WEBHOOK_SECRET": "image-test-secret",
            "GITBOT_GITHUB_TOKEN": "image-test-token",
            "GITBOT_GITHUB_API_URL": "http://127.0.0.1:9",
            "PORT": str(port),
        },
    )
    try:
        deadline = time.monotonic() + 60
        while not _healthz(port) and time.monotonic() < deadline:
            container.reload()
            assert container.status == "running", container.logs().decode()[-2000:]
            time.sleep(0.5)
        assert _healthz(port), container.logs().decode()[-2000:]
        assert _healthy(engine_url, container)
        # The server runs as gitbot:gitbot (uid 10001), not root.
        ids = container.exec_run(["sh", "-c", "id -un; id -u; id -gn; id -g"]).output.decode()
        user, uid, group, gid = ids.split()
        assert (user, uid, group) == ("gitbot", "10001", "gitbot")
        assert gid != "0"  # its own group (a system gid), not root's
        # ... and reaches the engine through the mounted socket by its group, not as root.
        ping = container.exec_run(
            ["python", "-c", "import docker; print(docker.from_env().ping())"]
        ).output.decode()
        assert ping.strip() == "True", ping
        top = container.exec_run(["sh", "-c", "stat -c %u /proc/1"]).output.decode().strip()
        assert top == "10001"
    finally:
        container.remove(force=True)


def test_the_image_turns_signed_pushes_into_an_updated_pull_request(
    image: tuple[docker.DockerClient, str],
    engine_socket: Path,
    example_images: list[str],
    tmp_path: Path,
) -> None:
    client, name = image
    server = GitHubServer(tmp_path / "github", request_check=request_violations)
    server.start()
    app = server.create_app()
    server.create_repo("acme", "platform-source")
    server.create_repo("acme", "platform-state")
    installation = server.install(app.id, "acme", ["platform-source", "platform-state"])
    work = init_source(tmp_path / "source", with_examples=False)
    # What the container reads: the App's key, and pipeline folders at the same path inside
    # and outside, which the host's engine bind-mounts (deploy/README.md).
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    shutil.copy(app.private_key_path, secrets / "private-key.pem")
    (secrets / "private-key.pem").chmod(0o644)
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    pipelines.chmod(0o777)
    # Sends deliveries signed with the e2e helpers' secret to the container's port.
    bot = e2e.Bot(tmp_path, server, installation, app.private_key_path, app.id)
    container = client.containers.run(
        name,
        ["serve", "--host", "127.0.0.1", "--port", str(bot.port)],
        detach=True,
        network_mode="host",
        volumes={
            str(engine_socket): {"bind": "/var/run/docker.sock", "mode": "rw"},
            str(secrets): {"bind": "/run/gitbot", "mode": "ro"},
            str(pipelines): {"bind": str(pipelines), "mode": "rw"},
        },
        group_add=[str(engine_socket.stat().st_gid)],
        environment={
            "GITBOT_WEBHOOK_SECRET": e2e.SECRET.decode(),
            "GITBOT_GITHUB_API_URL": server.api_url,
            "GITBOT_GITHUB_APP_ID": str(app.id),
            "GITBOT_GITHUB_PRIVATE_KEY_FILE": "/run/gitbot/private-key.pem",
            "GITBOT_GITHUB_WRITE_INTERVAL": "0",
            "GITBOT_WORK_DIR": str(pipelines),
            "PORT": str(bot.port),
        },
    )
    try:
        e2e.wait_for(lambda: _serving(container, bot.port), 60, "gitbot in the image")
        first = e2e.push(server, bot, work, e2e.examples(), "image-push-1")
        pr = e2e.wait_for(lambda: e2e.open_pr(server), 180, "the pull request")
        # The check run concludes after the pull request is opened: wait for it.
        assert e2e.wait_for(lambda: _concluded(server, first), 60, "the first check run") == [
            ("gitbot: postgres", "success")
        ]

        # One signed push to the open pull request: the same pull request is updated.
        request = (ROOT / "promises/postgres/resource-request.yaml").read_text()
        changed = {"postgres/resource-request.yaml": request.replace("large", "small")}
        second = e2e.push(server, bot, work, changed, "image-push-2")
        orders = "default/resources/shop/postgres/orders/render/5058f/postgres.yaml"
        state = server.repo_path("acme", "platform-state")
        e2e.wait_for(
            lambda: "numberOfInstances: 1" in git(state, "show", f"gitbot/postgres:{orders}"),
            180,
            "the pull request's branch to be updated",
        )
        assert e2e.wait_for(lambda: _concluded(server, second), 60, "the second check run") == [
            ("gitbot: postgres", "success")
        ]
        pulls = server.pulls("acme", "platform-state")
        assert [(p["number"], p["state"]) for p in pulls] == [(pr["number"], "open")]
        assert pulls[0]["head"]["sha"] == git(state, "rev-parse", "gitbot/postgres")
        assert server.request_violations == []
    except BaseException:
        print(container.logs().decode()[-5000:])
        raise
    finally:
        container.remove(force=True)
        server.stop()


def _serving(container: Any, port: int) -> bool:
    container.reload()
    assert container.status in ("created", "running"), container.logs().decode()[-2000:]
    return _healthz(port)


def _concluded(server: GitHubServer, sha: str) -> list[tuple[str, str]]:
    """The completed check runs on a source commit: (name, conclusion)."""
    runs = server.check_runs("acme", "platform-source")
    return [
        (r["name"], r["conclusion"])
        for r in runs
        if r["head_sha"] == sha and r["status"] == "completed"
    ]


def _healthy(engine_url: str, container: docker.models.containers.Container) -> bool:
    """Run the image's HEALTHCHECK now (Podman runs it only when asked, without systemd)."""
    cli = _engine_cli(engine_url)
    if "podman" in cli:
        done = subprocess.run(
            [*cli, "healthcheck", "run", container.id],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.returncode == 0
    deadline = time.monotonic() + 120  # Docker runs it on its interval
    while time.monotonic() < deadline:
        container.reload()
        if container.attrs["State"].get("Health", {}).get("Status") == "healthy":
            return True
        time.sleep(1)
    return False
