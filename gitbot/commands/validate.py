"""`gitbot validate FILE...`: every problem in Kratix objects as file:line: message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from gitbot.errors import EXIT_OK, EXIT_USER_ERROR
from gitbot.kratix.loader import load_objects


def validate(files: Sequence[str], out: TextIO) -> int:
    """Print problems and warnings; exit 1 when any problem is an error."""
    result = load_objects(files)
    for problem in sorted([*result.problems, *result.warnings], key=lambda p: (p.file, p.line)):
        print(problem, file=out)
    if result.problems:
        print(f"{len(result.problems)} problem(s) found", file=out)
        return EXIT_USER_ERROR
    print(
        f"ok: {len(result.promises)} Promise(s), {len(result.destinations)} Destination(s), "
        f"{len(result.resources)} resource request(s)",
        file=out,
    )
    return EXIT_OK
