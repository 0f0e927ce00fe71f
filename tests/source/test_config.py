"""`.gitbot.yaml`: defaults, every key, exact error texts, include/exclude globs."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from gitbot.errors import InvalidObjects
from gitbot.source.config import (
    CONFIG_FILE,
    PlatformDestinations,
    PullRequestSettings,
    RepoConfig,
    branch_name_problem,
    glob_matches,
    glob_problem,
    parse_repo_config,
    resolve_state_repository,
)

ALLOWED = (
    "baseBranch, exclude, include, path, platformDestinations, pullRequests, "
    "reconcileInterval, sourceBranch, stateRepository"
)


def problems(text: str, file: str = CONFIG_FILE) -> list[str]:
    with pytest.raises(InvalidObjects) as info:
        parse_repo_config(textwrap.dedent(text), file)
    return [str(p) for p in info.value.problems]


# --- defaults and every key -------------------------------------------------------------------


def test_missing_file_gives_defaults() -> None:
    config = parse_repo_config(None)
    assert config == RepoConfig()
    assert config.state_repository is None
    assert config.base_branch is None  # the state repository's default branch
    assert config.path == ""
    assert config.source_branch is None
    assert config.reconcile_interval == timedelta(hours=10)
    assert config.pull_requests == PullRequestSettings("promise", ("gitbot",), (), False)
    assert config.include == ("**/*.yaml", "**/*.yml")
    assert config.exclude == ()


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "---\n"])
def test_empty_file_gives_defaults(text: str) -> None:
    assert parse_repo_config(text) == RepoConfig()


def test_null_values_keep_defaults() -> None:
    text = "stateRepository:\nbaseBranch: null\nreconcileInterval: ~\npullRequests:\n"
    assert parse_repo_config(text) == RepoConfig()


def test_every_key(tmp_path: Path) -> None:
    file = tmp_path / CONFIG_FILE
    file.write_text(
        textwrap.dedent(
            """\
            stateRepository: my-org/platform-state
            baseBranch: release/v2
            path: clusters/./prod/
            sourceBranch: develop
            reconcileInterval: 1h30m
            pullRequests:
              groupBy: push
              labels: [gitbot, platform]
              reviewers: [alice, my-org/platform-team]
              draft: true
            include: ["promises/**/*.yaml"]
            exclude: ["**/test/**", vendor]
            platformDestinations:
              names: [platform-cluster]
              matchLabels: {environment: platform}
            """
        )
    )
    config = parse_repo_config(file.read_text(), str(file))
    assert config == RepoConfig(
        state_repository="my-org/platform-state",
        base_branch="release/v2",
        path="clusters/prod",
        source_branch="develop",
        reconcile_interval=timedelta(hours=1, minutes=30),
        pull_requests=PullRequestSettings(
            group_by="push",
            labels=("gitbot", "platform"),
            reviewers=("alice", "my-org/platform-team"),
            draft=True,
        ),
        include=("promises/**/*.yaml",),
        exclude=("**/test/**", "vendor"),
        platform_destinations=PlatformDestinations(
            ("platform-cluster",), {"environment": "platform"}
        ),
    )


def test_empty_lists_where_allowed() -> None:
    config = parse_repo_config("pullRequests: {labels: [], reviewers: []}\nexclude: []\n")
    assert config.pull_requests.labels == ()
    assert config.pull_requests.reviewers == ()
    assert config.exclude == ()


def test_partial_pull_requests_keeps_other_defaults() -> None:
    config = parse_repo_config("pullRequests:\n  groupBy: object\n")
    assert config.pull_requests == PullRequestSettings(group_by="object")


@pytest.mark.parametrize(("text", "expected"), [("1m", timedelta(minutes=1)), ("24h", None)])
def test_reconcile_interval_bounds(text: str, expected: timedelta | None) -> None:
    config = parse_repo_config(f"reconcileInterval: {text}\n")
    assert config.reconcile_interval == (expected or timedelta(hours=24))


# --- errors -----------------------------------------------------------------------------------

MANY_PROBLEMS = """\
stateRepo: my-org/state
stateRepository: ""
baseBranch: feature..x
path: ../outside
sourceBranch: 5
reconcileInterval: 30s
pullRequests:
  groupBy: team
  labels: gitbot
  reviewers: [alice, 3, ""]
  draft: "yes"
  assignees: [bob]
include: []
exclude: ["/abs/*.yaml", "[z-a].yaml"]
"""


def test_every_problem_is_listed_with_file_line_and_path(tmp_path: Path) -> None:
    file = tmp_path / CONFIG_FILE
    file.write_text(MANY_PROBLEMS)
    with pytest.raises(InvalidObjects) as info:
        parse_repo_config(file.read_text(), CONFIG_FILE)
    assert str(info.value).splitlines() == [
        f".gitbot.yaml:1: stateRepo: unknown key 'stateRepo' (allowed: {ALLOWED})",
        ".gitbot.yaml:2: stateRepository: must not be empty",
        ".gitbot.yaml:3: baseBranch: invalid branch name 'feature..x': must not contain '..'",
        ".gitbot.yaml:4: path: must be a relative path without '..', got '../outside'",
        '.gitbot.yaml:5: sourceBranch: expected a string, got an integer; quote it: "5"',
        ".gitbot.yaml:6: reconcileInterval: must be at least 1m, got 30s",
        ".gitbot.yaml:8: pullRequests.groupBy: must be one of promise, object, push, got 'team'",
        ".gitbot.yaml:9: pullRequests.labels: expected a list, got a string",
        ".gitbot.yaml:10: pullRequests.reviewers[1]: expected a string, got an integer; "
        'quote it: "3"',
        ".gitbot.yaml:10: pullRequests.reviewers[2]: must not be empty",
        ".gitbot.yaml:11: pullRequests.draft: expected a boolean, got a string",
        ".gitbot.yaml:12: pullRequests.assignees: unknown key 'assignees' "
        "(allowed: draft, groupBy, labels, reviewers)",
        ".gitbot.yaml:13: include: must list at least one pattern, like '**/*.yaml'",
        ".gitbot.yaml:14: exclude[0]: invalid pattern '/abs/*.yaml': patterns are relative "
        "to the repository root; drop the leading '/'",
        ".gitbot.yaml:14: exclude[1]: invalid pattern '[z-a].yaml': bad character range z-a",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- a\n- b\n", "cfg.yaml:1: expected a mapping, got a list"),
        (
            "baseBranch: main\n---\nbaseBranch: x\n",
            "cfg.yaml:3: expected one YAML document, found 2",
        ),
        (
            "reconcileInterval: 600\n",
            "cfg.yaml:1: reconcileInterval: expected a Go duration like 10h or 30m, got an integer",
        ),
        (
            "reconcileInterval: 10 hours\n",
            "cfg.yaml:1: reconcileInterval: invalid duration "
            "'10 hours': unknown unit ' hours' (use ns, us, ms, s, m or h, like 1h30m)",
        ),
        ("reconcileInterval: -1h\n", "cfg.yaml:1: reconcileInterval: must be at least 1m, got -1h"),
        (
            "path: /srv/state\n",
            "cfg.yaml:1: path: must be a relative path without '..', got '/srv/state'",
        ),
        ("pullRequests: [a]\n", "cfg.yaml:1: pullRequests: expected a mapping, got a list"),
        (
            "pullRequests:\n  groupBy: 1\n",
            'cfg.yaml:2: pullRequests.groupBy: expected a string, got an integer; quote it: "1"',
        ),
        ("include: '**/*.yaml'\n", "cfg.yaml:1: include: expected a list, got a string"),
        ("include: ['']\n", "cfg.yaml:1: include[0]: must not be empty"),
        ("sourceBranch: ''\n", "cfg.yaml:1: sourceBranch: must not be empty"),
        (
            "platformDestinations: [platform]\n",
            "cfg.yaml:1: platformDestinations: expected a mapping, got a list",
        ),
        (
            "platformDestinations: {}\n",
            "cfg.yaml:1: platformDestinations: must list names or matchLabels (or both)",
        ),
        (
            "platformDestinations:\n  names: [platform, '']\n",
            "cfg.yaml:2: platformDestinations.names[1]: must not be empty",
        ),
        (
            "platformDestinations:\n  matchLabels:\n    environment: -bad\n",
            "cfg.yaml:3: platformDestinations.matchLabels.environment: invalid label value "
            "'-bad': at most 63 letters, digits, '-', '_' and '.', starting and ending with a "
            "letter or digit",
        ),
        (
            "platformDestinations:\n  selector: {a: b}\n",
            "cfg.yaml:2: platformDestinations.selector: unknown key 'selector' "
            "(allowed: matchLabels, names)",
        ),
        (
            "sourceBranch: -x\n",
            "cfg.yaml:1: sourceBranch: invalid branch name '-x': must not start with '-'",
        ),
    ],
)
def test_single_problem(text: str, expected: str) -> None:
    assert problems(text, "cfg.yaml") == [expected]


def test_yaml_syntax_error_names_file_and_line() -> None:
    (problem,) = problems("baseBranch: [main\n", "cfg.yaml")
    assert problem.startswith("cfg.yaml:2: invalid YAML: ")  # wording differs with libyaml


@pytest.mark.parametrize(
    "name",
    ["main", "release/v2", "feature/JIRA-12_x", "v1.2.3", "user@host", "a.b/c-d", "\u00e9t\u00e9"],
)
def test_valid_branch_names(name: str) -> None:
    assert branch_name_problem(name) is None
    assert parse_repo_config(f"baseBranch: '{name}'\n").base_branch == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("a b", "must not contain U+0020"),
        ("a\tb", "must not contain U+0009"),
        ("a~1", "must not contain '~'"),
        ("a^", "must not contain '^'"),
        ("a:b", "must not contain ':'"),
        ("a?", "must not contain '?'"),
        ("a*", "must not contain '*'"),
        ("a[1]", "must not contain '['"),
        ("a\\b", "must not contain '\\\\'"),
        ("a\x7fb", "must not contain U+007F"),
        ("-main", "must not start with '-'"),
        ("@", "'@' is reserved"),
        ("HEAD", "'HEAD' is reserved"),
        ("/main", "must not start or end with '/'"),
        ("main/", "must not start or end with '/'"),
        ("a//b", "must not contain '//'"),
        ("a..b", "must not contain '..'"),
        ("a@{1}", "must not contain '@{'"),
        ("main.", "must not end with '.'"),
        (".hidden", "no part may start with '.'"),
        ("a/.b", "no part may start with '.'"),
        ("main.lock", "no part may end with '.lock'"),
        ("a.lock/b", "no part may end with '.lock'"),
    ],
)
def test_invalid_branch_names(name: str, reason: str) -> None:
    assert branch_name_problem(name) == reason


def test_problem_lines_follow_nested_keys() -> None:
    text = """\
    # comment
    pullRequests:

      labels:
        - ok
        - 7
    """
    assert problems(text) == [
        '.gitbot.yaml:6: pullRequests.labels[1]: expected a string, got an integer; quote it: "7"'
    ]


# --- globs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.yaml", "a.yaml", True),
        ("**/*.yaml", "x/y/a.yaml", True),
        ("**/*.yaml", ".github/workflows/ci.yaml", True),  # '*' matches dotfiles, as in git
        ("**/*.yaml", "a.yml", False),
        ("**/*.yaml", "a.yaml.bak", False),
        ("*.yaml", "a.yaml", True),
        ("*.yaml", "x/a.yaml", False),  # anchored at the root
        ("x/*.yaml", "x/a.yaml", True),
        ("x/*.yaml", "x/y/a.yaml", False),
        ("x/**/a.yaml", "x/a.yaml", True),
        ("x/**/a.yaml", "x/y/z/a.yaml", True),
        ("x/**/a.yaml", "xx/a.yaml", False),
        ("x/**", "x/a.yaml", True),
        ("x/**", "x/y/a.yaml", True),
        ("x/**", "x", False),
        ("x/**", "xy/a.yaml", False),
        ("**", "anything/at/all.txt", True),
        ("**/test/**", "a/test/b.yaml", True),
        ("**/test/**", "test/b.yaml", True),
        ("**/test/**", "a/testing/b.yaml", False),
        ("a?.yaml", "ab.yaml", True),
        ("a?.yaml", "a/.yaml", False),
        ("a?.yaml", "abc.yaml", False),
        ("a**b.yaml", "axxb.yaml", True),  # '**' inside a segment is '*'
        ("a**b.yaml", "a/b.yaml", False),
        ("[ab].yaml", "b.yaml", True),
        ("[ab].yaml", "c.yaml", False),
        ("[!ab].yaml", "c.yaml", True),
        ("[^ab].yaml", "a.yaml", False),
        ("[a-c]x", "bx", True),
        ("[]]x", "]x", True),
        ("[+-0]x", "/x", False),  # a range across '/' still stays in one segment
        ("[+-0]x", ".x", True),
        ("a[b", "a[b", True),  # an unclosed '[' is literal
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
        ("a.yaml", "a.yaml", True),
        ("a.yaml", "aXyaml", False),  # '.' is literal
        ("(a)+.yaml", "(a)+.yaml", True),
        ("vendor", "vendor/x/a.yaml", True),  # a matched directory takes its contents
        ("vendor", "vendor", True),
        ("vendor", "vendors/a.yaml", False),
        ("vendor/", "vendor/a.yaml", True),
        ("vendor/", "vendor", False),  # a trailing '/' matches directories only
        ("**/*.yaml", "x.yaml/README.md", True),
    ],
)
def test_glob_matches(pattern: str, path: str, expected: bool) -> None:
    assert glob_problem(pattern) is None
    assert glob_matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "must not be empty"),
        ("/a.yaml", "patterns are relative to the repository root; drop the leading '/'"),
        ("[z-a]", "bad character range z-a"),
    ],
)
def test_glob_problem(pattern: str, reason: str) -> None:
    assert glob_problem(pattern) == reason


def test_selects_default_include() -> None:
    config = RepoConfig()
    assert config.selects("promise.yaml")
    assert config.selects("promises/redis/promise.yml")
    assert not config.selects("README.md")
    assert not config.selects(".gitbot.yaml")
    assert not config.selects(".gitbot/cache.yaml")
    assert config.selects("sub/.gitbot.yaml")  # only the root file is the config
    assert config.selects(".gitbotx/a.yaml")


def test_selects_with_exclude() -> None:
    config = parse_repo_config(
        "include: ['promises/**/*.yaml', 'requests/*.yaml']\n"
        "exclude: ['**/*-test.yaml', 'promises/old']\n"
    )
    assert config.selects("promises/redis/promise.yaml")
    assert config.selects("requests/a.yaml")
    assert not config.selects("requests/deep/a.yaml")
    assert not config.selects("promises/redis/promise-test.yaml")
    assert not config.selects("promises/old/promise.yaml")
    assert not config.selects("other/a.yaml")


def test_config_file_never_selected_even_if_included() -> None:
    config = RepoConfig(include=("**", ".gitbot.yaml"))
    assert not config.selects(".gitbot.yaml")
    assert not config.selects(".gitbot/x")
    assert config.selects("x")


# --- stateRepository relative to the source ---------------------------------------------------


@pytest.mark.parametrize(
    ("value", "source", "expected"),
    [
        ("../state.git", "/work/platform", "/work/state.git"),
        ("./state", "/work/platform", "/work/platform/state"),
        ("state.git", "file:///work/platform", "/work/platform/state.git"),
        ("/srv/state.git", "/work/platform", "/srv/state.git"),
        (
            "https://git.example.com/state.git",
            "/work/platform",
            "https://git.example.com/state.git",
        ),
        ("acme/state", "https://github.example.com/acme/platform", "acme/state"),
        ("file:///srv/state.git", "https://github.example.com/acme/p", "file:///srv/state.git"),
    ],
)
def test_state_repository_is_resolved_against_the_source(
    value: str, source: str, expected: str
) -> None:
    config = parse_repo_config(f"stateRepository: {value}\n")
    assert resolve_state_repository(config, source) == expected


def test_a_relative_state_repository_with_a_remote_source_is_an_error_at_its_line() -> None:
    config = parse_repo_config("baseBranch: main\nstateRepository: ../state.git\n")
    with pytest.raises(InvalidObjects) as caught:
        resolve_state_repository(config, "https://github.example.com/acme/platform")
    assert str(caught.value) == (
        ".gitbot.yaml:2: stateRepository: '../state.git' is a relative path, which is resolved "
        "against a local source repository's folder, but the source "
        "https://github.example.com/acme/platform is remote: use a URL or owner/name"
    )


def test_no_state_repository_resolves_to_none() -> None:
    assert resolve_state_repository(parse_repo_config(None), "/work/platform") is None


def test_platform_destinations_match_by_name_or_by_every_label() -> None:
    platform = PlatformDestinations(("platform",), {"environment": "platform", "tier": "a"})
    assert platform.matches("platform", {})
    assert platform.matches("other", {"environment": "platform", "tier": "a", "x": "y"})
    assert not platform.matches("other", {"environment": "platform"})
    assert not PlatformDestinations(("platform",)).matches("worker", {})
    assert not PlatformDestinations()
