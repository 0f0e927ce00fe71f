"""Reading back what Kratix's writer left for an object gitbot has no record of."""

from __future__ import annotations

from builders import pipeline, promise, request

from gitbot.kratix.objects import Destination, Source, Workflows
from gitbot.state.adoption import kratix_work_name, shown_files
from gitbot.state.placement import PathSet
from gitbot.state.records import ObjectKey

EAST = Destination("east", Source("d.yaml", 1), path="east", filepath_mode="none")
NESTED = Destination("west", Source("d.yaml", 1), path="west")
THING = promise(workflows=Workflows(resource_configure=(pipeline("render"),)))


def test_work_names_are_shortened_as_kratix_does_before_its_suffix() -> None:
    # lib/objectutil/name.go processName: 56 characters when longer than 57, then no trailing
    # character that is not a letter or digit.
    assert kratix_work_name("a" * 57) == "a" * 57
    assert kratix_work_name("a" * 58) == "a" * 56
    assert kratix_work_name("a" * 54 + "--b" + "c" * 5) == "a" * 54


def test_an_objects_files_are_found_under_kratix_and_gitbot_names_only() -> None:
    base = PathSet(
        [
            "east/.kratix/default-thing-one-render-0a1b2.east-5058f.yaml",  # Kratix's name
            "east/.kratix/default-thing-one-render.east-9d2c1.yaml",  # gitbot's name
            "east/.kratix/default-thing-one-two-render-77aa0.east-5058f.yaml",  # one-two's
            "east/.kratix/default-thing-one-render-0a1b2.west-5058f.yaml",  # another Destination
            "west/resources/default/thing/one/render/5058f/a.yaml",
            "west/resources/default/thing/one-two/render/5058f/b.yaml",
        ]
    )
    key = ObjectKey.of_request(THING, request("one"))
    files, tracking = shown_files(key, THING, [EAST, NESTED], "", base)
    assert tracking == {
        "east/.kratix/default-thing-one-render-0a1b2.east-5058f.yaml",
        "east/.kratix/default-thing-one-render.east-9d2c1.yaml",
    }
    assert files == tracking | {"west/resources/default/thing/one/render/5058f/a.yaml"}
