"""The `gitbot` command line: parse arguments, dispatch, turn errors into exit codes.

Each subcommand is one `Command` in `COMMANDS`: its help texts, a function adding its options
and the `module:function` that runs it, imported only when that subcommand runs (importing every
command costs 0.7 s; `gitbot validate` in a pre-commit hook should not pay it). A new subcommand
is one more entry and one module under `gitbot/commands/`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from gitbot import __version__
from gitbot.commands.pipes import EXIT_BROKEN_PIPE, PipeGuard, drop_output
from gitbot.errors import (
    EXIT_EXTERNAL,
    EXIT_USER_ERROR,
    ExternalError,
    GitbotError,
    InvalidObjects,
)

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
HELP_WIDTH = 100  # fixed, so `--help` reads the same everywhere and the README can quote it

ENVIRONMENT = {
    "GITBOT_ENGINE_URL": "Docker Engine API URL (default: $DOCKER_HOST, else the Docker socket)",
    "DOCKER_HOST": "used when GITBOT_ENGINE_URL is not set",
    "GITBOT_CONTAINER_TIMEOUT": "seconds before a container is killed (default 600)",
    "GITBOT_ALLOW_PRIVILEGED": "allow securityContext.privileged (default false)",
    "GITBOT_DEFAULT_IMAGE_PULL_POLICY": "Always, IfNotPresent or Never (default: Kubernetes' rule)",
    "GITBOT_CONTAINER_NETWORK": "network for pipeline containers (default: the engine's)",
    "GITBOT_MAX_OUTPUT_FILES": "files one pipeline may produce (default 1000)",
    "GITBOT_MAX_OUTPUT_BYTES": "bytes one pipeline may produce (default 67108864)",
    "GITBOT_WORK_DIR": "where pipeline folders are made (default: the system temp folder)",
    "GITBOT_SECRETS_DIR": "default for --secrets-dir",
    "GITBOT_CONFIG_MAPS_DIR": "default for --config-maps-dir",
    "GITBOT_DATA_DIR": "repository cache and status database (default ~/.local/share/gitbot)",
    "GITBOT_WORKERS": "workflows run at once, Promises' and requests' (default 2)",
    "GITBOT_GIT_TIMEOUT": "seconds before a git command is killed (default 120)",
    "GITBOT_GITHUB_API_URL": "GitHub API (default https://api.github.com)",
    "GITBOT_GITHUB_APP_ID": "the GitHub App's id, with GITBOT_GITHUB_PRIVATE_KEY_FILE",
    "GITBOT_GITHUB_PRIVATE_KEY_FILE": "the GitHub App's private key (PEM)",
    "GITBOT_GITHUB_TOKEN": "a plain GitHub token instead of the App",
    "GITBOT_GITHUB_TIMEOUT": "seconds per GitHub API call (default 30)",
    "GITBOT_GITHUB_WRITE_INTERVAL": "seconds between content-creating calls (default 1)",
    "GITBOT_WEBHOOK_SECRET": "the App's webhook secret (required)",
    "GITBOT_DATABASE_URL": (
        "queue database, and object statuses when set "
        "(default sqlite:///$GITBOT_DATA_DIR/gitbot.db)"
    ),
    "GITBOT_RUNS_TOKEN": "token for reading the console (default: this machine only)",
    "GITBOT_CONSOLE_TOKEN": "token for the console's actions (default: none, read only)",
    "GITBOT_RECONCILE_INTERVAL": "periodic rerun when a source sets none (default 10h)",
    "GITBOT_DELIVERY_RETENTION": "delivery payloads older than this are emptied (default 30d)",
}
_ENGINE_ENV = (
    "GITBOT_ENGINE_URL",
    "DOCKER_HOST",
    "GITBOT_CONTAINER_TIMEOUT",
    "GITBOT_ALLOW_PRIVILEGED",
    "GITBOT_DEFAULT_IMAGE_PULL_POLICY",
    "GITBOT_CONTAINER_NETWORK",
    "GITBOT_MAX_OUTPUT_FILES",
    "GITBOT_MAX_OUTPUT_BYTES",
    "GITBOT_WORK_DIR",
)
_GITHUB_ENV = (
    "GITBOT_GITHUB_API_URL",
    "GITBOT_GITHUB_APP_ID",
    "GITBOT_GITHUB_PRIVATE_KEY_FILE",
    "GITBOT_GITHUB_TOKEN",
    "GITBOT_GITHUB_TIMEOUT",
    "GITBOT_GITHUB_WRITE_INTERVAL",
)
_RECONCILE_ENV = (
    *_ENGINE_ENV,
    "GITBOT_SECRETS_DIR",
    "GITBOT_DATA_DIR",
    "GITBOT_WORKERS",
    "GITBOT_GIT_TIMEOUT",
    *_GITHUB_ENV,
)
_SERVER_ENV = (
    *_RECONCILE_ENV,
    "GITBOT_WEBHOOK_SECRET",
    "GITBOT_DATABASE_URL",
    "GITBOT_RUNS_TOKEN",
    "GITBOT_CONSOLE_TOKEN",
    "GITBOT_RECONCILE_INTERVAL",
    "GITBOT_DELIVERY_RETENTION",
)


@dataclass(frozen=True)
class Command:
    """One subcommand: what `--help` says, its options, and what runs it."""

    name: str
    summary: str  # one line, for `gitbot --help`
    description: str
    examples: Sequence[tuple[str, str]]  # (comment, command line)
    environment: Sequence[str]
    add_arguments: Callable[[argparse.ArgumentParser], None]
    handler: str  # "module:function", called with the parsed arguments; returns the exit code
    usage: str | None = None


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Fixed width; every option's help ends with its default, as kubectl's do."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=HELP_WIDTH, max_help_position=32)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.required
            or action.default is argparse.SUPPRESS
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            return text
        return f"{text} (default: {_shown(action.default)})"


def _shown(value: object) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _epilog(command: Command) -> str:
    lines = ["Examples:"]
    for comment, line in command.examples:
        lines += [f"  # {comment}", f"  {line}", ""]
    lines.append("Environment variables:")
    if not command.environment:
        lines.append("  none")
    width = max((len(name) for name in command.environment), default=0)
    lines += [f"  {name:<{width}}  {ENVIRONMENT[name]}" for name in command.environment]
    return "\n".join(lines)


def _output_options(parser: argparse.ArgumentParser, *, progress: bool) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json"),
        default="text",
        help="text for people, json for scripts (one document on stdout; see the README)",
    )
    if not progress:
        return
    parser.add_argument(
        "--progress",
        choices=("auto", "always", "never"),
        default="auto",
        help="show objects, pipelines and containers as they run, on stderr; auto: when "
        "stderr is a terminal",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also stream every container's log lines as they come (redacted); without it, "
        "only a container whose output goes on for more than 5 seconds shows its lines",
    )


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="YAML files, or folders read as a repository, to check (default: the files "
        ".gitbot.yaml selects in the current directory, hidden folders left out)",
    )
    _output_options(parser, progress=False)


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("promise", metavar="PROMISE_FILE", help="the file holding the Promise")
    parser.add_argument(
        "--resource", metavar="REQUEST_FILE", help="run this resource request's workflow instead"
    )
    parser.add_argument(
        "--action",
        choices=("configure", "delete"),
        default="configure",
        help="which workflow; delete runs only the first delete pipeline and ignores its output",
    )
    parser.add_argument(
        "--destinations",
        action="append",
        default=[],
        metavar="FILE",
        help="Destination objects (repeatable) (default: the implicit Destination 'default', "
        "path 'default', no labels)",
    )
    parser.add_argument(
        "--secrets-dir",
        metavar="DIR",
        help="secrets laid out like a mounted Secret, DIR/<name>/<key> "
        "(default: $GITBOT_SECRETS_DIR, else none)",
    )
    parser.add_argument(
        "--config-maps-dir",
        metavar="DIR",
        help="config maps, the same layout (default: $GITBOT_CONFIG_MAPS_DIR, else none)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="write the state-store files there, replaced as a whole"
    )
    parser.add_argument(
        "--expect",
        metavar="DIR",
        help="compare the files with this tree; a unified diff and exit 1 on mismatch",
    )
    parser.add_argument(
        "--state-path",
        default="",
        metavar="PATH",
        help="the state store's root inside the repository (Kratix StateStore.spec.path) "
        "(default: the root)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="per-container timeout (default: $GITBOT_CONTAINER_TIMEOUT, else 600)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="set KRATIX_DRY_RUN=true for resource workflows"
    )
    _output_options(parser, progress=True)


def _reconcile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        required=True,
        metavar="PATH_OR_URL",
        help="the source repository: a local path, a file:// or http(s):// URL, or owner/name "
        "on GitHub (required)",
    )
    parser.add_argument(
        "--state",
        metavar="PATH_OR_URL",
        help="the state repository, the same forms (default: stateRepository in the source's "
        ".gitbot.yaml)",
    )
    parser.add_argument(
        "--source-ref",
        metavar="REF",
        help="branch, tag or commit of the source to render (default: its default branch)",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="commit straight to the base branch instead of gitbot/* branches (Kratix's way)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="resume suspended workflows from their suspended pipeline, as a retryAfter rerun "
        "does; a resumed run adds files and removes none",
    )
    parser.add_argument(
        "--secrets-dir",
        metavar="DIR",
        help="secrets as DIR/<name>/<key> (default: $GITBOT_SECRETS_DIR, else none)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PROMISE",
        help="reconcile only this Promise (repeatable) (default: every Promise)",
    )
    _output_options(parser, progress=True)


def _server_arguments(parser: argparse.ArgumentParser, *, web: bool, worker: bool) -> None:
    if web:
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    if worker and not web:
        parser.add_argument(
            "--metrics-port",
            type=int,
            metavar="PORT",
            help="serve the worker's /metrics (runs, pull requests, GitHub calls) on this port "
            "(default: none)",
        )
        parser.add_argument(
            "--metrics-host", default="127.0.0.1", metavar="HOST", help="address for /metrics"
        )
    parser.add_argument(
        "--lease",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a job whose worker stops heart-beating for this long is run again",
    )


COMMANDS: tuple[Command, ...] = (
    Command(
        name="validate",
        summary="check Promises, Destinations and resource requests",
        description=(
            "Check Kratix Promises, Destinations and resource requests as Kratix's admission\n"
            "webhooks and decoders would, and requests against their Promise's CRD schema.\n"
            "Every problem is printed as file:line: key.path: message. Warnings are printed but\n"
            "do not fail. Exit 0 when valid, 1 when any problem is an error.\n"
            "\n"
            "Without FILE, checks the files .gitbot.yaml selects in the current directory (the\n"
            "whole repository, as gitbot reads it; this is what the pre-commit hook runs). Inside\n"
            "a git work tree only files git tracks or would add count: .gitignore is respected.\n"
            "A folder given as FILE is checked the same way, with its own .gitbot.yaml."
        ),
        examples=(
            ("Check two files", "gitbot validate promise.yaml resource-request.yaml"),
            ("Check the repository in the current directory", "gitbot validate"),
            ("Problems as JSON, for CI", "gitbot validate --output json promises/*.yaml"),
        ),
        environment=(),
        add_arguments=_validate_arguments,
        handler="gitbot.commands.validate:validate_command",
        usage="gitbot validate [FILE...] [options]",
    ),
    Command(
        name="run",
        summary="run one object's workflow in real containers",
        description=(
            "Run a Promise's workflow, or with --resource one resource request's, in real\n"
            "containers exactly as Kratix runs it, and print per pipeline and container what\n"
            "ran, for how long, and which state-store files came out (placed on the Destinations\n"
            "as Kratix would). Exit 0 on success, 1 on invalid input or a failing pipeline\n"
            "(with its container's last 20 log lines), 3 when the container engine fails."
        ),
        examples=(
            ("Run a Promise's own configure workflow", "gitbot run promise.yaml"),
            (
                "Run a request's workflow, placing files on your Destinations",
                "gitbot run promise.yaml --resource request.yaml --destinations dest.yaml "
                "--out out/",
            ),
            (
                "Check the output against a committed tree, for CI",
                "gitbot run promise.yaml --resource request.yaml --expect expected/",
            ),
        ),
        environment=(*_ENGINE_ENV, "GITBOT_SECRETS_DIR", "GITBOT_CONFIG_MAPS_DIR"),
        add_arguments=_run_arguments,
        handler="gitbot.commands.run:run_command",
        usage="gitbot run PROMISE_FILE [options]",
    ),
    Command(
        name="reconcile",
        summary="render a whole source repository into a state repository",
        description=(
            "Render a whole source repository into a state repository, as Kratix keeps its\n"
            "state store, but as reviewable branches: every Promise's configure workflow, then\n"
            "its requests', the delete workflows of objects that left the source, one branch\n"
            "per Promise (gitbot/<promise>, per pullRequests.groupBy) pushed only when its\n"
            "content changed. owner/name repositories go through the GitHub App: pull requests\n"
            "on the state repository, check runs on the source commit.\n"
            "\n"
            "A relative stateRepository in .gitbot.yaml is resolved against the source\n"
            "repository's folder; a remote source needs a URL or owner/name there.\n"
            "Exit 0 when everything succeeded, 1 on invalid input or any failure, 3 when git,\n"
            "GitHub or the container engine fails."
        ),
        examples=(
            (
                "Reconcile a local source into a local state repository",
                "gitbot reconcile --source ./platform --state ../state.git",
            ),
            (
                "Only one Promise, committing straight to the base branch",
                "gitbot reconcile --source ./platform --only postgres --direct",
            ),
            (
                "On GitHub, with the App's settings in the environment",
                "gitbot reconcile --source acme/platform --state acme/platform-state",
            ),
        ),
        environment=_RECONCILE_ENV,
        add_arguments=_reconcile_arguments,
        handler="gitbot.commands.reconcile:reconcile_command",
        usage="gitbot reconcile --source PATH_OR_URL [--state PATH_OR_URL] [options]",
    ),
    Command(
        name="serve",
        summary="webhook server, worker and scheduler in one process",
        description=(
            "Run the GitHub App in one process: POST /webhook (signature checked, delivery\n"
            "stored, 202 at once), a worker pool that reconciles what deliveries ask for, the\n"
            "periodic scheduler, /healthz, /readyz, /metrics and the runs page. Logs are JSON\n"
            "lines on stderr. Stops cleanly on SIGINT or SIGTERM."
        ),
        examples=(
            ("Listen on this machine only", "gitbot serve"),
            ("Listen on every address, port 9000", "gitbot serve --host 0.0.0.0 --port 9000"),
        ),
        environment=_SERVER_ENV,
        add_arguments=lambda p: _server_arguments(p, web=True, worker=True),
        handler="gitbot.commands.serve:serve_command",
    ),
    Command(
        name="web",
        summary="only the webhook server (the worker runs elsewhere)",
        description=(
            "Run only the web side: POST /webhook, health, metrics and the runs page. Deliveries\n"
            "are stored in the shared database for `gitbot worker`. In production the Procfile\n"
            "runs the same app under gunicorn (gitbot.wsgi:app)."
        ),
        examples=(
            ("Listen on port 8080 of every address", "gitbot web --host 0.0.0.0"),
            ("Under gunicorn, as the Procfile does", "gunicorn 'gitbot.wsgi:app'"),
        ),
        environment=_SERVER_ENV,
        add_arguments=lambda p: _server_arguments(p, web=True, worker=False),
        handler="gitbot.commands.serve:serve_command",
    ),
    Command(
        name="worker",
        summary="only the worker and the scheduler",
        description=(
            "Run the worker pool and the scheduler (exactly one per installation): take jobs\n"
            "from the shared database, reconcile, open pull requests and check runs, rerun\n"
            "every repository on its interval."
        ),
        examples=(
            ("Run the worker", "gitbot worker"),
            ("Export the worker's own metrics", "gitbot worker --metrics-port 9100"),
        ),
        environment=_SERVER_ENV,
        add_arguments=lambda p: _server_arguments(p, web=False, worker=True),
        handler="gitbot.commands.serve:serve_command",
    ),
    Command(
        name="db",
        summary="look at, upgrade or back up the work database",
        description=(
            "Look after the work database (GITBOT_DATABASE_URL, else SQLite in the data\n"
            "directory): print its schema revision, migrate it to this gitbot's schema, or\n"
            "copy a SQLite database (and the object status store) while gitbot runs."
        ),
        examples=(
            ("Which schema revision the database is at", "gitbot db current"),
            ("Migrate it before starting a new gitbot", "gitbot db upgrade"),
            ("Back up a SQLite work database", "gitbot db backup /backups/gitbot.db"),
        ),
        environment=("GITBOT_DATABASE_URL", "GITBOT_DATA_DIR"),
        add_arguments=lambda p: _db_arguments(p),
        handler="gitbot.commands.db:db_command",
        usage="gitbot db {current,upgrade,backup FILE}",
    ),
)


def _db_arguments(parser: argparse.ArgumentParser) -> None:
    from gitbot.commands.db import add_arguments  # light: its heavy imports wait for the run

    add_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subparser's help follows `Command`."""
    parser = argparse.ArgumentParser(
        prog="gitbot",
        description="Run Kratix Promise workflows from git, without a cluster.",
        epilog="Run 'gitbot COMMAND --help' for a command's options, environment and examples.",
        formatter_class=_Formatter,
    )
    parser._positionals.title = "Commands"
    parser._optionals.title = "Options"
    parser.add_argument("--version", action="version", version=f"gitbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(
            command.name,
            help=command.summary,
            description=command.description,
            epilog=_epilog(command),
            usage=command.usage,
            formatter_class=_Formatter,
        )
        sub._positionals.title = "Arguments"
        sub._optionals.title = "Options"
        command.add_arguments(sub)
    return parser


def help_text(name: str | None = None) -> str:
    """`gitbot --help`, or `gitbot NAME --help`, as printed (the README quotes these)."""
    parser = build_parser()
    if name is None:
        return parser.format_help()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    sub: argparse.ArgumentParser = subparsers.choices[name]
    return sub.format_help()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return _dispatch(args)
    except ExternalError as e:
        return _fail(args, e, EXIT_EXTERNAL)
    except GitbotError as e:
        return _fail(args, e, EXIT_USER_ERROR)
    except KeyboardInterrupt:
        print("gitbot: interrupted; containers removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout's reader went away outside a command's own output (an error document).
        drop_output(sys.stdout)
        return EXIT_BROKEN_PIPE
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace) -> int:
    command = next(c for c in COMMANDS if c.name == args.command)
    module, _, function = command.handler.partition(":")
    handler = getattr(importlib.import_module(module), function)
    out = PipeGuard(sys.stdout)  # `| head -1`: no traceback, and the work still runs to its end
    code = handler(args, out.as_text())
    assert isinstance(code, int)
    return EXIT_BROKEN_PIPE if out.finish() else code


def _fail(args: argparse.Namespace, error: GitbotError, code: int) -> int:
    """The error on stderr; with --output json, also as a JSON document on stdout."""
    print(f"gitbot: error: {error}", file=sys.stderr)
    if getattr(args, "output", "text") == "json":
        from gitbot.commands.jsonout import error_document

        problems = error.problems if isinstance(error, InvalidObjects) else []
        document = error_document(args.command, str(error), code, problems)
        print(json.dumps(document, indent=2), file=sys.stdout)
    return code


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM unwinds like Ctrl-C, so running containers are removed on the way out.
    raise KeyboardInterrupt
