"""The container engine adapter: the only module that talks to the docker SDK.

It speaks the Docker Engine API, so it drives Docker or Podman's Docker-compatible service. A
container runs as create, attach, start, read the stream to its end, inspect, remove: about three
times faster than the SDK's `containers.run`, whose `wait` endpoint polls on Podman.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import docker
import docker.errors
import requests.exceptions
from docker.utils import parse_repository_tag

from gitbot.errors import ExternalError, UserError
from gitbot.processes import alive

LOG_TAIL_BYTES = 256 * 1024
MANAGED_LABEL = "io.gitbot.managed"
OWNER_LABEL = "io.gitbot.owner"  # host and pid of the gitbot process that made the container
OWNER = f"{socket.gethostname()}-{os.getpid()}"
# A pid means something only inside its PID namespace: a gitbot in a container with the host's
# network (and so the host's hostname) must not judge the host's gitbot processes by their pids.
PID_NAMESPACE_LABEL = "io.gitbot.pid-namespace"


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""


PID_NAMESPACE = _pid_namespace()
_FINISHED = ("exited", "stopped", "dead")  # container states whose exit code is final
_API_VERSIONS: dict[str, str] = {}  # engine URL -> negotiated Docker API version


class EngineError(ExternalError):
    """The container engine could not be reached or refused a request."""


class ImageError(UserError):
    """An image is missing and may not or cannot be pulled."""


@dataclass(frozen=True)
class Mount:
    """A host folder bind-mounted into a container."""

    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """Everything the engine needs to run one container, already resolved and validated."""

    image: str
    name_hint: str
    entrypoint: Sequence[str] | None = None
    cmd: Sequence[str] | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    mounts: Sequence[Mount] = ()
    user: str | None = None
    read_only_root: bool = False
    cap_add: Sequence[str] = ()
    cap_drop: Sequence[str] = ()
    privileged: bool = False
    no_new_privileges: bool = False
    nano_cpus: int | None = None
    mem_limit: int | None = None
    mem_reservation: int | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    network: str | None = None
    pull_policy: str = "IfNotPresent"
    extra_hosts: Mapping[str, str] = field(default_factory=dict)  # /etc/hosts name -> address


OutputObserver = Callable[[bytes], None]  # a running container's log, chunk by chunk


@dataclass(frozen=True)
class ContainerResult:
    """How a container ended: exit code (None when killed on timeout), log tail, duration."""

    exit_code: int | None
    log: bytes
    seconds: float
    timed_out: bool = False


class Engine(Protocol):
    """What the workflow runner needs from a container engine."""

    def run(
        self, spec: ContainerSpec, timeout: float, on_output: OutputObserver | None = None
    ) -> ContainerResult: ...

    def image_user(self, image: str, pull_policy: str) -> str: ...


class DockerEngine:
    """A container engine reached through the Docker Engine API."""

    def __init__(self, base_url: str | None = None, api_timeout: float = 60.0) -> None:
        self.base_url = base_url or "unix:///var/run/docker.sock"
        try:
            # Negotiating the API version costs a slow /version call on Podman (0.3 s): once
            # per engine URL and process is enough.
            version = _API_VERSIONS.get(self.base_url, "auto")
            self._client = docker.DockerClient(
                base_url=self.base_url, timeout=int(api_timeout), version=version
            )
            _API_VERSIONS[self.base_url] = self._client.api.api_version
        except docker.errors.DockerException as e:
            raise EngineError(f"cannot use the container engine at {self.base_url}: {e}") from e
        self._pulled: set[str] = set()

    def close(self) -> None:
        self._client.close()

    def ping(self) -> None:
        """Raise EngineError unless the engine answers."""
        self._call("ping", self._client.ping)

    def run(
        self, spec: ContainerSpec, timeout: float, on_output: OutputObserver | None = None
    ) -> ContainerResult:
        """Run one container to its end (or kill it after `timeout` seconds); always remove it.

        `on_output` gets each chunk of the log as it arrives (from the reading thread)."""
        self._ensure_image(spec.image, spec.pull_policy)
        started = time.monotonic()
        container = self._call("create container", lambda: self._create(spec))
        try:
            # Attached before start, the stream holds the whole log and ends with the container;
            # following logs instead waits on Podman's polling, 0.25 s per container.
            stream = self._call(
                "attach",
                lambda: container.attach(stdout=True, stderr=True, stream=True, logs=True),
            )
            reader = _StreamReader(stream, on_output)
            self._call("start container", container.start)
            finished = reader.wait(timeout)
            if not finished:
                self._kill(container)
                reader.wait(10)
                return ContainerResult(None, reader.tail(), time.monotonic() - started, True)
            exit_code = self._exit_code(container, timeout - (time.monotonic() - started))
            if exit_code is None:
                self._kill(container)
                return ContainerResult(None, reader.tail(), time.monotonic() - started, True)
            return ContainerResult(exit_code, reader.tail(), time.monotonic() - started)
        finally:
            self._remove(container)

    def _exit_code(self, container: Any, timeout: float) -> int | None:
        """The exit code of a container whose output stream has ended; None if it outlives
        `timeout`. Under load Podman closes the stream a moment before it records the exit
        (inspect still says running, exit code 0), so only a finished state is trusted."""
        deadline = time.monotonic() + max(timeout, 1.0)
        while True:
            state = self._call("inspect container", lambda: _reload_state(container))
            if not state.get("Running") and state.get("Status") in _FINISHED:
                return int(state["ExitCode"])
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def remove_orphans(self) -> int:
        """Remove containers left by gitbot processes on this host that no longer run
        (a `kill -9` skips the cleanup); how many were removed."""
        host = socket.gethostname()
        # The low-level list carries the labels itself: the high-level one inspects every
        # container after listing, and fails on one that another process removed meanwhile.
        found = self._call(
            "list containers",
            lambda: self._client.api.containers(all=True, filters={"label": MANAGED_LABEL}),
        )
        removed = 0
        for container in found:
            labels = container.get("Labels") or {}
            owner_host, _, pid = labels.get(OWNER_LABEL, "").rpartition("-")
            # No namespace label: made by an older gitbot, judged by its pid as before.
            namespace = labels.get(PID_NAMESPACE_LABEL, PID_NAMESPACE)
            if (
                owner_host == host
                and namespace == PID_NAMESPACE
                and pid.isdigit()
                and not alive(int(pid))
            ):
                name = (container.get("Names") or [""])[0]
                model = {"Id": container["Id"], "Name": name}
                self._remove(self._client.containers.prepare_model(model))
                removed += 1
        return removed

    def network_gateway(self, network: str | None) -> str | None:
        """The gateway address of a container network (None: the engine's default bridge),
        where containers reach the host; None if the network has none."""
        name = network or "bridge"  # Podman's compatible API answers to Docker's name too
        try:
            attrs = self._call("inspect network", lambda: self._client.networks.get(name).attrs)
        except _NotFound:
            return None
        for config in (attrs.get("IPAM") or {}).get("Config") or ():
            gateway = config.get("Gateway")
            if gateway and ":" not in gateway:  # IPv4: what host.containers.internal uses
                return str(gateway)
        return None

    def image_user(self, image: str, pull_policy: str) -> str:
        """The user an image runs as by default ("" means root), pulling it per the policy."""
        self._ensure_image(image, pull_policy)
        attrs = self._call("inspect image", lambda: self._client.images.get(image).attrs)
        user: str = (attrs.get("Config") or {}).get("User") or ""
        return user

    def _create(self, spec: ContainerSpec) -> Any:
        security_opt = ["no-new-privileges"] if spec.no_new_privileges else None
        return self._client.containers.create(
            spec.image,
            command=list(spec.cmd) if spec.cmd is not None else None,
            entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
            name=f"gitbot-{spec.name_hint[:40]}-{uuid.uuid4().hex[:8]}",
            environment=dict(spec.env),
            volumes={
                m.source: {"bind": m.target, "mode": "ro" if m.read_only else "rw"}
                for m in spec.mounts
            },
            user=spec.user,
            read_only=spec.read_only_root,
            cap_add=list(spec.cap_add) or None,
            cap_drop=list(spec.cap_drop) or None,
            privileged=spec.privileged,
            security_opt=security_opt,
            nano_cpus=spec.nano_cpus,
            mem_limit=spec.mem_limit,
            mem_reservation=spec.mem_reservation,
            labels={
                MANAGED_LABEL: "true",
                OWNER_LABEL: OWNER,
                PID_NAMESPACE_LABEL: PID_NAMESPACE,
                **spec.labels,
            },
            network_mode=spec.network,
            extra_hosts=dict(spec.extra_hosts) or None,
            detach=True,
        )

    def _ensure_image(self, image: str, policy: str) -> None:
        if policy == "Always" and image not in self._pulled:
            self._pull(image)
            return
        if self._has_image(image):
            return
        if policy == "Never":
            raise ImageError(f"image {image} is not present and its imagePullPolicy is Never")
        self._pull(image)

    def _has_image(self, image: str) -> bool:
        try:
            self._call("inspect image", lambda: self._client.images.get(image))
        except _NotFound:
            return False
        return True

    def _pull(self, image: str) -> None:
        """Pull `image`; raise ImageError with the engine's own reason when it cannot.

        The engine reports a failed pull inside the progress stream (an entry with `error`),
        not as an HTTP error; the SDK's `images.pull` drops it and then fails on a later
        "No such image", so the stream is read here."""
        repo, tag = parse_repository_tag(image)
        try:
            reason = self._call("pull image", lambda: _stream_error(repo, tag, self._client.api))
        except (_NotFound, EngineError) as e:
            raise ImageError(f"cannot pull image {image}: {e}") from e
        if reason is not None:
            raise ImageError(f"cannot pull image {image}: {reason}")
        self._pulled.add(image)

    def _kill(self, container: Any) -> None:
        # It may have ended on its own meanwhile; removal forces it anyway.
        with contextlib.suppress(docker.errors.APIError, requests.exceptions.RequestException):
            container.kill()

    def _remove(self, container: Any) -> None:
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as e:
            # Podman answers 500 "no such container" when another process removed it first.
            if "no such container" not in str(e.explanation or e):
                raise EngineError(f"cannot remove container {container.name}: {e}") from e
        except requests.exceptions.RequestException as e:
            raise EngineError(f"cannot remove container {container.name}: {e}") from e

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except docker.errors.NotFound as e:
            raise _NotFound(str(e)) from e
        except docker.errors.APIError as e:
            raise EngineError(f"container engine refused to {what}: {e.explanation or e}") from e
        except (requests.exceptions.RequestException, docker.errors.DockerException) as e:
            raise EngineError(
                f"cannot reach the container engine at {self.base_url} to {what}: {e}"
            ) from e


class _NotFound(EngineError):
    pass


def _stream_error(repo: str, tag: str | None, api: Any) -> str | None:
    """Read a pull's progress stream to its end; return the first error it carries, if any."""
    for entry in api.pull(repo, tag=tag or "latest", stream=True, decode=True):
        if not isinstance(entry, dict):
            continue
        detail = entry.get("errorDetail")
        message = entry.get("error")
        if not message and isinstance(detail, dict):
            message = detail.get("message")
        if message:
            return str(message).strip()
    return None


def _reload_state(container: Any) -> dict[str, Any]:
    container.reload()
    state: dict[str, Any] = container.attrs["State"]
    return state


class _StreamReader:
    """Reads an attach stream in a thread, keeping only the tail, so a timeout can interrupt."""

    def __init__(self, stream: Any, on_output: OutputObserver | None = None) -> None:
        self._on_output = on_output
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        try:
            for chunk in stream:
                self._chunks.append(chunk)
                self._size += len(chunk)
                if self._on_output is not None:
                    # Watching a run must never break it: an observer's error is its own.
                    with contextlib.suppress(Exception):
                        self._on_output(chunk)
                while self._size > LOG_TAIL_BYTES and len(self._chunks) > 1:
                    self._size -= len(self._chunks.popleft())
        except (requests.exceptions.RequestException, OSError, ValueError):
            pass  # the stream breaks when the container is killed or removed
        finally:
            # The SDK's stream.close() leaves the HTTP response (and its socket) open.
            for closable in (stream, getattr(stream, "_response", None)):
                with contextlib.suppress(Exception):  # closing a broken stream may fail: fine
                    closable.close()  # type: ignore[union-attr]
            self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    def tail(self) -> bytes:
        return b"".join(list(self._chunks))[-LOG_TAIL_BYTES:]
