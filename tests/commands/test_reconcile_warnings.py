"""`gitbot reconcile` says what Kratix would silently ignore in a pipeline's metadata files."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitfixtures import commit_all, init_source, init_state, write

from gitbot.cli import main

PROMISE = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: gate}
spec:
  workflows:
    promise:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {name: wait}
          spec:
            containers:
              - name: wait
                image: docker.io/library/busybox:latest
                imagePullPolicy: IfNotPresent
                env: [{name: M, value: /kratix/metadata}]
                command:
                  - sh
                  - -c
                  - "printf 'retryAfter: 5m\\\\nmaxAttempts: 3\\\\n' > $M/workflow-control.yaml"
"""


def test_an_ignored_workflow_control_key_is_reported(
    engine_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source", with_examples=False)
    state = init_state(tmp_path / "state.git")
    write(source, {"gate.yaml": PROMISE})
    commit_all(source, "a gate")
    code = main(["reconcile", "--source", str(source), "--state", str(state), "--direct"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        "    warning: pipeline wait: workflow-control.yaml: 'maxAttempts' ignored, as Kratix does "
        "(it reads suspend, retryAfter and message)"
    ) in out
