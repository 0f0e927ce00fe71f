"""Secrets and config maps from folders laid out like mounted Kubernetes objects, and redaction.

`<dir>/<name>/<key>` holds one value, as a Secret volume would. Every secret value that gitbot
reads is registered with a Redactor, which replaces it by `****` in any text gitbot prints.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from gitbot.errors import UserError

REDACTED = "****"
# Values this short would redact ordinary words; Kubernetes secrets are rarely this small.
MIN_REDACTED_LENGTH = 4
_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]+$")


class Secret(str):
    """A string that prints as **** (repr and str formatting), for tokens and keys in memory."""

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"


@dataclass
class Redactor:
    """Replaces every registered secret value (and its lines) with ****."""

    _values: set[str] = field(default_factory=set)
    _pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        for part in {value, value.strip(), *value.strip().splitlines()}:
            if len(part) >= MIN_REDACTED_LENGTH and part not in self._values:
                self._values.add(part)
                self._pattern = None

    def __call__(self, text: str) -> str:
        if not self._values:
            return text
        if self._pattern is None:
            alternatives = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))
        return self._pattern.sub(REDACTED, text)


@dataclass(frozen=True)
class KeyedStore:
    """A folder of named objects with keys: secrets (`sensitive`) or config maps."""

    root: Path | None
    kind: str  # "secret" or "config map", for messages
    redactor: Redactor
    sensitive: bool

    def keys(self, name: str, *, optional: bool = False) -> dict[str, str]:
        """All keys of one object (for envFrom and volumes); missing object is an error."""
        folder = self._folder(name)
        if folder is None or not folder.is_dir():
            if optional:
                return {}
            raise UserError(f"{self.kind} '{name}' not found{self._where()}")
        return {
            entry.name: self._read(name, entry.name, Path(entry.path))
            for entry in sorted(os.scandir(folder), key=lambda e: e.name)
            if entry.is_file() and not entry.name.startswith(".")
        }

    def names(self) -> list[str]:
        """Every object in the folder (none without a folder), sorted."""
        if self.root is None or not self.root.is_dir():
            return []
        return sorted(
            entry.name
            for entry in os.scandir(self.root)
            if entry.is_dir() and _KEY_RE.match(entry.name) and not entry.name.startswith(".")
        )

    def value(self, name: str, key: str, *, optional: bool = False) -> str | None:
        """One key of one object (for valueFrom); missing is an error unless optional."""
        folder = self._folder(name)
        if folder is None or not folder.is_dir():
            if optional:
                return None
            raise UserError(f"{self.kind} '{name}' not found{self._where()}")
        if not _KEY_RE.match(key) or not (folder / key).is_file():
            if optional:
                return None
            raise UserError(f"{self.kind} '{name}' has no key '{key}'{self._where()}")
        return self._read(name, key, folder / key)

    def _folder(self, name: str) -> Path | None:
        if self.root is None or not _KEY_RE.match(name) or name in (".", ".."):
            return None
        return self.root / name

    def _read(self, name: str, key: str, path: Path) -> str:
        try:
            value = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"cannot read {self.kind} '{name}' key '{key}': {e}") from e
        if self.sensitive:
            self.redactor.add(value)
        return value

    def _where(self) -> str:
        if self.root is None:
            flag = "--secrets-dir" if self.sensitive else "--config-maps-dir"
            return f" (no {self.kind}s folder given; use {flag})"
        return f" in {self.root}"


def secret_store(root: Path | None, redactor: Redactor) -> KeyedStore:
    return KeyedStore(root, "secret", redactor, sensitive=True)


def config_map_store(root: Path | None, redactor: Redactor) -> KeyedStore:
    return KeyedStore(root, "config map", redactor, sensitive=False)
