"""Prometheus metrics gitbot exports at /metrics."""

from __future__ import annotations

import platform

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

from gitbot import __version__

# No `*_created` series: gunicorn's multiprocess mode has none, so one process kind would
# export metrics the other does not, and the README's table lists what every process exports.
disable_created_metrics()  # type: ignore[no-untyped-call]

# Every metric here is listed in the README's metrics table (tests/test_metrics.py checks it).
BUILD_INFO = Gauge(
    "gitbot_build_info",
    "Always 1; the labels say which gitbot and Python run",
    ["version", "python_version"],
    multiprocess_mode="max",
)
BUILD_INFO.labels(version=__version__, python_version=platform.python_version()).set(1)
LAST_SUCCESSFUL_RECONCILE = Gauge(
    "gitbot_last_successful_reconcile_timestamp_seconds",
    "Unix time of the last reconcile of a Promise that succeeded, by source repository",
    ["repository", "promise"],
    multiprocess_mode="max",
)

DELIVERIES = Counter(
    "gitbot_webhook_deliveries_total", "Webhook deliveries by event and result", ["event", "result"]
)
# Gauges are set from the database or GitHub's headers: under gunicorn's several workers
# (multiprocess mode) the most recent value is the true one.
QUEUE_DEPTH = Gauge(
    "gitbot_queue_depth", "Jobs waiting in the queue", multiprocess_mode="mostrecent"
)
QUEUE_OLDEST = Gauge(
    "gitbot_queue_oldest_age_seconds",
    "Age of the oldest queued job",
    multiprocess_mode="mostrecent",
)
RUNS = Histogram(
    "gitbot_run_duration_seconds",
    "Reconcile job durations by Promise and result",
    ["promise", "result"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
PULL_REQUESTS = Counter("gitbot_pull_requests_total", "Pull request actions", ["action"])
GITHUB_RATE_REMAINING = Gauge(
    "gitbot_github_rate_limit_remaining",
    "GitHub API calls left in the current window",
    multiprocess_mode="mostrecent",
)
GITHUB_RATE_LIMIT = Gauge(
    "gitbot_github_rate_limit",
    "GitHub API calls allowed per window",
    multiprocess_mode="mostrecent",
)
GITHUB_CALLS = Counter(
    "gitbot_github_calls_total", "GitHub API calls by HTTP method and status", ["method", "status"]
)
JOBS = Counter("gitbot_jobs_total", "Finished jobs by kind and result", ["kind", "result"])
DELIVERY_OUTCOMES = Counter(
    "gitbot_delivery_outcomes_total",
    "What became of each delivery once all of its work finished, by event and outcome",
    ["event", "outcome"],
)
JOB_RETRIES = Counter(
    "gitbot_job_retries_total", "Job attempts that failed and were queued again", ["kind"]
)
POLLED_PUSHES = Counter(
    "gitbot_poller_caught_pushes_total",
    "Source-branch heads the poller found that no webhook delivery had brought",
)
POLLS = Counter(
    "gitbot_poller_requests_total",
    "Conditional branch reads by the poller, by result (modified, not_modified, error)",
    ["result"],
)
