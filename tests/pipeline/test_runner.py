"""The workflow runner against the real container engine: every rule of the contract it keeps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from builders import pipeline, promise, request, sh

from gitbot.kratix.objects import Workflows
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.containers import ContainerPolicy
from gitbot.pipeline.engine import MANAGED_LABEL, OWNER, OWNER_LABEL, DockerEngine
from gitbot.pipeline.output import OutputLimits
from gitbot.pipeline.runner import RunOptions, WorkflowRun, WorkflowRunner
from gitbot.secrets import Redactor, config_map_store, secret_store


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    root = tmp_path / "secrets"
    (root / "db").mkdir(parents=True)
    (root / "db" / "password").write_text("s3cr3t-value")
    (root / "db" / "user").write_text("admin")
    return root


def make_runner(
    engine: DockerEngine, secrets_dir: Path | None = None, **options: object
) -> WorkflowRunner:
    redactor = Redactor()
    return WorkflowRunner(
        engine,
        secret_store(secrets_dir, redactor),
        config_map_store(None, redactor),
        redactor,
        RunOptions(**options),  # type: ignore[arg-type]
    )


def run_resource(
    engine: DockerEngine, *pipelines, secrets_dir=None, status=None, start_at=None, **options
) -> WorkflowRun:
    target = WorkflowTarget(
        promise(workflows=Workflows(resource_configure=tuple(pipelines))), "configure", request()
    )
    return make_runner(engine, secrets_dir, **options).run(target, status, start_at)


def test_object_yaml_has_sorted_keys_status_and_promise_label(engine: DockerEngine) -> None:
    run = run_resource(
        engine, pipeline("p", sh("c", "cp /kratix/input/object.yaml /kratix/output/seen.yaml"))
    )
    assert run.failure is None
    seen = run.pipelines[0].files["seen.yaml"].decode()
    assert untimed(yaml.safe_load(seen)) == {
        "apiVersion": "example.gitbot.dev/v1",
        "kind": "Thing",
        "metadata": {
            "labels": {"kratix.io/promise-name": "thing"},
            "name": "one",
            "namespace": "default",
        },
        "spec": {"size": "small"},
        "status": {
            "message": "Pending",
            "kratix": {"workflows": {"pipelines": [{"name": "p", "phase": "Running"}]}},
        },
    }
    assert seen.splitlines()[0] == "apiVersion: example.gitbot.dev/v1"
    assert seen.index("kind:") < seen.index("metadata:") < seen.index("spec:")


def test_input_is_read_only(engine: DockerEngine) -> None:
    run = run_resource(engine, pipeline("p", sh("c", "echo x > /kratix/input/object.yaml")))
    assert run.failure is not None
    assert "Read-only file system" in run.failure.log_tail


def test_kratix_variables_for_a_resource_then_the_containers_own_env(engine: DockerEngine) -> None:
    script = "env | grep -E '^(KRATIX_|MINE=)' | sort > /kratix/output/env"
    container = sh("c", script, env=({"name": "MINE", "value": "$(KRATIX_OBJECT_NAME)-x"},))
    run = run_resource(engine, pipeline("p", container))
    assert run.pipelines[0].files["env"].decode().splitlines() == [
        "KRATIX_CLUSTER_SCOPED=false",
        "KRATIX_CRD_PLURAL=things",
        "KRATIX_OBJECT_GROUP=example.gitbot.dev",
        "KRATIX_OBJECT_KIND=Thing",
        "KRATIX_OBJECT_NAME=one",
        "KRATIX_OBJECT_NAMESPACE=default",
        "KRATIX_OBJECT_VERSION=v1",
        "KRATIX_PIPELINE_NAME=p",
        "KRATIX_PROMISE_NAME=thing",
        "KRATIX_WORKFLOW_ACTION=configure",
        "KRATIX_WORKFLOW_TYPE=resource",
        "MINE=one-x",
    ]


def test_kratix_variables_for_a_promise(engine: DockerEngine) -> None:
    script = "env | grep ^KRATIX_ | sort > /kratix/output/env"
    target = WorkflowTarget(
        promise(workflows=Workflows(promise_configure=(pipeline("setup", sh("c", script)),))),
        "configure",
    )
    run = make_runner(engine).run(target)
    assert run.pipelines[0].files["env"].decode().splitlines() == [
        "KRATIX_CLUSTER_SCOPED=true",
        "KRATIX_CRD_PLURAL=promises",
        "KRATIX_OBJECT_GROUP=platform.kratix.io",
        "KRATIX_OBJECT_KIND=Promise",
        "KRATIX_OBJECT_NAME=thing",
        "KRATIX_OBJECT_NAMESPACE=",
        "KRATIX_OBJECT_VERSION=v1alpha1",
        "KRATIX_PIPELINE_NAME=setup",
        "KRATIX_PROMISE_NAME=thing",
        "KRATIX_WORKFLOW_ACTION=configure",
        "KRATIX_WORKFLOW_TYPE=promise",
    ]
    assert run.status["message"] == "Promise configured"


def test_output_and_metadata_are_shared_by_the_pipelines_containers(engine: DockerEngine) -> None:
    first = sh("first", "echo a > /kratix/output/a; echo note > /kratix/metadata/note")
    second = sh("second", "cat /kratix/metadata/note > /kratix/output/b; rm /kratix/output/a")
    run = run_resource(engine, pipeline("p", first, second))
    assert dict(run.pipelines[0].files) == {"b": b"note\n"}


def test_non_root_images_can_write_output(engine: DockerEngine) -> None:
    container = sh(
        "c",
        "id -u > /kratix/output/uid",
        security_context={"runAsUser": 1000, "runAsNonRoot": True},
    )
    run = run_resource(engine, pipeline("p", container))
    assert run.failure is None, run.failure
    assert run.pipelines[0].files["uid"] == b"1000\n"


def test_each_pipeline_starts_with_empty_output_and_sees_the_previous_status(
    engine: DockerEngine,
) -> None:
    first = sh(
        "c",
        "echo x > /kratix/output/one; "
        "printf 'stage: one\\nconditions:\\n- type: Ready\\n  status: \"False\"\\n' "
        "> /kratix/metadata/status.yaml",
    )
    second = sh(
        "c",
        "ls /kratix/output > /tmp/listing; cp /tmp/listing /kratix/output/listing; "
        "cp /kratix/input/object.yaml /kratix/output/object.yaml; "
        "printf 'message: done\\nconditions:\\n- type: Ready\\n  status: \"True\"\\n' "
        "> /kratix/metadata/status.yaml",
    )
    run = run_resource(engine, pipeline("p0", first), pipeline("p1", second))
    assert run.failure is None
    files = run.pipelines[1].files
    assert files["listing"] == b""
    # Kratix's own status beside the pipelines': p0 done, p1 running (times left out).
    assert untimed(yaml.safe_load(files["object.yaml"])["status"]) == {
        "conditions": [{"status": "False", "type": "Ready"}],
        "message": "Pending",
        "stage": "one",
        "kratix": {
            "workflows": {
                "pipelines": [
                    {"name": "p0", "phase": "Succeeded"},
                    {"name": "p1", "phase": "Running"},
                ]
            }
        },
    }
    assert untimed(run.status) == {
        "conditions": [
            {"status": "True", "type": "Ready"},
            {
                "message": "Pipelines completed",
                "reason": "PipelinesExecutedSuccessfully",
                "status": "True",
                "type": "ConfigureWorkflowCompleted",
            },
            {
                "message": "Reconciled",
                "reason": "Reconciled",
                "status": "True",
                "type": "Reconciled",
            },
        ],
        "message": "done",
        "stage": "one",
        "kratix": {
            "workflows": {
                "pipelines": [
                    {"name": "p0", "phase": "Succeeded"},
                    {"name": "p1", "phase": "Succeeded"},
                ]
            }
        },
        "workflows": 2,
        "workflowsSucceeded": 2,
        "workflowsFailed": 0,
    }
    assert run.status["lastSuccessfulConfigureWorkflowTime"].endswith("Z")


TIMES = ("lastTransitionTime", "nextRetryAt", "lastSuccessfulConfigureWorkflowTime")


def untimed(value: Any) -> Any:
    """A status without its timestamps, which differ on every run."""
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if k not in TIMES}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def test_a_failing_container_stops_the_workflow_with_its_log_tail(engine: DockerEngine) -> None:
    failing = sh("boom", "for i in $(seq 1 30); do echo line $i; done; exit 7")
    never = sh("never", "touch /kratix/output/never")
    run = run_resource(
        engine, pipeline("p0", failing, never), pipeline("p1", sh("c", "touch /kratix/output/x"))
    )
    assert run.outcome == "failed"
    assert run.pipelines == ()
    assert run.failure is not None
    lines = [f"line {i}" for i in range(11, 31)]
    assert str(run.failure) == (
        "pipeline 'p0' container 'boom' failed: exited with code 7\n"
        "--- last lines of its log ---\n" + "\n".join(lines)
    )


def test_a_container_over_its_timeout_is_killed_and_removed(engine: DockerEngine) -> None:
    run = run_resource(
        engine,
        pipeline("p", sh("sleepy", "echo started; sleep 60")),
        container_timeout=1.5,
    )
    assert run.failure is not None
    assert run.failure.message == ("timed out after 1.5s; the container was killed and removed")
    assert run.failure.log_tail == "started"
    mine = {"label": [MANAGED_LABEL, f"{OWNER_LABEL}={OWNER}"]}
    assert engine._client.containers.list(all=True, filters=mine) == []


def test_suspend_discards_output_and_stops_later_pipelines(engine: DockerEngine) -> None:
    suspend = sh(
        "c",
        "touch /kratix/output/discarded; "
        "printf 'suspend: true\\nmessage: waiting for approval\\n' "
        "> /kratix/metadata/workflow-control.yaml",
    )
    run = run_resource(engine, pipeline("p0", suspend), pipeline("p1", sh("c", "true")))
    assert run.outcome == "suspended"
    assert [p.name for p in run.pipelines] == ["p0"]
    assert run.pipelines[0].files == {}
    assert run.pipelines[0].control is not None
    assert run.pipelines[0].control.message == "waiting for approval"


def test_retry_after_wins_over_suspend_and_names_the_delay(engine: DockerEngine) -> None:
    retry = sh(
        "c",
        "printf 'suspend: true\\nretryAfter: 90s\\n' > /kratix/metadata/workflow-control.yaml",
    )
    run = run_resource(engine, pipeline("p0", retry), pipeline("p1", sh("c", "true")))
    assert (run.outcome, run.retry_after) == ("suspended", timedelta(seconds=90))
    suspended = sh("c", "echo 'suspend: true' > /kratix/metadata/workflow-control.yaml")
    assert run_resource(engine, pipeline("p0", suspended)).retry_after is None


def test_a_retrying_pipeline_counts_its_attempts_and_sees_them(engine: DockerEngine) -> None:
    # Gives up waiting on its third attempt, reading the count Kratix keeps in its status.
    script = (
        "grep -q 'attempts: 2' /kratix/input/object.yaml && exit 0; "
        "echo 'retryAfter: 5m' > /kratix/metadata/workflow-control.yaml"
    )
    runs = []
    status = None
    for resume in (None, 0, 0):  # the first run, then two retryAfter resumes at pipeline 0
        runs.append(
            run_resource(engine, pipeline("wait", sh("c", script)), status=status, start_at=resume)
        )
        status = runs[-1].status
    entries = [r.status["kratix"]["workflows"]["pipelines"][0] for r in runs]
    assert [(e["phase"], e.get("attempts")) for e in entries] == [
        ("Suspended", 1),
        ("Suspended", 2),
        ("Succeeded", None),
    ]
    assert "nextRetryAt" in entries[1] and "nextRetryAt" not in entries[2]
    reconciled = [c for c in runs[0].status["conditions"] if c["type"] == "Reconciled"]
    assert (reconciled[0]["status"], reconciled[0]["reason"]) == ("Unknown", "WorkflowSuspended")


def test_a_run_from_the_start_counts_attempts_afresh(engine: DockerEngine) -> None:
    # Kratix resets the attempts when a workflow runs from the start (a manual reconcile, the
    # interval, a spec change), not only when it completes (lib/workflow/reconciler.go).
    wait = pipeline(
        "wait", sh("c", "echo 'retryAfter: 5m' > /kratix/metadata/workflow-control.yaml")
    )
    first = run_resource(engine, wait)
    resumed = run_resource(engine, wait, status=first.status, start_at=0)
    afresh = run_resource(engine, wait, status=resumed.status)
    attempts = [
        r.status["kratix"]["workflows"]["pipelines"][0]["attempts"]
        for r in (first, resumed, afresh)
    ]
    assert attempts == [1, 2, 1]


def test_unknown_workflow_control_keys_are_ignored_with_a_warning(engine: DockerEngine) -> None:
    retry = sh(
        "c",
        "printf 'retryAfter: 5m\\nmaxAttempts: 3\\n' > /kratix/metadata/workflow-control.yaml",
    )
    run = run_resource(engine, pipeline("p0", retry), pipeline("p1", sh("c", "true")))
    assert (run.failure, run.outcome, run.retry_after) == (None, "suspended", timedelta(minutes=5))
    assert run.pipelines[0].warnings == (
        "workflow-control.yaml: 'maxAttempts' ignored, as Kratix does (it reads suspend, "
        "retryAfter and message)",
    )


def test_selectors_naming_an_empty_folder_make_an_empty_group(engine: DockerEngine) -> None:
    empty = sh(
        "c",
        "mkdir -p /kratix/output/dest1 /kratix/output/dest2/sub; echo a > /kratix/output/a.yaml; "
        "printf -- '- {directory: dest1, matchLabels: {env: dev}}\\n"
        "- {directory: dest2, matchLabels: {env: prod}}\\n' "
        "> /kratix/metadata/destination-selectors.yaml",
    )
    run = run_resource(engine, pipeline("p", empty))
    assert run.failure is None
    (done,) = run.pipelines
    assert (dict(done.files), done.output_dirs) == ({"a.yaml": b"a\n"}, {"dest1", "dest2"})
    missing = sh(
        "c",
        "printf -- '- {directory: dest1, matchLabels: {env: dev}}\\n' "
        "> /kratix/metadata/destination-selectors.yaml",
    )
    failed = run_resource(engine, pipeline("p", missing))
    assert failed.failure is not None
    assert failed.failure.message == (
        "destination-selectors.yaml: directory 'dest1' does not exist in /kratix/output"
    )


def test_unknown_destination_selector_keys_are_ignored_with_a_warning(
    engine: DockerEngine,
) -> None:
    """Kratix decodes destination-selectors.yaml without strictness (work_creator.go)."""
    extra = sh(
        "c",
        "echo a > /kratix/output/a.yaml; "
        "printf -- '- {matchLabels: {env: dev}, matchExpressions: [], weight: 2}\\n' "
        "> /kratix/metadata/destination-selectors.yaml",
    )
    (done,) = run_resource(engine, pipeline("p", extra)).pipelines
    assert [(s.directory, dict(s.match_labels)) for s in done.selectors] == [(".", {"env": "dev"})]
    assert done.warnings == (
        "destination-selectors.yaml: 'matchExpressions', 'weight' ignored, as Kratix does (it "
        "reads directory and matchLabels)",
    )


def test_the_old_scheduling_yaml_is_ignored_with_a_warning(engine: DockerEngine) -> None:
    old = sh(
        "c",
        "echo a > /kratix/output/a.yaml; "
        "printf -- '- {matchLabels: {env: prod}}\\n' > /kratix/metadata/scheduling.yaml",
    )
    (done,) = run_resource(engine, pipeline("p", old)).pipelines
    assert done.selectors == ()
    assert done.warnings == (
        "scheduling.yaml ignored: Kratix reads destination-selectors.yaml (its old name is no "
        "longer read)",
    )


def test_invalid_destination_selectors_fail_the_pipeline(engine: DockerEngine) -> None:
    bad = sh(
        "c",
        "mkdir -p /kratix/output/a/b; touch /kratix/output/a/b/x; "
        "printf -- '- directory: a/b\\n  matchLabels: {env: dev}\\n' "
        "> /kratix/metadata/destination-selectors.yaml",
    )
    run = run_resource(engine, pipeline("p", bad))
    assert run.failure is not None
    assert run.failure.pipeline == "p"
    assert "sub-directories are not allowed" in run.failure.message


def test_status_may_not_set_kratix(engine: DockerEngine) -> None:
    bad = sh("c", "echo 'kratix: {x: 1}' > /kratix/metadata/status.yaml")
    run = run_resource(engine, pipeline("p", bad))
    assert run.failure is not None
    assert "kratix" in run.failure.message


def test_secrets_reach_the_container_and_never_its_reported_log(
    engine: DockerEngine, secrets_dir: Path
) -> None:
    container = sh(
        "c",
        "echo pw=$PASSWORD; echo from=$DB_user; cat /secrets/password; "
        "cp /secrets/password /kratix/output/copied",
        env=(
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        ),
        env_from=({"secretRef": {"name": "db"}, "prefix": "DB_"},),
        volume_mounts=({"name": "creds", "mountPath": "/secrets", "readOnly": True},),
    )
    run = run_resource(
        engine,
        pipeline("p", container, volumes=({"name": "creds", "secret": {"secretName": "db"}},)),
        secrets_dir=secrets_dir,
    )
    assert run.failure is None, run.failure
    log = run.pipelines[0].containers[0].log
    assert "s3cr3t-value" not in log
    assert log.splitlines() == ["pw=****", "from=****", "****"]
    # The output itself is the pipeline's business: Kratix writes it verbatim too.
    assert run.pipelines[0].files["copied"] == b"s3cr3t-value"


def test_a_missing_secret_is_a_clear_error(engine: DockerEngine, secrets_dir: Path) -> None:
    container = sh(
        "c",
        "true",
        env=({"name": "X", "valueFrom": {"secretKeyRef": {"name": "db", "key": "nope"}}},),
    )
    run = run_resource(engine, pipeline("p", container), secrets_dir=secrets_dir)
    assert run.failure is not None
    assert run.failure.message == (
        f"pipeline 'p' container 'c': secret 'db' has no key 'nope' in {secrets_dir}"
    )


def test_a_symlink_in_the_output_fails_the_pipeline(engine: DockerEngine) -> None:
    run = run_resource(engine, pipeline("p", sh("c", "ln -s /etc/passwd /kratix/output/link")))
    assert run.failure is not None
    assert run.failure.message == "output file 'link' is a symlink; only regular files"


def test_output_limits(engine: DockerEngine) -> None:
    many = sh("c", "for i in 1 2 3 4; do touch /kratix/output/f$i; done")
    run = run_resource(engine, pipeline("p", many), output_limits=OutputLimits(max_files=3))
    assert run.failure is not None
    assert run.failure.message == "output has more than 3 files (at 'f4')"
    big = sh("c", "head -c 2000 /dev/zero > /kratix/output/big")
    run = run_resource(engine, pipeline("p", big), output_limits=OutputLimits(max_bytes=1000))
    assert run.failure is not None
    assert run.failure.message == "output is larger than 1000 bytes (at 'big')"


def test_privileged_is_refused_unless_allowed(engine: DockerEngine) -> None:
    container = sh("c", "touch /kratix/output/x", security_context={"privileged": True})
    run = run_resource(engine, pipeline("p", container))
    assert run.failure is not None
    assert run.failure.message == (
        "pipeline 'p' container 'c': asks for privileged mode, which gitbot refuses unless the "
        "operator allows it (GITBOT_ALLOW_PRIVILEGED=true)"
    )
    allowed = run_resource(
        engine, pipeline("p", container), policy=ContainerPolicy(allow_privileged=True)
    )
    assert allowed.failure is None


def test_read_only_root_and_kratix_default_resources(engine: DockerEngine) -> None:
    script = (
        "(touch /x 2>/dev/null && echo writable || echo read-only) > /kratix/output/root; "
        # cgroup v2 names it memory.max, v1 memory.limit_in_bytes: either must reach the file.
        "{ cat /sys/fs/cgroup/memory.max 2>/dev/null "
        "|| cat /sys/fs/cgroup/memory/memory.limit_in_bytes; } > /kratix/output/memory"
    )
    container = sh("c", script, security_context={"readOnlyRootFilesystem": True})
    run = run_resource(engine, pipeline("p", container))
    assert run.failure is None, run.failure
    assert run.pipelines[0].files["root"] == b"read-only\n"
    assert run.pipelines[0].files["memory"] == b"268435456\n"  # Kratix's 256Mi default limit


def test_command_without_args_drops_the_image_cmd(engine: DockerEngine) -> None:
    container = sh("c", "").__class__(
        name="c",
        image="docker.io/library/busybox:latest",
        image_pull_policy="IfNotPresent",
        args=("sh", "-c", "echo args-only > /kratix/output/x"),
    )
    run = run_resource(engine, pipeline("p", container))
    assert run.pipelines[0].files["x"] == b"args-only\n"


def test_delete_runs_only_the_first_delete_pipeline_and_ignores_output(
    engine: DockerEngine,
) -> None:
    first = pipeline(
        "del",
        sh(
            "c",
            "touch /kratix/output/x; echo 'message: bye' > /kratix/metadata/status.yaml; "
            "env | grep ACTION",
        ),
    )
    second = pipeline("del2", sh("c", "exit 1"))
    target = WorkflowTarget(
        promise(workflows=Workflows(resource_delete=(first, second))), "delete", request()
    )
    run = make_runner(engine).run(target)
    assert run.outcome == "succeeded"
    assert [p.name for p in run.pipelines] == ["del"]
    assert run.pipelines[0].files == {}
    assert run.status["message"] == "bye"
    assert "KRATIX_WORKFLOW_ACTION=delete" in run.pipelines[0].containers[0].log


def test_empty_dir_volume_is_shared_between_containers(engine: DockerEngine) -> None:
    mount = ({"name": "scratch", "mountPath": "/scratch"},)
    first = sh("a", "echo hello > /scratch/note", volume_mounts=mount)
    second = sh("b", "cp /scratch/note /kratix/output/note", volume_mounts=mount)
    run = run_resource(
        engine, pipeline("p", first, second, volumes=({"name": "scratch", "emptyDir": {}},))
    )
    assert run.pipelines[0].files == {"note": b"hello\n"}


def test_volume_and_env_sources_gitbot_cannot_provide_fail_only_where_used(
    engine: DockerEngine,
) -> None:
    """Kratix accepts any Kubernetes volume and env source; gitbot provides secret, configMap
    and emptyDir volumes and key refs: an unmounted PVC is harmless, a mounted one or a
    resourceFieldRef fails the pipeline with what is missing."""
    pvc = {"name": "cache", "persistentVolumeClaim": {"claimName": "cache"}}
    unmounted = pipeline("p", sh("c", "echo ok > /kratix/output/ok"), volumes=(pvc,))
    assert run_resource(engine, unmounted).failure is None
    mounted = pipeline(
        "p",
        sh("c", "true", volume_mounts=({"name": "cache", "mountPath": "/cache"},)),
        volumes=(pvc,),
    )
    failed = run_resource(engine, mounted)
    assert failed.failure is not None
    assert "volume 'cache' is of a kind gitbot cannot provide outside Kubernetes" in (
        failed.failure.message
    )
    cpu = {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}}
    env_failed = run_resource(engine, pipeline("p", sh("c", "true", env=(cpu,))))
    assert env_failed.failure is not None
    assert "valueFrom.resourceFieldRef (limits.cpu) is not available outside Kubernetes" in (
        env_failed.failure.message
    )
