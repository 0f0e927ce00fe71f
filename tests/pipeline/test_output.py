"""Output collection against an adversarial pipeline: links, special files, limits, swaps.

A pipeline's /kratix/output is written by code gitbot does not trust; whatever it leaves there,
gitbot must read only regular files inside the folder, never block, never follow a link.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from gitbot.pipeline.output import OutputLimits, OutputRejected, _read_no_follow, collect_output

LIMITS = OutputLimits(max_files=10, max_bytes=1000)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host folder next to the output, holding what a pipeline must never reach."""
    folder = tmp_path / "host"
    folder.mkdir()
    (folder / "shadow").write_text("root:secret-hash\n")
    return folder


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "output"
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "a.yaml").write_text("a: 1\n")
    (folder / "nested" / "deeper" / "b.yaml").write_text("b: 2\n")
    return folder


def rejected(root: Path, limits: OutputLimits = LIMITS) -> str:
    with pytest.raises(OutputRejected) as raised:
        collect_output(root, limits)
    return str(raised.value)


def test_regular_files_in_nested_folders_are_collected_by_posix_path(output: Path) -> None:
    (output / "empty").mkdir()
    assert collect_output(output, LIMITS) == {
        "a.yaml": b"a: 1\n",
        "nested/deeper/b.yaml": b"b: 2\n",
    }


def test_a_link_to_a_host_folder_is_refused_not_walked(output: Path, outside: Path) -> None:
    (output / "etc").symlink_to(outside, target_is_directory=True)
    assert rejected(output) == "output file 'etc' is a symlink; only regular files"


def test_a_link_to_a_folder_inside_the_output_is_refused_too(output: Path) -> None:
    (output / "again").symlink_to(output / "nested", target_is_directory=True)
    assert rejected(output) == "output file 'again' is a symlink; only regular files"


def test_a_dangling_link_is_refused(output: Path) -> None:
    (output / "nested" / "gone").symlink_to(output / "nowhere")
    assert rejected(output) == "output file 'nested/gone' is a symlink; only regular files"


def test_a_link_deep_in_nested_folders_is_refused(output: Path, outside: Path) -> None:
    (output / "nested" / "deeper" / "z-shadow").symlink_to(outside / "shadow")
    assert rejected(output) == (
        "output file 'nested/deeper/z-shadow' is a symlink; only regular files"
    )


def test_a_relative_link_climbing_out_is_refused(output: Path) -> None:
    (output / "nested" / "up").symlink_to(Path("..") / ".." / "host" / "shadow")
    assert rejected(output) == "output file 'nested/up' is a symlink; only regular files"


def _without_hanging(action: object) -> str:
    """Run `action` in a thread; a FIFO opened for reading would block it for ever."""
    result: list[str] = []

    def run() -> None:
        try:
            action()  # type: ignore[operator]
        except OutputRejected as e:
            result.append(str(e))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "reading the output blocked"
    assert result, "the output was accepted"
    return result[0]


def test_a_fifo_is_refused_without_blocking(output: Path) -> None:
    os.mkfifo(output / "nested" / "pipe")
    message = _without_hanging(lambda: collect_output(output, LIMITS))
    assert message == "output file 'nested/pipe' is not a regular file"


def test_a_file_swapped_for_a_fifo_after_the_check_is_refused_without_blocking(
    output: Path,
) -> None:
    os.mkfifo(output / "pipe")
    message = _without_hanging(lambda: _read_no_follow(str(output / "pipe"), "pipe"))
    assert message == "output file 'pipe' is not a regular file"


def test_a_file_swapped_for_a_link_after_the_check_is_not_followed(
    output: Path, outside: Path
) -> None:
    (output / "swapped").symlink_to(outside / "shadow")
    with pytest.raises(OutputRejected) as raised:
        _read_no_follow(str(output / "swapped"), "swapped")
    assert str(raised.value).startswith("output file 'swapped' cannot be read: ")


def test_devices_are_refused(output: Path) -> None:
    # Root only, as these machines and CI run; a device node in the output is a character
    # device a read would never end on (/dev/zero) or that reaches hardware.
    os.mknod(output / "null", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    assert rejected(output) == "output file 'null' is not a regular file"


def test_a_socket_is_refused(output: Path) -> None:
    import socket

    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(output / "sock"))
        assert rejected(output) == "output file 'sock' is not a regular file"


def test_the_file_limit_is_exact(output: Path) -> None:
    for i in range(8):
        (output / f"f{i}").write_text("x")
    assert len(collect_output(output, LIMITS)) == 10
    (output / "f8").write_text("x")
    assert rejected(output) == "output has more than 10 files (at 'nested/deeper/b.yaml')"


def test_the_size_limit_is_exact(output: Path) -> None:
    (output / "big").write_bytes(b"x" * (1000 - 10))
    assert len(collect_output(output, LIMITS)) == 3  # exactly 1000 bytes
    (output / "c").write_bytes(b"!")
    assert rejected(output) == "output is larger than 1000 bytes (at 'nested/deeper/b.yaml')"
