"""`gitbot validate [FILE...]`: every problem in Kratix objects as file:line: message.

Without files it checks the repository in the current directory (a folder named instead of a
file is checked the same way) as gitbot reads a source repository: `.gitbot.yaml` itself, then
the files its include/exclude globs select (hidden folders such as `.git` left out; inside a git
work tree only files git tracks or would add, so .gitignore is respected). That is what the
pre-commit hook runs, because a resource request can only be checked against its Promise, which
may live in an unchanged file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path
from typing import TextIO

from gitbot.commands import jsonout
from gitbot.errors import EXIT_OK, EXIT_USER_ERROR, InvalidObjects, Problem, UserError
from gitbot.kratix.loader import LoadResult, load_objects
from gitbot.source.config import CONFIG_FILE, RepoConfig, parse_repo_config
from gitbot.source.snapshot import platform_warnings

GIT_LS_FILES_TIMEOUT = 60.0  # seconds; a pre-commit hook must not hang on a stuck git


def validate_command(args: argparse.Namespace, out: TextIO) -> int:
    """Check the files (or the repository here); print problems, or a JSON document."""
    config_problems: list[Problem] = []
    configs: list[RepoConfig] = []
    files: list[str] = []
    for name in args.files or ["."]:
        if not Path(name).is_dir():
            _check_readable(name)
            files.append(name)
            continue
        # A folder is read as a source repository (kubectl's `-f DIR`, with gitbot's selection).
        config, problems = _repo_config(Path(name))
        config_problems += problems
        configs.append(config)
        files += [_joined(name, path) for path in repository_files(Path(name), config)]
    result = load_objects(files)
    result.problems[:0] = config_problems
    for config in configs:
        result.warnings += platform_warnings(config, result.destinations)
    if args.output == "json":
        document = jsonout.document(
            "ValidateResult",
            valid=not result.problems,
            files=list(files),
            objects=jsonout.objects(result),
            problems=jsonout.problems(result),
        )
        print(json.dumps(document, indent=2), file=out)
    else:
        _print_text(result, out)
    return EXIT_USER_ERROR if result.problems else EXIT_OK


def _joined(folder: str, path: str) -> str:
    """A path under folder as the user would type it (`x.yaml` under `.`, not `./x.yaml`)."""
    return path if Path(folder) == Path(".") else os.path.join(folder, path)


def _check_readable(name: str) -> None:
    """A file named on the command line that cannot be read is a fatal input error (reported
    as `gitbot: error: ...` on stderr, like every command's), not a problem inside a file.

    Raises UserError naming the file and the system's reason."""
    try:
        with open(name, "rb"):
            pass
    except OSError as e:
        raise UserError(f"{name}: cannot read file: {e.strerror}") from e


def _print_text(result: LoadResult, out: TextIO) -> None:
    for problem in sorted([*result.problems, *result.warnings], key=lambda p: (p.file, p.line)):
        print(problem, file=out)
    if result.problems:
        print(f"{len(result.problems)} problem(s) found", file=out)
        return
    bindings = f", {len(result.bindings)} ResourceBinding(s)" if result.bindings else ""
    print(
        f"ok: {len(result.promises)} Promise(s), {len(result.destinations)} Destination(s), "
        f"{len(result.resources)} resource request(s){bindings}",
        file=out,
    )


def _repo_config(root: Path) -> tuple[RepoConfig, list[Problem]]:
    path = root / CONFIG_FILE
    text = path.read_text(encoding="utf-8") if path.is_file() else None
    try:
        return parse_repo_config(text, _joined(str(root), CONFIG_FILE)), []
    except InvalidObjects as e:
        return RepoConfig(), list(e.problems)


def repository_files(root: Path, config: RepoConfig) -> list[str]:
    """The files under root that config selects, as relative paths, hidden folders skipped.

    Inside a git work tree only the files git would commit count (tracked, staged, and untracked
    but not ignored), as reconcile reads only what is committed: a git-ignored file is no
    problem of the repository. Elsewhere every file under root.
    """
    candidates = _git_files(root)
    if candidates is None:
        candidates = _walk(root)
    return [
        path
        for path in candidates
        if not any(part.startswith(".") for part in path.split("/")[:-1]) and config.selects(path)
    ]


def _git_files(root: Path) -> list[str] | None:
    """`git ls-files --cached --others --exclude-standard` under root (relative, sorted, only
    files that exist); None when root is not in a git work tree or git cannot answer."""
    try:
        done = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=GIT_LS_FILES_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    names = done.stdout.decode("utf-8", "surrogateescape").split("\0")
    return sorted({name for name in names if name and (root / name).is_file()})


def _walk(root: Path) -> list[str]:
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        relative = Path(folder).relative_to(root)
        found += [(relative / name).as_posix() for name in sorted(names)]
    return found
