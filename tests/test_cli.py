"""The command line end to end: real example Promises, real images, real containers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
from builders import script_promise_yaml

from gitbot.cli import main

ROOT = Path(__file__).resolve().parent.parent
PROMISES = ROOT / "promises"
DESTINATIONS = str(PROMISES / "destinations.yaml")
APP = str(PROMISES / "app-namespace" / "promise.yaml")
APP_REQUEST = str(PROMISES / "app-namespace" / "resource-request.yaml")
PG = str(PROMISES / "postgres" / "promise.yaml")
PG_REQUEST = str(PROMISES / "postgres" / "resource-request.yaml")


def tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_validate_accepts_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    files = [APP, APP_REQUEST, PG, PG_REQUEST, DESTINATIONS]
    assert main(["validate", *files]) == 0
    assert capsys.readouterr().out == (
        "ok: 2 Promise(s), 3 Destination(s), 2 resource request(s)\n"
    )


def test_validate_lists_every_problem_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: platform.kratix.io/v1alpha1\n"
        "kind: Destination\n"
        "metadata:\n"
        "  name: d\n"
        "spec:\n"
        "  path: d\n"
        "  stateStoreRef: {kind: GitStateStore, name: default}\n"
        "  filepath:\n"
        "    mode: flat\n"
        "---\n"
        "apiVersion: platform.kratix.io/v1alpha1\n"
        "kind: Promise\n"
        "metadata: {}\n"
    )
    assert main(["validate", str(bad)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{bad}:9: spec.filepath.mode: ")
    assert lines[1].startswith(f"{bad}:13: metadata")
    assert lines[-1] == "2 problem(s) found"


def test_run_routes_a_request_to_two_destinations(
    example_images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(
        ["run", APP, "--resource", APP_REQUEST, "--destinations", DESTINATIONS, "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    files = tree(out)
    assert sorted(files) == [
        "clusters/dev/resources/default/app-namespace/payments/instance-configure/5058f/"
        "namespace.yaml",
        "clusters/platform/resources/default/app-namespace/payments/instance-configure/34a6e/"
        "platform/team-access.yaml",
    ]
    namespace = files[sorted(files)[0]]
    assert "name: payments-dev" in namespace
    assert 'limits.cpu: "4"' in namespace
    assert "instance-configure / render: ok" in printed
    assert "status message: namespace payments-dev requested" in printed


def test_run_a_promise_workflow_with_static_dependencies(
    example_images: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    assert main(["run", PG, "--destinations", DESTINATIONS, "--out", str(out)]) == 0
    files = tree(out)
    # prod and platform have strictMatchLabels, so only dev takes the unlabelled Promise.
    assert sorted(files) == [
        "clusters/dev/dependencies/postgres/5058f/static/postgres-dependencies.yaml",
        "clusters/dev/dependencies/postgres/install-operator/5058f/operator.yaml",
    ]
    assert files[sorted(files)[0]] == (
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: postgres-system\n"
    )


def test_run_hands_status_from_one_pipeline_to_the_next(
    example_images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", PG, "--resource", PG_REQUEST, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "using the implicit Destination 'default'" in printed
    assert "pipeline plan: succeeded; files: none" in printed
    files = tree(out)
    assert list(files) == ["default/resources/shop/postgres/orders/render/5058f/postgres.yaml"]
    assert "numberOfInstances: 3" in files[next(iter(files))]
    assert "size: 50Gi" in files[next(iter(files))]


def test_expect_compares_the_produced_tree(
    example_images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["run", PG, "--resource", PG_REQUEST, "--out", str(out)]) == 0
    assert main(["run", PG, "--resource", PG_REQUEST, "--expect", str(out)]) == 0
    produced = out / "default/resources/shop/postgres/orders/render/5058f/postgres.yaml"
    produced.write_text(
        produced.read_text().replace("numberOfInstances: 3", "numberOfInstances: 1")
    )
    capsys.readouterr()
    assert main(["run", PG, "--resource", PG_REQUEST, "--expect", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "-  numberOfInstances: 1\n+  numberOfInstances: 3\n" in printed
    assert printed.rstrip().endswith(f"output differs from {out}")


def test_a_failing_pipeline_writes_nothing(
    example_images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.yaml"
    request.write_text(Path(PG_REQUEST).read_text().replace("size: large", "size: huge"))
    out = tmp_path / "out"
    out.mkdir()
    (out / "kept").write_text("earlier output")
    assert main(["run", PG, "--resource", str(request), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert (
        "FAILED: pipeline 'plan' container 'plan' failed: exited with code 2\n"
        "--- last lines of its log ---\n"
        "unknown size 'huge': use small or large\n"
    ) in printed
    assert tree(out) == {"kept": "earlier output"}


def test_delete_runs_the_delete_pipeline_and_writes_no_files(
    example_images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["run", PG, "--resource", PG_REQUEST, "--action", "delete", "--out", str(out)])
    assert code == 0
    assert "status message: database orders-db scheduled for removal" in capsys.readouterr().out
    assert tree(out) == {}


def test_a_request_for_another_promise_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", APP, "--resource", PG_REQUEST]) == 1
    assert capsys.readouterr().err == (
        f"gitbot: error: {PG_REQUEST}: expected exactly one AppNamespace "
        "(platform.gitbot.dev/v1alpha1) request for Promise app-namespace, found 0\n"
    )


def test_bad_usage_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gitbot", "run"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "the following arguments are required: PROMISE_FILE" in result.stderr


SLEEPY_PROMISE = script_promise_yaml("sleepy", "echo sleeping; sleep 120")


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_a_run_removes_its_container(
    engine_url: str, tmp_path: Path, signal_number: int
) -> None:
    promise = tmp_path / "promise.yaml"
    promise.write_text(SLEEPY_PROMISE)
    client = docker.DockerClient(base_url=engine_url, timeout=30)
    managed = {"label": "io.gitbot.pipeline=sleepy-promise-configure-wait"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gitbot", "run", str(promise)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not client.containers.list(filters={**managed, "status": "running"}):
            assert time.monotonic() < deadline, "the container never started"
            time.sleep(0.1)
        process.send_signal(signal_number)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 130
        assert err == "gitbot: interrupted; containers removed\n"
        assert client.containers.list(all=True, filters=managed) == []
    finally:
        process.kill()
        client.close()
