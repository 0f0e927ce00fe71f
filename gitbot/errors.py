"""Error tiers: user errors are reported and not retried, external errors carry what failed."""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_EXTERNAL = 3


class GitbotError(Exception):
    """Base of every error gitbot reports to its user."""


class UserError(GitbotError):
    """Bad input from the user (YAML, Promise, pipeline output): report it, do not retry."""


class ExternalError(GitbotError):
    """A system gitbot depends on (container engine, git, GitHub) failed: retry may help."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a YAML file, located at file:line and a key path."""

    file: str
    line: int
    path: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        kind = "warning: " if self.warning else ""
        return f"{self.file}:{self.line}: {kind}{where}{self.message}"


class InvalidObjects(UserError):
    """One or more objects failed validation; every problem is listed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
