"""How reconcile cost grows with the number of resource requests, and what parallel requests gain.

    .venv/bin/python bench/bench_scale.py [--sizes 10,100,1000] [--promises 10]
        [--parallel-requests 200] [--parallel-workers 2,4]

1. For each size N (default 10 and 100; 1,000 takes a while on two cores): a source repository
   with P Promises (default 10), each with N/P - 1 requests, so N containers in all (one trivial
   busybox container per workflow), reconciled by `gitbot reconcile` with one worker into an
   empty state repository, against the sum of the same N containers run one by one with the
   engine CLI (`podman run --rm`) in the same run. Prints a table: the ratio, gitbot's overhead
   per request (its time beyond the CLI sum, divided by N; it must not grow with N) and the
   reconcile process's peak memory.
2. One Promise with R requests (default 200; 0 skips it) reconciled with one worker and with
   each of the given worker counts: the gain from running a Promise's requests side by side.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_reconcile import cli_sum, make_repos, reconcile
from bench_runner import engine_cli


def sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def scale(folder: Path, cli: list[str], promises: int, size: int) -> tuple[float, float, int]:
    """(CLI sum, gitbot seconds, gitbot peak KiB) for `size` containers."""
    if size < promises or size % promises:
        raise SystemExit(f"--sizes: {size} is not a multiple of --promises {promises}")
    case = folder / f"n{size}"
    case.mkdir()
    source, state = make_repos(case, promises, size // promises - 1)
    baseline = cli_sum(cli, size)
    seconds, peak = reconcile(source, state, case / "data", 1)
    return baseline, seconds, peak


def parallel(folder: Path, requests: int, workers: int) -> tuple[float, int]:
    case = folder / f"parallel-w{workers}"
    case.mkdir()
    source, state = make_repos(case, 1, requests)
    return reconcile(source, state, case / "data", workers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=sizes, default=[10, 100])
    parser.add_argument("--promises", type=int, default=10)
    parser.add_argument("--parallel-requests", type=int, default=200)
    parser.add_argument("--parallel-workers", type=sizes, default=[2, 4])
    args = parser.parse_args()
    cli = engine_cli()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = [(n, *scale(folder, cli, args.promises, n)) for n in args.sizes]
        print(f"{args.promises} Promises, one worker; baseline: {cli[0]} run --rm, one by one")
        print(
            f"{'containers':>10} {'CLI sum s':>10} {'gitbot s':>9} {'ratio':>6} "
            f"{'overhead/request ms':>20} {'peak MiB':>9}"
        )
        for n, baseline, seconds, peak in rows:
            overhead = 1000 * (seconds - baseline) / n
            print(
                f"{n:>10} {baseline:>10.1f} {seconds:>9.1f} {seconds / baseline:>6.2f} "
                f"{overhead:>20.0f} {peak / 1024:>9.0f}"
            )
        if args.parallel_requests <= 0:
            return
        one, _ = parallel(folder, args.parallel_requests, 1)
        print(
            f"1 Promise, {args.parallel_requests} requests "
            f"({args.parallel_requests + 1} containers): 1 worker {one:.1f} s"
        )
        for workers in args.parallel_workers:
            seconds, peak = parallel(folder, args.parallel_requests, workers)
            print(
                f"  {workers} workers: {seconds:.1f} s, gain {one / seconds:.2f}x, "
                f"peak {peak / 1024:.0f} MiB"
            )


if __name__ == "__main__":
    main()
