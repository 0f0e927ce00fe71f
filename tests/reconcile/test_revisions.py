"""A ResourceBinding pins a request to a Promise version, run as Kratix runs it.

Kratix runs a request with the PromiseRevision its ResourceBinding names ("latest" by default;
internal/controller/dynamic_resource_request_controller.go `fetchRevision`); gitbot reads that
revision from the source history: the Promise as last committed at that version.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from builders import BUSYBOX
from gitfixtures import commit_all, files_on, show, write

from gitbot import yamlio

Reconcile = Callable[..., tuple[int, str]]  # the `reconcile` fixture of conftest.py

# Each request's file says which Promise version rendered it; its object.yaml is kept beside.
RENDER = (
    "n=$(sed -n 's/^  name: //p' /kratix/input/object.yaml | head -1); "
    "echo 'rendered: {version}' > /kratix/output/$n.yaml; "
    "cp /kratix/input/object.yaml /kratix/output/$n-object.yaml"
)


def promise(version: str) -> str:
    script = json.dumps(RENDER.format(version=version))
    return f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: app
  labels: {{kratix.io/promise-version: {version}}}
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
    resource:
      configure:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {{name: render}}
          spec:
            containers:
              - {{name: render, image: {BUSYBOX}, imagePullPolicy: IfNotPresent,
                 command: [sh, -c, {script}]}}
      delete:
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata: {{name: teardown-{version}}}
          spec:
            containers:
              - {{name: teardown, image: {BUSYBOX}, imagePullPolicy: IfNotPresent,
                 command: [sh, -c, "true"]}}
"""


def request(name: str) -> str:
    return f"apiVersion: example.gitbot.dev/v1\nkind: App\nmetadata: {{name: {name}}}\nspec: {{}}\n"


def binding(resource: str, version: str) -> str:
    return f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: ResourceBinding
metadata:
  name: {resource}-app-1a2b3
  namespace: default
  labels: {{kratix.io/promise-name: app, kratix.io/resource-name: {resource}}}
spec:
  version: {version}
  promiseRef: {{name: app}}
  resourceRef: {{name: {resource}, namespace: default}}
"""


DESTINATION = (
    "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\nmetadata: {name: dev}\n"
    "spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: default}}\n"
)


def rendered(state: Path, name: str) -> tuple[str, dict[str, object]]:
    """What rendered the request's file, and the status its last run was given."""
    files = files_on(state, "main")
    text = show(state, "main", next(f for f in files if f.endswith(f"/{name}.yaml")))
    seen = yamlio.safe_load(
        show(state, "main", next(f for f in files if f.endswith(f"/{name}-object.yaml"))),
        "object.yaml",
    )
    return text, seen.get("status") or {}


def test_a_resource_binding_pins_a_request_to_an_earlier_promise_version(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    write(source, {"app.yaml": promise("v1"), "one.yaml": request("one"), "dev.yaml": DESTINATION})
    commit_all(source, "app v1")
    code, out = reconcile()
    assert code == 0, out
    # v2 of the Promise; `one` stays on v1, `two` follows the latest.
    write(
        source,
        {"app.yaml": promise("v2"), "two.yaml": request("two"), "bind.yaml": binding("one", "v1")},
    )
    commit_all(source, "app v2, one pinned to v1")
    code, out = reconcile()
    assert code == 0, out
    assert "ran with Promise version v1 (ResourceBinding)" in out
    assert rendered(state, "one")[0] == "rendered: v1"
    assert rendered(state, "two")[0] == "rendered: v2"
    # The next run's object.yaml carries the versions Kratix records on the request's status.
    code, out = reconcile()
    assert code == 0, out
    assert {
        k: rendered(state, "one")[1].get(k) for k in ("promiseVersion", "resourceBindingVersion")
    } == {
        "promiseVersion": "v1",
        "resourceBindingVersion": "v1",
    }
    assert {
        k: rendered(state, "two")[1].get(k) for k in ("promiseVersion", "resourceBindingVersion")
    } == {
        "promiseVersion": "v2",
        "resourceBindingVersion": "latest",
    }
    # Removed while pinned: its delete workflow is v1's, the version it last ran with.
    write(source, {"one.yaml": None, "bind.yaml": None})
    commit_all(source, "one leaves")
    code, out = reconcile()
    assert code == 0, out
    assert "ran teardown-v1/teardown: ok" in out
    assert not any("/one" in f for f in files_on(state, "main"))


def test_a_request_pinned_to_a_version_the_promise_never_had_is_held(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    write(source, {"app.yaml": promise("v1"), "one.yaml": request("one"), "dev.yaml": DESTINATION})
    commit_all(source, "app v1")
    code, out = reconcile()
    assert code == 0, out
    before = files_on(state, "main")
    write(source, {"app.yaml": promise("v2"), "bind.yaml": binding("one", "v9")})
    commit_all(source, "one pinned to a version that never was")
    code, out = reconcile()
    assert code == 0, out
    assert (
        "held: cannot find a PromiseRevision for Promise app with version v9 "
        "(FailedPromiseRevisionLookup); its files are kept"
    ) in out
    assert rendered(state, "one")[0] == "rendered: v1"
    assert [f for f in files_on(state, "main") if "/one" in f] == [f for f in before if "/one" in f]
