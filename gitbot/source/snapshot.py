"""A source repository at one commit: its `.gitbot.yaml` and the Kratix objects it holds."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from gitbot.errors import InvalidObjects, Problem
from gitbot.gitrepo import CachedRepo
from gitbot.kratix.loader import LoadResult, load_texts
from gitbot.kratix.objects import IMPLICIT_DESTINATION, Destination, Promise, ResourceRequest
from gitbot.source.config import CONFIG_FILE, RepoConfig, parse_repo_config


@dataclass(frozen=True)
class SourceSnapshot:
    """Everything gitbot reads from one source commit."""

    source: str
    commit: str
    config: RepoConfig
    objects: LoadResult
    implicit_destination: bool = False
    broken_files: frozenset[str] = field(default_factory=frozenset)

    @property
    def destinations(self) -> list[Destination]:
        return self.objects.destinations or [IMPLICIT_DESTINATION]

    @property
    def promises(self) -> list[Promise]:
        return self.objects.promises

    def requests_of(self, promise: str) -> list[ResourceRequest]:
        return self.requests_by_promise().get(promise, [])

    def requests_by_promise(self) -> dict[str, list[ResourceRequest]]:
        grouped: dict[str, list[ResourceRequest]] = defaultdict(list)
        for request in self.objects.resources:
            grouped[request.promise_name].append(request)
        return grouped


def read_config(repo: CachedRepo, commit: str) -> RepoConfig:
    """Only the commit's `.gitbot.yaml` (defaults when absent; InvalidObjects if invalid)."""
    found = repo.read_files(commit, [CONFIG_FILE])  # absent paths are left out
    text = _decode(CONFIG_FILE, found[CONFIG_FILE]) if CONFIG_FILE in found else None
    return parse_repo_config(text)


def platform_warnings(config: RepoConfig, destinations: Sequence[Destination]) -> list[Problem]:
    """`platformDestinations` settings that select none of these Destinations (the implicit
    Destination when there are none), as warnings at their line in `.gitbot.yaml`."""
    if not config.platform_destinations:
        return []
    implicit = IMPLICIT_DESTINATION
    found = [(d.name, d.labels) for d in destinations or [implicit]]
    return config.platform_destinations.unmatched(found)


def read_snapshot(repo: CachedRepo, source: str, commit: str) -> SourceSnapshot:
    """Load the config (InvalidObjects if it is invalid) and every selected YAML file."""
    files = set(repo.list_files(commit))
    config_text = None
    if CONFIG_FILE in files:
        config_text = _decode(CONFIG_FILE, repo.read_files(commit, [CONFIG_FILE])[CONFIG_FILE])
    config = parse_repo_config(config_text)
    selected = sorted(path for path in files if config.selects(path))
    texts: dict[str, str] = {}
    problems: list[Problem] = []
    for path, content in repo.read_files(commit, selected).items():
        try:
            texts[path] = _decode(path, content)
        except InvalidObjects as e:
            problems.extend(e.problems)
    objects = load_texts(texts)
    objects.problems[:0] = problems
    objects.warnings += platform_warnings(config, objects.destinations)
    broken = frozenset(p.file for p in objects.problems)
    return SourceSnapshot(
        source, commit, config, objects, not objects.destinations, broken_files=broken
    )


def _decode(path: str, content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = content.count(b"\n", 0, e.start) + 1
        raise InvalidObjects([Problem(path, line, "", "not valid UTF-8")]) from e
