"""Compound Promises in one reconcile: a parent's requests for the platform run as children,
the parent polling them through the platform API converges, the tree shows, bounds hold."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from compound_source import app_request, compound_files
from gitfixtures import branches, commit_all, files_on, show, write

Reconcile = Callable[..., tuple[int, str]]  # the `reconcile` fixture of conftest.py


@pytest.fixture
def reconcile_branches(
    source: Path,
    state: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Reconcile:
    """`gitbot reconcile [extra...]` proposing branches (groupBy promise), not --direct."""
    from gitbot.cli import main

    monkeypatch.setenv("GITBOT_DATA_DIR", str(tmp_path / "data"))

    def run(*extra: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["reconcile", "--source", str(source), "--state", str(state), *extra])
        printed = capsys.readouterr()
        return code, printed.out + printed.err

    return run


APP = "platform/resources/default/app/web/emit"


def test_a_compound_promise_converges_in_one_reconcile(
    source: Path, state: Path, reconcile: Reconcile, kube_image: str
) -> None:
    write(source, compound_files(kube_image))
    commit_all(source, "a compound app")
    code, out = reconcile()
    assert code == 0, out
    files = files_on(state, "main")
    # The children's documents stay on the platform Destination, as Kratix writes them.
    documents = [f for f in files if f.startswith(APP)]
    assert sorted(Path(f).name for f in documents) == ["cache.yaml", "database.yaml"]
    # The children ran, and the parent saw them Ready through the API in the same reconcile.
    assert show(state, "main", "worker/resources/default/database/web-db/main/5058f/database.txt")
    assert show(state, "main", "worker/resources/default/cache/web-cache/main/5058f/cache.txt")
    ready = "worker/resources/default/app/web/wait/5058f/ready.txt"
    assert show(state, "main", ready) == "database Ready, cache Ready"
    # The summary shows the tree: parent, then its children indented under it.
    lines = out.splitlines()
    parent = next(i for i, line in enumerate(lines) if line.startswith("  app default/web:"))
    assert "succeeded" in lines[parent]
    assert lines[parent + 1].startswith("    └ cache default/web-cache: configure succeeded")
    assert lines[parent + 2].startswith("    └ database default/web-db: configure succeeded")


def test_a_child_that_leaves_its_parents_output_runs_its_delete_workflow(
    source: Path, state: Path, reconcile: Reconcile, kube_image: str
) -> None:
    write(source, compound_files(kube_image))
    commit_all(source, "a compound app")
    assert reconcile()[0] == 0
    write(source, {"requests.yaml": app_request("web", cache=False)})
    commit_all(source, "no cache")
    code, out = reconcile()
    assert code == 0, out
    deleted = "    └ cache default/web-cache: delete succeeded"
    assert any(line.startswith(deleted) for line in out.splitlines()), out
    files = files_on(state, "main")
    assert not [f for f in files if "web-cache" in f or f.endswith("/cache.yaml")]
    assert [f for f in files if "web-db" in f]
    ready = "worker/resources/default/app/web/wait/5058f/ready.txt"
    assert show(state, "main", ready) == "database Ready, cache Ready"


def test_a_child_that_never_completed_runs_its_delete_workflow_when_dropped(
    source: Path, state: Path, reconcile: Reconcile, kube_image: str
) -> None:
    from compound_source import BUSYBOX, crd, pipeline, promise

    # The cache's configure workflow suspends at once: it never completes, so has no files.
    stuck = "printf 'retryAfter: 10m\\n' > /kratix/metadata/workflow-control.yaml"
    files = compound_files(kube_image)
    files["cache.yaml"] = promise(
        "cache",
        crd("cache.gitbot.dev", "Cache", "caches"),
        pipeline("main", BUSYBOX, stuck),
        pipeline("main", BUSYBOX, 'echo "deleted $KRATIX_OBJECT_NAME"'),
    )
    write(source, files)
    commit_all(source, "a compound app whose cache never becomes ready")
    code, out = reconcile()
    assert code == 0, out
    assert "    └ cache default/web-cache: configure suspended" in out, out
    write(source, {"requests.yaml": app_request("web", cache=False)})
    commit_all(source, "no cache")
    code, out = reconcile()
    assert code == 0, out
    deleted = "    └ cache default/web-cache: delete succeeded"
    assert any(line.startswith(deleted) for line in out.splitlines()), out
    assert not [f for f in files_on(state, "main") if "web-cache" in f]
    # Deleted for good: a third reconcile has nothing left of it to delete.
    code, out = reconcile()
    assert code == 0, out
    assert "web-cache" not in out


def test_a_deleted_parent_takes_its_children_with_it(
    source: Path, state: Path, reconcile: Reconcile, kube_image: str
) -> None:
    write(source, compound_files(kube_image))
    commit_all(source, "a compound app")
    assert reconcile()[0] == 0
    write(source, {"requests.yaml": None})
    commit_all(source, "no app")
    code, out = reconcile()
    assert code == 0, out
    lines = out.splitlines()
    parent = lines.index("  app default/web: delete — no delete pipeline")
    assert lines[parent + 1].startswith("    └ cache default/web-cache: delete succeeded")
    assert lines[parent + 2].startswith("    └ database default/web-db: delete succeeded")
    assert [f for f in files_on(state, "main") if "/resources/default/" in f] == []


def test_a_failing_parent_keeps_its_children(
    source: Path, state: Path, reconcile: Reconcile, kube_image: str
) -> None:
    write(source, compound_files(kube_image))
    commit_all(source, "a compound app")
    assert reconcile()[0] == 0
    write(source, {"requests.yaml": app_request("web", cache=False, fail=True)})
    commit_all(source, "no cache, but the app fails")
    code, out = reconcile()
    assert code == 1
    assert "app default/web: configure failed" in out
    assert "delete" not in out
    # Still on the platform, it runs with its Promise, as Kratix reruns a Promise's requests.
    lines = out.splitlines()
    parent = next(i for i, line in enumerate(lines) if line.startswith("  app default/web:"))
    kept = "    └ cache default/web-cache: configure succeeded"
    assert any(line.startswith(kept) for line in lines[parent:]), out
    # Kratix keeps a failed pipeline's Work, so the cache request stays on the platform.
    files = files_on(state, "main")
    assert [f for f in files if f.endswith("/cache.yaml")]
    assert "worker/resources/default/cache/web-cache/main/5058f/cache.txt" in files


def test_a_child_goes_into_its_top_parents_branch_whatever_only_selects(
    source: Path, state: Path, reconcile_branches: Reconcile, kube_image: str
) -> None:
    write(source, compound_files(kube_image))
    commit_all(source, "a compound app")
    assert reconcile_branches()[0] == 0
    child = "worker/resources/default/database/web-db/main/5058f/database.txt"
    assert child in files_on(state, "gitbot/app")
    # --only the child's Promise reconciles its top parent's too: the child stays in its branch.
    code, out = reconcile_branches("--only", "database")
    assert code == 0, out
    lines = out.splitlines()
    parent = next(i for i, line in enumerate(lines) if line.startswith("  app default/web:"))
    assert "    └ database default/web-db: configure succeeded" in "\n".join(lines[parent:])
    assert child in files_on(state, "gitbot/app")
    database = files_on(state, "gitbot/database") if "gitbot/database" in branches(state) else []
    assert not [f for f in database if "web-db" in f], database


LOOP = """\
set -e; n=$KRATIX_OBJECT_NAME; mkdir -p /kratix/output/platform
case $n in *-b) c=${n%-b};; *) c=$n-b;; esac
if [ "$MODE" = deep ]; then c=$n-x; fi
printf 'apiVersion: loop.gitbot.dev/v1\\nkind: Loop\\nmetadata:\\n  name: %s\\nspec: {}\\n' $c \
  > /kratix/output/platform/next.yaml
if [ "$MODE" = other ]; then
  printf 'apiVersion: platform.kratix.io/v1alpha1\\nkind: Destination\\n' \
    > /kratix/output/platform/next.yaml
  printf 'metadata: {name: extra}\\n' >> /kratix/output/platform/next.yaml
  printf 'spec: {path: extra, stateStoreRef: {kind: GitStateStore, name: default}}\\n' \
    >> /kratix/output/platform/next.yaml
fi
if [ "$MODE" = invalid ]; then
  printf 'apiVersion: loop.gitbot.dev/v1\\nkind: Loop\\nmetadata: {}\\n' \
    > /kratix/output/platform/next.yaml
fi
printf -- '- directory: platform\\n  matchLabels: {environment: platform}\\n' \
  > /kratix/metadata/destination-selectors.yaml
"""


def loop_files(mode: str) -> dict[str, str]:
    from compound_source import BUSYBOX, DESTINATIONS, PLATFORM_CONFIG, crd, pipeline, promise

    script = f"MODE={mode}; " + LOOP
    return {
        ".gitbot.yaml": PLATFORM_CONFIG,
        "destinations.yaml": DESTINATIONS,
        "loop.yaml": promise(
            "loop", crd("loop.gitbot.dev", "Loop", "loops"), pipeline("main", BUSYBOX, script)
        ),
        "requests.yaml": "apiVersion: loop.gitbot.dev/v1\nkind: Loop\nmetadata:\n  name: a\n"
        "spec: {}\n",
    }


def test_a_cycle_is_an_error_naming_the_chain(source: Path, reconcile: Reconcile) -> None:
    write(source, loop_files("cycle"))
    commit_all(source, "a request whose child schedules it again")
    code, out = reconcile()
    assert code == 1
    # The object whose output holds the cycle failed, and the error sits under it.
    lines = out.splitlines()
    failed = next(i for i, line in enumerate(lines) if "└ loop default/a-b:" in line)
    assert lines[failed].startswith("    └ loop default/a-b: configure failed (main "), out
    assert lines[failed + 1] == (
        "        compound Promise cycle: loop default/a → loop default/a-b → loop default/a; "
        "a request may not schedule itself"
    )


def test_depth_is_bounded(source: Path, reconcile: Reconcile) -> None:
    write(source, loop_files("deep"))
    commit_all(source, "a request whose children never end")
    code, out = reconcile()
    assert code == 1
    chain = " → ".join(f"loop default/a{'-x' * i}" for i in range(7))
    assert f"compound Promises nest at most 5 levels below the source: {chain}" in out


def test_invalid_documents_for_the_platform_fail_the_parent(
    source: Path, reconcile: Reconcile
) -> None:
    write(source, loop_files("invalid"))
    commit_all(source, "a request that schedules a nameless request")
    code, out = reconcile()
    assert code == 1
    assert (
        "its output for the platform has invalid objects: platform/resources/default/loop/a/" in out
    )
    assert "next.yaml:3: metadata: required key 'name' is missing" in out


SITE = """\
set -e; mkdir -p /kratix/output/platform /kratix/output/extra
if [ "$MODE" != gone ]; then
  printf 'apiVersion: platform.kratix.io/v1alpha1\\nkind: Destination\\nmetadata:\\n' \
    > /kratix/output/platform/extra.yaml
  printf '  name: extra\\n  labels: {environment: extra}\\nspec:\\n  path: %s\\n' "$DIR" \
    >> /kratix/output/platform/extra.yaml
  printf '  cleanup: all\\n  stateStoreRef: {kind: GitStateStore, name: default}\\n' \
    >> /kratix/output/platform/extra.yaml
fi
echo "hello $KRATIX_OBJECT_NAME" > /kratix/output/extra/hello.txt
echo "site $KRATIX_OBJECT_NAME" > /kratix/output/site.txt
printf -- '- directory: platform\\n  matchLabels: {environment: platform}\\n' \
  > /kratix/metadata/destination-selectors.yaml
printf -- '- directory: extra\\n  matchLabels: {environment: extra}\\n' \
  >> /kratix/metadata/destination-selectors.yaml
"""


def site_files(mode: str, path: str = "extra") -> dict[str, str]:
    """A Promise whose request puts Destination `extra` (`cleanup: all`) on the platform and
    asks for a file on it; `gone`: it no longer puts the Destination there."""
    from compound_source import BUSYBOX, DESTINATIONS, PLATFORM_CONFIG, crd, pipeline, promise

    script = f"MODE={mode}; DIR={path}; " + SITE
    return {
        ".gitbot.yaml": PLATFORM_CONFIG,
        "destinations.yaml": DESTINATIONS,
        "site.yaml": promise(
            "site", crd("site.gitbot.dev", "Site", "sites"), pipeline("main", BUSYBOX, script)
        ),
        "requests.yaml": "apiVersion: site.gitbot.dev/v1\nkind: Site\nmetadata:\n  name: a\n"
        "spec: {}\n",
    }


def test_a_destination_put_on_the_platform_is_installed_in_the_same_reconcile(
    source: Path, state: Path, reconcile: Reconcile
) -> None:
    write(source, site_files("install"))
    commit_all(source, "a request that installs a Destination and asks for a file on it")
    code, out = reconcile()
    assert code == 0, out
    assert "not installed" not in out
    files = files_on(state, "main")
    hello = [f for f in files if f.startswith("extra/resources/default/site/a/main/")]
    assert [Path(f).name for f in hello] == ["hello.txt"]
    assert show(state, "main", hello[0]) == "hello a"
    # The same pull request: the Destination's canary files and its cleanup record too.
    assert [f for f in files if f.startswith("extra/dependencies/")]
    assert ".gitbot/destinations/extra.yaml" in files
    assert [f for f in files if f.startswith("worker/resources/default/site/a/")]
    # Unchanged, nothing moves; then the request stops putting it there: `cleanup: all`.
    assert reconcile()[0] == 0
    assert files_on(state, "main") == files
    write(source, site_files("gone"))
    commit_all(source, "the request no longer installs the Destination")
    code, out = reconcile()
    assert code == 0, out
    files = files_on(state, "main")
    assert not [f for f in files if f.startswith("extra/")]
    assert ".gitbot/destinations/extra.yaml" not in files
    assert [f for f in files if f.startswith("worker/resources/default/site/a/")]


def test_an_installed_destination_stays_while_its_parent_is_not_reconciled(
    source: Path, state: Path, reconcile: Reconcile
) -> None:
    from compound_source import BUSYBOX, crd, pipeline, promise

    # Another Promise's request asks for a file on the installed Destination.
    note = (
        "mkdir -p /kratix/output/extra; echo note > /kratix/output/extra/note.txt; "
        "printf -- '- directory: extra\\n  matchLabels: {environment: extra}\\n' "
        "> /kratix/metadata/destination-selectors.yaml"
    )
    files = site_files("install")
    files["note.yaml"] = promise(
        "note", crd("note.gitbot.dev", "Note", "notes"), pipeline("main", BUSYBOX, note)
    )
    files["notes.yaml"] = "apiVersion: note.gitbot.dev/v1\nkind: Note\nmetadata:\n  name: memo\n"
    write(source, files)
    commit_all(source, "a site that installs a Destination, and a note placed on it")
    code, out = reconcile()
    assert code == 0, out
    before = files_on(state, "main")
    assert [f for f in before if f.startswith("extra/resources/default/note/memo/")]
    # Only the note runs: the site, and so its Destination, stays as it was.
    write(source, {"notes.yaml": files["notes.yaml"] + "spec: {again: true}\n"})
    commit_all(source, "the note changes")
    code, out = reconcile("--only", "note")
    assert code == 0, out
    assert "note default/memo: configure succeeded" in out
    assert files_on(state, "main") == before


def test_a_destination_put_on_the_platform_is_validated_like_the_sources(
    source: Path, state: Path, reconcile: Reconcile
) -> None:
    write(source, site_files("install", path="worker"))
    commit_all(source, "a request that installs a Destination on the worker's path")
    code, out = reconcile()
    assert code == 1
    assert "  site default/a: platform/resources/default/site/a/main/" in out
    assert (
        "/platform/extra.yaml:1: spec.path: destination path 'worker' already exists for "
        "state store 'default' (Destination 'worker', destinations.yaml:11)"
    ) in out
    assert not [f for f in files_on(state, "main") if "extra" in f]


def test_json_output_gives_each_child_its_ancestors(source: Path, reconcile: Reconcile) -> None:
    write(source, loop_files("deep"))
    commit_all(source, "a request whose children never end")
    code, out = reconcile("--output", "json")
    assert code == 1
    runs = json.loads(out[out.index("{") :])["runs"]
    chain = [f"loop default/a{'-x' * i}" for i in range(6)]
    loops = [(r["object"]["name"], r["ancestors"]) for r in runs if r["object"]["kind"] == "Loop"]
    assert loops == [(name.split("/")[1], chain[:i]) for i, name in enumerate(chain)]


def bundle_files(with_cache: bool = True) -> dict[str, str]:
    """Kratix's Promise of Promises: a Promise whose dependencies, scheduled to the platform,
    hold another Promise and a request of it."""
    from compound_source import DESTINATIONS, PLATFORM_CONFIG, leaf

    cache = yaml.safe_load(leaf("cache", "cache.gitbot.dev", "Cache", "caches"))
    shared = {"apiVersion": "cache.gitbot.dev/v1", "kind": "Cache"}
    shared |= {"metadata": {"name": "shared"}, "spec": {}}
    bundle = {
        "apiVersion": "platform.kratix.io/v1alpha1",
        "kind": "Promise",
        "metadata": {"name": "bundle"},
        "spec": {
            "destinationSelectors": [{"matchLabels": {"environment": "platform"}}],
            "dependencies": [cache, shared] if with_cache else [],
        },
    }
    return {
        ".gitbot.yaml": PLATFORM_CONFIG,
        "destinations.yaml": DESTINATIONS,
        "bundle.yaml": yaml.safe_dump(bundle),
    }


def test_a_promise_of_promises_installs_them_and_runs_their_requests(
    source: Path, state: Path, reconcile: Reconcile
) -> None:
    write(source, bundle_files())
    commit_all(source, "a Promise whose dependencies bring another Promise and a request")
    code, out = reconcile()
    assert code == 0, out
    lines = out.splitlines()
    bundle = lines.index("  Promise bundle: configure succeeded")
    assert lines[bundle + 1] == "    └ Promise cache: configure succeeded"
    assert lines[bundle + 2].startswith("    └ cache default/shared: configure succeeded (main ")
    shared = "worker/resources/default/cache/shared/main/5058f/cache.txt"
    assert show(state, "main", shared) == "shared"
    # Unchanged: nothing changes; then the Promise leaves the bundle, its request goes first.
    assert reconcile()[0] == 0
    write(source, bundle_files(with_cache=False))
    commit_all(source, "the bundle no longer brings the cache Promise")
    code, out = reconcile()
    assert code == 0, out
    lines = out.splitlines()
    bundle = lines.index("  Promise bundle: configure succeeded")
    assert lines[bundle + 1].startswith("    └ cache default/shared: delete succeeded (main ")
    assert lines[bundle + 2] == "    └ Promise cache: delete — no delete pipeline"
    assert not [f for f in files_on(state, "main") if "cache" in f]


def test_a_promise_of_promises_removed_before_its_branch_merged_deletes_its_children(
    source: Path, state: Path, reconcile_branches: Reconcile
) -> None:
    reconcile = reconcile_branches
    write(source, bundle_files())
    commit_all(source, "a Promise whose dependencies bring another Promise and a request")
    assert reconcile()[0] == 0
    assert [f for f in files_on(state, "gitbot/bundle") if "cache/shared" in f]
    write(source, {"bundle.yaml": None})
    commit_all(source, "the bundle leaves before its pull request merged")
    # --only names it, as a Promise whose records remain on the base branch.
    code, out = reconcile("--only", "bundle", "--output", "json")
    assert code == 0, out
    runs = json.loads(out[out.index("{") :])["runs"]
    rows = [(r["object"]["kind"], r["object"]["name"], r["action"]) for r in runs]
    # Its request goes first, with its delete workflow; then the Promises.
    assert rows.index(("Cache", "shared", "delete")) < rows.index(("Promise", "cache", "delete"))
    assert ("Promise", "bundle", "delete") in rows, rows
    # Its branch proposes nothing of it any more.
    left = files_on(state, "gitbot/bundle")
    assert not [f for f in left if "cache" in f or f.startswith(".gitbot/objects/")], left


def test_platform_destinations_that_select_no_destination_are_warned_about(
    source: Path,
    reconcile: Reconcile,
    kube_image: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from gitbot.cli import main

    files = compound_files(kube_image)
    files[".gitbot.yaml"] = (
        "platformDestinations:\n  names: [platfrom]\n  matchLabels: {environment: platfrom}\n"
    )
    write(source, files)
    commit_all(source, "a typo in platformDestinations")
    code, out = reconcile()
    assert code == 0, out
    assert (
        ".gitbot.yaml:2: warning: platformDestinations.names[0]: no Destination named "
        "'platfrom' in the source (Destinations: platform, worker)"
    ) in out
    assert (
        ".gitbot.yaml:3: warning: platformDestinations.matchLabels: no Destination in the source "
        "has the labels environment=platfrom"
    ) in out
    code, out = reconcile("--output", "json")
    warned = [p for p in json.loads(out)["problems"] if p["file"] == ".gitbot.yaml"]
    assert [(p["line"], p["severity"]) for p in warned] == [(2, "warning"), (3, "warning")]
    # `gitbot validate` on the repository says so too (and it stays valid).
    capsys.readouterr()
    assert main(["validate", str(source)]) == 0
    out = capsys.readouterr().out
    assert f"{source}/.gitbot.yaml:2: warning: platformDestinations.names[0]: no Destination" in out
