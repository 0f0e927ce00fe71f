"""The web layer through Flask's test client over a real SQLite store: receiving deliveries."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient

from gitbot.github.events import sign
from gitbot.secrets import Secret
from gitbot.web.app import WebConfig, create_app
from gitbot.work.store import Store

SECRET = b"It's a Secret to Everybody"
PAYLOADS = Path(__file__).resolve().parent.parent / "data" / "webhooks"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'gitbot.db'}")


@pytest.fixture
def client(store: Store) -> FlaskClient:
    app = create_app(WebConfig(Secret(SECRET.decode()), store))
    return app.test_client()


def deliver(
    client: FlaskClient, event: str, body: bytes, guid: str = "d-1", signature: str | None = None
) -> tuple[int, dict]:
    response = client.post(
        "/webhook",
        data=body,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": guid,
            "X-Hub-Signature-256": signature if signature is not None else sign(SECRET, body),
            "Content-Type": "application/json",
        },
    )
    return response.status_code, response.get_json()


def push_body() -> bytes:
    return (PAYLOADS / "push.default.json").read_bytes()


def test_a_signed_push_is_stored_queued_and_answered_202(client: FlaskClient, store: Store) -> None:
    status, body = deliver(client, "push", push_body())
    assert (status, body) == (202, {"status": "queued", "delivery": "d-1"})
    stored = store.delivery("d-1")
    assert stored is not None
    assert (stored.event, stored.status, stored.repository) == (
        "push",
        "queued",
        "Codertocat/Hello-World",
    )
    assert stored.payload == push_body()
    assert [j.kind for j in store.jobs_for_delivery("d-1")] == ["route"]


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc"])
def test_a_wrong_or_missing_signature_is_refused_and_nothing_is_stored(
    client: FlaskClient, store: Store, signature: str
) -> None:
    status, body = deliver(client, "push", push_body(), signature=signature)
    assert (status, body) == (401, {"error": "missing or wrong X-Hub-Signature-256"})
    assert store.recent_deliveries() == []
    assert store.queue_depth() == 0


def test_a_signed_but_malformed_payload_is_a_400_kept_for_inspection(
    client: FlaskClient, store: Store
) -> None:
    status, body = deliver(client, "push", b'{"ref": 1}')
    assert status == 400
    assert body["error"] == "repository: missing, expected an object"
    stored = store.delivery("d-1")
    assert stored is not None and stored.status == "invalid"
    assert store.queue_depth() == 0


def test_a_delivery_that_succeeded_is_not_run_again(client: FlaskClient, store: Store) -> None:
    deliver(client, "push", push_body())
    store.set_delivery_status("d-1", "succeeded", "done")
    status, body = deliver(client, "push", push_body())
    assert (status, body["status"]) == (200, "already processed")
    assert len(store.jobs_for_delivery("d-1")) == 1


def test_a_redelivery_of_a_failed_one_runs_again(client: FlaskClient, store: Store) -> None:
    deliver(client, "push", push_body())
    store.set_delivery_status("d-1", "failed", "engine down")
    status, _ = deliver(client, "push", push_body())
    assert status == 202
    assert len(store.jobs_for_delivery("d-1")) == 2


def test_events_gitbot_does_not_handle_are_stored_as_ignored(
    client: FlaskClient, store: Store
) -> None:
    status, body = deliver(client, "star", json.dumps({"action": "created"}).encode())
    assert (status, body["status"]) == (202, "ignored")
    stored = store.delivery("d-1")
    assert stored is not None and stored.status == "ignored"


def test_one_repositorys_deliveries_are_routed_one_at_a_time_in_arrival_order(
    client: FlaskClient, store: Store
) -> None:
    # Routed out of order, an older push would supersede the newer one's queued work.
    other = json.loads(push_body())
    other["repository"]["full_name"] = "Codertocat/Other"
    deliver(client, "push", push_body(), guid="first")
    deliver(client, "push", push_body(), guid="second")
    deliver(client, "push", json.dumps(other).encode(), guid="elsewhere")
    first = store.claim("worker-a", 60)
    assert first is not None and first.delivery_guid == "first"
    elsewhere = store.claim("worker-b", 60)
    assert elsewhere is not None and elsewhere.delivery_guid == "elsewhere"
    assert store.claim("worker-c", 60) is None  # "second" waits for "first"
    assert store.complete(first.id, "worker-a", {})
    second = store.claim("worker-c", 60)
    assert second is not None and second.delivery_guid == "second"


def test_health_readiness_and_metrics(store: Store) -> None:
    def broken() -> None:
        raise RuntimeError("engine unreachable")

    app = create_app(WebConfig(Secret("s"), store, ready_checks={"engine": broken}))
    client = app.test_client()
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["checks"] == {"database": "ok", "engine": "failing: engine unreachable"}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "gitbot_queue_depth 0.0" in metrics
    assert "gitbot_webhook_deliveries_total" in metrics


def test_gitbot_refuses_to_start_without_a_webhook_secret(store: Store) -> None:
    with pytest.raises(ValueError, match="a webhook secret is required"):
        create_app(WebConfig(Secret(""), store))


def test_the_runs_page_asks_for_its_token(store: Store) -> None:
    app = create_app(WebConfig(Secret("s"), store, runs_token=Secret("let-me-in")))
    client = app.test_client()
    assert client.get("/runs").status_code == 401
    assert client.get("/runs?token=wrong").status_code == 401
    page = client.get("/runs", headers={"Authorization": "Bearer let-me-in"})
    assert page.status_code == 200
    assert "<h2>Jobs</h2>" in page.get_data(as_text=True)


def test_without_a_token_the_runs_page_answers_only_this_machine(store: Store) -> None:
    client = create_app(WebConfig(Secret("s"), store)).test_client()
    assert client.get("/runs", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 200
    assert client.get("/runs", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403


def test_the_manifest_redirect_url_leads_to_a_page_with_the_exchange(client: FlaskClient) -> None:
    root = Path(__file__).resolve().parent.parent.parent
    manifest = json.loads((root / "deploy" / "github-app-manifest.json").read_text())
    path = urlsplit(manifest["redirect_url"]).path
    page = client.get(f"{path}?code=abc123&state=f00d")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "https://api.github.com/app-manifests/abc123/conversions" in html
    assert "f00d" in html and page.headers["Cache-Control"] == "no-store"
    assert client.get(path).status_code == 400
    assert client.get(f"{path}?code=<script>").status_code == 400
    assert "<b>" not in client.get(f"{path}?code=a&state=<b>").get_data(as_text=True)
