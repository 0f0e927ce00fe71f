"""Translate a Kratix Pipeline container (Kubernetes fields) into an engine ContainerSpec."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitbot.errors import UserError
from gitbot.kratix.objects import Container, Pipeline
from gitbot.pipeline.engine import ContainerSpec, Mount
from gitbot.pipeline.quantities import memory_bytes, nano_cpus
from gitbot.secrets import KeyedStore

# Kratix's default resources for user containers (pipeline_factory.go), used when unset.
KRATIX_DEFAULT_RESOURCES: Mapping[str, Mapping[str, str]] = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "200m", "memory": "256Mi"},
}
_ENV_NAME_RE = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_VAR_REF_RE = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")


class ContainerConfigError(UserError):
    """A container cannot run as declared (missing secret, refused privilege, bad quantity)."""


@dataclass(frozen=True)
class ContainerPolicy:
    """Operator decisions that apply to every container."""

    allow_privileged: bool = False
    default_pull_policy: str | None = None
    network: str | None = None


@dataclass(frozen=True)
class ContainerContext:
    """What a container gets from its pipeline run: Kratix variables, mounts, stores."""

    pipeline: Pipeline
    kratix_env: Mapping[str, str]
    kratix_mounts: Sequence[Mount]
    volume_dirs: Mapping[str, str]  # pipeline volume name -> prepared host folder
    secrets: KeyedStore
    config_maps: KeyedStore
    policy: ContainerPolicy
    name_hint: str
    labels: Mapping[str, str]
    extra_hosts: Mapping[str, str] = field(default_factory=dict)


def container_spec(container: Container, ctx: ContainerContext, image_user: str) -> ContainerSpec:
    """The engine spec for one container; ContainerConfigError names the container and cause."""
    try:
        env = _environment(container, ctx)
        user = _user(container, image_user)
        resources = (
            container.resources if container.resources is not None else (KRATIX_DEFAULT_RESOURCES)
        )
        limits = resources.get("limits") or {}
        requests = resources.get("requests") or {}
        memory_limit = memory_bytes(limits["memory"]) if "memory" in limits else None
        memory_request = memory_bytes(requests["memory"]) if "memory" in requests else None
        if memory_limit is not None and memory_request is not None:
            memory_request = min(memory_request, memory_limit)
        security = container.security_context
        capabilities = security.get("capabilities") or {}
        if security.get("privileged") and not ctx.policy.allow_privileged:
            raise ContainerConfigError(
                "asks for privileged mode, which gitbot refuses unless the operator allows it "
                "(GITBOT_ALLOW_PRIVILEGED=true)"
            )
        return ContainerSpec(
            image=container.image,
            name_hint=ctx.name_hint,
            entrypoint=_expand_all(container.command, env),
            # Kubernetes: `command` without `args` drops the image's CMD.
            cmd=_expand_all(container.args, env)
            if container.args is not None
            else ([] if container.command is not None else None),
            env=env,
            mounts=[*ctx.kratix_mounts, *_volume_mounts(container, ctx)],
            user=user,
            read_only_root=bool(security.get("readOnlyRootFilesystem")),
            cap_add=tuple(capabilities.get("add") or ()),
            cap_drop=tuple(capabilities.get("drop") or ()),
            privileged=bool(security.get("privileged")),
            no_new_privileges=security.get("allowPrivilegeEscalation") is False,
            nano_cpus=nano_cpus(limits["cpu"]) if "cpu" in limits else None,
            mem_limit=memory_limit,
            mem_reservation=memory_request,
            labels=ctx.labels,
            network=ctx.policy.network,
            pull_policy=pull_policy(container, ctx.policy.default_pull_policy),
            extra_hosts=ctx.extra_hosts,
        )
    except (UserError, ValueError) as e:
        raise ContainerConfigError(
            f"pipeline '{ctx.pipeline.name}' container '{container.name}': {e}"
        ) from e


def pull_policy(container: Container, operator_default: str | None) -> str:
    """Kubernetes' rule: `:latest` or no tag means Always, anything else IfNotPresent."""
    if container.image_pull_policy:
        return container.image_pull_policy
    if operator_default:
        return operator_default
    image = container.image
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _environment(container: Container, ctx: ContainerContext) -> dict[str, str]:
    """envFrom first, then Kratix's variables, then the container's env (later entries win)."""
    env: dict[str, str] = {}
    for source in container.env_from:
        prefix = str(source.get("prefix") or "")
        if "secretRef" in source:
            ref, store = source["secretRef"], ctx.secrets
        else:
            ref, store = source["configMapRef"], ctx.config_maps
        for key, value in store.keys(ref["name"], optional=bool(ref.get("optional"))).items():
            if _ENV_NAME_RE.match(prefix + key):
                env[prefix + key] = value
    env.update(ctx.kratix_env)
    for entry in container.env:
        name = entry["name"]
        if "valueFrom" not in entry:
            env[name] = _expand(str(entry.get("value") or ""), env)
            continue
        resolved = _value_from(entry["valueFrom"], ctx)
        if resolved is not None:
            env[name] = resolved
    return env


def _value_from(value_from: Mapping[str, Any], ctx: ContainerContext) -> str | None:
    if "secretKeyRef" in value_from:
        ref, store = value_from["secretKeyRef"], ctx.secrets
    elif "configMapKeyRef" in value_from:
        ref, store = value_from["configMapKeyRef"], ctx.config_maps
    elif "resourceFieldRef" in value_from:
        resource = (value_from.get("resourceFieldRef") or {}).get("resource")
        raise UserError(
            f"valueFrom.resourceFieldRef ({resource}) is not available outside Kubernetes"
        )
    else:
        field_path = (value_from.get("fieldRef") or {}).get("fieldPath")
        raise UserError(f"valueFrom.fieldRef ({field_path}) is not available outside Kubernetes")
    return store.value(ref["name"], ref["key"], optional=bool(ref.get("optional")))


def _expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion: known variables replaced, `$$` escapes, others kept."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR_REF_RE.sub(replace, text)


def _expand_all(items: Sequence[str] | None, env: Mapping[str, str]) -> list[str] | None:
    return None if items is None else [_expand(item, env) for item in items]


def _user(container: Container, image_user: str) -> str | None:
    security = container.security_context
    uid, gid = security.get("runAsUser"), security.get("runAsGroup")
    if security.get("runAsNonRoot"):
        effective = str(uid) if uid is not None else image_user.split(":", 1)[0]
        if effective in ("", "0", "root"):
            raise UserError("runAsNonRoot is set but the container would run as root")
        if not effective.isdigit():
            raise UserError(
                f"runAsNonRoot is set but image user '{effective}' is not numeric, "
                "so it cannot be verified; set securityContext.runAsUser"
            )
    if uid is None and gid is None:
        return None
    if uid is None:
        base = image_user.split(":", 1)[0] or "0"
        return f"{base}:{gid}"
    return f"{uid}:{gid}" if gid is not None else str(uid)


def _volume_mounts(container: Container, ctx: ContainerContext) -> list[Mount]:
    mounts = []
    for mount in container.volume_mounts:
        source = ctx.volume_dirs.get(mount["name"])
        if source is None:
            raise UserError(
                f"volume '{mount['name']}' is of a kind gitbot cannot provide outside "
                "Kubernetes (it provides secret, configMap and emptyDir volumes)"
            )
        if mount.get("subPathExpr"):
            raise UserError(
                f"volumeMount subPathExpr '{mount['subPathExpr']}' is not available outside "
                "Kubernetes"
            )
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            if sub_path.startswith("/") or ".." in sub_path.split("/"):
                raise UserError(f"volumeMount subPath '{sub_path}' must stay inside its volume")
            source = f"{source}/{sub_path}"
        mounts.append(Mount(source, mount["mountPath"], bool(mount.get("readOnly"))))
    return mounts
