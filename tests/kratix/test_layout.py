"""Tests for state-store paths and contents, pinned to Kratix's layout."""

from __future__ import annotations

import pytest
import yaml

from gitbot.errors import UserError
from gitbot.kratix.layout import (
    CANARY_CONFIGMAP,
    CANARY_NAMESPACE,
    WorkRef,
    aggregate,
    aggregated_path,
    canary_files,
    destination_root,
    nested_group_dir,
    place_all,
    place_group,
    static_dependencies_group,
    workplacement_name,
)
from gitbot.kratix.objects import Destination, FilepathMode, Source
from gitbot.kratix.scheduling import group_output, make_group, parse_destination_selectors

NAMESPACE_WORK = WorkRef.resource_workflow("namespace", "instance-configure", "example", "default")
REDIS_WORK = WorkRef.promise_workflow("redis", "promise-configure")


def dest(
    name: str = "worker-1",
    path: str | None = None,
    mode: FilepathMode = "nestedByMetadata",
    **kwargs: object,
) -> Destination:
    return Destination(
        name=name,
        source=Source("d.yaml", 1),
        path=name if path is None else path,
        filepath_mode=mode,
        **kwargs,  # type: ignore[arg-type]
    )


# --- WorkRef ------------------------------------------------------------------------------


def test_work_names_and_namespaces() -> None:
    assert NAMESPACE_WORK.work_name == "namespace-example-instance-configure"
    assert NAMESPACE_WORK.workplacement_namespace == "default"
    assert REDIS_WORK.work_name == "redis-promise-configure"
    assert REDIS_WORK.workplacement_namespace == "kratix-platform-system"
    static = WorkRef.static_dependencies("redis")
    assert static.work_name == "redis-static-deps"
    assert static.work_type == "static-dependency"
    assert static.workplacement_namespace == "kratix-platform-system"


def test_pipeline_namespace_joins_work_name_and_namespace() -> None:
    work = WorkRef.resource_workflow("ns", "pipe", "example", "team-a", pipeline_namespace="ci")
    assert work.work_name == "ns-example-team-a-pipe"
    assert work.workplacement_namespace == "ci"


def test_workref_rejects_inconsistent_fields() -> None:
    with pytest.raises(ValueError, match="resource_name"):
        WorkRef("p", "pipe", "resource", "name", None)
    with pytest.raises(ValueError, match="resource_name"):
        WorkRef("p", "pipe", "promise", "name", "ns")
    with pytest.raises(ValueError, match="no pipeline"):
        WorkRef("p", "", "promise")


# --- nestedByMetadata ---------------------------------------------------------------------


def test_contract_example_resource_path() -> None:
    (group,) = group_output({"namespace.yaml": b"kind: Namespace\n"}, (), {})
    assert place_group("", dest(), NAMESPACE_WORK, group) == {
        "worker-1/resources/default/namespace/example/instance-configure/5058f/namespace.yaml": (
            b"kind: Namespace\n"
        )
    }


def test_directory_group_keeps_its_prefix() -> None:
    selectors = parse_destination_selectors([{"directory": "dest1", "matchLabels": {"a": "b"}}])
    (group,) = group_output({"dest1/configmap.yaml": b"cm"}, selectors, {})
    assert list(place_group("", dest(), NAMESPACE_WORK, group)) == [
        "worker-1/resources/default/namespace/example/instance-configure/ba6cb/dest1/configmap.yaml"
    ]


def test_promise_workflow_path_with_state_store_path() -> None:
    (group,) = group_output({"operator/crds.yaml": b"crd"}, (), {})
    assert list(place_group("clusters/", dest(), REDIS_WORK, group)) == [
        "clusters/worker-1/dependencies/redis/promise-configure/5058f/operator/crds.yaml"
    ]


def test_resource_path_uses_pipeline_namespace() -> None:
    work = WorkRef.resource_workflow("ns", "pipe", "example", "team-a", pipeline_namespace="ci")
    (group,) = group_output({"a.yaml": b"a"}, (), {})
    assert list(place_group("", dest(), work, group)) == [
        "worker-1/resources/ci/ns/example/pipe/5058f/a.yaml"
    ]


def test_static_dependencies_path_and_content() -> None:
    group = static_dependencies_group(
        "redis",
        [
            {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "redis"}},
            {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "é"}},
        ],
    )
    assert group is not None
    assert group.id == "5058f1af8388633f609cadb75a75dc9d"
    assert place_group("", dest(), WorkRef.static_dependencies("redis"), group) == {
        "worker-1/dependencies/redis/5058f/static/redis-dependencies.yaml": (
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: redis\n---\n"
            "apiVersion: v1\ndata:\n  k: é\nkind: ConfigMap\n"
        ).encode()
    }
    assert static_dependencies_group("redis", []) is None


@pytest.mark.parametrize(("path", "root"), [("", ""), (".", ""), ("/", ""), ("/a//b/", "a/b")])
def test_destination_root(path: str, root: str) -> None:
    assert destination_root("", dest(path=path)) == root
    assert destination_root("/store/", dest(path=path)) == "/".join(p for p in ("store", root) if p)


def test_destination_at_repo_root() -> None:
    (group,) = group_output({"a.yaml": b"a"}, (), {})
    assert list(place_group("", dest(path="."), REDIS_WORK, group)) == [
        "dependencies/redis/promise-configure/5058f/a.yaml"
    ]


# --- none -------------------------------------------------------------------------------------


def test_flat_mode_files_and_kratix_state_file() -> None:
    selectors = parse_destination_selectors([{"directory": "dest1", "matchLabels": {"a": "b"}}])
    (group,) = group_output({"dest1/b.yaml": b"b", "dest1/a.yaml": b"a"}, selectors, {})
    placed = place_group(
        "store", dest("dev", path="clusters/dev", mode="none"), NAMESPACE_WORK, group
    )
    state_file = (
        "store/clusters/dev/.kratix/default-namespace-example-instance-configure.dev-ba6cb.yaml"
    )
    assert placed == {
        "store/clusters/dev/dest1/a.yaml": b"a",
        "store/clusters/dev/dest1/b.yaml": b"b",
        state_file: b"files:\n- clusters/dev/dest1/a.yaml\n- clusters/dev/dest1/b.yaml\n",
    }


def test_flat_mode_promise_state_file_namespace() -> None:
    (group,) = group_output({"a.yaml": b"a"}, (), {})
    placed = place_group("", dest(mode="none"), REDIS_WORK, group)
    assert (
        placed[
            "worker-1/.kratix/kratix-platform-system-redis-promise-configure.worker-1-5058f.yaml"
        ]
        == b"files:\n- worker-1/a.yaml\n"
    )


def test_flat_mode_conflicting_writers_refused() -> None:
    (one,) = group_output({"ns.yaml": b"one"}, (), {})
    (two,) = group_output({"ns.yaml": b"two"}, (), {})
    other = WorkRef.promise_workflow("redis", "second")
    with pytest.raises(UserError) as info:
        place_all("", dest(mode="none"), [(REDIS_WORK, one), (other, two)])
    assert str(info.value) == (
        "Destination worker-1: worker-1/ns.yaml is written by both "
        "redis-promise-configure.worker-1-5058f and redis-second.worker-1-5058f"
    )
    same = place_all("", dest(mode="none"), [(REDIS_WORK, one), (other, one)])
    assert same["worker-1/ns.yaml"] == b"one"


# --- aggregatedYAML ---------------------------------------------------------------------------


def test_aggregate_sorts_by_workplacement_then_file() -> None:
    placements = {
        "b.worker-5058f": {"z.yaml": b"z", "a.yaml": b"a"},
        "a.worker-5058f": {"x.yaml": b"x"},
    }
    assert aggregate(placements) == b"x\n---\na\n---\nz"
    assert aggregate({}) == b""


def test_place_all_aggregated() -> None:
    destination = dest("agg", path="agg", mode="aggregatedYAML", aggregated_filename="all.yaml")
    (ns_group,) = group_output({"namespace.yaml": b"ns\n"}, (), {})
    (redis_group,) = group_output({"crd.yaml": b"crd\n"}, (), {})
    placed = place_all("", destination, [(REDIS_WORK, redis_group), (NAMESPACE_WORK, ns_group)])
    assert placed == {"agg/all.yaml": b"ns\n\n---\ncrd\n"}
    assert aggregated_path("s", destination) == "s/agg/all.yaml"
    assert place_all("", destination, []) == {}


def test_place_group_refuses_aggregated_mode() -> None:
    (group,) = group_output({"a.yaml": b"a"}, (), {})
    with pytest.raises(ValueError, match="place_all"):
        place_group("", dest(mode="aggregatedYAML"), REDIS_WORK, group)


def test_place_all_nested_merges_groups() -> None:
    selectors = parse_destination_selectors([{"directory": "d", "matchLabels": {"a": "b"}}])
    groups = group_output({"d/x.yaml": b"x", "y.yaml": b"y"}, selectors, {})
    placed = place_all("", dest(), [(REDIS_WORK, g) for g in groups])
    assert sorted(placed) == [
        "worker-1/dependencies/redis/promise-configure/5058f/y.yaml",
        "worker-1/dependencies/redis/promise-configure/8277e/d/x.yaml",
    ]
    assert (
        workplacement_name(REDIS_WORK, dest(), groups[1])
        == "redis-promise-configure.worker-1-8277e"
    )
    with pytest.raises(ValueError, match="placed twice"):
        place_all("", dest(), [(REDIS_WORK, groups[0]), (REDIS_WORK, groups[0])])


# --- canary files -----------------------------------------------------------------------------


def test_canary_files_nested() -> None:
    assert canary_files("", dest()) == {
        "worker-1/dependencies/kratix-canary-namespace.yaml": CANARY_NAMESPACE,
        "worker-1/resources/kratix-canary-configmap.yaml": CANARY_CONFIGMAP,
    }
    configmap = yaml.safe_load(CANARY_CONFIGMAP)
    assert configmap["data"] == {
        "canary": "this confirms your infrastructure is reading from Kratix state stores"
    }
    assert yaml.safe_load(CANARY_NAMESPACE)["metadata"]["name"] == "kratix-worker-system"


@pytest.mark.parametrize("mode", ["none", "aggregatedYAML"])
def test_canary_files_flat(mode: FilepathMode) -> None:
    assert sorted(canary_files("store", dest(path="dev", mode=mode))) == [
        "store/dev/kratix-canary-configmap.yaml",
        "store/dev/kratix-canary-namespace.yaml",
    ]


def test_no_canary_files_when_init_workloads_disabled() -> None:
    assert canary_files("", dest(init_workloads=False)) == {}


# --- escaping paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["../x.yaml", "a/../../x.yaml", "/etc/passwd", "", "."])
def test_escaping_output_paths_refused(path: str) -> None:
    group = make_group(".", {path: b"x"}, {})
    for mode in ("nestedByMetadata", "none", "aggregatedYAML"):
        with pytest.raises(UserError) as info:
            place_all("", dest(mode=mode), [(REDIS_WORK, group)])
        assert (
            str(info.value) == f"refusing to write output file {path!r}: it escapes its directory"
        )


def test_escaping_destination_paths_refused() -> None:
    with pytest.raises(UserError) as info:
        destination_root("", dest(path="../other"))
    assert str(info.value) == (
        "refusing Destination worker-1 path '../other': it escapes the state repository"
    )
    with pytest.raises(UserError, match="refusing to write Destination agg filename"):
        aggregated_path("", dest("agg", mode="aggregatedYAML", aggregated_filename="../x.yaml"))


GROUP = "resources/ns/pg/orders/render/5058f"


@pytest.mark.parametrize(
    ("roots", "path", "expected"),
    [
        (["s/dev"], f"s/dev/{GROUP}/a/b.yaml", f"s/dev/{GROUP}"),
        (["s/dev"], "s/dev/dependencies/pg/run/5058f/x.yaml", "s/dev/dependencies/pg/run/5058f"),
        (["s/dev"], f"s/dev/{GROUP}", None),  # the directory itself: no file in it
        (["s/dev"], "s/dev/README.md", None),
        (["s/dev"], "s/dev/.kratix/x.yaml", None),
        (["s/dev"], f"s/prod/{GROUP}/a.yaml", None),  # not under a nestedByMetadata root
        ([""], f"{GROUP}/a.yaml", GROUP),  # a Destination at the repository root
    ],
)
def test_nested_group_dirs_are_found_under_their_destination_roots(
    roots: list[str], path: str, expected: str | None
) -> None:
    assert nested_group_dir(path, roots) == expected
