"""Standard output that may be a pipe whose reader goes away (`gitbot reconcile ... | head -1`).

A CLI whose reader left should neither print a traceback nor stop half way through its work:
the first write that meets a closed pipe sends the rest of the output to /dev/null (Python's
documented recipe for SIGPIPE, docs.python.org/3/library/signal.html#note-on-sigpipe), the
command runs to its end (so a reconcile never leaves its state writes half done), and the
command line then exits with `EXIT_BROKEN_PIPE`, as a process killed by SIGPIPE would report.
"""

from __future__ import annotations

import io
import os
import threading
from typing import TextIO, cast

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what shells report for a writer whose reader left


class PipeGuard(io.TextIOBase):
    """Writes to `stream` until its reader goes away, then drops what follows.

    `broken` tells whether that happened. Thread-safe: workers print from several threads.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream
        self.broken = False
        self._lock = threading.Lock()

    def as_text(self) -> TextIO:
        """This guard typed as the `TextIO` the commands take."""
        return cast(TextIO, self)

    def write(self, text: str) -> int:
        with self._lock:
            if not self.broken:
                try:
                    self.stream.write(text)
                except BrokenPipeError:
                    self._drop()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.stream.isatty()

    def finish(self) -> bool:
        """Flush what is left; True when the reader went away at any point."""
        with self._lock:
            self._flush()
            return self.broken

    def _flush(self) -> None:
        if self.broken:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._drop()

    def _drop(self) -> None:
        self.broken = True
        drop_output(self.stream)


def drop_output(stream: TextIO) -> None:
    """Point `stream`'s file descriptor at /dev/null, so the interpreter's own flush at exit
    (of data still buffered for the closed pipe) succeeds instead of printing a warning."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return  # not a real file (a test's capture): nothing flushes it at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
