"""`gitbot reconcile` gives pipelines the platform API: one Promise's pipeline reads another
Promise's request and its stored status with kubectl, and a status it writes through the API
is kept and fed into the next run's object.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitfixtures import commit_all, init_source, init_state, show, write

from gitbot.cli import main


def crd(group: str, kind: str, plural: str) -> str:
    return f"""\
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: {plural}.{group}
    spec:
      group: {group}
      names:
        kind: {kind}
        plural: {plural}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
"""


def promise_yaml(name: str, api: str, image: str, script: str, rbac: str = "") -> str:
    return f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: {name}
spec:
{api}  workflows:
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: main
          spec:
{rbac}            containers:
              - name: main
                image: {image}
                imagePullPolicy: IfNotPresent
                command: [sh, -c, {json.dumps(script)}]
                resources:
                  limits: {{cpu: "1", memory: 1Gi}}
"""


DATABASE_SCRIPT = "echo 'phase: Ready' > /kratix/metadata/status.yaml; echo x > /kratix/output/db"
APP_SCRIPT = (
    "set -e; kubectl get databases.db.gitbot.dev blue -o jsonpath='{.status.phase}' "
    "> /kratix/output/phase.txt; "
    "grep -o 'seen: [0-9]*' /kratix/input/object.yaml > /kratix/output/before.txt || true; "
    'python3 -c "'
    "from kubernetes import client, config; config.load_incluster_config(); "
    "api = client.CustomObjectsApi(); "
    "api.api_client.set_default_header('Content-Type', 'application/merge-patch+json'); "
    "api.patch_namespaced_custom_object_status('app.gitbot.dev', 'v1', 'default', 'apps', "
    "'web', {'status': {'seen': 1}})"
    '"'
)
RBAC = """\
            rbac:
              permissions:
                - apiGroups: [db.gitbot.dev]
                  resources: [databases]
                  verbs: [get, list]
"""


def test_pipelines_read_other_requests_and_keep_status_written_through_the_api(
    tmp_path: Path,
    kube_image: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source", with_examples=False)
    state = init_state(tmp_path / "state.git")
    busybox = "docker.io/library/busybox:latest"
    write(
        source,
        {
            "database.yaml": promise_yaml(
                "database", crd("db.gitbot.dev", "Database", "databases"), busybox, DATABASE_SCRIPT
            ),
            "app.yaml": promise_yaml(
                "app", crd("app.gitbot.dev", "App", "apps"), kube_image, APP_SCRIPT, RBAC
            ),
            "requests.yaml": "apiVersion: db.gitbot.dev/v1\nkind: Database\n"
            "metadata:\n  name: blue\nspec: {}\n---\n"
            "apiVersion: app.gitbot.dev/v1\nkind: App\nmetadata:\n  name: web\nspec: {}\n",
        },
    )
    commit_all(source, "a database and an app that reads it")
    base = ["reconcile", "--source", str(source), "--state", str(state)]
    assert main([*base, "--only", "database"]) == 0
    assert main(base) == 0, capsys.readouterr().out
    files = "default/resources/default/app/web/main/5058f"
    assert show(state, "gitbot/app", f"{files}/phase.txt") == "Ready"
    assert show(state, "gitbot/app", f"{files}/before.txt") == ""
    write(source, {"requests.yaml": (source / "requests.yaml").read_text() + "  # again\n"})
    commit_all(source, "again")
    assert main([*base, "--only", "app"]) == 0
    # The status written through the API last time reached this run's object.yaml.
    assert show(state, "gitbot/app", f"{files}/before.txt") == "seen: 1"


def test_reconcile_says_the_platform_api_is_off_without_a_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GITBOT_CONTAINER_NETWORK", "none")
    source = init_source(tmp_path / "source", with_examples=False)
    state = init_state(tmp_path / "state.git")
    api = crd("db.gitbot.dev", "Database", "databases")
    busybox = "docker.io/library/busybox:latest"
    write(source, {"database.yaml": promise_yaml("database", api, busybox, DATABASE_SCRIPT)})
    commit_all(source, "a database Promise")
    capsys.readouterr()
    assert main(["reconcile", "--source", str(source), "--state", str(state)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "platform API off: containers have no network (GITBOT_CONTAINER_NETWORK=none)" in lines
