"""A compound reconcile's own overhead over the sum of its containers' run times.

    DOCKER_HOST=unix:///.../podman.sock .venv/bin/python bench/bench_compound.py [--apps 4]

Builds the compound source of tests/compound_source.py (an `app` Promise whose request schedules
a Database and a Cache request to the platform Destination, then polls them with kubectl through
the platform API and `retryAfter`) with A app requests, and runs one `gitbot reconcile --direct`
with one worker, so containers run one after another. Each app converges in that reconcile:
emit, wait (suspended), its two children, wait again. Measured in the same run: the reconcile's
wall time and the sum of every container's run time as gitbot printed it (`ran P/C: ok in S`);
gitbot's own overhead (git, scheduling, rounds, the platform API) is the difference.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "platform"))

import kube_images  # noqa: E402
from compound_source import app_request, compound_files  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
RAN = re.compile(r"^\s*ran \S+: (?:ok|FAILED) in ([0-9.]+)s$")


def make_repos(folder: Path, image: str, apps: int) -> tuple[Path, Path]:
    source, state = folder / "source", folder / "state.git"
    files = compound_files(image)
    files["requests.yaml"] = "---\n".join(app_request(f"web{i}") for i in range(apps))
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    env = {**os.environ, **GIT_ENV}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
        subprocess.run(["git", "-C", str(source), *args], check=True, env=env, timeout=120)
    subprocess.run(
        ["git", "init", "-q", "--bare", "-b", "main", str(state)], check=True, timeout=60
    )
    return source, state


def reconcile(source: Path, state: Path, data: Path) -> tuple[float, list[float], str]:
    env = {**os.environ, "GITBOT_DATA_DIR": str(data), "GITBOT_WORKERS": "1"}
    command = [str(ROOT / ".venv/bin/gitbot"), "reconcile", "--direct"]
    command += ["--source", str(source), "--state", str(state)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"reconcile failed:\n{done.stdout}\n{done.stderr}")
    containers = [float(m.group(1)) for m in map(RAN.match, done.stdout.splitlines()) if m]
    return seconds, containers, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--apps", type=int, default=4)
    args = parser.parse_args()
    image = kube_images.kube_image(os.environ.get("GITBOT_ENGINE_URL") or os.environ["DOCKER_HOST"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "source").mkdir()
        source, state = make_repos(folder, image, args.apps)
        wall, containers, out = reconcile(source, state, folder / "data")
    ready = out.count("configure succeeded (emit")
    if ready != args.apps:
        raise SystemExit(f"only {ready} of {args.apps} apps converged:\n{out}")
    total = sum(containers)
    print(f"{args.apps} compound apps, each with 2 children: {len(containers)} containers")
    print(f"sum of the containers' run times: {total:.1f} s")
    print(
        f"gitbot reconcile (1 worker): {wall:.1f} s, ratio {wall / total:.2f}, "
        f"own overhead {wall - total:.1f} s ({100 * (wall - total) / total:+.0f}%)"
    )


if __name__ == "__main__":
    main()
