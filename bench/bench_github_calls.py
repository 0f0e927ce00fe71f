"""GitHub API calls per reconcile, counted by the in-tree GitHub server.

    .venv/bin/python bench/bench_github_calls.py

Installs the App on a source and a state repository holding the example Promises, then counts
the requests gitbot makes for: a first reconcile, an unchanged rerun, and a rerun after one
resource request changed. Writes are content-changing calls (POST/PATCH/PUT/DELETE and git
pushes), not counting installation-token minting. Target: zero writes on the unchanged rerun.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from gitfixtures import commit_all, git, init_source  # noqa: E402

from ghserver import GitHubServer  # noqa: E402
from gitbot.cli import main as gitbot_main  # noqa: E402


def build_images() -> None:
    subprocess.run([sys.executable, str(ROOT / "promises/build_images.py"), "--quiet"], check=True)


def count(server: GitHubServer, since: int) -> dict[str, int]:
    records = server.requests[since:]
    api = [r for r in records if r.api]
    return {
        "api calls": len(api),
        "api reads": sum(not r.write for r in api),
        "api writes": sum(r.write and not r.path.endswith("/access_tokens") for r in api),
        "token mints": sum(r.path.endswith("/access_tokens") for r in api),
        "git requests": sum(r.git for r in records),
        "git pushes": sum(r.git and r.write for r in records),
    }


def main() -> None:
    build_images()
    with tempfile.TemporaryDirectory() as tmp, GitHubServer(Path(tmp) / "github") as server:
        app = server.create_app()
        source_bare = server.create_repo("acme", "source")
        server.create_repo("acme", "state")
        server.install(app.id, "acme", ["source", "state"])
        work = init_source(Path(tmp) / "work")
        git(work, "push", "-q", str(source_bare), "main")
        os.environ.update(
            GITBOT_DATA_DIR=str(Path(tmp) / "data"),
            GITBOT_GITHUB_API_URL=server.api_url,
            GITBOT_GITHUB_APP_ID=str(app.id),
            GITBOT_GITHUB_PRIVATE_KEY_FILE=str(app.private_key_path),
            GITBOT_GITHUB_WRITE_INTERVAL="0",
        )

        def reconcile() -> dict[str, int]:
            since = len(server.requests)
            with contextlib.redirect_stdout(io.StringIO()):
                code = gitbot_main(
                    ["reconcile", "--source", "acme/source", "--state", "acme/state"]
                )
            if code != 0:
                raise SystemExit("reconcile failed")
            return count(server, since)

        rows = {"first reconcile": reconcile(), "unchanged rerun": reconcile()}
        request = work / "promises/postgres/resource-request.yaml"
        request.write_text(request.read_text().replace("size: large", "size: small"))
        commit_all(work, "one change")
        git(work, "push", "-q", str(source_bare), "main")
        rows["one changed request"] = reconcile()
    columns = list(next(iter(rows.values())))
    print(f"{'':22}" + "".join(f"{c:>14}" for c in columns))
    for name, row in rows.items():
        print(f"{name:22}" + "".join(f"{row[c]:>14}" for c in columns))


if __name__ == "__main__":
    main()
