"""Pipelines in real containers calling the platform API with real clients: Debian's kubectl,
the official Kubernetes Python client and the Kratix Python SDK from PyPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import database_promise, database_request, pipeline, promise, request

from gitbot.kratix.objects import Container, Pipeline, Workflows
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import WorkflowRun, WorkflowRunner
from gitbot.pipeline.setup import make_runner, runner_config
from gitbot.platform.cluster import ClusterView
from gitbot.platform.network import listen_address
from gitbot.platform.server import PlatformServer
from gitbot.secrets import Redactor, config_map_store, secret_store
from gitbot.settings import Settings

SECRET = "s3cr3t-value"
READ_SECRETS = {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}
READ_DATABASES = {
    "apiGroups": ["db.gitbot.dev"],
    "resources": ["databases"],
    "verbs": ["get", "list"],
    "resourceNamespace": "*",
}


@pytest.fixture(scope="module")
def server(engine_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformServer]:
    engine = DockerEngine(engine_url)
    host = listen_address(engine.network_gateway(None), None)
    engine.close()
    assert host is not None
    server = PlatformServer(tmp_path_factory.mktemp("ca"), host)
    yield server
    server.close()


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    secrets, maps = tmp_path / "secrets", tmp_path / "maps"
    (secrets / "db").mkdir(parents=True)
    (secrets / "db" / "password").write_text(SECRET)
    maps.mkdir()
    return secrets, maps


def runner(
    engine: DockerEngine, server: PlatformServer, folders: tuple[Path, Path]
) -> WorkflowRunner:
    redactor = Redactor()
    made = WorkflowRunner(
        engine,
        secret_store(folders[0], redactor),
        config_map_store(folders[1], redactor),
        redactor,
        platform=server,
    )
    statuses = {"blue": {"phase": "Ready", "message": "blue is up"}}
    made.cluster = ClusterView(
        promises=(database_promise(),),
        requests=(database_request("blue", {"team": "a"}), request("two")),
        status_of=lambda p, r: statuses.get(r.name) if r else None,
    )
    return made


def kube(name: str, image: str, script: str, **fields: Any) -> Container:
    return Container(
        name=name,
        image=image,
        command=("sh", "-c", script),
        image_pull_policy="IfNotPresent",
        # kubectl and the Python client need more than Kratix's default 200m CPU / 256Mi.
        resources={"limits": {"cpu": "1", "memory": "1Gi"}},
        **fields,
    )


def run_resource(made: WorkflowRunner, *pipelines: Pipeline) -> WorkflowRun:
    target = WorkflowTarget(
        promise(workflows=Workflows(resource_configure=tuple(pipelines))), "configure", request()
    )
    return made.run(target)


def test_kubectl_reads_a_secret_and_another_requests_status(
    engine: DockerEngine, server: PlatformServer, folders: tuple[Path, Path], kube_image: str
) -> None:
    script = """set -e
kubectl get secret db -o jsonpath='{.data.password}' | base64 -d; echo
kubectl get databases.db.gitbot.dev blue -o jsonpath='{.status.phase}' > /kratix/output/phase.txt
kubectl get databases -l team=a -o name > /kratix/output/team-a.txt
"""
    p = pipeline(
        "p", kube("kubectl", kube_image, script), permissions=(READ_SECRETS, READ_DATABASES)
    )
    run = run_resource(runner(engine, server, folders), p)
    assert run.failure is None, run.failure
    files = run.pipelines[0].files
    assert files["phase.txt"] == b"Ready"
    assert files["team-a.txt"] == b"database.db.gitbot.dev/blue\n"
    log = run.pipelines[0].containers[0].log
    assert SECRET not in log
    assert "****" in log
    assert run.platform_api == f"platform API at {server.url}"


def test_kubectl_in_cluster_without_permission_is_forbidden(
    engine: DockerEngine, server: PlatformServer, folders: tuple[Path, Path], kube_image: str
) -> None:
    # No KUBECONFIG: kubectl falls back to the in-cluster service account, as in a pod.
    script = "unset KUBECONFIG; kubectl get secret db -o name"
    run = run_resource(
        runner(engine, server, folders), pipeline("p", kube("k", kube_image, script))
    )
    assert run.failure is not None
    assert run.failure.log_tail == (
        'Error from server (Forbidden): secrets "db" is forbidden: User '
        '"system:serviceaccount:default:thing-resource-configure-p" cannot get resource '
        '"secrets" in API group "" in the namespace "default"'
    )


def test_kratix_sdk_publishes_status_that_the_next_pipeline_sees(
    engine: DockerEngine, server: PlatformServer, folders: tuple[Path, Path], sdk_image: str
) -> None:
    sdk = pipeline(
        "sdk",
        Container(
            name="sdk",
            image=sdk_image,
            image_pull_policy="IfNotPresent",
            resources={"limits": {"cpu": "1", "memory": "1Gi"}},
        ),
    )
    then = pipeline(
        "then",
        kube(
            "show",
            "docker.io/library/busybox:latest",
            "cp /kratix/input/object.yaml /kratix/output/seen.yaml",
        ),
    )
    run = run_resource(runner(engine, server, folders), sdk, then)
    assert run.failure is None, run.failure
    first = run.pipelines[0]
    assert yaml.safe_load(first.files["configmap.yaml"])["data"] == {"size": "small"}
    assert "published status for one" in first.containers[0].log
    seen = yaml.safe_load(run.pipelines[1].files["seen.yaml"])["status"]
    # publish_status went through the API; write_status through status.yaml, merged after it.
    assert seen["phase"] == "provisioning"
    assert seen["published"] is True
    assert seen["message"] == "one is small"
    assert run.status["phase"] == "provisioning"


def test_a_pipeline_cannot_patch_another_objects_status(
    engine: DockerEngine, server: PlatformServer, folders: tuple[Path, Path], kube_image: str
) -> None:
    script = """python3 - <<'EOF'
from kubernetes import client, config
config.load_incluster_config()
api = client.CustomObjectsApi()
api.api_client.set_default_header("Content-Type", "application/merge-patch+json")
for name in ("one", "two"):
    try:
        api.patch_namespaced_custom_object_status(
            "example.gitbot.dev", "v1", "default", "things", name, {"status": {"by": "p"}})
        print(name, "patched")
    except client.rest.ApiException as e:
        print(name, e.status)
EOF"""
    run = run_resource(
        runner(engine, server, folders), pipeline("p", kube("py", kube_image, script))
    )
    assert run.failure is None, run.failure
    assert run.pipelines[0].containers[0].log.splitlines()[-2:] == ["one patched", "two 403"]
    assert run.status["by"] == "p"


def test_another_runs_token_is_refused(
    engine: DockerEngine, server: PlatformServer, folders: tuple[Path, Path], kube_image: str
) -> None:
    steal = kube(
        "steal",
        kube_image,
        "cat /var/run/secrets/kubernetes.io/serviceaccount/token > /kratix/output/token",
    )
    first = run_resource(runner(engine, server, folders), pipeline("p", steal))
    assert first.failure is None, first.failure
    (folders[1] / "stolen").mkdir()
    (folders[1] / "stolen" / "token").write_bytes(first.pipelines[0].files["token"])
    use = kube(
        "use",
        kube_image,
        'unset KUBECONFIG; kubectl --token "$STOLEN" get things',
        env=(
            {
                "name": "STOLEN",
                "valueFrom": {"configMapKeyRef": {"name": "stolen", "key": "token"}},
            },
        ),
    )
    second = run_resource(runner(engine, server, folders), pipeline("p", use))
    assert second.failure is not None
    assert second.failure.log_tail == "error: You must be logged in to the server (Unauthorized)"


def test_no_network_means_no_platform_api_and_the_run_says_so(
    engine: DockerEngine, tmp_path: Path
) -> None:
    settings = Settings(container_network="none", data_dir=tmp_path)
    made = make_runner(runner_config(settings), engine, Redactor())
    assert made.platform is None
    script = 'test -z "$KUBERNETES_SERVICE_HOST" && test ! -e /var/run/secrets/kubernetes.io'
    run = run_resource(made, pipeline("p", kube("c", "docker.io/library/busybox:latest", script)))
    assert run.failure is None, run.failure
    assert run.platform_api == (
        "platform API off: containers have no network (GITBOT_CONTAINER_NETWORK=none)"
    )


def test_the_engines_default_network_gets_the_api_on_its_gateway(
    engine: DockerEngine, tmp_path: Path
) -> None:
    made = make_runner(runner_config(Settings(data_dir=tmp_path)), engine, Redactor())
    assert made.platform is not None
    gateway = engine.network_gateway(None)
    assert made.platform.host == listen_address(gateway, None)
    assert (tmp_path / "platform" / "ca.crt").is_file()
    run = run_resource(
        made,
        pipeline(
            "p",
            kube(
                "c",
                "docker.io/library/busybox:latest",
                "grep kubernetes.default.svc /etc/hosts > /kratix/output/hosts; "
                "echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT > /kratix/output/env",
            ),
        ),
    )
    assert run.failure is None, run.failure
    files = run.pipelines[0].files
    assert files["env"].decode().strip() == f"{made.platform.host}:{made.platform.port}"
    assert files["hosts"].decode().split() == [made.platform.host, "kubernetes.default.svc"]
