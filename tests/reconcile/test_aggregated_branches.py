"""Several Promises on one aggregatedYAML Destination: their pull requests never conflict.

Each Promise's branch carries its files and its record (with its contributions to the
aggregated file); the aggregated file itself has a branch of its own, rebuilt from the records
already merged into the base branch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import script_promise_yaml
from gitfixtures import branches, commit_all, files_on, git, init_source, init_state, show, write

from gitbot.cli import main

AGGREGATED = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: shared}
spec:
  path: shared
  filepath: {mode: aggregatedYAML}
  stateStoreRef: {kind: GitStateStore, name: default}
"""
FILE = "shared/aggregated.yaml"


def test_promises_sharing_an_aggregated_file_get_pull_requests_that_merge_cleanly(
    engine_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source", with_examples=False)
    state = init_state(tmp_path / "state.git")

    def reconcile() -> str:
        capsys.readouterr()
        code = main(["reconcile", "--source", str(source), "--state", str(state)])
        out: str = capsys.readouterr().out
        assert code == 0, out
        return out

    write(
        source,
        {
            "destinations.yaml": AGGREGATED,
            "alpha.yaml": script_promise_yaml(
                "alpha", "echo 'name: alpha' > /kratix/output/a.yaml"
            ),
            "beta.yaml": script_promise_yaml("beta", "echo 'name: beta' > /kratix/output/b.yaml"),
        },
    )
    commit_all(source, "two Promises, one aggregated Destination")
    out = reconcile()
    assert branches(state) == ["gitbot/alpha", "gitbot/beta", "main"]
    assert FILE not in files_on(state, "gitbot/alpha") + files_on(state, "gitbot/beta")
    assert "gitbot/aggregated/" not in out  # nothing merged yet: nothing to aggregate

    # Reviewers merge both pull requests, one after the other: no conflict.
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(state), str(clone))
    for branch in ("alpha", "beta"):
        git(clone, "merge", "-q", "--no-edit", f"origin/gitbot/{branch}")
    git(clone, "push", "-q", "origin", "main")

    out = reconcile()
    assert "gitbot/aggregated/shared: created" in out
    assert git(state, "diff", "--name-only", "main", "gitbot/aggregated/shared") == FILE
    aggregated = show(state, "gitbot/aggregated/shared", FILE)
    assert "name: alpha" in aggregated and "name: beta" in aggregated
    git(state, "update-ref", "refs/heads/main", "refs/heads/gitbot/aggregated/shared")
    out = reconcile()
    assert "gitbot/aggregated/shared: removed" in out
    assert reconcile().rstrip().endswith("nothing changed: nothing pushed")
