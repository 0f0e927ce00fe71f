"""Pointed at a state store Kratix wrote for the same source, gitbot proposes no change.

The state store is laid out here by hand, as Kratix's writer does at syntasso/kratix `latest`
(internal/controller/workplacement_controller.go `getDir` and `generateKratixStateFile`,
internal/controller/destination_controller.go `getCanaryWorkloads`, lib/writers/git.go): the
canary files of each Destination; promise work on every matching Destination; each request on
one Destination picked at random, here on purpose not the one gitbot itself would pick; in
`none` mode each WorkPlacement's `.kratix/<namespace>-<work>-<5 random chars>.<destination>-
<group id>.yaml` tracking file (a Work's name ends in a random suffix, lib/objectutil/name.go).
Then: the first reconcile pushes nothing; a changed request is a pull request of that request
alone; a removed request runs its delete workflow and its files go.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import BUSYBOX
from gitfixtures import branches, commit_all, git, init_source, init_state, write

from gitbot.cli import main
from gitbot.kratix.loader import load_texts
from gitbot.kratix.scheduling import choose_destination


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


# The request's file is named after its spec.file and holds its spec.size.
RENDER = (
    "f=$(sed -n 's/^  file: //p' /kratix/input/object.yaml); "
    "s=$(sed -n 's/^  size: //p' /kratix/input/object.yaml); "
    "printf 'kind: ConfigMap\\nsize: %s\\n' \"$s\" > /kratix/output/$f.yaml"
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
{pipeline("render", RENDER)}
      delete:
{pipeline("teardown", "true")}"""


def request(name: str, size: str) -> str:
    return (
        "apiVersion: example.gitbot.dev/v1\nkind: App\n"
        f"metadata: {{name: {name}}}\nspec: {{file: {name}, size: {size}}}\n"
    )


def destinations(mode: str) -> str:
    return "---\n".join(
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\n"
        f"metadata: {{name: {name}}}\n"
        f"spec: {{path: {name}, filepath: {{mode: {mode}}}, "
        "stateStoreRef: {kind: GitStateStore, name: default}}\n"
        for name in ("east", "west")
    )


# Kratix's canary files (yaml.Marshal of a Namespace and a ConfigMap).
CANARY_NAMESPACE = (
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  creationTimestamp: null\n"
    "  name: kratix-worker-system\nspec: {}\nstatus: {}\n"
)
CANARY_CONFIGMAP = (
    "apiVersion: v1\ndata:\n"
    "  canary: this confirms your infrastructure is reading from Kratix state stores\n"
    "kind: ConfigMap\nmetadata:\n  creationTimestamp: null\n  name: kratix-info\n"
    "  namespace: kratix-worker-system\n"
)
ROOT_GROUP = "5058f"  # shortID of the root workload group: md5(".") (work_creator.go)
# Kratix's random Destination for each request, and its Works' random name suffixes.
PLACED = {"one": "east", "two": "west"}
SUFFIX = {"install": "3c9a1", "one": "b07e2", "two": "e5d40"}


def kratix_store(mode: str) -> dict[str, str]:
    """Every file Kratix's writer leaves for the source, by path (state store path: root)."""
    nested = mode == "nestedByMetadata"
    files = {}
    for dest in ("east", "west"):
        canary_ns, canary_cm = ("dependencies/", "resources/") if nested else ("", "")
        files[f"{dest}/{canary_ns}kratix-canary-namespace.yaml"] = CANARY_NAMESPACE
        files[f"{dest}/{canary_cm}kratix-canary-configmap.yaml"] = CANARY_CONFIGMAP
    # (Destination, WorkPlacement namespace, Work name, nestedByMetadata folder, file, content)
    placements = [
        (dest, "kratix-platform-system", f"app-install-{SUFFIX['install']}",
         "dependencies/app/install", "ns.yaml", "kind: Namespace\n")
        for dest in ("east", "west")
    ] + [
        (dest, "default", f"app-{name}-render-{SUFFIX[name]}",
         f"resources/default/app/{name}/render", f"{name}.yaml", "kind: ConfigMap\nsize: small\n")
        for name, dest in PLACED.items()
    ]  # fmt: skip
    for dest, namespace, work, folder, path, content in placements:
        if nested:
            files[f"{dest}/{folder}/{ROOT_GROUP}/{path}"] = content
        else:
            files[f"{dest}/{path}"] = content
            tracking = f"{dest}/.kratix/{namespace}-{work}.{dest}-{ROOT_GROUP}.yaml"
            files[tracking] = f"files:\n- {dest}/{path}\n"
    return files


def diff(state: Path, branch: str) -> list[str]:
    return git(state, "diff", "--name-status", "main", branch).splitlines()


@pytest.mark.parametrize("mode", ["nestedByMetadata", "none"])
def test_a_state_store_kratix_wrote_is_adopted_without_a_change(
    mode: str,
    engine_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source", with_examples=False)
    write(
        source,
        {
            "app.yaml": PROMISE,
            "one.yaml": request("one", "small"),
            "two.yaml": request("two", "small"),
            "destinations.yaml": destinations(mode),
        },
    )
    commit_all(source, "an app with two requests on two Destinations")
    # Kratix placed both requests where gitbot itself would not have.
    loaded = load_texts({"destinations.yaml": destinations(mode)}).destinations
    for name, dest in PLACED.items():
        own = choose_destination(f"default/app/{name}/.", loaded)
        assert own is not None and own.name != dest

    kratix = tmp_path / "kratix"
    git(tmp_path, "init", "-q", "-b", "main", str(kratix))
    write(kratix, dict(kratix_store(mode)))
    commit_all(kratix, "written by Kratix")
    state = init_state(tmp_path / "state.git")
    git(kratix, "push", "-q", str(state), "main")
    written = git(state, "rev-parse", "main")

    def reconcile() -> str:
        capsys.readouterr()
        code = main(["reconcile", "--source", str(source), "--state", str(state)])
        printed = capsys.readouterr()
        assert code == 0, printed.out + printed.err
        return printed.out

    # 1. The first reconcile runs every workflow and proposes nothing: no branch, no commit.
    reconcile()
    assert branches(state) == ["main"]
    assert git(state, "rev-parse", "main") == written

    # 2. A changed request: a pull request of that request's file; gitbot's records of the
    # Promise's objects ride along with it.
    write(source, {"one.yaml": request("one", "large")})
    commit_all(source, "one grows")
    reconcile()
    assert branches(state) == ["gitbot/app", "main"]
    changed = (
        "east/one.yaml"
        if mode == "none"
        else f"east/resources/default/app/one/render/{ROOT_GROUP}/one.yaml"
    )
    records = [f"A\t.gitbot/objects/app/{name}.yaml" for name in ("default.one", "promise")]
    two = "A\t.gitbot/objects/app/default.two.yaml"
    assert diff(state, "gitbot/app") == [*records[:1], two, *records[1:], f"M\t{changed}"]
    assert git(state, "show", f"gitbot/app:{changed}") == "kind: ConfigMap\nsize: large"

    # 3. A removed request, not yet recorded on main: its delete workflow runs and the files
    # Kratix wrote for it go (in `none` mode its tracking file and the files it lists).
    write(source, {"two.yaml": None})
    commit_all(source, "two leaves")
    out = reconcile()
    assert "ran teardown/teardown: ok" in out
    gone = (
        [
            f"west/.kratix/default-app-two-render-{SUFFIX['two']}.west-{ROOT_GROUP}.yaml",
            "west/two.yaml",
        ]
        if mode == "none"
        else [f"west/resources/default/app/two/render/{ROOT_GROUP}/two.yaml"]
    )
    assert diff(state, "gitbot/app") == [
        *records,
        f"M\t{changed}",
        *(f"D\t{path}" for path in gone),
    ]


def test_a_removal_after_adoption_is_proposed_until_it_merges(
    engine_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A request removed after adoption has no record on the base branch: only its status says
    it was there. Its removal is proposed on every reconcile until it merges, then forgotten."""
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    mode = "nestedByMetadata"
    source = init_source(tmp_path / "source", with_examples=False)
    write(
        source,
        {
            "app.yaml": PROMISE,
            "one.yaml": request("one", "small"),
            "two.yaml": request("two", "small"),
            "destinations.yaml": destinations(mode),
        },
    )
    commit_all(source, "an app with two requests on two Destinations")
    kratix = tmp_path / "kratix"
    git(tmp_path, "init", "-q", "-b", "main", str(kratix))
    write(kratix, dict(kratix_store(mode)))
    commit_all(kratix, "written by Kratix")
    state = init_state(tmp_path / "state.git")
    git(kratix, "push", "-q", str(state), "main")

    def reconcile() -> str:
        capsys.readouterr()
        code = main(["reconcile", "--source", str(source), "--state", str(state)])
        printed = capsys.readouterr()
        assert code == 0, printed.out + printed.err
        return printed.out

    reconcile()  # adoption: nothing proposed
    assert branches(state) == ["main"]
    write(source, {"two.yaml": None})
    commit_all(source, "two leaves")
    gone = f"D\twest/resources/default/app/two/render/{ROOT_GROUP}/two.yaml"
    assert "ran teardown/teardown: ok" in reconcile()
    assert gone in diff(state, "gitbot/app")
    # Not merged yet: the next reconcile proposes the removal again, as a record would make it.
    reconcile()
    assert gone in diff(state, "gitbot/app")
    # Merged: its files are gone from main, so its delete is done with and nothing is proposed.
    git(state, "update-ref", "refs/heads/main", "refs/heads/gitbot/app")
    out = reconcile()
    assert "teardown" not in out
    assert git(state, "ls-tree", "-r", "--name-only", "main").count("/two/") == 0
    assert "teardown" not in reconcile()


def test_a_status_written_for_another_state_repository_runs_no_delete(
    engine_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Statuses are kept by source; one written for another state repository is not this one's:
    a request that only ever ran for it runs no delete workflow here and is not proposed."""
    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))
    source = init_source(tmp_path / "source", with_examples=False)
    write(
        source,
        {
            "app.yaml": PROMISE,
            "one.yaml": request("one", "small"),
            "two.yaml": request("two", "small"),
            "destinations.yaml": destinations("nestedByMetadata"),
        },
    )
    commit_all(source, "an app with two requests")
    first, second = init_state(tmp_path / "s1.git"), init_state(tmp_path / "s2.git")

    def reconcile(state: Path) -> str:
        capsys.readouterr()
        code = main(["reconcile", "--source", str(source), "--state", str(state)])
        printed = capsys.readouterr()
        assert code == 0, printed.out + printed.err
        return printed.out

    assert "default/two" in reconcile(first)
    write(source, {"two.yaml": None})
    commit_all(source, "two leaves")
    out = reconcile(second)
    assert "teardown" not in out and "default/two" not in out
    assert all("/two/" not in line for line in diff(second, "gitbot/app"))
    # For the state repository it ran for, its delete workflow still runs.
    assert "ran teardown/teardown: ok" in reconcile(first)
