"""A load generator for bench_webhook.py, run as its own process.

    python bench/loadgen.py URL SECRET open RATE SECONDS      # open loop: RATE deliveries/s
    python bench/loadgen.py URL SECRET closed THREADS SECONDS  # closed loop: as fast as it goes

Sends signed copies of GitHub's push example with fresh delivery GUIDs over keep-alive
connections and prints one JSON line: latencies (s), errors, elapsed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import queue
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

url, secret = sys.argv[1], sys.argv[2].encode()
mode, amount, seconds = sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
target = urlsplit(url)
BODY = (
    Path(__file__).resolve().parent.parent / "tests/data/webhooks/push.default.json"
).read_bytes()
SIGNATURE = "sha256=" + hmac.new(secret, BODY, hashlib.sha256).hexdigest()
latencies: list[float] = []
errors = [0]
lock = threading.Lock()


def send(conn: http.client.HTTPConnection, due: float | None = None) -> http.client.HTTPConnection:
    """One delivery; its latency counts from when it was due (no coordinated omission)."""
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": SIGNATURE,
        "Content-Type": "application/json",
    }
    started = due if due is not None else time.perf_counter()
    try:
        conn.request("POST", target.path, BODY, headers)
        response = conn.getresponse()
        response.read()
        ok = response.status in (200, 202)
    except OSError:
        conn.close()
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        ok = False
    with lock:
        if ok:
            latencies.append(time.perf_counter() - started)
        else:
            errors[0] += 1
    return conn


def closed_loop(deadline: float) -> None:
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    while time.perf_counter() < deadline:
        conn = send(conn)


def open_loop_worker(tickets: queue.Queue[float | None]) -> None:
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    while (due := tickets.get()) is not None:
        conn = send(conn, due)


def main() -> None:
    started = time.perf_counter()
    deadline = started + seconds
    if mode == "closed":
        threads = [
            threading.Thread(target=closed_loop, args=(deadline,)) for _ in range(int(amount))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        tickets: queue.Queue[float | None] = queue.Queue()
        workers = [threading.Thread(target=open_loop_worker, args=(tickets,)) for _ in range(16)]
        for t in workers:
            t.start()
        count = int(amount * seconds)
        for i in range(count):  # sends are scheduled by the clock, not by the replies
            due = started + i / amount
            time.sleep(max(0.0, due - time.perf_counter()))
            tickets.put(due)
        for _ in workers:
            tickets.put(None)
        for t in workers:
            t.join()
    elapsed = time.perf_counter() - started
    print(json.dumps({"latencies": latencies, "errors": errors[0], "elapsed": elapsed}))


main()
