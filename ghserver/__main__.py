"""`python -m ghserver --port 8080 --data DIR --repo owner/name ...`: serve until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from ghserver.model import AccountType
from ghserver.server import GitHubServer

STOP = {signal.SIGINT, signal.SIGTERM}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m ghserver",
        description="Serve an in-tree GitHub (REST under /api/v3 and git over HTTP).",
    )
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (0: any free)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--data", type=Path, required=True, help="folder for repos and the key")
    parser.add_argument(
        "--repo",
        action="append",
        default=[],
        metavar="OWNER/NAME",
        help="repository to create (repeatable); the App is installed on each owner",
    )
    parser.add_argument(
        "--org",
        action="append",
        default=[],
        metavar="OWNER",
        help="treat this owner as an organization rather than a user (repeatable)",
    )
    parser.add_argument(
        "--auto-init",
        action="store_true",
        help="start each new repository with a README commit on main (else it is empty)",
    )
    parser.add_argument("--app-slug", default="gitbot", help="the App's slug")
    return parser.parse_args(argv)


def setup(server: GitHubServer, args: argparse.Namespace) -> list[str]:
    """Create the App, the repos and one installation per owner; lines describing them."""
    app = server.create_app(args.app_slug)
    by_owner: dict[str, list[str]] = {}
    for full in args.repo:
        owner, sep, name = full.partition("/")
        if not sep or not owner or not name or "/" in name:
            raise SystemExit(f"--repo wants OWNER/NAME, not {full!r}")
        kind: AccountType = "Organization" if owner in args.org else "User"
        server.create_repo(owner, name, owner_type=kind, auto_init=args.auto_init)
        by_owner.setdefault(owner, []).append(name)
    lines = [
        f"GitHub API:   {server.api_url}",
        f"App id:       {app.id}",
        f"Private key:  {app.private_key_path}",
    ]
    for owner, names in by_owner.items():
        installation = server.install(app.id, owner, names)
        lines.append(f"Installation: {installation} ({owner}: {', '.join(names)})")
    for full in args.repo:
        owner, _, name = full.partition("/")
        lines.append(f"Clone URL:    {server.clone_url(owner, name)}")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Start the server, print how to reach it, serve until interrupted."""
    args = parse_args(argv)
    # A process started from a shell's background job inherits an ignored SIGINT, and Ctrl-C (or
    # a supervisor's SIGTERM) must stop it all the same: both are blocked before any thread starts
    # (threads inherit the mask) and taken by sigwait below.
    for signum in STOP:
        signal.signal(signum, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP)
    server = GitHubServer(args.data, log_requests=True)
    server.start(port=args.port, host=args.host)
    try:
        for line in setup(server, args):
            print(line, flush=True)
        print("Serving; Ctrl-C stops.", flush=True)
        signal.sigwait(STOP)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
