"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as the API server applies them."""

from __future__ import annotations

import pytest

from gitbot.platform.patches import PatchError, json_patch, merge_patch


def test_merge_patch_merges_objects_deletes_nulls_and_replaces_lists() -> None:
    target = {"status": {"a": 1, "b": {"c": 2}, "l": [1, 2]}, "spec": {"x": 1}}
    patch = {"status": {"a": None, "b": {"d": 3}, "l": [3]}}
    assert merge_patch(target, patch) == {
        "status": {"b": {"c": 2, "d": 3}, "l": [3]},
        "spec": {"x": 1},
    }
    assert target["status"]["a"] == 1  # the original is untouched


def test_json_patch_operations() -> None:
    doc = {"status": {"a": 1, "list": ["x"]}}
    patched = json_patch(
        doc,
        [
            {"op": "add", "path": "/status/list/-", "value": "y"},
            {"op": "add", "path": "/status/list/0", "value": "w"},
            {"op": "replace", "path": "/status/a", "value": 2},
            {"op": "copy", "from": "/status/a", "path": "/status/b"},
            {"op": "move", "from": "/status/b", "path": "/status/c~1d"},
            {"op": "remove", "path": "/status/list/1"},
            {"op": "test", "path": "/status/a", "value": 2},
        ],
    )
    assert patched == {"status": {"a": 2, "list": ["w", "y"], "c/d": 2}}
    assert doc == {"status": {"a": 1, "list": ["x"]}}


def test_a_failed_test_is_a_conflict_and_a_bad_path_is_invalid() -> None:
    with pytest.raises(PatchError) as failed:
        json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])
    assert failed.value.conflict
    with pytest.raises(PatchError, match="path /b/c does not exist"):
        json_patch({"a": 1}, [{"op": "replace", "path": "/b/c", "value": 2}])
    with pytest.raises(PatchError, match="must be a list of operations"):
        json_patch({}, {"op": "add"})
