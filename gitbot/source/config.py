"""The source repository's `.gitbot.yaml`: where results go, how PRs look, which files count.

Include and exclude globs are matched against repository-relative POSIX paths, from the
repository root: `*` and `?` stay within one path segment, `**` as a whole segment is any number
of segments (`**/*.yaml` matches `a.yaml` and `x/y/a.yaml`), `[abc]`/`[!abc]` are character
classes and `\\` escapes. As in gitignore, a pattern also matches everything under a directory it
matches (`vendor` excludes `vendor/x.yaml`), and a trailing `/` matches directories only.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, cast

from gitbot.durations import parse_go_duration
from gitbot.errors import InvalidObjects, Problem
from gitbot.kratix.validate import Checker, kind_of
from gitbot.yamlio import Path, load_text

CONFIG_FILE = ".gitbot.yaml"
CONFIG_DIR = ".gitbot/"
GroupBy = Literal["promise", "object", "push"]
GROUP_BY: tuple[GroupBy, ...] = ("promise", "object", "push")
MIN_RECONCILE_INTERVAL = timedelta(minutes=1)
TOP_KEYS = (
    "baseBranch",
    "exclude",
    "include",
    "path",
    "platformDestinations",
    "pullRequests",
    "reconcileInterval",
    "sourceBranch",
    "stateRepository",
)
PULL_REQUEST_KEYS = ("draft", "groupBy", "labels", "reviewers")
PLATFORM_DESTINATION_KEYS = ("matchLabels", "names")


@dataclass(frozen=True)
class PullRequestSettings:
    """How gitbot groups and decorates the pull requests it opens on the state repository."""

    group_by: GroupBy = "promise"
    labels: tuple[str, ...] = ("gitbot",)
    reviewers: tuple[str, ...] = ()
    draft: bool = False


@dataclass(frozen=True)
class PlatformDestinations:
    """Which Destinations are the platform cluster itself (`platformDestinations`).

    Kratix's compound Promises schedule requests of other Promises to a Destination that the
    platform cluster's own GitOps agent applies (kratix-marketplace labels it
    `environment: platform`); gitbot runs those requests in the same reconcile instead. A
    Destination is one when its name is listed, or when it carries every label of a non-empty
    `matchLabels`.
    """

    names: tuple[str, ...] = ()
    match_labels: Mapping[str, str] = field(default_factory=dict)
    # Where each setting is written, for warnings about it: the file, each name's line, the
    # line of matchLabels.
    file: str = field(default=CONFIG_FILE, compare=False)
    name_lines: tuple[int, ...] = field(default=(), compare=False)
    labels_line: int = field(default=0, compare=False)

    def __bool__(self) -> bool:
        return bool(self.names or self.match_labels)

    def unmatched(self, destinations: Sequence[tuple[str, Mapping[str, str]]]) -> list[Problem]:
        """Warnings for a name in `names` that no Destination has and a `matchLabels` no
        Destination carries, given each Destination's (name, labels): such a typo would leave
        the compound children it should run as plain files on a Destination."""
        have = sorted(name for name, _ in destinations)
        listed = ", ".join(have) or "none"
        found: list[Problem] = []
        for i, name in enumerate(self.names):
            if name not in have:
                line = self.name_lines[i] if i < len(self.name_lines) else 0
                message = f"no Destination named {name!r} in the source (Destinations: {listed})"
                found.append(
                    Problem(self.file, line, f"platformDestinations.names[{i}]", message, True)
                )
        labels = self.match_labels
        if labels and not any(
            all(own.get(k) == v for k, v in labels.items()) for _, own in destinations
        ):
            wanted = ", ".join(f"{k}={v}" for k, v in labels.items())
            message = f"no Destination in the source has the labels {wanted}"
            path = "platformDestinations.matchLabels"
            found.append(Problem(self.file, self.labels_line, path, message, True))
        return found

    def matches(self, name: str, labels: Mapping[str, str]) -> bool:
        """True if the Destination called `name` with `labels` is the platform."""
        if name in self.names:
            return True
        return bool(self.match_labels) and all(
            labels.get(k) == v for k, v in self.match_labels.items()
        )


@dataclass(frozen=True)
class RepoConfig:
    """A source repository's settings; every field has the default a missing key gets."""

    state_repository: str | None = None
    base_branch: str | None = None  # None: the state repository's default branch
    path: str = ""
    source_branch: str | None = None
    reconcile_interval: timedelta = timedelta(hours=10)
    pull_requests: PullRequestSettings = field(default_factory=PullRequestSettings)
    include: tuple[str, ...] = ("**/*.yaml", "**/*.yml")
    exclude: tuple[str, ...] = ()
    platform_destinations: PlatformDestinations = field(default_factory=PlatformDestinations)
    state_repository_line: int = field(default=0, compare=False)  # for messages about it

    def selects(self, path: str) -> bool:
        """True if the repository file `path` is an object file under include/exclude."""
        if path == CONFIG_FILE or path.startswith(CONFIG_DIR):
            return False
        return any(glob_matches(p, path) for p in self.include) and not any(
            glob_matches(p, path) for p in self.exclude
        )


# --- parsing ----------------------------------------------------------------------------------


def parse_repo_config(text: str | None, file: str = CONFIG_FILE) -> RepoConfig:
    """Settings from `.gitbot.yaml` text (None: no file, defaults); InvalidObjects lists all."""
    if text is None:
        return RepoConfig()
    docs = load_text(text, file)
    if not docs:
        return RepoConfig()
    if len(docs) > 1:
        message = f"expected one YAML document, found {len(docs)}"
        raise InvalidObjects([Problem(file, docs[1].line, "", message)])
    ck = Checker(docs[0])
    config = _config(ck)
    if config is None or ck.errors:
        raise InvalidObjects(sorted(ck.errors, key=lambda p: p.line))
    return config


def _config(ck: Checker) -> RepoConfig | None:
    top = ck.mapping(ck.doc.data, ())
    if top is None:
        return None
    ck.keys(top, (), TOP_KEYS)
    defaults = RepoConfig()
    state_repository = _non_empty(ck, top, (), "stateRepository")
    base_branch = _branch(ck, top, "baseBranch")
    source_branch = _branch(ck, top, "sourceBranch")
    path = _state_path(ck, top)
    interval = _interval(ck, top)
    include = _patterns(ck, top, "include", required=True)
    exclude = _patterns(ck, top, "exclude", required=False)
    pull_requests = _pull_requests(ck, top)
    platform = _platform_destinations(ck, top)
    return RepoConfig(
        state_repository=state_repository,
        state_repository_line=ck.doc.line_of(("stateRepository",)) if state_repository else 0,
        base_branch=base_branch,
        path=path,
        source_branch=source_branch,
        reconcile_interval=interval or defaults.reconcile_interval,
        pull_requests=pull_requests,
        include=defaults.include if include is None else include,
        exclude=defaults.exclude if exclude is None else exclude,
        platform_destinations=platform,
    )


def _non_empty(ck: Checker, parent: Mapping[str, Any], path: Path, key: str) -> str | None:
    value = ck.get(parent, path, key, "a string")
    if value == "":
        ck.error((*path, key), "must not be empty")
        return None
    return cast("str | None", value)


def _branch(ck: Checker, top: Mapping[str, Any], key: str) -> str | None:
    name = _non_empty(ck, top, (), key)
    if name is None:
        return None
    reason = branch_name_problem(name)
    if reason is not None:
        ck.error((key,), f"invalid branch name '{name}': {reason}")
        return None
    return name


def _state_path(ck: Checker, top: Mapping[str, Any]) -> str:
    value = ck.get(top, (), "path", "a string")
    if not value:
        return ""
    if value.startswith("/") or ".." in value.split("/"):
        ck.error(("path",), f"must be a relative path without '..', got '{value}'")
        return ""
    return "/".join(part for part in value.split("/") if part not in ("", "."))


def _interval(ck: Checker, top: Mapping[str, Any]) -> timedelta | None:
    value = top.get("reconcileInterval")
    where: Path = ("reconcileInterval",)
    if value is None:
        return None
    if not isinstance(value, str):
        ck.error(where, f"expected a Go duration like 10h or 30m, got {kind_of(value)}")
        return None
    try:
        interval = parse_go_duration(value)
    except ValueError as exc:
        ck.error(where, str(exc))
        return None
    if interval < MIN_RECONCILE_INTERVAL:
        ck.error(where, f"must be at least 1m, got {value}")
        return None
    return interval


def _pull_requests(ck: Checker, top: Mapping[str, Any]) -> PullRequestSettings:
    defaults = PullRequestSettings()
    where: Path = ("pullRequests",)
    settings = ck.get(top, (), "pullRequests", "a mapping")
    if settings is None:
        return defaults
    ck.keys(settings, where, PULL_REQUEST_KEYS)
    group_by = ck.get(settings, where, "groupBy", "a string")
    if group_by is not None and not ck.one_of(group_by, (*where, "groupBy"), GROUP_BY):
        group_by = None
    labels = _strings(ck, settings, where, "labels")
    reviewers = _strings(ck, settings, where, "reviewers")
    draft = ck.get(settings, where, "draft", "a boolean")
    return PullRequestSettings(
        group_by=group_by or defaults.group_by,
        labels=defaults.labels if labels is None else labels,
        reviewers=defaults.reviewers if reviewers is None else reviewers,
        draft=defaults.draft if draft is None else draft,
    )


def _platform_destinations(ck: Checker, top: Mapping[str, Any]) -> PlatformDestinations:
    where: Path = ("platformDestinations",)
    settings = ck.get(top, (), "platformDestinations", "a mapping")
    if settings is None:
        return PlatformDestinations()
    before = len(ck.errors)
    ck.keys(settings, where, PLATFORM_DESTINATION_KEYS)
    names = _strings(ck, settings, where, "names") or ()
    labels = ck.string_map(settings, where, "matchLabels", labels=True)
    if not names and not labels and len(ck.errors) == before:
        ck.error(where, "must list names or matchLabels (or both)")
    return PlatformDestinations(
        names,
        labels,
        ck.doc.file,
        tuple(ck.doc.line_of((*where, "names", i)) for i in range(len(names))),
        ck.doc.line_of((*where, "matchLabels")),
    )


def _strings(
    ck: Checker, parent: Mapping[str, Any], path: Path, key: str
) -> tuple[str, ...] | None:
    """An optional list of non-empty strings; None if missing or wrong (wrong is reported)."""
    items = ck.get(parent, path, key, "a list")
    if items is None:
        return None
    ok = True
    for i, item in enumerate(items):
        if not ck.expect(item, (*path, key, i), "a string"):
            ok = False
        elif not item:
            ck.error((*path, key, i), "must not be empty")
            ok = False
    return tuple(items) if ok else None


def _patterns(
    ck: Checker, top: Mapping[str, Any], key: str, *, required: bool
) -> tuple[str, ...] | None:
    patterns = _strings(ck, top, (), key)
    if patterns is None:
        return None
    if required and not patterns:
        ck.error((key,), "must list at least one pattern, like '**/*.yaml'")
        return None
    ok = True
    for i, pattern in enumerate(patterns):
        reason = glob_problem(pattern)
        if reason is not None:
            ck.error((key, i), f"invalid pattern '{pattern}': {reason}")
            ok = False
    return patterns if ok else None


# --- the state repository -------------------------------------------------------------------


def resolve_state_repository(config: RepoConfig, source_url: str) -> str | None:
    """`stateRepository` as a repository to open, given where the source was fetched from.

    `source_url` is the source as the repository cache normalised it: an absolute path or a
    file:// URL when it is local. A URL, an absolute path or `~/...` is taken as it is. For a
    local source any other value is a path relative to the source repository's folder (never
    to the current directory, so the source reconciles into the same place wherever gitbot
    runs). For a remote source `owner/name` is a GitHub repository and any other relative path
    is an error (InvalidObjects, at the key's line): it has no folder to be relative to.
    """
    value = config.state_repository
    if value is None or "://" in value or value.startswith(("/", "~")):
        return value
    local = _local_folder(source_url)
    if local is not None:
        return os.path.normpath(os.path.join(local, value))
    if _is_owner_name(value):
        return value
    message = (
        f"'{value}' is a relative path, which is resolved against a local source repository's "
        f"folder, but the source {source_url} is remote: use a URL or owner/name"
    )
    line = config.state_repository_line
    raise InvalidObjects([Problem(CONFIG_FILE, line, "stateRepository", message)])


def _local_folder(source_url: str) -> str | None:
    if source_url.startswith("file://"):
        return source_url.removeprefix("file://")
    if "://" not in source_url and source_url.startswith("/"):
        return source_url
    return None


def _is_owner_name(value: str) -> bool:
    owner, slash, name = value.partition("/")
    return bool(slash and owner and name) and "/" not in name and not value.startswith(".")


# --- branch names -----------------------------------------------------------------------------

_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def branch_name_problem(name: str) -> str | None:
    """Why `name` is not a valid git branch name (git check-ref-format --branch), or None."""
    bad = _REF_FORBIDDEN.search(name)
    if bad is not None:
        char = bad.group()
        shown = repr(char) if char.isprintable() and char != " " else f"U+{ord(char):04X}"
        return f"must not contain {shown}"
    checks = (
        (name.startswith("-"), "must not start with '-'"),
        (name in ("@", "HEAD"), f"'{name}' is reserved"),
        (name.startswith("/") or name.endswith("/"), "must not start or end with '/'"),
        ("//" in name, "must not contain '//'"),
        (".." in name, "must not contain '..'"),
        ("@{" in name, "must not contain '@{'"),
        (name.endswith("."), "must not end with '.'"),
        (any(p.startswith(".") for p in name.split("/")), "no part may start with '.'"),
        (any(p.endswith(".lock") for p in name.split("/")), "no part may end with '.lock'"),
    )
    return next((reason for failed, reason in checks if failed), None)


# --- globs ------------------------------------------------------------------------------------


def glob_problem(pattern: str) -> str | None:
    """Why `pattern` cannot be used as an include/exclude glob, or None."""
    if not pattern:
        return "must not be empty"
    if pattern.startswith("/"):
        return "patterns are relative to the repository root; drop the leading '/'"
    try:
        _compile(pattern)
    except re.error as exc:
        return exc.msg
    return None


def glob_matches(pattern: str, path: str) -> bool:
    """True if `pattern` matches the relative POSIX `path` or one of its parent directories."""
    regex, dirs_only = _compile(pattern)
    if not dirs_only and regex.fullmatch(path):
        return True
    start = path.find("/")
    while start != -1:
        if regex.fullmatch(path, 0, start):
            return True
        start = path.find("/", start + 1)
    return False


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> tuple[re.Pattern[str], bool]:
    """The pattern as a regex, and whether it matches directories only (a trailing '/')."""
    dirs_only = pattern.endswith("/")
    segments = pattern.rstrip("/").split("/")
    out: list[str] = []
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:.*/)?")
        else:
            out.append(_segment(segment) + ("" if last else "/"))
    return re.compile("".join(out), re.DOTALL), dirs_only


def _segment(segment: str) -> str:
    """One path segment's glob as a regex that never crosses '/'."""
    out: list[str] = []
    i, n = 0, len(segment)
    while i < n:
        char = segment[i]
        i += 1
        if char == "*":
            while i < n and segment[i] == "*":
                i += 1
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i < n:
            out.append(re.escape(segment[i]))
            i += 1
        elif char == "[":
            regex, i = _char_class(segment, i)
            out.append(regex)
        else:
            out.append(re.escape(char))
    return "".join(out)


def _char_class(segment: str, start: int) -> tuple[str, int]:
    """`[...]` starting after the '['; an unclosed '[' is a literal '['."""
    i = start
    negate = i < len(segment) and segment[i] in "!^"
    if negate:
        i += 1
    body_start = i
    if i < len(segment) and segment[i] == "]":
        i += 1  # a ']' right after '[' or '[!' is a member, not the end
    end = segment.find("]", i)
    if end == -1:
        return re.escape("["), start
    body = segment[body_start:end]
    members: list[str] = []
    k = 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            members.append(f"{re.escape(body[k])}-{re.escape(body[k + 2])}")
            k += 3
        else:
            members.append(re.escape(body[k]))
            k += 1
    if negate:
        return f"[^/{''.join(members)}]", end + 1
    # A range such as [+-0] spans '/', which never belongs to one segment.
    return f"(?!/)[{''.join(members)}]", end + 1
