"""Which Promises a source change touches."""

from __future__ import annotations

from gitbot.kratix.loader import load_texts
from gitbot.source.changes import affected_promises
from gitbot.source.config import RepoConfig
from gitbot.source.snapshot import SourceSnapshot


def promise(name: str, *, requires: str = "", size: str = "1") -> str:
    required = f"  requiredPromises: [{{name: {requires}}}]\n" if requires else ""
    return (
        "apiVersion: platform.kratix.io/v1alpha1\nkind: Promise\n"
        f"metadata: {{name: {name}, annotations: {{size: '{size}'}}}}\nspec:\n{required}"
        "  dependencies: [{apiVersion: v1, kind: Namespace, metadata: {name: "
        f"{name}-{size}}}}}]\n"
    )


def snapshot(texts: dict[str, str]) -> SourceSnapshot:
    objects = load_texts(texts)
    assert not objects.problems, objects.problems
    return SourceSnapshot("source", "c0ffee", RepoConfig(), objects)


def test_a_promise_requiring_a_changed_one_is_affected_too() -> None:
    before = snapshot(
        {
            "app.yaml": promise("app", requires="db"),
            "web.yaml": promise("web", requires="app"),
            "other.yaml": promise("other"),
        }
    )
    after = snapshot(
        {
            "app.yaml": promise("app", requires="db"),
            "web.yaml": promise("web", requires="app"),
            "other.yaml": promise("other"),
            "db.yaml": promise("db"),
        }
    )
    assert affected_promises(before, after) == {"db", "app", "web"}
    changed = snapshot(
        {
            **{"other.yaml": promise("other", size="2")},
            **{
                "app.yaml": promise("app", requires="db"),
                "web.yaml": promise("web", requires="app"),
                "db.yaml": promise("db"),
            },
        }
    )
    assert affected_promises(after, changed) == {"other"}
