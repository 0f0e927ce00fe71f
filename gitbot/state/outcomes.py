"""What one object's workflow left behind in a reconcile: its run, its record and its files.

The hand-off from running workflows (`gitbot.reconcile.workflows`) to planning branches
(`gitbot.state.branchplan`) and to the texts shown on GitHub.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from gitbot.pipeline.runner import WorkflowRun
from gitbot.state.placement import Misplaced, Unscheduled
from gitbot.state.records import ObjectKey, ObjectRecord

OutcomeAction = Literal["configure", "delete", "paused", "skipped"]


@dataclass(frozen=True)
class ObjectOutcome:
    """What happened to one object in this reconcile, and the files it now owns."""

    key: ObjectKey
    action: OutcomeAction
    run: WorkflowRun | None = None
    record: ObjectRecord | None = None
    files: Mapping[str, bytes] = field(default_factory=dict)
    unscheduled: tuple[Unscheduled, ...] = ()
    misplaced: tuple[Misplaced, ...] = ()  # kept where its selectors no longer match
    error: str | None = None
    note: str = ""
    partial: bool = False  # suspended: files of the finished pipelines only, nothing removed
    held: bool = False  # a request its Unavailable Promise holds back (files kept)
    # A compound Promise's child: the objects whose output put it on the platform, root first.
    ancestors: tuple[ObjectKey, ...] = ()

    @property
    def parent(self) -> ObjectKey | None:
        return self.ancestors[-1] if self.ancestors else None

    def tree_label(self, indent: str = "\u2003") -> str:
        """The key, after `└ ` and one `indent` per level above its parent for a child."""
        if not self.ancestors:
            return str(self.key)
        return f"{indent * (len(self.ancestors) - 1)}└ {self.key}"

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.run is not None and self.run.failure is not None)

    @property
    def suspended(self) -> bool:
        return self.run is not None and self.run.outcome == "suspended"

    @property
    def changes_state(self) -> bool:
        """Completed configure and delete workflows change the state repository, and so do
        the pipelines that finished before a configure workflow suspended."""
        if self.failed or (self.suspended and not self.partial):
            return False
        return self.action in ("configure", "delete")

    @property
    def failure_text(self) -> str:
        if self.error is not None:
            return self.error
        if self.run is not None and self.run.failure is not None:
            return str(self.run.failure)
        return ""
