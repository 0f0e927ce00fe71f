"""The platform API's latency seen from inside a pipeline container, against plain HTTPS.

    .venv/bin/python bench/bench_platform.py [N]

A container (Debian's python3-kubernetes, the image tests/platform builds) GETs the run's own
object N times (default 1000) with the official Python client's in-cluster configuration, and
the same client GETs the same bytes N times from a plain HTTPS server (stdlib, a certificate from
the same CA, the same address), in alternating rounds so both see the same machine load. Prints
p50 and p99 of each and the ratio of medians; target: at most 1.5.
"""

from __future__ import annotations

import json
import os
import ssl
import statistics
import sys
import tempfile
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "platform"))

import kube_images  # noqa: E402
from builders import pipeline, promise, request  # noqa: E402

from gitbot.kratix.objects import Container, Workflows  # noqa: E402
from gitbot.kratix.workflow import WorkflowTarget  # noqa: E402
from gitbot.pipeline.engine import DockerEngine  # noqa: E402
from gitbot.pipeline.runner import WorkflowRunner  # noqa: E402
from gitbot.platform.certs import issue_server_cert  # noqa: E402
from gitbot.platform.network import listen_address  # noqa: E402
from gitbot.platform.server import PlatformServer  # noqa: E402
from gitbot.secrets import Redactor, config_map_store, secret_store  # noqa: E402

PATH = "/apis/example.gitbot.dev/v1/namespaces/default/things/one"
CLIENT = r"""
import json, os, time
from kubernetes import client, config
n, rounds = int(os.environ["N"]), 10
config.load_incluster_config()
platform = client.ApiClient()
plain_config = client.Configuration.get_default_copy()
plain_config.host = os.environ["PLAIN_URL"]
plain = client.ApiClient(plain_config)
times = {"platform": [], "plain": []}
def get(api):
    api.call_api("__PATH__", "GET", auth_settings=["BearerToken"], response_type="object",
                 _return_http_data_only=True)
for api in (platform, plain):
    for _ in range(20):
        get(api)  # warm: connections open, code paths loaded
for r in range(rounds):
    for name, api in (("platform", platform), ("plain", plain))[:: 1 if r % 2 == 0 else -1]:
        for _ in range(n // rounds):
            started = time.perf_counter()
            get(api)
            times[name].append(time.perf_counter() - started)
print("RESULT " + json.dumps(times))
""".replace("__PATH__", PATH)


class _Plain(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def plain_server(ca_folder: Path, host: str, body: bytes) -> ThreadingHTTPServer:
    """A bare HTTPS server answering every GET with `body`."""
    cert = issue_server_cert(ca_folder, ["kubernetes.default.svc"], [host])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pem = ca_folder / "plain.pem"
    pem.write_bytes(cert.cert_pem + cert.key_pem)
    context.load_cert_chain(str(pem))
    _Plain.body = body
    server = ThreadingHTTPServer((host, 0), _Plain)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    url = os.environ.get("GITBOT_ENGINE_URL") or os.environ["DOCKER_HOST"]
    image = kube_images.kube_image(url)
    engine = DockerEngine(url)
    with tempfile.TemporaryDirectory() as folder:
        ca = Path(folder)
        host = listen_address(engine.network_gateway(None), None)
        assert host is not None
        platform = PlatformServer(ca, host)
        redactor = Redactor()
        runner = WorkflowRunner(
            engine,
            secret_store(None, redactor),
            config_map_store(None, redactor),
            redactor,
            platform=platform,
        )
        # The plain server serves the bytes the platform API answers for the own object.
        probe = Container(name="probe", image=image, command=("sh", "-c", "true"))
        target = WorkflowTarget(
            promise(workflows=Workflows(resource_configure=(pipeline("p", probe),))),
            "configure",
            request(),
        )
        with platform.open(_scope(runner, target), {"message": "Pending"}, ca / "probe-sa") as live:
            context = ssl.create_default_context(cadata=platform.ca_pem.decode())
            asked = urllib.request.Request(
                platform.url + PATH, headers={"Authorization": f"Bearer {live.token}"}
            )
            with urllib.request.urlopen(asked, context=context, timeout=30) as answer:
                body = answer.read()
        plain = plain_server(ca, host, body)
        bench = Container(
            name="bench",
            image=image,
            command=("python3", "-c", CLIENT),
            env=(
                {"name": "N", "value": str(n)},
                {"name": "PLAIN_URL", "value": f"https://{host}:{plain.server_address[1]}"},
            ),
            resources={"limits": {"cpu": "1", "memory": "512Mi"}},
        )
        target = WorkflowTarget(
            promise(workflows=Workflows(resource_configure=(pipeline("p", bench),))),
            "configure",
            request(),
        )
        run = runner.run(target)
        plain.shutdown()
        platform.close()
    engine.close()
    if run.failure is not None:
        raise SystemExit(f"benchmark container failed: {run.failure}")
    line = next(
        x for x in run.pipelines[0].containers[0].log.splitlines() if x.startswith("RESULT ")
    )
    times: dict[str, list[float]] = json.loads(line[len("RESULT ") :])
    for name in ("platform", "plain"):
        values = times[name]
        print(
            f"{name:9s} n={len(values)} p50={statistics.median(values) * 1000:.2f} ms "
            f"p99={percentile(values, 0.99) * 1000:.2f} ms"
        )
    ratio = statistics.median(times["platform"]) / statistics.median(times["plain"])
    print(f"ratio of medians (platform / plain HTTPS): {ratio:.2f} (target <= 1.5)")


def _scope(runner: WorkflowRunner, target: WorkflowTarget) -> Any:
    from gitbot.platform.session import RunScope

    pipe = target.pipelines[0]
    return RunScope(target, pipe, runner.cluster, runner.secrets, runner.config_maps)


if __name__ == "__main__":
    main()
