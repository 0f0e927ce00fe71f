"""Read a pipeline's /kratix/output safely: regular files only, inside the folder, within limits."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from gitbot.errors import UserError


class OutputRejected(UserError):
    """The pipeline wrote something gitbot will not put in a state repository."""


@dataclass(frozen=True)
class OutputLimits:
    """Bounds on what one pipeline may produce."""

    max_files: int = 1000
    max_bytes: int = 64 * 1024 * 1024


def collect_output(root: Path, limits: OutputLimits) -> dict[str, bytes]:
    """Every regular file under root by its POSIX path relative to root, sorted."""
    files: dict[str, bytes] = {}
    total = 0
    for relative, entry in _walk(root, ""):
        info = entry.stat(follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            raise OutputRejected(f"output file '{relative}' is a symlink; only regular files")
        if not stat.S_ISREG(info.st_mode):
            raise OutputRejected(f"output file '{relative}' is not a regular file")
        if len(files) >= limits.max_files:
            raise OutputRejected(f"output has more than {limits.max_files} files (at '{relative}')")
        total += info.st_size
        if total > limits.max_bytes:
            raise OutputRejected(
                f"output is larger than {limits.max_bytes} bytes (at '{relative}')"
            )
        files[relative] = _read_no_follow(entry.path, relative)
    return dict(sorted(files.items()))


def top_level_directories(root: Path) -> frozenset[str]:
    """Names of the real (not symlinked) folders directly under root, empty ones included."""
    with os.scandir(root) as entries:
        return frozenset(e.name for e in entries if e.is_dir(follow_symlinks=False))


def _walk(folder: Path | str, prefix: str) -> list[tuple[str, os.DirEntry[str]]]:
    found = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            relative = f"{prefix}{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                found.extend(_walk(entry.path, relative + "/"))
            else:
                found.append((relative, entry))
    return found


def _read_no_follow(path: str, relative: str) -> bytes:
    """The file's bytes, if it is still a regular file when opened.

    A file swapped after the check (the container may still run a process) cannot lead
    elsewhere: O_NOFOLLOW refuses a symlink, O_NONBLOCK keeps a FIFO from blocking the open,
    and fstat on the open descriptor refuses anything that is not a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as e:
        raise OutputRejected(f"output file '{relative}' cannot be read: {e.strerror}") from e
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OutputRejected(f"output file '{relative}' is not a regular file")
        return handle.read()
