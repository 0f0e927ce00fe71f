"""The command line end to end: real example Promises, real images, real containers."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import docker
import pytest
from builders import script_promise_yaml
from gitfixtures import branches, commit_all, init_source, init_state, write

from gitbot.cli import COMMANDS, help_text, main

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


def test_run_json_of_a_failing_workflow_lists_the_failed_pipeline(
    example_images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.yaml"
    request.write_text(Path(PG_REQUEST).read_text().replace("size: large", "size: huge"))
    assert main(["run", PG, "--resource", str(request), "-o", "json"]) == 1
    run = json.loads(capsys.readouterr().out)["runs"][0]
    assert run["outcome"] == "failed"
    failed = run["pipelines"][-1]
    assert (failed["name"], failed["outcome"], failed["outputFiles"]) == ("plan", "failed", [])
    container = failed["containers"][-1]
    assert (container["name"], container["exitCode"], container["timedOut"]) == ("plan", 2, False)
    assert container["seconds"] > 0 and failed["seconds"] >= container["seconds"]
    assert run["failure"]["pipeline"] == "plan"


def test_delete_runs_the_delete_pipeline_and_writes_no_files(
    example_images: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code = main(["run", PG, "--resource", PG_REQUEST, "--action", "delete", "--out", str(out)])
    assert code == 0
    assert "status message: database orders-db scheduled for removal" in capsys.readouterr().out
    assert tree(out) == {}


def test_a_request_for_another_promise_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    other = tmp_path / "config-map.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert main(["run", APP, "--resource", str(other)]) == 1
    assert capsys.readouterr().err == (
        f"gitbot: error: {other}: expected exactly one AppNamespace "
        "(platform.gitbot.dev/v1alpha1) request for Promise app-namespace, found 0\n"
    )
    # Same API group, a kind and version the loaded Promise does not serve: the API server's
    # "no matches for kind", naming what is served.
    assert main(["run", APP, "--resource", PG_REQUEST]) == 1
    assert capsys.readouterr().err == (
        f'gitbot: error: {PG_REQUEST}:1: apiVersion: no matches for kind "Postgres" in version '
        f"\"platform.gitbot.dev/v1\": Promise 'app-namespace' ({APP}:4) serves kind AppNamespace "
        "in platform.gitbot.dev/v1alpha1\n"
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


# --- help -------------------------------------------------------------------------------------

SUBCOMMANDS = [c.name for c in COMMANDS]


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_help_has_description_options_environment_and_examples(
    name: str,
) -> None:
    text = help_text(name)
    command = next(c for c in COMMANDS if c.name == name)
    description, _, rest = text.partition("\nOptions:\n")
    assert command.description in description
    options, _, rest = rest.partition("\nExamples:\n")
    examples, _, environment = rest.partition("\nEnvironment variables:\n")
    # Every option says its default (or that it is required), as kubectl's help does.
    entries = re.split(r"\n  (?=-)", "\n" + options.strip("\n"))[1:]
    assert entries, text
    for entry in entries:
        if entry.startswith("-h, --help"):
            continue
        assert "default" in entry or "(required)" in entry, entry
    runs = [line for line in examples.splitlines() if line.startswith(("  gitbot ", "  gunicorn"))]
    assert 2 <= len(runs) <= 3, examples
    for variable in command.environment:
        assert f"  {variable}  " in environment
    if not command.environment:
        assert environment.strip() == "none"


def test_the_readme_quotes_every_help_text_exactly() -> None:
    """The README's command-line reference is `--help`, so the two cannot drift apart
    (scripts/update-readme-help rewrites the quoted blocks)."""
    readme = (ROOT / "README.md").read_text()
    for name in [None, *SUBCOMMANDS]:
        title = "gitbot --help" if name is None else f"gitbot {name} --help"
        block = f"<!-- {title} -->\n```text\n$ {title}\n{help_text(name)}```\n"
        assert block in readme, (
            f"README is out of date for '{title}': run scripts/update-readme-help"
        )


# --- the repositories reconcile reads ---------------------------------------------------------


def test_a_missing_source_is_an_input_error_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    missing = tmp_path / "nope"
    assert main(["reconcile", "--source", str(missing), "--state", str(tmp_path / "s")]) == 1
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == (
        f"gitbot: error: --source {missing}: no such file or directory; expected a git "
        "repository: a local path, a file:// or http(s):// URL, or owner/name\n"
    )


def test_a_folder_that_is_no_repository_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source")
    folder = tmp_path / "plain"
    folder.mkdir()
    code = main(["reconcile", "--source", str(source), "--state", str(folder), "-o", "json"])
    assert code == 1
    printed = capsys.readouterr()
    message = f"--state {folder}: not a git repository (no .git in it, and not a bare repository)"
    assert printed.err == f"gitbot: error: {message}\n"
    assert json.loads(printed.out) == {
        "apiVersion": "gitbot.dev/v1",
        "kind": "Error",
        "command": "reconcile",
        "message": message,
        "exitCode": 1,
        "problems": [],
    }


def test_an_unknown_source_ref_is_an_input_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source")
    state = init_state(tmp_path / "state.git")
    args = ["reconcile", "--source", str(source), "--state", str(state), "--source-ref", "nope"]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        f"gitbot: error: --source-ref nope: not a branch, tag or commit of {source}\n"
    )
    assert branches(state) == []


def test_an_unknown_only_promise_is_an_input_error_naming_the_promises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source")
    state = init_state(tmp_path / "state.git")
    args = ["reconcile", "--source", str(source), "--state", str(state), "--only", "postgress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("gitbot: error: --only postgress: no such Promise in source ")
    assert err.endswith("; the Promises: app-namespace, postgres\n")
    assert [b for b in branches(state) if b.startswith("gitbot/")] == []


def test_a_relative_state_repository_is_relative_to_the_source_not_the_cwd(
    example_images: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "work" / "source")
    state = init_state(tmp_path / "work" / "state.git")
    write(source, {".gitbot.yaml": "stateRepository: ../state.git\n"})
    commit_all(source, "state next to the source")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    init_state(tmp_path / "state.git")  # what '../state.git' would be from the cwd: a decoy
    monkeypatch.chdir(elsewhere)
    assert main(["reconcile", "--source", str(source), "--only", "postgres"]) == 0, (
        capsys.readouterr()
    )
    assert "gitbot/postgres" in branches(state)
    assert branches(tmp_path / "state.git") == []
    assert f"state {state}: base branch main" in capsys.readouterr().out


# --- JSON output ------------------------------------------------------------------------------


def test_validate_json_lists_objects_and_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: platform.kratix.io/v1alpha1\n"
        "kind: Destination\n"
        "metadata:\n"
        "  name: d\n"
        "spec:\n"
        "  filepath:\n"
        "    mode: flat\n"
    )
    assert main(["validate", "--output", "json", DESTINATIONS, str(bad)]) == 1
    document = json.loads(capsys.readouterr().out)
    assert sorted(document) == ["apiVersion", "files", "kind", "objects", "problems", "valid"]
    assert document["kind"] == "ValidateResult"
    assert document["valid"] is False
    assert document["objects"][0] == {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Destination",
        "name": "dev",
        "namespace": None,
        "promise": None,
        "file": DESTINATIONS,
        "line": 2,  # after the file's comment
    }
    problem = next(p for p in document["problems"] if p["path"] == "spec.filepath.mode")
    assert problem["file"] == str(bad)
    assert problem["line"] == 7
    assert problem["path"] == "spec.filepath.mode"
    assert problem["severity"] == "error"
    assert problem["message"].startswith("must be one of")


def test_validate_without_files_checks_the_repository_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = init_source(tmp_path / "source")
    write(source, {".gitbot.yaml": "exclude: [promises/app-namespace]\n"})
    (source / ".hidden").mkdir()
    (source / ".hidden" / "broken.yaml").write_text("a: [")
    monkeypatch.chdir(source)
    assert main(["validate"]) == 0
    assert capsys.readouterr().out == (
        "ok: 1 Promise(s), 3 Destination(s), 1 resource request(s)\n"
    )
    write(source, {".gitbot.yaml": "exclude: 3\n"})
    assert main(["validate", "-o", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["problems"][0]["file"] == ".gitbot.yaml"
    assert document["problems"][0]["path"] == "exclude"


def test_validate_without_files_reads_what_git_would_commit_not_ignored_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = init_source(tmp_path / "source")
    write(source, {".gitignore": "build/\n*.local.yaml\n"})
    commit_all(source, "ignore build output")
    write(source, {"build/broken.yaml": "a: [", "notes.local.yaml": "kind: ["})
    write(source, {"promises/new/broken.yaml": "b: ["})  # untracked, not ignored: checked
    monkeypatch.chdir(source)
    assert main(["validate", "-o", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [p["file"] for p in document["problems"]] == ["promises/new/broken.yaml"]
    assert "build/broken.yaml" not in document["files"]
    (source / "promises" / "new" / "broken.yaml").unlink()
    assert main(["validate"]) == 0, capsys.readouterr()


def test_validate_of_a_folder_checks_it_as_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = init_source(tmp_path / "source")
    write(source, {".gitbot.yaml": "exclude: [promises/app-namespace]\n"})
    monkeypatch.chdir(source)
    assert main(["validate", "."]) == 0, capsys.readouterr()
    assert capsys.readouterr().out == (
        "ok: 1 Promise(s), 3 Destination(s), 1 resource request(s)\n"
    )
    # From elsewhere, with its own .gitbot.yaml, problems named under the folder.
    write(source, {"promises/new/broken.yaml": "b: ["})
    monkeypatch.chdir(tmp_path)
    assert main(["validate", "-o", "json", "source"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert [p["file"] for p in document["problems"]] == ["source/promises/new/broken.yaml"]
    assert not any("app-namespace" in f for f in document["files"])


def test_validate_of_a_file_that_cannot_be_read_is_an_error_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    assert main(["validate", DESTINATIONS, str(missing)]) == 1
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == f"gitbot: error: {missing}: cannot read file: No such file or directory\n"


def test_run_json_has_the_object_its_run_and_files(
    example_images: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", PG, "--resource", PG_REQUEST, "-o", "json"]) == 0
    printed = capsys.readouterr()
    document = json.loads(printed.out)
    assert printed.err == ""  # not a terminal: no progress unless asked
    assert sorted(document) == [
        "apiVersion", "expect", "files", "kind", "object", "runs", "succeeded",
    ]  # fmt: skip
    assert document["object"]["kind"] == "Postgres"
    assert document["object"]["namespace"] == "shop"
    [run] = document["runs"]
    assert [p["name"] for p in run["pipelines"]] == ["plan", "render"]
    assert run["outcome"] == "succeeded"
    assert run["failure"] is None
    container = run["pipelines"][1]["containers"][0]
    assert sorted(container) == ["exitCode", "image", "name", "seconds", "timedOut"]
    assert container["exitCode"] == 0
    assert document["files"] == [
        "default/resources/shop/postgres/orders/render/5058f/postgres.yaml"
    ]


# --- progress ---------------------------------------------------------------------------------


def test_verbose_streams_redacted_container_lines_on_stderr(
    engine_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "secrets" / "db"
    secrets.mkdir(parents=True)
    (secrets / "password").write_text("hunter2-very-secret")
    promise = tmp_path / "promise.yaml"
    promise.write_text(
        script_promise_yaml("talker", "echo hello; echo pw=$(cat /s/password); printf tail")
        .replace(
            "command: [sh",
            "volumeMounts: [{name: s, mountPath: /s}]\n                command: [sh",
        )
        .replace(
            "            containers:",
            "            volumes: [{name: s, secret: {secretName: db}}]\n            containers:",
        )
    )
    args = ["run", str(promise), "--secrets-dir", str(tmp_path / "secrets")]
    assert main([*args, "--verbose"]) == 0, capsys.readouterr()
    err = capsys.readouterr().err
    assert "Promise talker: configure pipeline wait\n" in err
    assert "Promise talker: wait/wait running\n" in err
    assert "  Promise talker wait/wait | hello\n" in err
    assert "  Promise talker wait/wait | pw=****\n" in err
    assert "  Promise talker wait/wait | tail\n" in err
    assert "hunter2" not in err
    assert main(args) == 0
    assert capsys.readouterr().err == ""


def test_validate_counts_resource_bindings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binding = tmp_path / "binding.yaml"
    binding.write_text(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: ResourceBinding\n"
        "metadata:\n  name: one-app-1a2b3\n"
        "  labels: {kratix.io/promise-name: app, kratix.io/resource-name: one}\n"
        "spec: {version: v1, promiseRef: {name: app},\n"
        "  resourceRef: {name: one, namespace: default}}\n"
    )
    assert main(["validate", str(binding)]) == 0
    assert capsys.readouterr().out == (
        "ok: 0 Promise(s), 0 Destination(s), 0 resource request(s), 1 ResourceBinding(s)\n"
    )
