"""`gitbot reconcile` end to end: real source and state repositories, real containers."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import pipelines_promise_yaml
from gitfixtures import (
    branches,
    commit_all,
    files_on,
    git,
    init_source,
    init_state,
    show,
    write,
)

from gitbot.cli import main

CANARIES = [
    f"clusters/{d}/{f}"
    for d in ("dev", "platform", "prod")
    for f in ("dependencies/kratix-canary-namespace.yaml", "resources/kratix-canary-configmap.yaml")
]
APP_FILES = [
    ".gitbot/objects/app-namespace/default.payments.yaml",
    ".gitbot/objects/app-namespace/promise.yaml",
    "clusters/dev/resources/default/app-namespace/payments/instance-configure/5058f/namespace.yaml",
    "clusters/platform/resources/default/app-namespace/payments/instance-configure/34a6e/"
    "platform/team-access.yaml",
]
PG_FILES = [
    ".gitbot/objects/postgres/promise.yaml",
    ".gitbot/objects/postgres/shop.orders.yaml",
    "clusters/dev/dependencies/postgres/5058f/static/postgres-dependencies.yaml",
    "clusters/dev/dependencies/postgres/install-operator/5058f/operator.yaml",
    "clusters/dev/resources/shop/postgres/orders/render/5058f/postgres.yaml",
]
Reconcile = Callable[..., tuple[int, str]]


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return init_source(tmp_path / "source")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return init_state(tmp_path / "state.git")


@pytest.fixture
def reconcile(
    example_images: list[str],
    source: Path,
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Reconcile:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))

    def run(*extra: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["reconcile", "--source", str(source), "--state", str(state), *extra])
        printed = capsys.readouterr()
        return code, printed.out + printed.err

    return run


def merge(state: Path, branch: str) -> None:
    """What merging the pull request does: the base branch takes the gitbot branch."""
    git(state, "update-ref", "refs/heads/main", f"refs/heads/{branch}")


def test_first_reconcile_opens_one_branch_per_promise(reconcile: Reconcile, state: Path) -> None:
    code, out = reconcile()
    assert code == 0, out
    assert branches(state) == ["gitbot/app-namespace", "gitbot/postgres", "main"]
    assert files_on(state, "main") == []
    assert files_on(state, "gitbot/app-namespace") == sorted(APP_FILES + CANARIES)
    assert files_on(state, "gitbot/postgres") == sorted(PG_FILES + CANARIES)
    assert "gitbot/postgres: created" in out
    assert "(11 added, 0 changed, 0 removed)" in out
    assert f"see: git -C {state} diff main...gitbot/postgres" in out
    rendered = show(state, "gitbot/postgres", PG_FILES[-1])
    assert "numberOfInstances: 3" in rendered
    message = git(state, "log", "-1", "--format=%B", "gitbot/postgres")
    assert "- Promise postgres (configure)" in message
    assert "- postgres shop/orders (configure)" in message
    assert "Gitbot-Source-Commit: " in message


def test_an_unchanged_rerun_pushes_nothing(reconcile: Reconcile, state: Path) -> None:
    reconcile()
    before = {b: git(state, "rev-parse", b) for b in branches(state)}
    code, out = reconcile()
    assert code == 0, out
    assert {b: git(state, "rev-parse", b) for b in branches(state)} == before
    assert "gitbot/postgres: unchanged" in out
    assert out.rstrip().endswith("nothing changed: nothing pushed")


def test_an_unchanged_rerun_pushes_nothing_however_the_source_is_spelled(
    example_images: list[str],
    source: Path,
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    args = ["--state", str(state), "--only", "postgres"]
    assert main(["reconcile", "--source", "source", *args]) == 0, capsys.readouterr()
    before = git(state, "rev-parse", "gitbot/postgres")
    assert f"Gitbot-Source: {source.resolve()}\n" in git(state, "log", "-1", "--format=%B", before)
    record = show(state, "gitbot/postgres", ".gitbot/objects/postgres/promise.yaml")
    assert f"source: {source.resolve()}\n" in record
    for spelling, cwd in (
        (str(source), tmp_path),
        (".", source),
        ("./source/", tmp_path),
        (f"file://{source}", tmp_path),
    ):
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        assert main(["reconcile", "--source", spelling, *args]) == 0
        out = capsys.readouterr().out
        assert "gitbot/postgres: unchanged" in out, (spelling, out)
        assert git(state, "rev-parse", "gitbot/postgres") == before, spelling


def test_a_changed_request_changes_only_its_files(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    reconcile()
    merge(state, "gitbot/postgres")
    request = source / "promises/postgres/resource-request.yaml"
    write(source, {str(request): request.read_text().replace("size: large", "size: small")})
    commit_all(source, "smaller database")
    code, out = reconcile()
    assert code == 0, out
    changed = git(state, "diff", "--name-only", "main", "gitbot/postgres").splitlines()
    assert changed == [".gitbot/objects/postgres/shop.orders.yaml", PG_FILES[-1]]
    assert "numberOfInstances: 1" in show(state, "gitbot/postgres", PG_FILES[-1])


def test_a_removed_request_runs_its_delete_pipeline_and_its_files_leave(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    reconcile()
    merge(state, "gitbot/postgres")
    write(source, {"promises/postgres/resource-request.yaml": None})
    commit_all(source, "no more orders database")
    code, out = reconcile()
    assert code == 0, out
    assert "postgres shop/orders: delete succeeded (teardown" in out
    changed = git(state, "diff", "--name-status", "main", "gitbot/postgres").splitlines()
    assert changed == [
        "D\t.gitbot/objects/postgres/shop.orders.yaml",
        f"D\t{PG_FILES[-1]}",
    ]


def test_a_removed_promise_runs_its_delete_pipelines_and_all_its_files_leave(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    reconcile()
    merge(state, "gitbot/postgres")
    git(source, "rm", "-q", "-r", "promises/postgres")
    commit_all(source, "no more postgres")
    code, out = reconcile()
    assert code == 0, out
    assert "Promise postgres: delete succeeded (uninstall" in out
    assert "postgres shop/orders: delete succeeded (teardown" in out
    assert files_on(state, "gitbot/postgres") == CANARIES


def test_a_changed_promise_reruns_its_requests(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    reconcile()
    promise = source / "promises/postgres/promise.yaml"
    write(
        source,
        {str(promise): promise.read_text().replace("name: postgres-system", "name: databases")},
    )
    commit_all(source, "rename the operator namespace")
    code, out = reconcile()
    assert code == 0, out
    assert "gitbot/postgres: updated" in out
    assert "Promise postgres: configure succeeded" in out
    assert "postgres shop/orders: configure succeeded" in out
    deps = show(state, "gitbot/postgres", PG_FILES[2])
    assert "name: databases" in deps


def test_a_moved_base_branch_rebuilds_the_branch_on_it(
    reconcile: Reconcile, state: Path, tmp_path: Path
) -> None:
    reconcile()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(state), str(clone))
    write(clone, {"README.md": "state\n"})
    human = commit_all(clone, "a note")
    git(clone, "push", "-q", "origin", "main")
    code, out = reconcile()
    assert code == 0, out
    assert "gitbot/postgres: updated" in out
    assert git(state, "rev-parse", "gitbot/postgres^") == human
    assert "README.md" in files_on(state, "gitbot/postgres")


def test_a_human_commit_on_a_gitbot_branch_is_left_alone(
    reconcile: Reconcile, source: Path, state: Path, tmp_path: Path
) -> None:
    reconcile()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(state), str(clone))
    git(clone, "checkout", "-q", "gitbot/postgres")
    write(clone, {"fix.yaml": "a: b\n"})
    human = commit_all(clone, "hand fix")
    git(clone, "push", "-q", "origin", "gitbot/postgres")
    request = source / "promises/postgres/resource-request.yaml"
    write(source, {str(request): request.read_text().replace("size: large", "size: small")})
    commit_all(source, "smaller")
    code, out = reconcile()
    assert code == 1
    assert "gitbot/postgres: human-commit" in out
    assert "the branch has a commit gitbot did not make; left alone" in out
    assert git(state, "rev-parse", "gitbot/postgres") == human


def test_direct_commits_to_the_base_branch(reconcile: Reconcile, state: Path) -> None:
    code, out = reconcile("--direct")
    assert code == 0, out
    assert branches(state) == ["main"]
    assert files_on(state, "main") == sorted(APP_FILES + PG_FILES + CANARIES)
    code, out = reconcile("--direct")
    assert "main: no-change" in out


def test_a_rerun_replaces_its_pipeline_directories_wholesale(
    reconcile: Reconcile, source: Path, state: Path, tmp_path: Path
) -> None:
    reconcile("--direct")
    render_dir = PG_FILES[-1].rsplit("/", 1)[0]
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(state), str(clone))
    write(clone, {f"{render_dir}/by-hand.yaml": "a: b\n", "clusters/dev/README.md": "mine\n"})
    commit_all(clone, "hand-made files")
    git(clone, "push", "-q", "origin", "main")
    request = source / "promises/postgres/resource-request.yaml"
    write(source, {str(request): request.read_text().replace("size: large", "size: small")})
    commit_all(source, "smaller")
    code, out = reconcile("--direct")
    assert code == 0, out
    files = files_on(state, "main")
    assert f"{render_dir}/by-hand.yaml" not in files  # the pipeline's directory is its own
    assert "clusters/dev/README.md" in files  # outside any pipeline directory: left alone
    assert PG_FILES[-1] in files


def gated_promise(gate: str) -> str:
    """A Promise asking for approval, then waiting for it: `gate` ends the waiting pipeline."""
    ask = "echo 'kind: ApprovalRequest' > /kratix/output/ask.yaml"
    return pipelines_promise_yaml(
        "gated", {"ask": ask, "wait": f"echo x > /kratix/output/never.yaml; {gate}"}
    )


def test_a_suspended_workflow_still_writes_the_pipelines_before_it(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    suspend = "echo 'suspend: true' > /kratix/metadata/workflow-control.yaml"
    write(source, {"gated/promise.yaml": gated_promise(suspend)})
    commit_all(source, "an approval gate")
    code, out = reconcile("--direct")
    assert code == 0, out
    gated = [f for f in files_on(state, "main") if f.startswith("clusters/") and "/gated/" in f]
    assert gated and all(f.endswith("/ask/5058f/ask.yaml") for f in gated), gated
    assert ".gitbot/objects/gated/promise.yaml" in files_on(state, "main")
    # Approved: the whole workflow runs, and the waiting pipeline's files join the first's.
    write(source, {"gated/promise.yaml": gated_promise("true")})
    commit_all(source, "approved")
    code, out = reconcile("--direct")
    assert code == 0, out
    gated = [f for f in files_on(state, "main") if f.startswith("clusters/") and "/gated/" in f]
    assert {f.rsplit("/", 3)[-3] for f in gated} == {"ask", "wait"}
    # Suspended again: the waiting pipeline's earlier files stay, as Kratix keeps its Work.
    write(source, {"gated/promise.yaml": gated_promise(suspend)})
    commit_all(source, "suspended again")
    code, out = reconcile("--direct")
    assert code == 0, out
    assert [f for f in files_on(state, "main") if f.startswith("clusters/") and "/gated/" in f] == (
        gated
    )


def test_resume_continues_a_suspended_workflow_from_its_suspended_pipeline(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    # The first pipeline's output differs on every run, so a rerun of it would show; the second
    # asks to be retried once, then goes on (it reads its attempts from object.yaml).
    scripts = {
        "ask": "date +%s%N > /kratix/output/asked.txt",
        # [1]: the script itself is in object.yaml (the Promise's spec) and must not match.
        "wait": "grep -q 'attempts: [1]' /kratix/input/object.yaml || "
        "{ echo 'retryAfter: 1m' > /kratix/metadata/workflow-control.yaml; exit 0; }; "
        "echo done > /kratix/output/done.txt",
    }
    write(source, {"gated/promise.yaml": pipelines_promise_yaml("gated", scripts)})
    commit_all(source, "a gate that retries")
    code, out = reconcile("--direct")
    assert code == 0, out
    asked = next(f for f in files_on(state, "main") if f.endswith("/asked.txt"))
    first = show(state, "main", asked)
    assert not any(f.endswith("/done.txt") for f in files_on(state, "main"))
    code, out = reconcile("--direct", "--resume", "--only", "gated")
    assert code == 0, out
    assert "ran ask/ask" not in out and "ran wait/wait: ok" in out
    files = files_on(state, "main")
    assert show(state, "main", asked) == first  # kept, not rerun
    assert any(f.endswith("/wait/5058f/done.txt") for f in files)


def test_a_failing_pipeline_fails_only_its_promises_branch(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    request = source / "promises/postgres/resource-request.yaml"
    write(source, {str(request): request.read_text().replace("size: large", "size: huge")})
    commit_all(source, "too big")
    code, out = reconcile()
    assert code == 1
    assert branches(state) == ["gitbot/app-namespace", "main"]
    assert "gitbot/postgres: failed" in out
    assert "pipeline 'plan' container 'plan' failed: exited with code 2" in out
    assert "unknown size 'huge': use small or large" in out


def test_an_invalid_gitbot_yaml_is_reported_with_file_and_line(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    write(source, {".gitbot.yaml": "baseBranch: main\npullRequests:\n  groupBy: team\n"})
    commit_all(source, "config")
    code, out = reconcile()
    assert code == 1
    assert out == (
        "gitbot: error: .gitbot.yaml:3: pullRequests.groupBy: must be one of promise, object, "
        "push, got 'team'\n"
    )
    assert branches(state) == []


def test_filepath_modes_none_and_aggregated(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    write(
        source,
        {
            "destinations.yaml": (
                "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\n"
                "metadata: {name: flat, labels: {environment: dev}}\n"
                "spec: {path: flat, filepath: {mode: none},\n"
                "  stateStoreRef: {kind: GitStateStore, name: s}}\n---\n"
                "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\n"
                "metadata: {name: agg, labels: {role: platform}}\n"
                "spec: {path: agg, strictMatchLabels: true, filepath: {mode: aggregatedYAML},\n"
                "  stateStoreRef: {kind: GitStateStore, name: s}}\n"
            )
        },
    )
    commit_all(source, "flat and aggregated destinations")
    code, out = reconcile("--direct")
    assert code == 0, out
    files = files_on(state, "main")
    assert "flat/namespace.yaml" in files
    assert "flat/operator.yaml" in files
    assert "flat/.kratix/default-app-namespace-payments-instance-configure.flat-5058f.yaml" in files
    assert "agg/aggregated.yaml" in files
    assert "name: team-payments-dev" in show(state, "main", "agg/aggregated.yaml")


def test_paused_objects_are_skipped_and_keep_their_files(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    reconcile()
    merge(state, "gitbot/postgres")
    request = source / "promises/postgres/resource-request.yaml"
    paused = request.read_text().replace(
        "  namespace: shop\n", '  namespace: shop\n  labels:\n    kratix.io/paused: "true"\n'
    )
    write(source, {str(request): paused.replace("size: large", "size: small")})
    commit_all(source, "pause and shrink")
    code, out = reconcile()
    assert code == 0, out
    assert "postgres shop/orders: paused — kratix.io/paused is set" in out
    # Nothing changed against the merged base, so the merged branch is cleaned up.
    assert "gitbot/postgres: removed" in out
    assert branches(state) == ["gitbot/app-namespace", "main"]
    assert "numberOfInstances: 3" in show(state, "main", PG_FILES[-1])


def test_a_request_its_crd_schema_refuses_runs_nothing_and_is_reported_at_its_line(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    request = source / "promises/app-namespace/resource-request.yaml"
    write(
        source, {str(request): request.read_text().replace("environment: dev", "environment: qa")}
    )
    commit_all(source, "qa")
    code, out = reconcile()
    assert code == 1
    assert (
        "\npromises/app-namespace/resource-request.yaml:8: spec.environment: "
        "must be one of 'dev', 'prod', got 'qa'\n"
    ) in out
    assert "error: promises/" not in out  # the same line validate prints, no prefix
    assert "ran instance-configure/" not in out  # the request's own workflow never started
    assert "gitbot/postgres: created" in out


def test_only_reconciles_the_named_promises(reconcile: Reconcile, state: Path) -> None:
    code, out = reconcile("--only", "postgres")
    assert code == 0, out
    assert branches(state) == ["gitbot/postgres", "main"]
    assert "app-namespace" not in out.split("\n", 2)[2]


def test_a_group_no_destination_matches_is_reported_and_not_written(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    # The platform team allows a qa environment before any Destination serves it.
    request = source / "promises/app-namespace/resource-request.yaml"
    promise = source / "promises/app-namespace/promise.yaml"
    write(
        source,
        {
            str(request): request.read_text().replace("environment: dev", "environment: qa"),
            str(promise): promise.read_text().replace("[dev, prod]", "[dev, qa, prod]"),
        },
    )
    commit_all(source, "qa")
    code, out = reconcile()
    assert code == 0, out
    assert (
        "not scheduled: app-namespace-payments-instance-configure output root: "
        "no Destination matches {environment=qa}"
    ) in out
    files = files_on(state, "gitbot/app-namespace")
    assert not any(f.endswith("/namespace.yaml") for f in files)
    assert APP_FILES[3] in files


def test_a_resource_keeps_its_destination_when_labels_change(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    reconcile()
    merge(state, "gitbot/app-namespace")
    destinations = source / "destinations.yaml"
    write(
        source,
        {
            str(destinations): destinations.read_text().replace(
                "name: dev\n  labels:\n    environment: dev",
                "name: dev\n  labels:\n    environment: development",
            )
        },
    )
    request = source / "promises/app-namespace/resource-request.yaml"
    write(source, {str(request): request.read_text().replace('cpuQuota: "4"', 'cpuQuota: "8"')})
    commit_all(source, "relabel dev, more cpu")
    code, out = reconcile()
    assert code == 0, out
    assert git(state, "diff", "--name-only", "main", "gitbot/app-namespace").splitlines() == [
        ".gitbot/objects/app-namespace/default.payments.yaml",
        APP_FILES[2],
    ]
    assert 'limits.cpu: "8"' in show(state, "gitbot/app-namespace", APP_FILES[2])


COUNTER_PROMISE = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: counter
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: counters.example.gitbot.dev
    spec:
      group: example.gitbot.dev
      names: {kind: Counter, plural: counters}
      scope: Namespaced
      versions: [{name: v1, served: true, storage: true}]
  workflows:
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {name: count}
          spec:
            containers:
              - name: count
                image: docker.io/library/busybox:latest
                imagePullPolicy: IfNotPresent
                command:
                  - sh
                  - -c
                  - |
                    last=$(sed -n 's/^  runs: //p' /kratix/input/object.yaml)
                    runs=$(( ${last:-0} + 1 ))
                    echo "runs: $runs" > /kratix/metadata/status.yaml
                    echo "runs: $runs" > /kratix/output/runs.yaml
---
apiVersion: example.gitbot.dev/v1
kind: Counter
metadata: {name: c}
spec: {}
"""


def test_object_status_is_kept_between_runs_and_fed_into_object_yaml(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    write(source, {"counter.yaml": COUNTER_PROMISE})
    commit_all(source, "a counter")
    path = "clusters/dev/resources/default/counter/c/count/5058f/runs.yaml"
    reconcile("--only", "counter")
    assert show(state, "gitbot/counter", path) == "runs: 1"
    reconcile("--only", "counter")
    assert show(state, "gitbot/counter", path) == "runs: 2"


def test_json_output_lists_objects_runs_and_branches(reconcile: Reconcile, state: Path) -> None:
    code, out = reconcile("--output", "json", "--only", "postgres")
    assert code == 0, out
    document = json.loads(out)
    assert sorted(document) == [
        "apiVersion", "branches", "implicitDestination", "kind", "objects", "problems", "runs",
        "source", "state", "succeeded",
    ]  # fmt: skip
    assert (document["apiVersion"], document["kind"]) == ("gitbot.dev/v1", "ReconcileResult")
    assert document["succeeded"] is True
    assert document["source"]["ref"] == "main"
    assert document["state"] == {
        "repository": str(state),
        "baseBranch": "main",
        "baseCommit": git(state, "rev-parse", "main"),
    }
    assert document["problems"] == []
    assert {(o["kind"], o["name"]) for o in document["objects"]} >= {
        ("Promise", "postgres"),
        ("Postgres", "orders"),
        ("Destination", "dev"),
    }
    runs = {(r["object"]["kind"], r["object"]["name"]): r for r in document["runs"]}
    assert sorted(runs) == [("Postgres", "orders"), ("Promise", "postgres")]
    request = runs[("Postgres", "orders")]
    assert request["action"] == "configure"
    assert request["failed"] is False
    assert request["object"]["namespace"] == "shop"
    assert [p["name"] for p in request["run"]["pipelines"]] == ["plan", "render"]
    assert request["files"] == [PG_FILES[-1]]
    [branch] = document["branches"]
    assert branch["name"] == "gitbot/postgres"
    assert branch["action"] == "created"
    assert branch["commit"] == git(state, "rev-parse", "gitbot/postgres")
    assert sorted(branch["added"]) == sorted(PG_FILES + CANARIES)
    assert branch["objects"] == ["Promise postgres", "postgres shop/orders"]
