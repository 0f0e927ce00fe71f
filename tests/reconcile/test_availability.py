"""What Kratix holds back, through `gitbot reconcile`: real git repositories, real containers.

A Promise's requests run only while the Promise is Available (Kratix's promise controller,
`internal/controller/promise_controller.go`); an object that ran runs its delete workflow when
it leaves the source, whatever its configure workflow did; a resource kept on a Destination
that stopped matching is reported as misplaced (`internal/controller/scheduler.go`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from builders import BUSYBOX
from gitfixtures import commit_all, files_on, show, write

from gitbot import yamlio

# The Promise's own pipeline leaves the object.yaml it was given, so tests can read the status
# gitbot handed it.
KEEP_INPUT = "cp /kratix/input/object.yaml /kratix/output/promise-object.yaml"

Reconcile = Callable[..., tuple[int, str]]  # the `reconcile` fixture of conftest.py


def pipelines(scripts: dict[str, str], indent: str) -> str:
    """Pipeline list items running busybox scripts, at `indent`."""
    return "".join(
        f"{indent}- apiVersion: platform.kratix.io/v1alpha1\n"
        f"{indent}  kind: Pipeline\n"
        f"{indent}  metadata: {{name: {name}}}\n"
        f"{indent}  spec:\n"
        f"{indent}    containers:\n"
        f"{indent}      - name: {name}\n"
        f"{indent}        image: {BUSYBOX}\n"
        f"{indent}        imagePullPolicy: IfNotPresent\n"
        f"{indent}        command: [sh, -c, {json.dumps(script)}]\n"
        for name, script in scripts.items()
    )


def promise_yaml(
    name: str,
    *,
    configure: dict[str, str] | None = None,
    resource: str = "grep -o 'size: [a-z]*' /kratix/input/object.yaml > /kratix/output/r.yaml",
    resource_delete: str | None = None,
    promise_delete: str | None = None,
    requires: tuple[tuple[str, str], ...] = (),
    version: str | None = None,
) -> str:
    """A Promise with an API (kind `<Name>`), busybox workflows and optional requirements."""
    kind = name.capitalize()
    labels = f"\n  labels: {{kratix.io/promise-version: {version}}}" if version else ""
    required = ""
    if requires:
        required = "  requiredPromises:\n" + "".join(
            f"    - {{name: {n}" + (f", version: {v}" if v else "") + "}\n" for n, v in requires
        )
    workflows = "  workflows:\n    promise:\n      configure:\n"
    workflows += pipelines(configure or {"install": KEEP_INPUT}, "        ")
    if promise_delete is not None:
        workflows += "      delete:\n" + pipelines({"uninstall": promise_delete}, "        ")
    workflows += "    resource:\n      configure:\n" + pipelines({"render": resource}, "        ")
    if resource_delete is not None:
        workflows += "      delete:\n" + pipelines({"teardown": resource_delete}, "        ")
    return f"""\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: {name}{labels}
spec:
{required}  api:
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {{name: {name}s.example.gitbot.dev}}
    spec:
      group: example.gitbot.dev
      names: {{kind: {kind}, plural: {name}s}}
      scope: Namespaced
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              x-kubernetes-preserve-unknown-fields: true
{workflows}"""


def request_yaml(promise: str, name: str = "one", size: str = "small") -> str:
    return (
        f"apiVersion: example.gitbot.dev/v1\nkind: {promise.capitalize()}\n"
        f"metadata: {{name: {name}}}\nspec: {{size: {size}}}\n"
    )


APP_REQUEST = "default/resources/default/app/one/render/5058f/r.yaml"
APP_OBJECT = "default/dependencies/app/install/5058f/promise-object.yaml"


def promise_status(state: Path) -> dict:
    """The status gitbot handed the `app` Promise's pipeline in object.yaml."""
    status: dict = yamlio.safe_load(show(state, "main", APP_OBJECT), APP_OBJECT)["status"]
    return status


def condition(status: dict, kind: str) -> tuple[str, str, str]:
    found = next(c for c in status["conditions"] if c["type"] == kind)
    return found["status"], found["reason"], found["message"]


def test_requests_wait_for_the_required_promise_at_its_version_and_run_once_it_is_there(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    write(
        source,
        {
            "app.yaml": promise_yaml("app", requires=(("db", "v2"),)),
            "app-request.yaml": request_yaml("app"),
        },
    )
    commit_all(source, "an app that needs a database")
    code, out = reconcile()
    assert code == 0, out
    assert (
        "Promise app: configure succeeded (install"
        in out  # the Promise's own workflow runs, as in Kratix
    )
    assert (
        "— Unavailable: RequirementsFulfilled=False (RequirementsNotInstalled: Requirements not "
        "fulfilled); db v2: Requirement not installed"
    ) in out
    assert (
        "app default/one: skipped — held: Promise app is Unavailable, its Promise's requirements "
        "are not fulfilled (db v2: Requirement not installed); PromiseAvailable=False "
        "(PromiseRequirementsNotInstalled); its files are kept"
    ) in out
    assert APP_REQUEST not in files_on(state, "main")
    status = promise_status(state)
    assert status["requiredPromises"] == [
        {"name": "db", "version": "v2", "state": "Requirement not installed"}
    ]
    assert condition(status, "RequirementsFulfilled") == (
        "False",
        "RequirementsNotInstalled",
        "Requirements not fulfilled",
    )

    # The database Promise arrives, but at another version: still held.
    write(source, {"db.yaml": promise_yaml("db", version="v1")})
    commit_all(source, "a database at v1")
    code, out = reconcile()
    assert code == 0, out
    assert "db v2: Requirement not installed at the specified version" in out
    assert APP_REQUEST not in files_on(state, "main")

    # At the required version it is configured first and the held request runs in the same
    # reconcile.
    write(source, {"db.yaml": promise_yaml("db", version="v2")})
    commit_all(source, "the database at v2")
    code, out = reconcile()
    assert code == 0, out
    assert "app default/one: configure succeeded" in out
    assert show(state, "main", APP_REQUEST) == "size: small"
    status = promise_status(state)
    assert status["requiredPromises"] == [
        {"name": "db", "version": "v2", "state": "Requirement installed"}
    ]
    assert condition(status, "RequirementsFulfilled") == (
        "True",
        "RequirementsInstalled",
        "Requirements fulfilled",
    )

    # The database moves on to v3: Kratix keeps its v2 PromiseRevision, so the requirement
    # stays fulfilled (promise_controller.go requiredRevisionExists) and the request's change
    # runs; gitbot finds v2 in the source history.
    write(
        source,
        {
            "db.yaml": promise_yaml("db", version="v3"),
            "app-request.yaml": request_yaml("app", size="medium"),
        },
    )
    commit_all(source, "the database at v3, a medium app")
    code, out = reconcile()
    assert code == 0, out
    assert "app default/one: configure succeeded" in out
    assert show(state, "main", APP_REQUEST) == "size: medium"
    assert promise_status(state)["requiredPromises"] == [
        {"name": "db", "version": "v2", "state": "Requirement installed"}
    ]

    # The required Promise's workflow fails: it is not Available, so neither is app; the
    # request's change waits and its files stay as they were.
    write(
        source,
        {
            "db.yaml": promise_yaml("db", version="v2", configure={"install": "exit 3"}),
            "app-request.yaml": request_yaml("app", size="large"),
        },
    )
    commit_all(source, "a broken database, a bigger app")
    code, out = reconcile()
    assert code == 1, out  # the database's own failure
    assert (
        "RequirementsFulfilled=False (RequirementsNotAvailable: Requirements not fulfilled); "
        "db v2: Requirement not available"
    ) in out
    assert "app default/one: skipped — held" in out
    assert show(state, "main", APP_REQUEST) == "size: medium"


def test_a_required_promise_reconciled_on_its_own_counts_by_its_stored_status(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    write(
        source,
        {
            "app.yaml": promise_yaml("app", requires=(("db", ""),)),
            "app-request.yaml": request_yaml("app"),
            "db.yaml": promise_yaml("db", configure={"install": "exit 1"}),
        },
    )
    commit_all(source, "an app and a database that does not install yet")
    code, out = reconcile("--only", "db")
    assert code == 1, out
    code, out = reconcile("--only", "app")
    assert code == 0, out
    assert "db: Requirement not available" in out
    assert APP_REQUEST not in files_on(state, "main")
    write(source, {"db.yaml": promise_yaml("db")})
    commit_all(source, "the database installs")
    code, out = reconcile("--only", "db")
    assert code == 0, out
    code, out = reconcile("--only", "app")  # a later reconcile: the request runs
    assert code == 0, out
    assert "app default/one: configure succeeded" in out
    assert APP_REQUEST in files_on(state, "main")


def test_a_promise_suspended_after_its_first_pipeline_holds_its_requests(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    suspend = "echo 'suspend: true' > /kratix/metadata/workflow-control.yaml"
    configure = {"install": KEEP_INPUT, "approve": suspend}
    write(
        source,
        {
            "app.yaml": promise_yaml("app", configure=configure),
            "app-request.yaml": request_yaml("app"),
        },
    )
    commit_all(source, "an app that waits for approval")
    code, out = reconcile()
    assert code == 0, out
    assert "Promise app: configure suspended" in out
    assert "app default/one: skipped — held: Promise app is Unavailable, its Promise's " in out
    assert "configure workflow is suspended" in out
    files = files_on(state, "main")
    assert APP_OBJECT in files  # the pipeline that finished is written, as Kratix does
    assert APP_REQUEST not in files
    write(source, {"app.yaml": promise_yaml("app", configure={"install": KEEP_INPUT})})
    commit_all(source, "approved")
    code, out = reconcile()
    assert code == 0, out
    assert APP_REQUEST in files_on(state, "main")


def test_objects_whose_configure_never_succeeded_run_their_delete_workflow_when_removed(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    write(
        source,
        {
            "app.yaml": promise_yaml("app", resource="exit 4", resource_delete="true"),
            "app-request.yaml": request_yaml("app"),
            "db.yaml": promise_yaml(
                "db", configure={"install": "exit 5"}, promise_delete="echo bye"
            ),
        },
    )
    commit_all(source, "a request and a Promise that both fail")
    code, out = reconcile()
    assert code == 1
    assert "app default/one: configure failed" in out
    assert "Promise db: configure failed" in out
    write(source, {"app-request.yaml": None, "db.yaml": None})
    commit_all(source, "both removed")
    code, out = reconcile()
    assert code == 0, out
    assert "app default/one: delete succeeded (teardown" in out
    assert "Promise db: delete succeeded (uninstall" in out
    # Gone for good: a further reconcile has nothing left to delete.
    code, out = reconcile()
    assert code == 0, out
    assert "delete" not in out


DESTINATIONS = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: dev, labels: {environment: dev}}
spec: {path: dev, stateStoreRef: {kind: GitStateStore, name: default}}
---
apiVersion: platform.kratix.io/v1alpha1
kind: Destination
metadata: {name: other, labels: {environment: other}}
spec: {path: other, stateStoreRef: {kind: GitStateStore, name: default}}
"""


def test_a_resource_whose_destination_stops_matching_stays_and_is_reported_misplaced(
    reconcile: Reconcile, source: Path, state: Path
) -> None:
    to_dev = (
        "echo '[{matchLabels: {environment: dev}}]' > /kratix/metadata/destination-selectors.yaml"
    )
    resource = f"echo made > /kratix/output/r.yaml; {to_dev}"
    write(
        source,
        {
            "app.yaml": promise_yaml("app", resource=resource),
            "app-request.yaml": request_yaml("app"),
            "destinations.yaml": DESTINATIONS,
        },
    )
    commit_all(source, "an app on dev")
    code, out = reconcile()
    assert code == 0, out
    placed = "dev/resources/default/app/one/render/5058f/r.yaml"
    assert placed in files_on(state, "main")
    assert "misplaced" not in out
    write(source, {"destinations.yaml": DESTINATIONS.replace("environment: dev}", "env: x}")})
    commit_all(source, "dev relabelled")
    code, out = reconcile()
    assert code == 0, out
    assert (
        "misplaced: app-one-render output root on Destination dev: Target destination no "
        "longer matches destinationSelectors"
    ) in out
    assert placed in files_on(state, "main")
    assert not any(f.startswith("other/resources/default/") for f in files_on(state, "main"))
