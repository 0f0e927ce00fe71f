"""A Destination leaving the source, through `gitbot reconcile`, as its `spec.cleanup` says.

Kratix (`internal/controller/destination_controller.go`, `internal/controller/scheduler.go`):
with `cleanup: none`, the default, a deleted Destination's files stay in the state store and a
resource placed on it stays placed there (misplaced), never moved; with `cleanup: all`, its
WorkPlacements and canary files are deleted and its resources are scheduled afresh.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from builders import BUSYBOX
from gitfixtures import commit_all, files_on, write

STORE = "stateStoreRef: {kind: GitStateStore, name: default}"

Reconcile = Callable[..., tuple[int, str]]  # the `reconcile` fixture of conftest.py


def pipeline(name: str, script: str) -> str:
    return (
        f"      - apiVersion: platform.kratix.io/v1alpha1\n"
        f"        kind: Pipeline\n"
        f"        metadata: {{name: {name}}}\n"
        f"        spec:\n"
        f"          containers:\n"
        f"            - name: {name}\n"
        f"              image: {BUSYBOX}\n"
        f"              imagePullPolicy: IfNotPresent\n"
        f"              command: [sh, -c, {json.dumps(script)}]\n"
    )


APP = (
    """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata: {name: app}
spec:
  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: apps.example.gitbot.dev}
    spec:
      group: example.gitbot.dev
      names: {kind: App, plural: apps}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
  workflows:
    promise:
      configure:
"""
    + pipeline("install", "echo operator > /kratix/output/operator.yaml")
    + "    resource:\n      configure:\n"
    + pipeline("render", "echo app > /kratix/output/r.yaml")
)
REQUEST = "apiVersion: example.gitbot.dev/v1\nkind: App\nmetadata: {name: one}\nspec: {}\n"


def destinations(names: list[str], cleanup: str) -> str:
    return "---\n".join(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\n"
        f"metadata: {{name: {name}}}\nspec: {{path: {name}, cleanup: {cleanup}, {STORE}}}\n"
        for name in names
    )


def placed_on(state: Path) -> str:
    """The Destination the request's file is on."""
    (where,) = [f.split("/")[0] for f in files_on(state, "main") if f.endswith("/r.yaml")]
    return where


def start(reconcile: Reconcile, source: Path, state: Path, cleanup: str) -> tuple[str, str]:
    """Reconcile the app and its request on Destinations a and b; (the request's, the other)."""
    write(
        source,
        {
            "app.yaml": APP,
            "request.yaml": REQUEST,
            "destinations.yaml": destinations(["a", "b"], cleanup),
        },
    )
    commit_all(source, f"app on a and b, cleanup {cleanup}")
    code, out = reconcile()
    assert code == 0, out
    held = placed_on(state)
    return held, "b" if held == "a" else "a"


def test_cleanup_none_keeps_a_removed_destinations_files_and_placements(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    held, other = start(reconcile, source, state, "none")
    before = {f for f in files_on(state, "main") if f.startswith(f"{held}/")}
    assert f"{held}/dependencies/app/install/5058f/operator.yaml" in before
    assert f"{held}/resources/kratix-canary-configmap.yaml" in before
    write(source, {"destinations.yaml": destinations([other], "none")})
    commit_all(source, f"{held} removed")
    for _ in range(2):  # and it stays so
        code, out = reconcile()
        assert code == 0, out
        after = files_on(state, "main")
        assert {f for f in after if f.startswith(f"{held}/")} == before
        # The request is not moved to the remaining Destination: it stays, misplaced.
        assert not [f for f in after if f.startswith(f"{other}/resources/default/")]
        assert f"misplaced: app-one-render output root on Destination {held}" in out
    assert not any(f.startswith(".gitbot/destinations/") for f in files_on(state, "main"))


def test_cleanup_all_removes_a_removed_destinations_files_and_moves_its_resources(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    held, other = start(reconcile, source, state, "all")
    assert {f".gitbot/destinations/{held}.yaml", f".gitbot/destinations/{other}.yaml"} <= set(
        files_on(state, "main")
    )
    write(source, {"destinations.yaml": destinations([other], "all")})
    commit_all(source, f"{held} removed")
    code, out = reconcile()
    assert code == 0, out
    after = files_on(state, "main")
    assert [f for f in after if f.startswith(f"{held}/")] == []
    assert f".gitbot/destinations/{held}.yaml" not in after
    assert placed_on(state) == other
    assert "misplaced" not in out
