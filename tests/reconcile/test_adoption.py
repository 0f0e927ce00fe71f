"""Pointed at a state store Kratix wrote, gitbot keeps Kratix's (random) resource placements.

The state store is laid out as Kratix's writer does (lib/writers, the WorkPlacement controller):
promise work on every matching Destination, each resource group on one Destination picked at
random, here on purpose the one gitbot's own deterministic choice would not take. gitbot's
first reconcile then moves nothing: it only adds its records.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from builders import BUSYBOX
from gitfixtures import commit_all, files_on, git, init_source, init_state, write

from gitbot.cli import main


def pipeline(name: str, script: str) -> str:
    return (
        f"        - apiVersion: platform.kratix.io/v1alpha1\n"
        f"          kind: Pipeline\n"
        f"          metadata: {{name: {name}}}\n"
        f"          spec:\n"
        f"            containers:\n"
        f"              - {{name: {name}, image: {BUSYBOX}, imagePullPolicy: IfNotPresent,\n"
        f"                 command: [sh, -c, {json.dumps(script)}]}}\n"
    )


PROMISE = f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {{name: app}}
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {{name: apps.example.gitbot.dev}}
    spec:
      group: example.gitbot.dev
      names: {{kind: App, plural: apps}}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema: {{openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}}}
  workflows:
    promise:
      configure:
{pipeline("install", "echo 'kind: Namespace' > /kratix/output/ns.yaml")}
    resource:
      configure:
{pipeline("render", "echo 'kind: ConfigMap' > /kratix/output/r.yaml")}---
apiVersion: example.gitbot.dev/v1
kind: App
metadata: {{name: one}}
spec: {{}}
"""


def destinations(mode: str) -> str:
    return "---\n".join(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\n"
        f"metadata: {{name: {name}}}\n"
        f"spec: {{path: {name}, filepath: {{mode: {mode}}}, "
        "stateStoreRef: {kind: GitStateStore, name: default}}\n"
        for name in ("east", "west")
    )


def raw(bare: Path, path: str) -> bytes:
    """A file's exact bytes on main."""
    return subprocess.run(
        ["git", "-C", str(bare), "cat-file", "blob", f"main:{path}"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def is_resource_file(path: str) -> bool:
    """The request's files: its group directory, or in `none` mode its file and tracking file."""
    return "/resources/default/app/one/" in path or path.endswith(
        ("/r.yaml", "render.east-5058f.yaml", "render.west-5058f.yaml")
    )


@pytest.mark.parametrize("mode", ["nestedByMetadata", "none"])
def test_a_state_store_kratix_wrote_keeps_its_placements_on_the_first_reconcile(
    mode: str,
    engine_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source", with_examples=False)
    write(source, {"app.yaml": PROMISE, "destinations.yaml": destinations(mode)})
    commit_all(source, "an app on two Destinations")

    def reconcile(state: Path, *extra: str) -> None:
        capsys.readouterr()
        code = main(["reconcile", "--source", str(source), "--state", str(state), *extra])
        printed = capsys.readouterr()
        assert code == 0, printed.out + printed.err

    # Where gitbot itself would put the request.
    scratch = init_state(tmp_path / "scratch.git")
    reconcile(scratch, "--direct")
    chosen = next(f for f in files_on(scratch, "main") if f.endswith("/r.yaml")).split("/")[0]
    other = {"east": "west", "west": "east"}[chosen]

    # Kratix's state store: the same promise work, the request on the other Destination.
    kratix = tmp_path / "kratix"
    git(tmp_path, "init", "-q", "-b", "main", str(kratix))
    for path in files_on(scratch, "main"):
        if path.startswith(".gitbot/"):
            continue  # Kratix keeps no gitbot records
        content = raw(scratch, path)
        if is_resource_file(path):
            path = path.replace(chosen, other)
            content = content.replace(f"{chosen}/".encode(), f"{other}/".encode())
        target = kratix / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    commit_all(kratix, "written by Kratix")
    state = init_state(tmp_path / "state.git")
    git(kratix, "push", "-q", str(state), "main")

    reconcile(state)
    changed = git(state, "diff", "--name-only", "main", "gitbot/app").splitlines()
    assert changed == [".gitbot/objects/app/default.one.yaml", ".gitbot/objects/app/promise.yaml"]
    placed = [f for f in files_on(state, "gitbot/app") if f.endswith("/r.yaml")]
    assert placed == [f"{other}/" + placed[0].split("/", 1)[1]]
