"""The `gitbot` command line: parse arguments, dispatch, turn errors into exit codes."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from gitbot import __version__
from gitbot.commands.db import add_parser as db_parser
from gitbot.errors import EXIT_EXTERNAL, EXIT_USER_ERROR, ExternalError, GitbotError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gitbot", description="Run Kratix Promise workflows from git, without a cluster."
    )
    parser.add_argument("--version", action="version", version=f"gitbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="validate Promises, Destinations, requests")
    validate.add_argument("files", nargs="+", metavar="FILE")

    run = commands.add_parser("run", help="run one object's workflow in real containers")
    run.add_argument("promise", metavar="PROMISE_FILE")
    run.add_argument("--resource", metavar="REQUEST_FILE", help="run this request's workflow")
    run.add_argument("--action", choices=("configure", "delete"), default="configure")
    run.add_argument(
        "--destinations",
        action="append",
        default=[],
        metavar="FILE",
        help="Destination files (repeatable); default: one implicit Destination 'default'",
    )
    run.add_argument("--secrets-dir", metavar="DIR", help="secrets as <DIR>/<name>/<key>")
    run.add_argument("--config-maps-dir", metavar="DIR", help="config maps as <DIR>/<name>/<key>")
    run.add_argument("--out", metavar="DIR", help="write the state-store files here")
    run.add_argument("--expect", metavar="DIR", help="compare the files with this tree")
    run.add_argument("--state-path", default="", help="state store root inside the repository")
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="per-container timeout")
    run.add_argument("--dry-run", action="store_true", help="set KRATIX_DRY_RUN for resources")
    reconcile = commands.add_parser(
        "reconcile", help="render a whole source repository into a state repository"
    )
    reconcile.add_argument("--source", required=True, metavar="PATH_OR_URL")
    reconcile.add_argument("--state", metavar="PATH_OR_URL", help="default: stateRepository")
    reconcile.add_argument("--source-ref", metavar="REF", help="default: the default branch")
    reconcile.add_argument(
        "--direct", action="store_true", help="commit to the base branch instead of branches"
    )
    reconcile.add_argument(
        "--resume",
        action="store_true",
        help="resume suspended workflows from their suspended pipeline, as after a retryAfter",
    )
    reconcile.add_argument("--secrets-dir", metavar="DIR", help="secrets as <DIR>/<name>/<key>")
    reconcile.add_argument(
        "--only", action="append", default=[], metavar="PROMISE", help="only these Promises"
    )
    for name, text in (
        ("serve", "webhook server, worker and scheduler in one process"),
        ("web", "only the webhook server (the worker runs elsewhere)"),
        ("worker", "only the worker and the scheduler"),
    ):
        command = commands.add_parser(name, help=text)
        if name != "worker":
            command.add_argument("--host", default="127.0.0.1")
            command.add_argument("--port", type=int, default=8080)
        else:
            command.add_argument(
                "--metrics-port",
                type=int,
                metavar="PORT",
                help="serve the worker's /metrics (runs, pull requests, GitHub calls) on this port",
            )
            command.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST")
        command.add_argument(
            "--lease",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="a job whose worker stops heart-beating for this long is run again",
        )
    db_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _dispatch(args)
    except ExternalError as e:
        print(f"gitbot: error: {e}", file=sys.stderr)
        return EXIT_EXTERNAL
    except GitbotError as e:
        print(f"gitbot: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("gitbot: interrupted; containers removed", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        from gitbot.commands.validate import validate

        return validate(args.files, sys.stdout)
    if args.command in ("serve", "web", "worker"):
        from gitbot.commands.serve import serve_command

        return serve_command(args)
    if args.command == "db":
        from gitbot.commands.db import db_command

        return db_command(args, sys.stdout)
    if args.command == "reconcile":
        from gitbot.commands.reconcile import reconcile_command

        return reconcile_command(args, sys.stdout)
    from gitbot.commands.run import run_command

    return run_command(args, sys.stdout)


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so running containers are removed on the way out.
    raise KeyboardInterrupt
