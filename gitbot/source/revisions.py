"""A Promise as it was at an earlier `kratix.io/promise-version`, read from the source history.

Kratix keeps a PromiseRevision per version, holding the Promise's spec as last applied at that
version (gitbot.kratix.revisions). gitbot keeps none: the newest commit, among the ones that
changed the Promise's current file, where the file held the Promise at that version is the one
Kratix would have applied last.
"""

from __future__ import annotations

from gitbot.errors import GitbotError
from gitbot.gitrepo import CachedRepo
from gitbot.kratix.loader import load_texts
from gitbot.kratix.objects import Promise
from gitbot.kratix.revisions import revision_version

SEARCHED = 200  # commits of the Promise's file looked at, newest first


def find_revision(repo: CachedRepo, commit: str, promise: Promise, version: str) -> Promise | None:
    """The Promise at `version` in the history of its file up to `commit`; None when no commit
    of the last SEARCHED that changed the file has it (or the file cannot be read there)."""
    path = promise.source.file
    try:
        commits = repo.commits_changing(commit, path, SEARCHED)
        for sha in commits:
            content = repo.read_files(sha, [path]).get(path)
            if content is None:
                continue
            text = content.decode("utf-8-sig", "replace")
            for found in load_texts({path: text}).promises:
                if found.name == promise.name and revision_version(found) == version:
                    return found
    except GitbotError:
        return None
    return None
