"""Which ResourceBinding is a request's, and which version it names (gitbot.kratix.revisions)."""

from __future__ import annotations

import hashlib

from builders import promise, request

from gitbot.kratix.objects import ResourceBinding, Source
from gitbot.kratix.revisions import bound_version, is_pinned, resource_label, revision_version


def bind(resource: str, version: str, namespace: str = "default") -> ResourceBinding:
    return ResourceBinding("b", namespace, Source("b.yaml", 1), version, "thing", resource)


def test_a_binding_is_found_by_its_labels_in_the_requests_namespace() -> None:
    one = request("one")
    assert bound_version(one, []) == "latest"
    assert bound_version(one, [bind("one", "v1", "other"), bind("two", "v2")]) == "latest"
    assert bound_version(one, [bind("one", "v1")]) == "v1"


def test_a_long_request_name_is_labelled_as_kratix_labels_it() -> None:
    # resourceNameLabelValue: names over 63 characters become a bounded derivation.
    long = "r" * 70
    assert resource_label("r" * 63) == "r" * 63
    assert resource_label(long) == "r" * 56 + "-" + hashlib.md5(long.encode()).hexdigest()[:5]
    assert bound_version(request(long), [bind(resource_label(long), "v3")]) == "v3"


def test_latest_and_the_current_version_are_not_pins() -> None:
    thing = promise()  # unversioned: Kratix's revision version "not-set"
    assert revision_version(thing) == "not-set"
    assert [is_pinned(thing, v) for v in ("latest", "not-set", "v1")] == [False, False, True]
