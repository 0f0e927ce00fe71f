"""A reconcile reads and rewrites only the folders of the state repository its objects own.

A state repository of 100,000 files must cost a one-request change what an empty one does
(bench/bench_state_repo.py measures it): gitbot never lists the whole base tree nor reads it into
an index. Here git's own commands are watched while a reconcile runs against a state repository
holding much else (an executable, a symlink, other resources' files), and the result is checked
file by file, modes included.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from builders import BUSYBOX
from gitfixtures import branches, commit_all, git, init_source, init_state, write

from gitbot.cli import main
from gitbot.gitrepo import CachedRepo

GROUP = "east/resources/default/app/one/render/5058f"  # the request's nestedByMetadata folder
SCRIPT = "grep size: /kratix/input/object.yaml > /kratix/output/one.yaml"
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
      versions: [{{name: v1, served: true, storage: true}}]
  workflows:
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {{name: render}}
          spec:
            containers:
              - {{name: render, image: {BUSYBOX}, imagePullPolicy: IfNotPresent,
                 command: [sh, -c, {json.dumps(SCRIPT)}]}}
"""
DESTINATION = (
    "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: east}\n"
    "spec: {path: east, stateStoreRef: {kind: GitStateStore, name: default}}\n"
)
# What else the state repository holds: none of it is the request's.
OTHERS = {
    **{f"elsewhere/{i:02d}/file.yaml": f"n: {i}\n" for i in range(30)},
    "east/resources/default/other/two/render/5058f/two.yaml": "kind: ConfigMap\n",
    "east/resources/default/app/three/render/5058f/three.yaml": "kind: ConfigMap\n",
    "tools/run.sh": "#!/bin/sh\n",
}


def request(size: str) -> str:
    return (
        "apiVersion: example.gitbot.dev/v1\nkind: App\n"
        f"metadata: {{name: one}}\nspec: {{size: {size}}}\n"
    )


def whole_tree_reads(calls: Sequence[tuple[str, list[str]]], url: str) -> list[list[str]]:
    """The git commands run on url that read a whole tree: read-tree, or ls-tree without a
    folder to stay in."""
    return [
        argv
        for where, argv in calls
        if where == url
        and (argv[0] == "read-tree" or (argv[0] == "ls-tree" and "--" not in argv[:-1]))
    ]


def test_a_change_reads_and_writes_only_its_own_folders(
    engine_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source", with_examples=False)
    write(source, {"app.yaml": PROMISE, "one.yaml": request("small"), "east.yaml": DESTINATION})
    commit_all(source, "one request")
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    write(work, OTHERS)
    (work / "tools" / "run.sh").chmod(0o755)
    (work / "tools" / "latest").symlink_to("run.sh")
    commit_all(work, "what else the state repository holds")
    state = init_state(tmp_path / "state.git")
    git(work, "push", "-q", str(state), "main")

    calls: list[tuple[str, list[str]]] = []
    lock = threading.Lock()
    real_run = CachedRepo._run

    def watched(self: CachedRepo, argv: Any, **kwargs: Any) -> Any:
        with lock:
            calls.append((self.url, list(argv)))
        return real_run(self, argv, **kwargs)

    monkeypatch.setattr(CachedRepo, "_run", watched)

    def reconcile(*extra: str) -> None:
        capsys.readouterr()
        code = main(["reconcile", "--source", str(source), "--state", str(state), *extra])
        printed = capsys.readouterr()
        assert code == 0, printed.out + printed.err

    reconcile("--direct")
    # Someone else puts a file in the request's group folder; the next write replaces the
    # folder wholesale, as Kratix does.
    write(work, {f"{GROUP}/stray.yaml": "not gitbot's\n"})
    git(work, "pull", "-q", str(state), "main")
    commit_all(work, "a stray file")
    git(work, "push", "-q", str(state), "main")
    write(source, {"one.yaml": request("large")})
    commit_all(source, "one grows")
    reconcile()

    assert whole_tree_reads(calls, str(state)) == []
    assert [url for url, argv in calls if argv[0] == "mktree"]  # commits were built
    assert branches(state) == ["gitbot/app", "main"]
    assert git(state, "diff", "--name-status", "main", "gitbot/app").splitlines() == [
        "M\t.gitbot/objects/app/default.one.yaml",
        f"M\t{GROUP}/one.yaml",
        f"D\t{GROUP}/stray.yaml",
    ]
    assert git(state, "show", f"gitbot/app:{GROUP}/one.yaml") == "size: large"
    listing = git(state, "ls-tree", "-r", "gitbot/app", "--", "tools").splitlines()
    assert [line.split()[0] for line in listing] == ["120000", "100755"]
    for path, content in OTHERS.items():
        assert git(state, "show", f"gitbot/app:{path}") == content.rstrip("\n")
