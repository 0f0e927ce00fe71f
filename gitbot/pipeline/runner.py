"""Run one workflow of one object, pipeline after pipeline, exactly as Kratix runs it.

Per pipeline: fresh input/output/metadata folders, object.yaml with the current status, the
containers one after another, then what Kratix's work-writer and status-writer do: read the
output, validate destination-selectors.yaml, merge status.yaml, honour workflow-control.yaml.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from gitbot import yamlio
from gitbot.errors import UserError
from gitbot.kratix import workflowstatus
from gitbot.kratix.objects import Pipeline
from gitbot.kratix.scheduling import (
    DestinationSelector,
    group_output,
    parse_destination_selectors,
)
from gitbot.kratix.status import (
    WorkflowControl,
    final_message,
    merge_status,
    parse_workflow_control,
)
from gitbot.kratix.workflow import WorkflowTarget, input_object, kratix_env
from gitbot.pipeline.containers import (
    ContainerContext,
    ContainerPolicy,
    container_spec,
    pull_policy,
)
from gitbot.pipeline.engine import Engine, Mount
from gitbot.pipeline.output import OutputLimits, collect_output, top_level_directories
from gitbot.platform.cluster import ClusterView
from gitbot.platform.server import SERVICE_ACCOUNT_DIR, PlatformServer, PlatformSession
from gitbot.platform.session import RunScope
from gitbot.secrets import KeyedStore, Redactor

LOG_TAIL_LINES = 20
PLATFORM_API_OFF = "platform API off: containers have no network (GITBOT_CONTAINER_NETWORK=none)"
PipelineOutcome = Literal["succeeded", "suspended", "failed"]


@dataclass(frozen=True)
class RunOptions:
    """Operator settings for running workflows."""

    container_timeout: float = 600.0
    output_limits: OutputLimits = field(default_factory=OutputLimits)
    policy: ContainerPolicy = field(default_factory=ContainerPolicy)
    work_dir: Path | None = None  # must be a path the engine can bind-mount


@dataclass(frozen=True)
class ContainerRun:
    """One container's run: exit code (None if killed on timeout) and its redacted log tail."""

    name: str
    image: str
    seconds: float
    exit_code: int | None
    log: str
    timed_out: bool = False


@dataclass(frozen=True)
class Failure:
    """Why a workflow stopped: which pipeline and container, and the end of its log."""

    pipeline: str
    message: str
    container: str | None = None
    log_tail: str = ""
    containers: tuple[ContainerRun, ...] = ()  # those of the failed pipeline that ran, in order

    def __str__(self) -> str:
        where = f"pipeline '{self.pipeline}'"
        if self.container:
            where += f" container '{self.container}'"
        text = f"{where} failed: {self.message}"
        if self.log_tail:
            text += f"\n--- last lines of its log ---\n{self.log_tail}"
        return text


@dataclass(frozen=True)
class PipelineRun:
    """One pipeline's result: its files (configure only), selectors and status effects."""

    name: str
    outcome: PipelineOutcome
    containers: tuple[ContainerRun, ...]
    seconds: float
    files: Mapping[str, bytes] = field(default_factory=dict)
    selectors: tuple[DestinationSelector, ...] = ()
    control: WorkflowControl | None = None
    status_keys: tuple[str, ...] = ()
    dropped_status_keys: tuple[str, ...] = ()
    # Top-level folders of /kratix/output, even empty ones: a selector may name one (§2.5).
    output_dirs: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()  # what Kratix would silently ignore


@dataclass(frozen=True)
class WorkflowRun:
    """A whole workflow: the pipelines that ran, the object's final status, any failure."""

    target: WorkflowTarget
    pipelines: tuple[PipelineRun, ...]
    status: Mapping[str, Any]
    failure: Failure | None = None
    platform_api: str = ""  # how the containers reached the platform API, or why they did not

    @property
    def retry_after(self) -> timedelta | None:
        """The delay after which a pipeline asked (workflow-control `retryAfter`) to run again."""
        for pipeline in self.pipelines:
            control = pipeline.control
            if pipeline.outcome == "suspended" and control and control.action == "retry":
                return control.retry_after
        return None

    @property
    def outcome(self) -> PipelineOutcome:
        if self.failure is not None:
            return "failed"
        if any(p.outcome == "suspended" for p in self.pipelines):
            return "suspended"
        return "succeeded"


class _PipelineFailed(Exception):
    def __init__(self, failure: Failure) -> None:
        self.failure = failure
        self.status: dict[str, Any] | None = None  # what the pipeline wrote through the API


ContainerObserver = Callable[[str, ContainerRun], None]


@dataclass(frozen=True)
class LiveOutput:
    """A running container's news for live views: it started ("" text), wrote whole lines
    (redacted), or exited (`text` is then its whole redacted log, as in ContainerRun)."""

    target: WorkflowTarget
    pipeline: str
    container: str
    image: str
    state: Literal["running", "exited"]
    text: str
    exit_code: int | None = None


LiveObserver = Callable[[LiveOutput], None]
LIVE_FLUSH_BYTES = 64 * 1024  # a line longer than this is passed on in pieces


def _now() -> datetime:
    return datetime.now(UTC)


class WorkflowRunner:
    """Runs workflows through a container engine with secrets and config maps from folders."""

    def __init__(
        self,
        engine: Engine,
        secrets: KeyedStore,
        config_maps: KeyedStore,
        redactor: Redactor,
        options: RunOptions | None = None,
        on_container: ContainerObserver | None = None,
        on_output: LiveObserver | None = None,
        platform: PlatformServer | None = None,
    ) -> None:
        self.engine = engine
        self.secrets = secrets
        self.config_maps = config_maps
        self.redact = redactor
        self.options = options or RunOptions()
        self.on_container = on_container
        self.on_output = on_output
        self.platform = platform  # the platform API containers call; None: no API
        self.cluster = ClusterView()  # what that API shows besides the run's own object

    def platform_api(self) -> str:
        """One line on the platform API for run summaries."""
        if self.platform is not None:
            return f"platform API at {self.platform.url}"
        if self.options.policy.network == "none":
            return PLATFORM_API_OFF
        return "platform API off"

    def run(
        self,
        target: WorkflowTarget,
        status: Mapping[str, Any] | None = None,
        start_at: int | None = None,
    ) -> WorkflowRun:
        """Run every pipeline of the target's workflow until one fails or suspends.

        `start_at=None` runs from the start, resetting every pipeline's status (attempts
        included); an index resumes a suspended workflow at that pipeline (earlier ones do not
        run) and keeps the statuses, so a retrying pipeline's `attempts` keep counting."""
        current = {**(status or {}), "message": "Pending"}
        if start_at is None:
            names = [p.name for p in target.pipelines]
            current = workflowstatus.start(current, names, _now())
        done: list[PipelineRun] = []
        for pipeline in target.pipelines[start_at or 0 :]:
            current = workflowstatus.mark(current, pipeline.name, "Running", _now())
            try:
                result, current = self._run_pipeline(target, pipeline, current)
            except _PipelineFailed as failed:
                current = failed.status if failed.status is not None else current
                current = workflowstatus.mark(current, pipeline.name, "Failed", _now())
                return self._finished(target, tuple(done), current, failed.failure)
            done.append(result)
            if result.outcome == "suspended":
                control = result.control
                current = workflowstatus.mark(
                    current,
                    pipeline.name,
                    "Suspended",
                    _now(),
                    message=control.message if control else "",
                    retry_after=control.retry_after if control else None,
                )
                break
            current = workflowstatus.mark(current, pipeline.name, "Succeeded", _now())
        else:
            if current.get("message") == "Pending":
                current["message"] = final_message(current, target.workflow_type)
        return self._finished(target, tuple(done), current, None)

    def _finished(
        self,
        target: WorkflowTarget,
        done: tuple[PipelineRun, ...],
        status: dict[str, Any],
        failure: Failure | None,
    ) -> WorkflowRun:
        run = WorkflowRun(target, done, status, failure, self.platform_api())
        return replace(
            run, status=workflowstatus.finish(status, target.action, run.outcome, _now())
        )

    def _run_pipeline(
        self, target: WorkflowTarget, pipeline: Pipeline, status: dict[str, Any]
    ) -> tuple[PipelineRun, dict[str, Any]]:
        started = time.monotonic()
        folder = Path(tempfile.mkdtemp(prefix="gitbot-pipeline-", dir=self.options.work_dir))
        try:
            dirs = _prepare_folders(folder)
            (dirs["input"] / "object.yaml").write_text(
                yamlio.dump_sorted(input_object(target, status)), encoding="utf-8"
            )
            with self._platform_session(target, pipeline, status, folder) as api:
                try:
                    containers = self._run_containers(target, pipeline, folder, dirs, api)
                except _PipelineFailed as failed:
                    failed.status = api.status if api is not None else None
                    raise
                # Kratix's status writer starts from the object's status as the API has it.
                status = api.status if api is not None else status
            return self._finish_pipeline(target, pipeline, dirs, status, containers, started)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _platform_session(
        self, target: WorkflowTarget, pipeline: Pipeline, status: dict[str, Any], folder: Path
    ) -> AbstractContextManager[PlatformSession | None]:
        if self.platform is None:
            return nullcontext(None)
        scope = RunScope(target, pipeline, self.cluster, self.secrets, self.config_maps)
        return self.platform.open(scope, status, folder / "serviceaccount")

    def _run_containers(
        self,
        target: WorkflowTarget,
        pipeline: Pipeline,
        folder: Path,
        dirs: dict[str, Path],
        api: PlatformSession | None,
    ) -> tuple[ContainerRun, ...]:
        mounts = [
            Mount(str(dirs["input"]), "/kratix/input", read_only=True),
            Mount(str(dirs["output"]), "/kratix/output"),
            Mount(str(dirs["metadata"]), "/kratix/metadata"),
        ]
        if api is not None:
            mounts.append(Mount(str(api.folder), SERVICE_ACCOUNT_DIR, read_only=True))
        runs: list[ContainerRun] = []
        try:
            volume_dirs = self._prepare_volumes(pipeline, folder / "volumes")
        except UserError as e:
            raise _PipelineFailed(Failure(pipeline.name, self.redact(str(e)))) from e
        for container in pipeline.containers:
            ctx = ContainerContext(
                pipeline=pipeline,
                # Kubernetes gives a pod its service variables before the container's own.
                kratix_env={**(api.env if api else {}), **kratix_env(target, pipeline)},
                kratix_mounts=mounts,
                volume_dirs=volume_dirs,
                secrets=self.secrets,
                config_maps=self.config_maps,
                policy=self.options.policy,
                name_hint=_name_hint(target.pipeline_id(pipeline), container.name),
                labels={**pipeline.labels, "io.gitbot.pipeline": target.pipeline_id(pipeline)},
                extra_hosts=api.extra_hosts if api else {},
            )
            try:
                image_user = ""
                if container.security_context.get("runAsNonRoot"):
                    image_user = self.engine.image_user(
                        container.image,
                        pull_policy(container, self.options.policy.default_pull_policy),
                    )
                spec = container_spec(container, ctx, image_user)
                live = self._live(target, pipeline.name, container.name, container.image)
                timeout = self.options.container_timeout
                if live is None:
                    result = self.engine.run(spec, timeout)
                else:
                    result = self.engine.run(spec, timeout, on_output=live)
            except UserError as e:
                message = self.redact(str(e))
                failure = Failure(pipeline.name, message, container.name, containers=tuple(runs))
                raise _PipelineFailed(failure) from e
            log = self.redact(result.log.decode("utf-8", errors="replace"))
            run = ContainerRun(
                container.name,
                container.image,
                result.seconds,
                result.exit_code,
                log,
                result.timed_out,
            )
            runs.append(run)
            if self.on_container is not None:
                self.on_container(pipeline.name, run)
            if self.on_output is not None:
                self.on_output(
                    LiveOutput(
                        target, pipeline.name, run.name, run.image, "exited", log, run.exit_code
                    )
                )
            if result.timed_out or result.exit_code != 0:
                raise _PipelineFailed(
                    Failure(
                        pipeline.name,
                        _exit_message(run, self.options),
                        container.name,
                        _tail(log),
                        tuple(runs),
                    )
                )
        return tuple(runs)

    def _live(
        self, target: WorkflowTarget, pipeline: str, container: str, image: str
    ) -> Callable[[bytes], None] | None:
        """The engine's log observer for one container: whole lines, redacted, to on_output.

        Only whole lines are passed on, so a secret split across two chunks is still redacted."""
        observer = self.on_output
        if observer is None:
            return None
        observer(LiveOutput(target, pipeline, container, image, "running", ""))
        pending = bytearray()

        def chunk(data: bytes) -> None:
            pending.extend(data)
            cut = pending.rfind(b"\n") + 1
            if not cut and len(pending) >= LIVE_FLUSH_BYTES:
                cut = len(pending)
            if cut:
                text = self.redact(bytes(pending[:cut]).decode("utf-8", errors="replace"))
                del pending[:cut]
                observer(LiveOutput(target, pipeline, container, image, "running", text))

        return chunk

    def _finish_pipeline(
        self,
        target: WorkflowTarget,
        pipeline: Pipeline,
        dirs: dict[str, Path],
        status: dict[str, Any],
        containers: tuple[ContainerRun, ...],
        started: float,
    ) -> tuple[PipelineRun, dict[str, Any]]:
        try:
            control = _read_control(dirs["metadata"])
            files: Mapping[str, bytes] = {}
            selectors: tuple[DestinationSelector, ...] = ()
            output_dirs: frozenset[str] = frozenset()
            if target.action == "configure" and not (control and control.halts):
                files = collect_output(dirs["output"], self.options.output_limits)
                output_dirs = top_level_directories(dirs["output"])
                selectors = _read_selectors(dirs["metadata"])
                # Kratix's work-writer fails the pipeline on a selector naming no directory.
                group_output(files, selectors, {}, output_dirs)
            incoming = _read_yaml(dirs["metadata"] / "status.yaml")
            merged = merge_status(
                status, incoming if incoming is not None else {}, target.workflow_type
            )
        except UserError as e:
            raise _PipelineFailed(Failure(pipeline.name, self.redact(str(e)))) from e
        outcome: PipelineOutcome = "suspended" if control and control.halts else "succeeded"
        result = PipelineRun(
            name=pipeline.name,
            outcome=outcome,
            containers=containers,
            seconds=time.monotonic() - started,
            files=files,
            selectors=selectors,
            control=control,
            status_keys=tuple(sorted(incoming)) if isinstance(incoming, dict) else (),
            dropped_status_keys=merged.dropped,
            output_dirs=output_dirs,
            warnings=_metadata_warnings(dirs["metadata"], control),
        )
        return result, dict(merged.status)

    def _prepare_volumes(self, pipeline: Pipeline, root: Path) -> dict[str, str]:
        dirs: dict[str, str] = {}
        for volume in pipeline.volumes:
            if not any(key in volume for key in ("emptyDir", "secret", "configMap")):
                continue  # a kind gitbot cannot provide: mounting it fails the container
            target = root / volume["name"]
            target.mkdir(parents=True)
            if "emptyDir" in volume:
                target.chmod(0o777)
            else:
                source = volume.get("secret") or volume.get("configMap") or {}
                store = self.secrets if "secret" in volume else self.config_maps
                name = source.get("secretName") or source.get("name")
                keys = store.keys(str(name), optional=bool(source.get("optional")))
                _write_volume(target, keys, source, volume["name"])
            dirs[volume["name"]] = str(target)
        return dirs


def _prepare_folders(folder: Path) -> dict[str, Path]:
    dirs = {name: folder / name for name in ("input", "output", "metadata")}
    for name, path in dirs.items():
        path.mkdir()
        # Images that run as non-root must still write their output and metadata.
        path.chmod(0o755 if name == "input" else 0o777)
    return dirs


def _write_volume(
    target: Path, keys: Mapping[str, str], source: Mapping[str, Any], volume: str
) -> None:
    mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    selected = (
        [(i["key"], i["path"], int(i.get("mode", mode))) for i in items]
        if items
        else [(key, key, mode) for key in keys]
    )
    for key, relative, file_mode in selected:
        if key not in keys:
            raise UserError(f"volume '{volume}': key '{key}' not found")
        if relative.startswith("/") or ".." in relative.split("/"):
            raise UserError(f"volume '{volume}': item path '{relative}' must stay inside it")
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(keys[key])
        path.chmod(file_mode)


def _read_yaml(path: Path) -> Any:
    if not path.is_file() or path.is_symlink():
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    return yamlio.safe_load(text, f"/kratix/metadata/{path.name}")


def _read_control(metadata: Path) -> WorkflowControl | None:
    data = _read_yaml(metadata / "workflow-control.yaml")
    return None if data is None else parse_workflow_control(data)


def _read_selectors(metadata: Path) -> tuple[DestinationSelector, ...]:
    """destination-selectors.yaml, the only name Kratix's work-writer reads (work_creator.go)."""
    data = _read_yaml(metadata / "destination-selectors.yaml")
    return () if data is None else parse_destination_selectors(data)


def _metadata_warnings(metadata: Path, control: WorkflowControl | None) -> tuple[str, ...]:
    """What Kratix ignores in /kratix/metadata without a word, said out loud."""
    warnings = []
    if control is not None and control.ignored_keys:
        keys = ", ".join(repr(key) for key in control.ignored_keys)
        warnings.append(
            f"workflow-control.yaml: {keys} ignored, as Kratix does (it reads suspend, "
            "retryAfter and message)"
        )
    selectors = _read_yaml(metadata / "destination-selectors.yaml")
    unknown = sorted(
        {
            str(key)
            for item in (selectors if isinstance(selectors, list) else [])
            if isinstance(item, dict)
            for key in item
            if key not in ("directory", "matchLabels")
        }
    )
    if unknown:
        keys = ", ".join(repr(key) for key in unknown)
        warnings.append(
            f"destination-selectors.yaml: {keys} ignored, as Kratix does (it reads directory "
            "and matchLabels)"
        )
    if (metadata / "scheduling.yaml").is_file():
        warnings.append(
            "scheduling.yaml ignored: Kratix reads destination-selectors.yaml (its old name "
            "is no longer read)"
        )
    return tuple(warnings)


def _exit_message(run: ContainerRun, options: RunOptions) -> str:
    if run.timed_out:
        return (
            f"timed out after {options.container_timeout:g}s; the container was killed and removed"
        )
    return f"exited with code {run.exit_code}"


def _tail(log: str) -> str:
    return "\n".join(log.rstrip("\n").splitlines()[-LOG_TAIL_LINES:])


def _name_hint(pipeline_id: str, container: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{pipeline_id}-{container}")
