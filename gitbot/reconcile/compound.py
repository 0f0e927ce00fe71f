"""Compound Promises: what a workflow schedules to the platform itself runs in the same reconcile.

In Kratix a compound Promise's pipeline writes requests for other Promises to a directory whose
destination selector matches a Destination the platform cluster's own GitOps agent applies
(kratix-marketplace `app-as-a-service`: `platform/` with `environment: platform`); the platform
then runs those requests' workflows, and the parent polls their status (kubectl, `retryAfter`)
until they are done: a cluster round trip for every level. gitbot marks such Destinations in
`.gitbot.yaml` (`platformDestinations`) and does the whole tree in one reconcile:

1. the source's objects run as usual (`reconcile_all`), the platform API showing the children
   the last reconcile left on the platform with their stored status;
2. rounds: the Promises, and requests of known Promises, found in each object's output for a
   platform Destination run their configure workflows (every reconcile, as Kratix reruns a
   Promise's requests; within one, again only when their spec changed; children after
   their parent, a Promise before requests needing it, so in dependency order), then every
   suspended parent whose children's status changed since it last looked runs again from its
   suspended pipeline, at once instead of after `retryAfter`; until nothing changes, at most
   MAX_ROUNDS rounds. A chain deeper than MAX_DEPTH or a child that is its own ancestor is an
   error naming the chain;
3. a child that left its parent's output (the parent's workflow completed without it, or the
   parent was deleted) runs its delete workflow, as the platform would once Flux pruned it
   (a child suspended before any pipeline finished keeps a file-less record for this);
   one still on the platform that its parent did not schedule anew (the parent failed) runs
   with its Promise, as Kratix reruns every request of a Promise it reconciles; selecting a
   child's Promise (`--only`, a job for it) reconciles its top parent's Promise too
   (`with_roots`), as the child's outcome belongs in that Promise's branch;
4. Destinations in the tree's platform output that the source lacks are installed: no pipeline
   reruns, every outcome's run is placed again with them (`placed_again`), as Kratix's
   scheduler places unscheduled work when a Destination appears (lib/scheduler).

The children's documents stay on the platform Destination's path, as Kratix writes them; their
own output and records go with their root object's outcomes (so into the same branch and pull
request), each outcome naming its ancestors so summaries can show the tree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from gitbot.errors import GitbotError
from gitbot.kratix.hashing import promise_hash, resource_hash
from gitbot.kratix.layout import destination_root
from gitbot.kratix.loader import load_texts, path_clash
from gitbot.kratix.objects import Destination, Promise, ResourceRequest
from gitbot.kratix.requirements import is_available
from gitbot.reconcile.workflows import (
    ReconcileContext,
    configure_object,
    configure_promise,
    delete_object,
    placed_again,
    platform_view,
    promise_of_record,
    reconcile_all,
    request_of_record,
    stored_status,
)
from gitbot.state.outcomes import ObjectOutcome
from gitbot.state.records import ObjectKey, ObjectRecord

MAX_DEPTH = 5  # levels of children below an object of the source
MAX_ROUNDS = 2 * MAX_DEPTH + 2  # each level needs a round for its children and one to rerun


@dataclass(frozen=True)
class Child:
    """A request, or a Promise (`request` None), found in an object's output for a platform
    Destination."""

    promise: Promise
    request: ResourceRequest | None
    ancestors: tuple[ObjectKey, ...]  # the object of the source first, the parent last

    @property
    def key(self) -> ObjectKey:
        if self.request is None:
            return ObjectKey.of_promise(self.promise)
        return ObjectKey.of_request(self.promise, self.request)

    @property
    def spec_hash(self) -> str:
        if self.request is None:
            return promise_hash(self.promise)
        return resource_hash(self.promise, self.request)


@dataclass(frozen=True)
class CompoundResult:
    """Outcomes by the root's Promise, each root followed by its descendants (depth first),
    and the Destinations the tree put on the platform that the source lacks (installed)."""

    outcomes: dict[str, list[ObjectOutcome]]
    installed: tuple[Destination, ...] = ()


def reconcile_compound(
    ctx: ReconcileContext,
    only: Sequence[str] = (),
    workers: int = 2,
    recorded: Sequence[Destination] = (),
) -> CompoundResult:
    """`reconcile_all`, then the children trees, then the Destinations they installed;
    `recorded`: the installed Destinations the base branch records (see `_Tree.install`)."""
    platform = ctx.snapshot.config.platform_destinations
    left = {k: r for k, r in ctx.previous.items() if r.parent is not None}
    if not platform and not left and not recorded:
        return CompoundResult(reconcile_all(ctx, only, workers))
    promises = {p.name: p for p in ctx.snapshot.promises}
    installed = []  # Promises the platform holds because a parent put them there
    for key, record in left.items():
        if key.is_promise and key.promise not in promises:
            try:
                installed.append(promise_of_record(record))
            except GitbotError:
                continue  # a record that no longer loads: nothing to show or delete with
    promises.update((p.name, p) for p in installed)
    shown = tuple(
        request_of_record(promises[k.promise], r)
        for k, r in left.items()
        if not k.is_promise and k.promise in promises
    )
    ctx = replace(ctx, generated=shown, generated_promises=tuple(installed))
    if only:
        only = with_roots(only, left, ctx.previous)
    tree = _Tree(ctx, reconcile_all(ctx, only, workers), promises, workers)
    tree.grow()
    tree.prune(left)
    tree.keep(left)
    on_platform = tree.install(ctx.previous, recorded)
    return CompoundResult(tree.result(), tuple(on_platform))


def with_roots(
    only: Sequence[str],
    children: Mapping[ObjectKey, ObjectRecord],
    previous: Mapping[ObjectKey, ObjectRecord],
) -> list[str]:
    """`only` and the Promises of the top parents of the recorded children of its Promises.

    A child's files and record go into its top parent's branch, which is planned from that
    parent's Promise's outcomes as a whole: reconciling the child alone would propose a branch
    without its parent's changes (or move the child to a branch of its own). So a selection of
    the child's Promise (`--only`, a job for it) reconciles its top parent's Promise too."""
    selected = list(only)
    for key, record in sorted(children.items(), key=lambda kv: str(kv[0])):
        if key.promise in only:
            root = root_of(record, previous)
            if root is not None and root.promise not in selected:
                selected.append(root.promise)
    return selected


def root_of(record: ObjectRecord, previous: Mapping[ObjectKey, ObjectRecord]) -> ObjectKey | None:
    """The object of the source a child's chain of recorded parents starts from (None for an
    object of the source itself)."""
    root, seen = record.parent, set()
    while root is not None and root not in seen:
        seen.add(root)
        above = previous.get(root)
        if above is None or above.parent is None:
            return root
        root = above.parent
    return root


class _Tree:
    """The outcomes of one reconcile, growing round by round."""

    def __init__(
        self,
        ctx: ReconcileContext,
        outcomes: Mapping[str, Sequence[ObjectOutcome]],
        promises: Mapping[str, Promise],
        workers: int,
    ) -> None:
        self.ctx = ctx
        self.roots = {name: [o.key for o in found] for name, found in outcomes.items()}
        self.latest = {o.key: o for found in outcomes.values() for o in found}
        self.promises = dict(promises)
        self.source_promises = {p.name for p in ctx.snapshot.promises}
        self.workers = max(1, workers)
        self.children: dict[ObjectKey, Child] = {}
        self.kids: dict[ObjectKey, list[ObjectKey]] = {}
        self.ran: dict[ObjectKey, str] = {}  # child -> spec hash it ran with
        self.looked: dict[ObjectKey, str] = {}  # parent -> its children's status it last saw
        self.installed: dict[ObjectKey, list[Destination]] = {}  # parent -> its Destinations
        platform = ctx.snapshot.config.platform_destinations
        self.roots_on_platform = [
            (d, destination_root(ctx.state_path, d))
            for d in ctx.destinations
            if platform.matches(d.name, d.labels)
        ]
        self.sourced = {
            ObjectKey.of_request(p, r): r
            for p in ctx.snapshot.promises
            if p.api is not None
            for r in ctx.snapshot.requests_of(p.name)
        }

    # --- growing ----------------------------------------------------------------------------

    def grow(self) -> None:
        """Rounds of children and parent reruns until nothing changes (or MAX_ROUNDS)."""
        changed = list(self.latest)
        for _ in range(MAX_ROUNDS):
            for key in changed:
                self._collect(key)
            todo = [c for c in self.children.values() if self.ran.get(c.key) != c.spec_hash]
            # Promises first: their requests need them Available (dependency order).
            changed = self._run_children([c for c in todo if c.request is None])
            changed += self._run_children([c for c in todo if c.request is not None])
            reruns = [
                k
                for k, o in self.latest.items()
                if o.suspended
                and not o.failed
                and self.kids.get(k)
                and self.looked.get(k) != self._seen_by(k)
            ]
            changed += self._rerun(reruns)
            if not changed:
                return

    def _collect(self, parent: ObjectKey) -> None:
        """The parent's children, from its latest output for the platform Destinations."""
        outcome = self.latest[parent]
        if outcome.failed or outcome.action != "configure" or outcome.run is None:
            return  # a failed workflow's Work is not updated: its children stay as they were
        texts = self._platform_documents(outcome)
        found = load_texts(texts, list(self.promises.values())) if texts else None
        kids: list[ObjectKey] = []
        problems = [str(p) for p in found.problems] if found is not None else []
        if problems:
            problems = [f"its output for the platform has invalid objects: {'; '.join(problems)}"]
        ancestors = (*outcome.ancestors, parent)
        for promise in found.promises if found is not None else ():
            if promise.name in self.source_promises:
                continue  # the source's Promise is the one installed
            child = Child(promise, None, ancestors)
            problem = self._problem(child)
            if problem is not None:
                problems.append(problem)
                continue
            self.promises[promise.name] = promise
            self.children[child.key] = child
            kids.append(child.key)
        for request in found.resources if found is not None else ():
            owner = self.promises.get(request.promise_name)
            if owner is None or owner.api is None:
                continue
            child = Child(owner, request, ancestors)
            problem = self._problem(child)
            if problem is not None:
                problems.append(problem)
                continue
            self.children[child.key] = child
            kids.append(child.key)
        installs = self._installs(parent, found.destinations if found is not None else ())
        problems += [p for p in installs if isinstance(p, str)]
        if problems:
            # The parent's output is what is wrong: it fails, naming the chain.
            self.latest[parent] = replace(outcome, error="; ".join(problems))
            self.installed.pop(parent, None)
        else:
            self.installed[parent] = [d for d in installs if isinstance(d, Destination)]
        for gone in set(self.kids.get(parent, ())) - set(kids):
            self.children.pop(gone, None)
        self.kids[parent] = kids
        # Its children have not run since the parent ran: this is the status it saw.
        self.looked[parent] = self._seen_by(parent)
        self._show()

    def _installs(self, parent: ObjectKey, found: Sequence[Destination]) -> list[Destination | str]:
        """The Destinations the parent puts on the platform that the source lacks (the
        source's own are installed already), each checked against the source's and the other
        parents' as Kratix's webhook checks a new Destination; a problem names the file."""
        source = self.ctx.snapshot.objects.destinations
        names = {d.name for d in source}
        others = {d.name: d for k, ds in self.installed.items() if k != parent for d in ds}
        result: list[Destination | str] = []
        for dest in found:
            if dest.name in names:
                continue
            other = others.get(dest.name)
            clash = path_clash(dest, [*source, *others.values()])
            if other is not None:
                result.append(
                    f"{dest.source}: Destination {dest.name} is put on the platform by "
                    f"another object too ({other.source})"
                )
            elif clash is not None:
                result.append(f"{dest.source}: spec.path: {clash}")
            else:
                result.append(replace(dest, installed_by=str(parent)))
        return result

    def destinations(self) -> list[Destination]:
        """The Destinations the tree's objects put on the platform, parents still in it."""
        alive = set(self.latest)
        return [
            d
            for parent, found in sorted(self.installed.items(), key=lambda kv: str(kv[0]))
            if parent in alive and not self.latest[parent].failed
            for d in found
        ]

    def install(
        self, previous: Mapping[ObjectKey, ObjectRecord], recorded: Sequence[Destination] = ()
    ) -> list[Destination]:
        """Install the Destinations the tree put on the platform: every outcome's run is placed
        again with them (no pipeline reruns), so their files join the same pull request.

        `recorded` are the installed Destinations recorded on the base branch (`cleanup: all`
        ones): one whose parent did not run through this time (it failed, is suspended, or
        was not reconciled: `--only`, a job for another Promise) stays, as Kratix keeps the
        parent's Work; only a parent that completed without it, or was deleted, lets it go."""
        installed = self.destinations()
        names = {d.name for d in installed} | {
            d.name for d in self.ctx.snapshot.objects.destinations
        }
        by_text = {str(k): o for k, o in self.latest.items()}
        for dest in recorded:
            parent = by_text.get(dest.installed_by)
            if dest.name not in names and (parent is None or not _lets_go(parent)):
                installed.append(dest)
        if not installed:
            return []
        names = {d.name for d in installed}
        ctx = replace(
            self.ctx,
            installed_destinations=tuple(installed),
            released_destinations=self.ctx.released_destinations - names,
        )
        self.latest = {k: placed_again(ctx, o, previous.get(k)) for k, o in self.latest.items()}
        return installed

    def _problem(self, child: Child) -> str | None:
        key = child.key
        chain = " → ".join(str(k) for k in (*child.ancestors, key))
        if key in child.ancestors:
            return f"compound Promise cycle: {chain}; a request may not schedule itself"
        if len(child.ancestors) > MAX_DEPTH:
            return f"compound Promises nest at most {MAX_DEPTH} levels below the source: {chain}"
        if key in self.sourced and child.request is not None:
            return (
                f"{chain}: the source already has this request "
                f"({self.sourced[key].source}); the source's runs"
            )
        other = self.children.get(key)
        if other is not None and other.ancestors[-1] != child.ancestors[-1]:
            return f"{chain}: {other.ancestors[-1]} schedules this request to the platform too"
        return None

    def _platform_documents(self, outcome: ObjectOutcome) -> dict[str, str]:
        texts: dict[str, str] = {}
        for destination, root in self.roots_on_platform:
            prefix = f"{root}/" if root else ""
            for path, content in outcome.files.items():
                if path.startswith(prefix) and path.endswith((".yaml", ".yml")):
                    texts[path] = content.decode("utf-8", "replace")
            record = outcome.record
            for placement, files in (
                (record.aggregated if record else {}).get(destination.name, {}).items()
            ):
                for path, text in files.items():
                    texts[f"{destination.name}: {placement}/{path}"] = text
        return texts

    def _show(self) -> None:
        """Let the platform API show the children as they now are."""
        current = {c.key: c.request for c in self.children.values() if c.request is not None}
        kept = {
            ObjectKey.of_request(self.promises[r.promise_name], r): r for r in self.ctx.generated
        }
        promises = {p.name: p for p in self.ctx.generated_promises}
        promises.update((c.promise.name, c.promise) for c in self.children.values())
        promises = {n: p for n, p in promises.items() if n not in self.source_promises}
        self.ctx = replace(
            self.ctx,
            generated=tuple({**kept, **current}.values()),
            generated_promises=tuple(promises.values()),
        )

    def _seen_by(self, parent: ObjectKey) -> str:
        """What the parent sees of its children's status: changes when any of it changes."""
        statuses = [(str(k), stored_status(self.ctx, k)) for k in self.kids.get(parent, ())]
        text = json.dumps(statuses, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def _run_one(self, child: Child) -> ObjectOutcome:
        held = self._held(child)
        if held is not None:
            return held
        with self.ctx.runners() as runner:
            runner.cluster = platform_view(self.ctx)
            previous = self._previous(child.key)
            if child.request is None:
                outcome = configure_promise(self.ctx, runner, child.promise, previous)
            else:
                outcome = configure_object(self.ctx, runner, child.promise, child.request, previous)
        return self._as_child(outcome, child)

    def _run_children(self, todo: Sequence[Child]) -> list[ObjectKey]:
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            done = list(pool.map(self._run_one, todo))
        for child, outcome in zip(todo, done, strict=True):
            self.ran[child.key] = child.spec_hash
            self.latest[child.key] = outcome
        return [c.key for c in todo]

    def _held(self, child: Child) -> ObjectOutcome | None:
        if (child.request or child.promise).paused:
            note = "kratix.io/paused is set"
            return ObjectOutcome(child.key, "paused", note=note, ancestors=child.ancestors)
        promise_status = stored_status(self.ctx, ObjectKey.of_promise(child.promise))
        if child.request is not None and not is_available(promise_status):
            note = f"held: Promise {child.promise.name} is Unavailable; its files are kept"
            return ObjectOutcome(
                child.key, "skipped", note=note, held=True, ancestors=child.ancestors
            )
        return None

    def _previous(self, key: ObjectKey) -> ObjectRecord | None:
        return self.ctx.previous.get(key)

    def _as_child(self, outcome: ObjectOutcome, child: Child) -> ObjectOutcome:
        record = outcome.record
        if record is not None:
            return replace(
                outcome,
                record=replace(record, parent=child.ancestors[-1]),
                ancestors=child.ancestors,
            )
        if outcome.suspended and not outcome.failed and child.key not in self.ctx.previous:
            # Suspended before any pipeline finished: no files, so no record, yet Kratix added
            # its delete finalizer before the run. A file-less record (written as a partial
            # outcome's, which removes nothing) lets it run its delete workflow when dropped.
            target = child.request or child.promise
            record = ObjectRecord(
                child.key,
                self.ctx.snapshot.source,
                target.source.file,
                "",
                target.raw,
                parent=child.ancestors[-1],
            )
            return replace(outcome, record=record, partial=True, ancestors=child.ancestors)
        return replace(outcome, ancestors=child.ancestors)

    def _rerun(self, parents: Sequence[ObjectKey]) -> list[ObjectKey]:
        """Suspended parents, from their suspended pipeline, now that their children moved."""
        # A Promise's own workflow is left alone: Kratix reruns it only on its schedule.
        rerun = [k for k in parents if not self.latest[k].key.is_promise]

        def again(key: ObjectKey) -> ObjectOutcome:
            first = self.latest[key]
            assert first.run is not None
            promise, request = first.run.target.promise, first.run.target.request
            assert request is not None
            with self.ctx.runners() as runner:
                runner.cluster = platform_view(self.ctx)
                return configure_object(
                    self.ctx, runner, promise, request, first.record, resume=True
                )

        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            done = list(pool.map(again, rerun))
        for key, outcome in zip(rerun, done, strict=True):
            merged = _merged(self.latest[key], outcome)
            child = self.children.get(key)
            self.latest[key] = self._as_child(merged, child) if child is not None else merged
        return rerun

    # --- pruning and the result -------------------------------------------------------------

    def prune(self, left: Mapping[ObjectKey, ObjectRecord]) -> None:
        """Delete children that left their parent's output (see the module docstring), and
        the requests of a Promise that left with it, before it, as Kratix deletes them."""
        gone = [
            (k, r)
            for k, r in sorted(left.items(), key=lambda kv: str(kv[0]))
            if k not in self.children and k not in self.latest and k.promise in self.promises
        ]
        dropped = {k.promise for k, r in gone if k.is_promise and self._lets_go(r)}
        for key, record in [
            *(g for g in gone if not g[0].is_promise),
            *(g for g in gone if g[0].is_promise and g[0].promise in dropped),
        ]:
            assert record.parent is not None
            if not (self._lets_go(record) or key.promise in dropped):
                continue  # the parent did not finish: its Work, and so its children, stay
            with self.ctx.runners() as runner:
                runner.cluster = platform_view(self.ctx)
                outcome = delete_object(self.ctx, runner, self.promises[key.promise], record)
            parent = self.latest.get(record.parent)
            if parent is not None:
                self.latest[key] = replace(outcome, ancestors=(*parent.ancestors, record.parent))
                self.kids.setdefault(record.parent, []).append(key)
            else:
                note = f"its Promise {key.promise} left the platform"
                self.latest[key] = replace(outcome, note=outcome.note or note)
                self.roots.setdefault(self._branch_of(key, record), []).append(key)

    def _branch_of(self, key: ObjectKey, record: ObjectRecord) -> str:
        """The Promise whose outcomes (and so branch) a child's row joins: its top parent's,
        as the children's files go into their top parent's branch."""
        root = root_of(record, self.ctx.previous)
        return root.promise if root is not None else key.promise

    def _lets_go(self, record: ObjectRecord) -> bool:
        parent = self.latest.get(record.parent) if record.parent is not None else None
        return parent is not None and _lets_go(parent)

    def keep(self, left: Mapping[ObjectKey, ObjectRecord]) -> None:
        """Children still on the platform that their parent did not schedule anew (it failed,
        or it was not reconciled this time) run with their Promise, as Kratix reruns every
        request of a Promise it reconciles."""
        stay = [
            (k, r)
            for k, r in sorted(left.items(), key=lambda kv: str(kv[0]))
            if k not in self.latest
            and not k.is_promise
            and k.promise in self.roots
            and k.promise in self.promises
        ]
        for key, record in stay:
            assert record.parent is not None
            promise = self.promises[key.promise]
            parent = self.latest.get(record.parent)
            ancestors = (*parent.ancestors, record.parent) if parent else (record.parent,)
            child = Child(promise, request_of_record(promise, record), ancestors)
            outcome = self._run_one(child)
            if parent is not None:
                self.kids.setdefault(record.parent, []).append(key)
            else:
                # Its parent is not in this reconcile: a row of its own, naming the parent.
                note = f"on the platform for {record.parent}"
                note = f"{outcome.note}; {note}" if outcome.note else note
                outcome = replace(outcome, ancestors=(), note=note)
                self.roots.setdefault(self._branch_of(key, record), []).append(key)
            self.latest[key] = outcome

    def result(self) -> dict[str, list[ObjectOutcome]]:
        found: dict[str, list[ObjectOutcome]] = {}
        for name, keys in self.roots.items():
            found[name] = []
            for key in keys:
                self._walk(key, found[name], set())
        return found

    def _walk(self, key: ObjectKey, into: list[ObjectOutcome], seen: set[ObjectKey]) -> None:
        if key in seen or key not in self.latest:
            return
        seen.add(key)
        into.append(self.latest[key])
        for kid in self.kids.get(key, ()):
            outcome = self.latest.get(kid)
            if outcome is not None and outcome.parent == key:
                self._walk(kid, into, seen)


def _lets_go(parent: ObjectOutcome) -> bool:
    """Whether the parent's outcome drops the children it no longer lists: a configure
    workflow that ran through, or its own deletion."""
    if parent.failed:
        return False
    if parent.action == "delete":
        return True
    return parent.action == "configure" and parent.run is not None and not parent.partial


def _merged(first: ObjectOutcome, again: ObjectOutcome) -> ObjectOutcome:
    """A suspended run and its resumption, as one run of the whole workflow."""
    if first.run is None or again.run is None or again.failed:
        return again
    done = tuple(p for p in first.run.pipelines if p.outcome != "suspended")
    run = replace(again.run, pipelines=(*done, *again.run.pipelines))
    files = {**first.files, **again.files}
    pipelines = first.run.target.pipelines
    from_start = bool(first.run.pipelines) and first.run.pipelines[0].name == pipelines[0].name
    partial = not from_start or again.suspended
    record = again.record
    if record is not None and not partial:
        record = replace(record, files=tuple(sorted(files)))
    return replace(
        again,
        run=run,
        files=files,
        record=record,
        partial=partial,
        unscheduled=(*first.unscheduled, *again.unscheduled),
        misplaced=(*first.misplaced, *again.misplaced),
    )
