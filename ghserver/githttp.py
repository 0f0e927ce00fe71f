"""Git over HTTP (smart protocol) through `git http-backend` as a CGI, with installation tokens.

Clients authenticate as on github.com: HTTP Basic with `x-access-token:<installation token>`.
Request and response bodies stream through the CGI; a timer kills a backend that hangs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import threading
from collections.abc import Iterator
from typing import IO, cast

from flask import Blueprint, Response, g, request

from ghserver import auth, bare
from ghserver.errors import ApiError
from ghserver.model import Repo, Token
from ghserver.web import services

bp = Blueprint("githttp", __name__)
_log = logging.getLogger(__name__)
CHUNK = 64 * 1024
SERVICES = {"git-upload-pack": "read", "git-receive-pack": "write"}


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(message + "\n", status=status, mimetype="text/plain", headers=headers)


def _unauthorized() -> Response:
    return _text(
        401,
        "Invalid username or token. Password authentication is not supported for Git operations.",
        {"WWW-Authenticate": 'Basic realm="GitHub"'},
    )


def _service(rest: str) -> str | None:
    if rest == "info/refs":
        return request.args.get("service")
    return rest if rest in SERVICES else None


@bp.route("/<owner>/<name>.git/<path:rest>", methods=["GET", "POST"])
def git_http(owner: str, name: str, rest: str) -> Response:
    """The smart HTTP endpoints: info/refs, git-upload-pack and git-receive-pack."""
    service = _service(rest)
    if service not in SERVICES or (rest != "info/refs" and request.method != "POST"):
        return _text(404, "Not Found")
    state = services().state
    try:
        token = auth.basic_token(state, auth.parse_header(request.headers.get("Authorization")))
    except ApiError:
        return _unauthorized()
    g.caller = f"installation:{token.installation.id}"
    try:
        repo = auth.repo_for(state, token, owner, name)
    except ApiError:
        return _text(404, "Repository not found.")
    level = SERVICES[service]
    try:
        auth.require(token, level, "contents")
    except ApiError:
        return _text(
            403, f"Permission to {owner}/{name}.git denied to {token.installation.app.bot.login}."
        )
    return _run_backend(repo, rest, token)


def _cgi_env(repo: Repo, rest: str, token: Token) -> dict[str, str]:
    root = services().state.data_dir
    env = bare.git_env()
    env.update(
        GIT_PROJECT_ROOT=str(root),
        GIT_HTTP_EXPORT_ALL="1",
        PATH_INFO=f"/{repo.path.relative_to(root).as_posix()}/{rest}",
        REQUEST_METHOD=request.method,
        QUERY_STRING=request.query_string.decode(),
        CONTENT_TYPE=request.headers.get("Content-Type", ""),
        REMOTE_USER=token.installation.app.bot.login,
        REMOTE_ADDR=request.remote_addr or "",
        GATEWAY_INTERFACE="CGI/1.1",
        SERVER_PROTOCOL=request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
    )
    if request.content_length is not None:
        env["CONTENT_LENGTH"] = str(request.content_length)
    for header in ("Content-Encoding", "Git-Protocol"):
        value = request.headers.get(header)
        if value:
            env["HTTP_" + header.upper().replace("-", "_")] = value
    if "Git-Protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
    return env


def _feed(source: IO[bytes], sink: IO[bytes], capture: bytearray) -> None:
    """Copy the request body into the backend, keeping a copy; drain it all even if git quits."""
    broken = False
    while chunk := source.read(CHUNK):
        capture.extend(chunk)
        if not broken:
            try:
                sink.write(chunk)
            except (BrokenPipeError, ValueError):
                broken = True
    with contextlib.suppress(BrokenPipeError):
        sink.close()


def _read_headers(stdout: IO[bytes]) -> tuple[int, list[tuple[str, str]]]:
    status, headers = 200, []
    while line := stdout.readline():
        text = line.decode("latin-1").rstrip("\r\n")
        if not text:
            break
        key, _, value = text.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers.append((key.strip(), value.strip()))
    return status, headers


def _run_backend(repo: Repo, rest: str, token: Token) -> Response:
    capture = bytearray()
    g.request_body = capture
    proc = subprocess.Popen(
        ["git", "http-backend"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_cgi_env(repo, rest, token),
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    timer = threading.Timer(services().git_timeout, proc.kill)
    timer.start()
    feeder = threading.Thread(target=_feed, args=(request.stream, proc.stdin, capture), daemon=True)
    feeder.start()
    errors = bytearray()
    stderr = proc.stderr
    drain = threading.Thread(target=lambda: errors.extend(stderr.read()), daemon=True)
    drain.start()
    stdout = cast(io.BufferedReader, proc.stdout)
    status, headers = _read_headers(stdout)
    timeout = services().git_timeout
    finish = _Finisher(proc, feeder, drain, timer, errors, timeout)
    if not headers:
        finish()
        return _text(500, "git http-backend failed")

    def body() -> Iterator[bytes]:
        try:
            while chunk := stdout.read1(CHUNK):
                yield chunk
        finally:
            finish()

    return Response(body(), status=status, headers=headers, direct_passthrough=True)


class _Finisher:
    """Waits for the request body to be fed and the backend to exit, then cleans up."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        feeder: threading.Thread,
        drain: threading.Thread,
        timer: threading.Timer,
        errors: bytearray,
        timeout: float,
    ) -> None:
        self.proc, self.feeder, self.drain, self.timer = proc, feeder, drain, timer
        self.errors, self.timeout = errors, timeout

    def __call__(self) -> None:
        self.feeder.join(self.timeout)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.timer.cancel()
        self.drain.join(1)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        if self.proc.returncode != 0:
            tail = self.errors[-2000:].decode(errors="replace")
            _log.warning("git http-backend exited %s: %s", self.proc.returncode, tail)
