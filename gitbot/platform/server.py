"""The platform API server: HTTPS on an address the engine's containers reach, one bearer token
per pipeline session, and the folder a pipeline gets at
`/var/run/secrets/kubernetes.io/serviceaccount/` (token, ca.crt, namespace, kubeconfig).

A threaded stdlib HTTP/1.1 server (keep-alive, so clients reuse connections); the TLS handshake
happens in each connection's own thread, so one slow client holds up no other.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from gitbot import yamlio
from gitbot.errors import UserError
from gitbot.platform.api import Request, Response, handle, status_error
from gitbot.platform.certs import issue_server_cert
from gitbot.platform.session import RunScope, Session

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBECONFIG_PATH = f"{SERVICE_ACCOUNT_DIR}/kubeconfig"
SERVICE_NAME = "kubernetes.default.svc"
SERVER_NAMES = ("kubernetes", "kubernetes.default", SERVICE_NAME, f"{SERVICE_NAME}.cluster.local")
MAX_BODY_BYTES = 3 * 1024 * 1024  # the API server's own request size limit
IDLE_SECONDS = 30.0  # a keep-alive connection idle this long is closed
log = logging.getLogger(__name__)


class PlatformSession:
    """A live session: what the runner gives the pipeline's containers, and its status."""

    def __init__(self, server: PlatformServer, session: Session, token: str, folder: Path):
        self._server = server
        self.session = session
        self.token = token
        self.folder = folder  # host folder to mount at SERVICE_ACCOUNT_DIR

    @property
    def env(self) -> dict[str, str]:
        """The in-cluster variables Kubernetes gives every pod, and a kubeconfig."""
        host, port = self._server.host, str(self._server.port)
        return {
            "KUBERNETES_SERVICE_HOST": host,
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
            "KUBERNETES_PORT": f"tcp://{host}:{port}",
            "KUBECONFIG": KUBECONFIG_PATH,
        }

    @property
    def extra_hosts(self) -> dict[str, str]:
        return {SERVICE_NAME: self._server.host}

    @property
    def status(self) -> dict[str, Any]:
        return self.session.status

    def close(self) -> None:
        self._server.forget(self.token)


class PlatformServer:
    """Serves every pipeline session of this process; `close()` stops it."""

    def __init__(self, ca_folder: Path, host: str, port: int = 0) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        cert = issue_server_cert(ca_folder, SERVER_NAMES, [host, "127.0.0.1"])
        self.ca_pem = cert.ca_pem
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        _load_chain(context, ca_folder, cert.cert_pem, cert.key_pem)
        try:
            self._httpd = _Server((host, port), _Handler)
        except OSError as e:
            raise UserError(f"cannot listen on {host}:{port} for the platform API: {e}") from e
        self._httpd.platform = self
        self._httpd.socket = context.wrap_socket(
            self._httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        self.host = host
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="gitbot-platform-api", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    @contextlib.contextmanager
    def open(
        self, scope: RunScope, status: Mapping[str, Any], folder: Path
    ) -> Iterator[PlatformSession]:
        """A session for one pipeline run: its token is valid until the block ends."""
        session = Session(scope, status)
        token = secrets.token_urlsafe(32)
        scope.secrets.redactor.add(token)
        _write_account_folder(folder, token, self.ca_pem, session.namespace, self.port)
        with self._lock:
            self._sessions[_digest(token)] = session
        live = PlatformSession(self, session, token, folder)
        try:
            yield live
        finally:
            live.close()

    def forget(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(_digest(token), None)

    def session_for(self, token: str) -> Session | None:
        with self._lock:
            return self._sessions.get(_digest(token))


def _digest(token: str) -> str:
    # Keyed by a digest: looking a token up leaks nothing about other tokens' bytes.
    return hashlib.sha256(token.encode()).hexdigest()


def _load_chain(context: ssl.SSLContext, folder: Path, cert_pem: bytes, key_pem: bytes) -> None:
    # ssl loads keys from files only: a private temporary file, removed at once.
    fd, name = tempfile.mkstemp(prefix=".server-", suffix=".pem", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(cert_pem + key_pem)
        context.load_cert_chain(name)
    finally:
        os.unlink(name)


def _write_account_folder(
    folder: Path, token: str, ca_pem: bytes, namespace: str, port: int
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o755)
    (folder / "token").write_text(token, encoding="ascii")
    (folder / "ca.crt").write_bytes(ca_pem)
    (folder / "namespace").write_text(namespace, encoding="utf-8")
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "platform",
                "cluster": {
                    "server": f"https://{SERVICE_NAME}:{port}",
                    "certificate-authority": f"{SERVICE_ACCOUNT_DIR}/ca.crt",
                },
            }
        ],
        "users": [{"name": "pipeline", "user": {"token": token}}],
        "contexts": [
            {
                "name": "platform",
                "context": {"cluster": "platform", "user": "pipeline", "namespace": namespace},
            }
        ],
        "current-context": "platform",
    }
    (folder / "kubeconfig").write_text(yamlio.dump_sorted(kubeconfig), encoding="utf-8")
    for name in ("token", "ca.crt", "namespace", "kubeconfig"):
        # Readable by whatever user the image runs as, as a projected token is.
        (folder / name).chmod(0o644)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # kubectl fetches discovery documents in parallel; the default backlog (5) refuses some
    # of those connections when the host is busy.
    request_queue_size = 128
    platform: PlatformServer

    def server_bind(self) -> None:
        # Podman's bridge (and its gateway address) exists only while a container uses it, so
        # the gateway can vanish between choosing it and binding, or come back later: bind to
        # it whether or not it is assigned right now (Linux's IP_FREEBIND), and containers
        # reach the API whenever the bridge is up.
        if sys.platform == "linux":
            self.socket.setsockopt(socket.IPPROTO_IP, getattr(socket, "IP_FREEBIND", 15), 1)
        super().server_bind()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gitbot-platform"
    timeout = IDLE_SECONDS
    server: _Server

    def do_GET(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        try:
            response = self._response()
        except Exception:  # a bug must not kill the connection silently
            log.exception("platform API request failed: %s %s", self.command, self.path)
            response = status_error(500, "InternalError", "an internal error occurred")
        payload = json.dumps(response.body, separators=(",", ":")).encode()
        self.send_response(response.code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _response(self) -> Response:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return status_error(413, "RequestEntityTooLarge", "the request is too large")
        body = self.rfile.read(length) if length else b""
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        session = self.server.platform.session_for(token) if token else None
        if session is None:
            return status_error(401, "Unauthorized", "Unauthorized")
        url = urlsplit(self.path)
        request = Request(
            self.command,
            url.path,
            parse_qs(url.query),
            (self.headers.get("Content-Type") or "").split(";")[0].strip(),
            body,
        )
        return handle(session, request)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("platform API: " + format, *args)
