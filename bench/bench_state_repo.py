"""A warm reconcile that changes one request, against a state repository of 100,000 files.

    .venv/bin/python bench/bench_state_repo.py [--files 100000 --commits 3000 --rounds 5]

Builds once (with `git fast-import`, cached in `.bench-cache/`) a bare state repository whose
`main` holds FILES files under the Destination's folder, laid out as Kratix's nestedByMetadata
writer leaves other resources, written over COMMITS commits. Then, in the same run, measures:
`git ls-tree -r main` of it (the cost of reading the whole tree once), and a warm reconcile (a
source of 2 Promises x 2 requests, already reconciled into the state repository with `--direct`,
then one request's spec changed and reconciled into its branch) against an empty state
repository and against a copy of the big one, in alternating rounds. gitbot's extra time on the
big repository over the empty one (the median of the rounds' differences) should stay within 2x
`git ls-tree -r`, in wall time and in CPU time (gitbot and its git processes, without the
containers, which run in the engine: the steadier figure on a busy machine); peak memory (the
gitbot process's maximum resident set size, its git children included) should stay flat.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_reconcile import GIT_ENV, promise_yaml  # noqa: E402

CACHE = ROOT / ".bench-cache"
DESTINATION = (
    "apiVersion: platform.kratix.io/v1alpha1\nkind: Destination\n"
    "metadata: {name: dev, labels: {environment: dev}}\n"
    "spec: {path: clusters/dev, stateStoreRef: {kind: GitStateStore, name: default}}\n"
)
PROMISES, REQUESTS = 2, 2
FILES_PER_GROUP = 10
TIMEOUT = 1800


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        check=True,
        env={**os.environ, **GIT_ENV},
        timeout=TIMEOUT,
    )
    return done.stdout


def big_repository(files: int, commits: int) -> Path:
    """The cached bare repository: files spread over commits (adds first, then edits)."""
    path = CACHE / f"state-{files}-{commits}.git"
    if (path / "HEAD").is_file():
        return path
    CACHE.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="state.", dir=CACHE))
    git("init", "-q", "--bare", "-b", "main", str(staging))
    paths = [
        f"clusters/dev/resources/default/q{g // 100:03d}/r{g % 100:02d}/resource-pipe/"
        f"{g:07x}/f{k}.yaml"
        for g in range(files // FILES_PER_GROUP)
        for k in range(FILES_PER_GROUP)
    ]
    adding = max(1, commits * 2 // 3)
    per_commit = -(-len(paths) // adding)
    stream = bytearray()

    def commit(mark: int, changes: list[tuple[str, str]]) -> None:
        when = 1_700_000_000 + mark * 60
        message = f"commit {mark}\n".encode()
        stream.extend(
            b"commit refs/heads/main\n"
            + f"committer bench <bench@example.com> {when} +0000\n".encode()
            + f"data {len(message)}\n".encode()
            + message
        )
        for path, text in changes:
            data = text.encode()
            stream.extend(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        stream.extend(b"\n")

    for i in range(adding):
        chunk = paths[i * per_commit : (i + 1) * per_commit]
        commit(
            i, [(p, f"kind: ConfigMap\nmetadata: {{name: f{n}}}\n") for n, p in enumerate(chunk)]
        )
    for i in range(adding, commits):
        picked = paths[(i * 7919) % len(paths) :][:5]
        commit(i, [(p, f"kind: ConfigMap\nmetadata: {{name: edit{i}}}\n") for p in picked])
    git("fast-import", "--quiet", cwd=staging, stdin=bytes(stream))
    git("gc", "-q", cwd=staging)
    os.rename(staging, path)
    return path


@dataclass
class Timing:
    """Wall seconds, CPU seconds (the process and its git children) and peak RSS in KiB."""

    wall: float
    cpu: float
    peak: int


def run(argv: list[str], env: dict[str, str] | None = None) -> Timing:
    """Run argv to the end, its output read (as gitbot reads git's), and time it."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        child = subprocess.Popen(argv, env=env, stdout=out, stderr=out)
        # wait4 reports this child's own usage, its waited-for children (git) included.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            out.seek(0)
            raise SystemExit(f"{argv[0]} failed:\n{out.read().decode(errors='replace')}")
    return Timing(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)


def ls_tree(repo: Path, rounds: int) -> Timing:
    """Median wall and CPU time of `git ls-tree -r main`."""
    found = [run(["git", "-C", str(repo), "ls-tree", "-r", "main"]) for _ in range(rounds)]
    return Timing(
        statistics.median(t.wall for t in found), statistics.median(t.cpu for t in found), 0
    )


def gitbot(source: Path, state: Path, data: Path, *extra: str) -> Timing:
    """One `gitbot reconcile`."""
    env = {**os.environ, "GITBOT_DATA_DIR": str(data), "GITBOT_CONTAINER_NETWORK": "none"}
    argv = [str(ROOT / ".venv/bin/gitbot"), "reconcile", "--source", str(source)]
    return run([*argv, "--state", str(state), *extra], env)


def change_one_request(source: Path, round_: int) -> None:
    path = source / "p000.yaml"
    text = path.read_text()
    changed = f"spec: {{n: 0, round: {round_}}}"
    path.write_text(re.sub(r"spec: \{n: 0(, round: \d+)?\}", changed, text))
    git("commit", "-q", "-am", f"round {round_}", cwd=source)


def warm_source(case: Path, state: Path) -> Path:
    """A source reconciled once into state with --direct: its objects are on main (warm)."""
    source = case / "source"
    source.mkdir()
    for i in range(PROMISES):
        (source / f"p{i:03d}.yaml").write_text(promise_yaml(i, REQUESTS))
    (source / "destinations.yaml").write_text(DESTINATION)
    git("init", "-q", "-b", "main", cwd=source)
    git("add", "-A", cwd=source)
    git("commit", "-q", "-m", "bench", cwd=source)
    gitbot(source, state, case / "data", "--direct")
    return source


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--commits", type=int, default=3_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    big = big_repository(args.files, args.commits)
    count = len(git("ls-tree", "-r", "--name-only", "main", cwd=big).splitlines())
    history = int(git("rev-list", "--count", "main", cwd=big))
    listing = ls_tree(big, 5)
    runs: dict[str, list[Timing]] = {"empty": [], "big": []}
    with tempfile.TemporaryDirectory() as tmp:
        cases = {}
        for name in runs:
            case = Path(tmp) / name
            case.mkdir()
            state = case / "state.git"
            if name == "empty":
                git("init", "-q", "--bare", "-b", "main", str(state))
            else:
                git("clone", "-q", "--bare", str(big), str(state))
            cases[name] = (warm_source(case, state), state, case / "data")
        # Rounds alternate between the two, so both see the same machine load.
        for round_ in range(args.rounds):
            for name in runs if round_ % 2 == 0 else reversed(runs):
                source, state, data = cases[name]
                change_one_request(source, round_)
                runs[name].append(gitbot(source, state, data))

    def median(name: str, what: Callable[[Timing], float]) -> float:
        return statistics.median(what(t) for t in runs[name])

    def extra(what: Callable[[Timing], float]) -> float:
        pairs = zip(runs["big"], runs["empty"], strict=True)
        return statistics.median(what(b) - what(e) for b, e in pairs)

    wall, cpu = extra(lambda t: t.wall), extra(lambda t: t.cpu)
    print(f"state repository: {count} files, {history} commits ({big})")
    print(f"git ls-tree -r main: {listing.wall:.2f} s ({listing.cpu:.2f} s CPU)")
    print(
        f"warm reconcile changing one request ({PROMISES} Promises x {REQUESTS} requests, "
        f"medians of {args.rounds} alternating rounds): empty state repo "
        f"{median('empty', lambda t: t.wall):.2f} s ({median('empty', lambda t: t.cpu):.2f} s "
        f"CPU), big one {median('big', lambda t: t.wall):.2f} s "
        f"({median('big', lambda t: t.cpu):.2f} s CPU)"
    )
    print(
        f"gitbot's extra time on the big repo (median of the rounds' differences): "
        f"{wall:+.2f} s = {wall / listing.wall:.2f}x ls-tree -r; CPU (gitbot and its git "
        f"processes; the containers run in the engine) {cpu:+.2f} s = "
        f"{cpu / listing.cpu:.2f}x ls-tree -r's (target: at most 2)"
    )
    big_peak = max(t.peak for t in runs["big"])
    empty_peak = max(t.peak for t in runs["empty"])
    print(
        f"peak memory of gitbot reconcile: empty {empty_peak / 1024:.0f} MiB, "
        f"big {big_peak / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    main()
