"""Build workflow runners from settings and command-line flags (shared by run and reconcile)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitbot.errors import UserError
from gitbot.pipeline.containers import ContainerPolicy
from gitbot.pipeline.engine import DockerEngine
from gitbot.pipeline.output import OutputLimits
from gitbot.pipeline.runner import ContainerObserver, LiveObserver, RunOptions, WorkflowRunner
from gitbot.platform.network import listen_address, shared_server
from gitbot.platform.server import PlatformServer
from gitbot.secrets import Redactor, config_map_store, secret_store
from gitbot.settings import Settings


@dataclass(frozen=True)
class RunnerConfig:
    """Everything needed to make runners: engine, options, and where secrets come from."""

    engine_url: str | None
    options: RunOptions
    secrets_dir: Path | None
    config_maps_dir: Path | None
    platform_dir: Path | None = None  # where the platform API keeps its CA; None: no API


def runner_config(
    settings: Settings,
    secrets_dir: str | None = None,
    config_maps_dir: str | None = None,
    timeout: float | None = None,
) -> RunnerConfig:
    """Flags win over settings; a folder that does not exist is a user error."""
    secrets = Path(secrets_dir) if secrets_dir else settings.secrets_dir
    maps = Path(config_maps_dir) if config_maps_dir else settings.config_maps_dir
    for flag, folder in (("--secrets-dir", secrets), ("--config-maps-dir", maps)):
        if folder is not None and not folder.is_dir():
            raise UserError(f"{flag} {folder} is not a directory")
    options = RunOptions(
        container_timeout=timeout or settings.container_timeout,
        output_limits=OutputLimits(settings.max_output_files, settings.max_output_bytes),
        policy=ContainerPolicy(
            settings.allow_privileged, settings.default_pull_policy, settings.container_network
        ),
        work_dir=settings.work_dir,
    )
    return RunnerConfig(settings.engine_url, options, secrets, maps, settings.data_dir / "platform")


def make_runner(
    config: RunnerConfig,
    engine: DockerEngine,
    redactor: Redactor,
    on_container: ContainerObserver | None = None,
    on_output: LiveObserver | None = None,
) -> WorkflowRunner:
    return WorkflowRunner(
        engine,
        secret_store(config.secrets_dir, redactor),
        config_map_store(config.config_maps_dir, redactor),
        redactor,
        config.options,
        on_container=on_container,
        on_output=on_output,
        platform=_platform(config, engine),
    )


def _platform(config: RunnerConfig, engine: DockerEngine) -> PlatformServer | None:
    """The process's platform API server for the containers' network (None when they have
    none: GITBOT_CONTAINER_NETWORK=none)."""
    network = config.options.policy.network
    if config.platform_dir is None or network == "none":
        return None
    gateway = None if network == "host" else engine.network_gateway(network)
    host = listen_address(gateway, network)
    return shared_server(config.platform_dir, host) if host else None
