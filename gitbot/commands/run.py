"""`gitbot run`: one object's workflow in real containers, its files in the state-store layout."""

from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from gitbot.commands import jsonout
from gitbot.commands.progress import ConsoleProgress, wants_progress
from gitbot.errors import EXIT_OK, EXIT_USER_ERROR, InvalidObjects, UserError
from gitbot.kratix.loader import LoadResult, load_objects
from gitbot.kratix.objects import IMPLICIT_DESTINATION, Destination, Promise, ResourceRequest
from gitbot.kratix.workflow import WorkflowTarget
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.runner import ContainerObserver, ContainerRun, WorkflowRun
from gitbot.pipeline.setup import make_runner, runner_config
from gitbot.platform.cluster import ClusterView
from gitbot.secrets import Redactor
from gitbot.settings import load_settings
from gitbot.state.placement import (
    merge_schedules,
    render,
    schedule_run,
    schedule_static_dependencies,
)


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """Load, run, report, and write or compare the produced files."""
    as_json = args.output == "json"
    text = io.StringIO() if as_json else out  # JSON keeps stdout for its one document
    code, run, files, matches = _run(args, text)
    if as_json:
        document = jsonout.document(
            "RunResult",
            succeeded=code == EXIT_OK,
            object=_object(run),
            runs=[jsonout.workflow_run(run)],
            files=sorted(files),
            expect=None if matches is None else {"directory": args.expect, "matches": matches},
        )
        print(json.dumps(document, indent=2), file=out)
    return code


def _run(
    args: argparse.Namespace, out: TextIO
) -> tuple[int, WorkflowRun, dict[str, bytes], bool | None]:
    settings = load_settings()
    promise = _load_promise(args.promise)
    request = _load_request(args.resource, promise) if args.resource else None
    destinations = _load_destinations(args.destinations, out)
    target = WorkflowTarget(promise, args.action, request, dry_run=args.dry_run)
    if not target.pipelines:
        print(
            f"{target.display_name}: no {target.workflow_type} {target.action} pipelines", file=out
        )
    config = runner_config(settings, args.secrets_dir, args.config_maps_dir, args.timeout)
    progress = None
    if wants_progress(args.progress, args.verbose, sys.stderr):
        progress = ConsoleProgress(sys.stderr, verbose=args.verbose)
    engine = DockerEngine(config.engine_url)
    try:
        print(f"{target.display_name}: {target.workflow_type} {target.action}", file=out)
        runner = make_runner(config, engine, Redactor(), _show(out), on_output=progress)
        runner.cluster = ClusterView(destinations=tuple(destinations))
        run = runner.run(target)
    finally:
        engine.close()
    _report(run, out)
    if run.failure is not None:
        print(f"FAILED: {run.failure}", file=out)
        return EXIT_USER_ERROR, run, {}, None
    files = _files(run, destinations, args.state_path, out)
    if args.out:
        _write_tree(Path(args.out), files)
        print(f"wrote {len(files)} file(s) under {args.out}", file=out)
    for path in files:
        print(f"  {path}", file=out)
    if args.expect:
        code = _compare(files, Path(args.expect), out)
        return code, run, files, code == EXIT_OK
    return EXIT_OK, run, files, None


def _object(run: WorkflowRun) -> dict[str, object]:
    target = run.target
    if target.request is None:
        return jsonout.promise_object(target.promise)
    return jsonout.request_object(target.request)


def _show(out: TextIO) -> ContainerObserver:
    def show(pipeline: str, container: ContainerRun) -> None:
        state = "ok" if container.exit_code == 0 else "FAILED"
        print(
            f"  {pipeline} / {container.name}: {state} in {container.seconds:.2f}s "
            f"({container.image})",
            file=out,
        )

    return show


def _load(paths: Sequence[str], known: Sequence[Promise] = ()) -> LoadResult:
    result = load_objects(paths, known_promises=known)
    if result.problems:
        raise InvalidObjects(result.problems)
    return result


def _load_promise(path: str) -> Promise:
    promises = _load([path]).promises
    if len(promises) != 1:
        raise UserError(f"{path}: expected exactly one Promise, found {len(promises)}")
    return promises[0]


def _load_request(path: str, promise: Promise) -> ResourceRequest:
    if promise.api is None:
        raise UserError(f"Promise {promise.name} has no spec.api, so it takes no requests")
    requests = [
        r for r in _load([path], known=[promise]).resources if r.promise_name == promise.name
    ]
    if len(requests) != 1:
        raise UserError(
            f"{path}: expected exactly one {promise.api.kind} ({promise.api.api_version}) "
            f"request for Promise {promise.name}, found {len(requests)}"
        )
    return requests[0]


def _load_destinations(paths: Sequence[str], out: TextIO) -> list[Destination]:
    destinations = _load(paths).destinations if paths else []
    if not destinations:
        print("no Destination given: using the implicit Destination 'default'", file=out)
        return [IMPLICIT_DESTINATION]
    return destinations


def _report(run: WorkflowRun, out: TextIO) -> None:
    for pipeline in run.pipelines:
        files = ", ".join(pipeline.files) or "none"
        print(f"  pipeline {pipeline.name}: {pipeline.outcome}; files: {files}", file=out)
        if pipeline.control is not None and pipeline.control.halts:
            print(f"  workflow {pipeline.control.action}: {pipeline.control.message}", file=out)
        for warning in pipeline.warnings:
            print(f"  warning: {warning}", file=out)
        if pipeline.dropped_status_keys:
            dropped = ", ".join(pipeline.dropped_status_keys)
            print(f"  warning: Promise status keeps only 'message'; dropped {dropped}", file=out)
    print(f"  status message: {run.status.get('message', '')}", file=out)
    print(f"  {run.platform_api}", file=out)


def _files(
    run: WorkflowRun, destinations: Sequence[Destination], state_path: str, out: TextIO
) -> dict[str, bytes]:
    schedules = [schedule_run(run, destinations)]
    target = run.target
    if target.request is None and target.action == "configure":
        schedules.append(schedule_static_dependencies(target.promise, destinations))
    schedule = merge_schedules(schedules)
    for unscheduled in schedule.unscheduled:
        print(f"  not scheduled: {unscheduled}", file=out)
    return render(schedule, destinations, state_path)


def _write_tree(root: Path, files: Mapping[str, bytes]) -> None:
    """Replace root with exactly these files, all at once: a failure leaves root as it was."""
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}-", dir=root.parent))
    try:
        for path, content in files.items():
            target = staging / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        old = root.with_name(f".{root.name}-old-{os.getpid()}")
        if root.exists():
            root.rename(old)
        staging.rename(root)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _read_tree(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        raise UserError(f"--expect {root} is not a directory")
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _compare(files: Mapping[str, bytes], expected_root: Path, out: TextIO) -> int:
    expected = _read_tree(expected_root)
    diff: list[str] = []
    for path in sorted(set(files) | set(expected)):
        want = expected.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        got = files.get(path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        if path in files and path in expected and want == got:
            continue
        diff.extend(
            difflib.unified_diff(
                want,
                got,
                fromfile=f"expected/{path}" if path in expected else "/dev/null",
                tofile=f"produced/{path}" if path in files else "/dev/null",
            )
        )
    if not diff:
        print(f"output matches {expected_root}", file=out)
        return EXIT_OK
    out.writelines(line if line.endswith("\n") else line + "\n" for line in diff)
    print(f"output differs from {expected_root}", file=out)
    return EXIT_USER_ERROR
