"""The emulated Kubernetes API through the official `kubernetes` Python client, over real HTTPS."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import database_promise, database_request, pipeline, promise, request, sh
from kubernetes import client
from kubernetes.client.rest import ApiException

from gitbot.kratix.objects import Workflows
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.platform.cluster import ClusterView
from gitbot.platform.server import PlatformServer, PlatformSession
from gitbot.platform.session import RunScope
from gitbot.secrets import Redactor, config_map_store, secret_store


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformServer]:
    server = PlatformServer(tmp_path_factory.mktemp("ca"), "127.0.0.1")
    yield server
    server.close()


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    secrets, maps = tmp_path / "secrets", tmp_path / "maps"
    (secrets / "db").mkdir(parents=True)
    (secrets / "db" / "password").write_text("s3cr3t-value")
    (maps / "settings").mkdir(parents=True)
    (maps / "settings" / "region").write_text("eu-west-1")
    return secrets, maps


def open_session(
    server: PlatformServer,
    tmp_path: Path,
    folders: tuple[Path, Path],
    *,
    permissions: tuple[dict[str, Any], ...] = (),
    promise_workflow: bool = False,
) -> tuple[Any, Redactor]:
    redactor = Redactor()
    pipe = pipeline("p", sh("c", "true"), permissions=permissions)
    workflows = Workflows(promise_configure=(pipe,), resource_configure=(pipe,))
    thing = promise(workflows=workflows)
    own = request()
    target = WorkflowTarget(thing, "configure", None if promise_workflow else own)
    statuses = {
        ("database", "blue"): {"message": "ready", "phase": "Ready"},
        ("database", "green"): {"message": "pending"},
    }
    cluster = ClusterView(
        promises=(thing, database_promise()),
        requests=(
            own,
            request("two"),
            database_request("blue", {"team": "a"}),
            database_request("green", {"team": "b"}),
        ),
        status_of=lambda p, r: statuses.get((p.name, r.name if r else "")),
    )
    scope = RunScope(
        target,
        pipe,
        cluster,
        secret_store(folders[0], redactor),
        config_map_store(folders[1], redactor),
    )
    return server.open(scope, {"message": "Pending"}, tmp_path / "sa"), redactor


def api_client(server: PlatformServer, token: str, ca: Path) -> client.ApiClient:
    config = client.Configuration()
    config.host = server.url
    config.ssl_ca_cert = str(ca)
    config.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(config)


@pytest.fixture
def session(
    server: PlatformServer, tmp_path: Path, folders: tuple[Path, Path]
) -> Iterator[tuple[PlatformSession, client.ApiClient]]:
    opened, _ = open_session(server, tmp_path, folders)
    with opened as live:
        yield live, api_client(server, live.token, live.folder / "ca.crt")


def error_of(raised: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(raised.value.body)
    return body


def test_service_account_folder_and_environment(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    live, _ = session
    assert sorted(p.name for p in live.folder.iterdir()) == [
        "ca.crt",
        "kubeconfig",
        "namespace",
        "token",
    ]
    assert (live.folder / "namespace").read_text() == "default"
    assert (live.folder / "token").read_text() == live.token
    assert live.env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert live.env["KUBERNETES_SERVICE_PORT"] == str(live._server.port)
    assert live.extra_hosts == {"kubernetes.default.svc": "127.0.0.1"}


def test_discovery_lists_groups_and_the_promises_apis(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    _, api = session
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert groups == {
        "apiextensions.k8s.io",
        "db.gitbot.dev",
        "example.gitbot.dev",
        "platform.kratix.io",
    }
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    resources = client.CustomObjectsApi(api).get_api_resources("example.gitbot.dev", "v1")
    assert [(r.name, r.kind, r.namespaced, r.verbs) for r in resources.resources] == [
        ("things", "Thing", True, ["get", "list"]),
        ("things/status", "Thing", True, ["get", "patch", "update"]),
    ]


def test_own_request_is_served_with_the_runs_live_status(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    _, api = session
    obj = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "example.gitbot.dev", "v1", "default", "things", "one"
    )
    assert obj["kind"] == "Thing"
    assert obj["metadata"]["labels"] == {"kratix.io/promise-name": "thing"}
    assert obj["metadata"]["resourceVersion"]
    assert obj["status"] == {"message": "Pending"}


def test_list_of_requests_is_a_list_kind(session: tuple[PlatformSession, client.ApiClient]) -> None:
    _, api = session
    listed = client.CustomObjectsApi(api).list_namespaced_custom_object(
        "example.gitbot.dev", "v1", "default", "things"
    )
    assert listed["kind"] == "ThingList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["one", "two"]


def test_merge_patch_of_own_status_as_the_kratix_sdk_sends_it(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    live, api = session
    objects = client.CustomObjectsApi(api)
    objects.api_client.set_default_header("Content-Type", "application/merge-patch+json")
    before = objects.get_namespaced_custom_object(
        "example.gitbot.dev", "v1", "default", "things", "one"
    )
    patched = objects.patch_namespaced_custom_object_status(
        "example.gitbot.dev", "v1", "default", "things", "one", {"status": {"url": "https://x"}}
    )
    assert patched["status"] == {"message": "Pending", "url": "https://x"}
    assert live.status == {"message": "Pending", "url": "https://x"}
    seen = objects.get_namespaced_custom_object_status(
        "example.gitbot.dev", "v1", "default", "things", "one"
    )
    assert seen["status"]["url"] == "https://x"
    assert seen["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]
    assert seen["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]


def test_json_patch_and_put_of_own_status(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    live, api = session
    objects = client.CustomObjectsApi(api)
    objects.api_client.set_default_header("Content-Type", "application/json-patch+json")
    objects.patch_namespaced_custom_object_status(
        "example.gitbot.dev",
        "v1",
        "default",
        "things",
        "one",
        [{"op": "add", "path": "/status/replicas", "value": 3}],
    )
    assert live.status == {"message": "Pending", "replicas": 3}
    current = objects.get_namespaced_custom_object(
        "example.gitbot.dev", "v1", "default", "things", "one"
    )
    current["status"] = {"message": "replaced"}
    objects.replace_namespaced_custom_object_status(
        "example.gitbot.dev", "v1", "default", "things", "one", current
    )
    assert live.status == {"message": "replaced"}


def test_put_with_a_stale_resource_version_is_a_conflict(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    live, api = session
    objects = client.CustomObjectsApi(api)
    stale = objects.get_namespaced_custom_object(
        "example.gitbot.dev", "v1", "default", "things", "one"
    )
    live.session.set_status({"message": "moved on"})
    stale["status"] = {"message": "mine"}
    with pytest.raises(ApiException) as raised:
        objects.replace_namespaced_custom_object_status(
            "example.gitbot.dev", "v1", "default", "things", "one", stale
        )
    assert raised.value.status == 409
    assert error_of(raised)["reason"] == "Conflict"
    assert live.status == {"message": "moved on"}


def test_patching_another_objects_status_is_refused(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    live, api = session
    objects = client.CustomObjectsApi(api)
    objects.api_client.set_default_header("Content-Type", "application/merge-patch+json")
    with pytest.raises(ApiException) as raised:
        objects.patch_namespaced_custom_object_status(
            "example.gitbot.dev", "v1", "default", "things", "two", {"status": {"x": "y"}}
        )
    assert raised.value.status == 403
    assert error_of(raised) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'things.example.gitbot.dev "two" is forbidden: gitbot lets a pipeline write '
        "only the status of the object its workflow runs for",
        "reason": "Forbidden",
        "details": {"name": "two", "group": "example.gitbot.dev", "kind": "things"},
        "code": 403,
    }
    assert live.status == {"message": "Pending"}


def test_reading_a_secret_without_permission_is_forbidden(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    _, api = session
    with pytest.raises(ApiException) as raised:
        client.CoreV1Api(api).read_namespaced_secret("db", "default")
    assert raised.value.status == 403
    assert error_of(raised)["message"] == (
        'secrets "db" is forbidden: User "system:serviceaccount:default:thing-resource-configure-p"'
        ' cannot get resource "secrets" in API group "" in the namespace "default"'
    )


def test_other_promises_requests_need_a_permission(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    _, api = session
    with pytest.raises(ApiException) as raised:
        client.CustomObjectsApi(api).get_namespaced_custom_object(
            "db.gitbot.dev", "v1", "default", "databases", "blue"
        )
    assert raised.value.status == 403


def test_listing_namespaces_is_cluster_scoped_and_forbidden_to_a_resource_pipeline(
    session: tuple[PlatformSession, client.ApiClient],
) -> None:
    _, api = session
    with pytest.raises(ApiException) as raised:
        client.CoreV1Api(api).list_namespace()
    assert raised.value.status == 403
    assert error_of(raised)["message"].endswith('in API group "" at the cluster scope')


def test_permissions_grant_secrets_other_requests_and_label_selectors(
    server: PlatformServer, tmp_path: Path, folders: tuple[Path, Path]
) -> None:
    permissions = (
        {"apiGroups": [""], "resources": ["secrets", "configmaps"], "verbs": ["get", "list"]},
        {
            "apiGroups": ["db.gitbot.dev"],
            "resources": ["databases"],
            "verbs": ["get", "list"],
            "resourceNamespace": "*",
        },
    )
    opened, redactor = open_session(server, tmp_path, folders, permissions=permissions)
    with opened as live:
        api = api_client(server, live.token, live.folder / "ca.crt")
        secret = client.CoreV1Api(api).read_namespaced_secret("db", "default")
        assert base64.b64decode(secret.data["password"]).decode() == "s3cr3t-value"
        assert redactor("pw=s3cr3t-value") == "pw=****"
        assert redactor(secret.data["password"]) == "****"
        maps = client.CoreV1Api(api).list_namespaced_config_map("default")
        assert [(m.metadata.name, m.data) for m in maps.items] == [
            ("settings", {"region": "eu-west-1"})
        ]
        # Only in its own namespace: the Role is bound there.
        with pytest.raises(ApiException) as raised:
            client.CoreV1Api(api).read_namespaced_secret("db", "kratix-platform-system")
        assert raised.value.status == 403
        objects = client.CustomObjectsApi(api)
        blue = objects.get_namespaced_custom_object(
            "db.gitbot.dev", "v1", "default", "databases", "blue"
        )
        assert blue["status"] == {"message": "ready", "phase": "Ready"}
        listed = objects.list_cluster_custom_object(
            "db.gitbot.dev", "v1", "databases", label_selector="team in (b,c)"
        )
        assert [i["metadata"]["name"] for i in listed["items"]] == ["green"]
        listed = objects.list_cluster_custom_object(
            "db.gitbot.dev", "v1", "databases", label_selector="team!=b,!missing"
        )
        assert [i["metadata"]["name"] for i in listed["items"]] == ["blue"]
        with pytest.raises(ApiException) as raised:
            objects.list_cluster_custom_object(
                "db.gitbot.dev", "v1", "databases", label_selector="team in (b"
            )
        assert raised.value.status == 400
        with pytest.raises(ApiException) as raised:
            objects.get_namespaced_custom_object(
                "db.gitbot.dev", "v1", "default", "databases", "nope"
            )
        assert raised.value.status == 404
        assert error_of(raised)["message"] == 'databases.db.gitbot.dev "nope" not found'


def test_promise_workflow_reads_promises_and_patches_its_own(
    server: PlatformServer, tmp_path: Path, folders: tuple[Path, Path]
) -> None:
    opened, _ = open_session(server, tmp_path, folders, promise_workflow=True)
    with opened as live:
        assert (live.folder / "namespace").read_text() == "kratix-platform-system"
        api = api_client(server, live.token, live.folder / "ca.crt")
        objects = client.CustomObjectsApi(api)
        listed = objects.list_cluster_custom_object("platform.kratix.io", "v1alpha1", "promises")
        assert [i["metadata"]["name"] for i in listed["items"]] == ["database", "thing"]
        objects.api_client.set_default_header("Content-Type", "application/merge-patch+json")
        objects.patch_cluster_custom_object_status(
            "platform.kratix.io", "v1alpha1", "promises", "thing", {"status": {"ok": True}}
        )
        assert live.status == {"message": "Pending", "ok": True}
        with pytest.raises(ApiException) as raised:
            objects.list_cluster_custom_object("platform.kratix.io", "v1alpha1", "destinations")
        assert raised.value.status == 403


def test_a_token_stops_working_when_its_run_ends(
    server: PlatformServer, tmp_path: Path, folders: tuple[Path, Path]
) -> None:
    opened, _ = open_session(server, tmp_path, folders)
    with opened as live:
        token, ca = live.token, live.folder / "ca.crt"
        api = api_client(server, token, ca)
        client.CustomObjectsApi(api).get_namespaced_custom_object(
            "example.gitbot.dev", "v1", "default", "things", "one"
        )
    with pytest.raises(ApiException) as raised:
        client.CustomObjectsApi(api_client(server, token, ca)).get_namespaced_custom_object(
            "example.gitbot.dev", "v1", "default", "things", "one"
        )
    assert raised.value.status == 401
    assert error_of(raised)["reason"] == "Unauthorized"


def test_an_unknown_token_is_unauthorized(
    session: tuple[PlatformSession, client.ApiClient], server: PlatformServer
) -> None:
    live, _ = session
    api = api_client(server, "not-a-token", live.folder / "ca.crt")
    with pytest.raises(ApiException) as raised:
        client.ApisApi(api).get_api_versions()
    assert raised.value.status == 401


def test_the_ca_is_kept_per_data_directory(tmp_path: Path) -> None:
    first = PlatformServer(tmp_path, "127.0.0.1")
    first.close()
    second = PlatformServer(tmp_path, "127.0.0.1")
    second.close()
    assert first.ca_pem == second.ca_pem
    assert (tmp_path / "ca.key").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "ca.key"]


def test_listens_on_a_gateway_address_the_host_does_not_hold_yet(tmp_path: Path) -> None:
    # Podman's bridge and its gateway exist only while a container uses them: the API binds to
    # the gateway whether or not it is up at that moment. 192.0.2.0/24 (TEST-NET-1) is never
    # a host address here.
    server = PlatformServer(tmp_path, "192.0.2.77")
    try:
        assert (server.host, server.port > 0) == ("192.0.2.77", True)
    finally:
        server.close()
