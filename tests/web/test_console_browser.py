"""The console in a real headless Chromium, against a real `gitbot serve` after a real push.

Two Promises whose pipelines run busybox: `broken` fails (exit 3 after a log line), `slow`
waits for a file the test puts in its pipeline's input folder, so its container is certainly
running while the test watches its log arrive. Screenshots of the overview and of the failed run
are kept under `.artefacts/console/` in the repository (the test prints the folder).
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from serveworld import Bot, push, running_world, wait_for
from test_runs_page_browser import PNG_SIGNATURE, browser, chromium_path  # noqa: F401

from ghserver import GitHubServer

ROOT = Path(__file__).resolve().parent.parent.parent
ARTEFACTS = ROOT / ".artefacts" / "console"
RUNS_TOKEN = "runs-token-for-console-tests"
CONSOLE_TOKEN = "console-token-for-console-tests"
RED = "rgb(164, 22, 26)"  # --bad in console.css

PIPELINE = """\
        - apiVersion: platform.kratix.io/v1alpha1
          kind: Pipeline
          metadata:
            name: {pipeline}
          spec:
            containers:
              - name: {container}
                image: docker.io/library/busybox:latest
                imagePullPolicy: IfNotPresent
                command: ["sh", "-c", {script!r}]
"""
PROMISE = """\
apiVersion: platform.kratix.io/v1alpha1
kind: Promise
metadata:
  name: {name}
spec:
  workflows:
    promise:
      configure:
{pipeline}"""
BROKEN = "echo checking the quota of team-a; echo 'error: quota exceeded for team-a' >&2; exit 3"
SLOW = (
    "echo waiting for the release signal; i=0; "
    "while [ ! -e /kratix/input/release ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done; "
    "echo released after $i ticks; "
    "printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: slow\\n' "
    "> /kratix/output/slow.yaml"
)


def promise(name: str, pipeline: str, container: str, script: str) -> str:
    steps = PIPELINE.format(pipeline=pipeline, container=container, script=script)
    return PROMISE.format(name=name, pipeline=steps)


def source_files() -> dict[str, str | None]:
    return {
        ".gitbot.yaml": "stateRepository: acme/platform-state\n",
        "broken/promise.yaml": promise("broken", "check-quota", "check", BROKEN),
        "slow/promise.yaml": promise("slow", "wait", "wait", SLOW),
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[GitHubServer, Bot, Path, Path]]:
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    env = {
        "GITBOT_RUNS_TOKEN": RUNS_TOKEN,
        "GITBOT_CONSOLE_TOKEN": CONSOLE_TOKEN,
        "GITBOT_WORK_DIR": str(pipelines),
    }
    with running_world(tmp_path, env) as (server, bot, work):
        yield server, bot, work, pipelines


def slow_input(pipelines: Path) -> Path | None:
    """The input folder of the running `slow` pipeline, once it exists."""
    for folder in pipelines.glob("gitbot-pipeline-*/input"):
        try:
            if "name: slow" in (folder / "object.yaml").read_text():
                return folder
        except OSError:
            continue
    return None


def api(bot: Bot, path: str) -> str:
    request = urllib.request.Request(
        f"{bot.url}{path}", headers={"Authorization": f"Bearer {RUNS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return str(response.read().decode())


def job_ids(bot: Bot, status: str, promise: str = "") -> list[int]:
    """Reconcile jobs in this status (the first push reconciles the whole repository)."""
    found = api(bot, f"/runs?promise={promise}&status={status}")
    found = found.split('id="jobs"')[1].split("</table>")[0]
    found = "".join(row for row in found.split("<tr") if '<td data-label="kind">reconcile' in row)
    return [int(i) for i in re.findall(r'<a href="/runs/(\d+)">', found)]


def visible_in_shot(page: Page, selector: str, text: str) -> None:
    """The text is shown (not hidden, inside the full-page screenshot's area)."""
    target = page.locator(selector, has_text=text).first
    assert target.is_visible(), f"{text!r} is not visible"
    box = target.bounding_box()
    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0] + 1
    assert 0 <= box["y"] <= size[1]


def keep(page: Page, name: str) -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / name
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000
    print(f"console screenshot: {shot}")
    return shot


def test_the_console_shows_failures_streams_logs_and_acts_only_with_the_token(
    served: tuple[GitHubServer, Bot, Path, Path],
    browser: Browser,  # noqa: F811
) -> None:
    server, bot, work, pipelines = served
    push(server, bot, work, source_files(), "console-push-1")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    assert page.goto(f"{bot.url}/console?token={RUNS_TOKEN}") is not None

    # A running container's log appears while it runs: `slow` waits for its release file.
    folder = wait_for(lambda: slow_input(pipelines), what="the slow pipeline to start")
    slow_job = wait_for(lambda: job_ids(bot, "running"), what="the slow job")[0]
    page.goto(f"{bot.url}/runs/{slow_job}")
    live = page.locator("#live")
    live.get_by_text("waiting for the release signal").wait_for(timeout=30_000)
    assert page.locator("dd.running").count() == 1  # the page says the job still runs
    assert job_ids(bot, "running") == [slow_job]
    (folder / "release").write_text("go")
    # The stream's `done` reloads the page with the finished run and the container's whole log.
    # (The job reconciles both Promises, so its verdict is `failed`: `broken` failed.)
    page.locator("#verdict", has_text="failed").wait_for(timeout=60_000)
    assert page.locator("#live").count() == 0
    assert "released after" in page.locator("body").inner_text()
    # The files each object added: `slow` its ConfigMap and gitbot's record of it.
    slow = page.locator("article", has=page.locator("h3", has_text="Promise slow"))
    assert "files: 2 added, 0 changed, 0 removed" in slow.inner_text()

    # The overview: `broken` red with its failing object, `slow` green.
    page.goto(f"{bot.url}/console?refresh=0")
    broken = page.locator('tr[data-promise="broken"]')
    assert broken.get_attribute("class") == "row-bad"
    badge = broken.locator(".badge", has_text="failed")
    assert badge.evaluate("e => getComputedStyle(e).color") == RED
    assert "Promise broken" in broken.inner_text()
    assert page.locator('tr[data-promise="slow"]').get_attribute("class") == "row-good"
    visible_in_shot(page, 'tr[data-promise="broken"] td', "Promise broken")
    keep(page, "overview.png")

    # Its failed run: red, the failing container's exit code and its log line.
    broken.get_by_role("link", name=re.compile(r"run \d+")).click()
    page.wait_for_load_state()
    failed_run = page.url
    assert page.locator("#verdict").inner_text() == "failed"
    assert page.locator("#verdict").evaluate("e => getComputedStyle(e).color") == RED
    body = page.locator("body").inner_text()
    assert "container check docker.io/library/busybox:latest: exit 3" in body
    visible_in_shot(page, "h3", "Promise broken")
    visible_in_shot(page, "span.failed", "exit 3")
    visible_in_shot(page, "pre", "error: quota exceeded for team-a")
    keep(page, "failed-run.png")
    download = page.get_by_role("link", name="download log").first
    with page.expect_download() as fetched:
        download.click()
    saved = Path(fetched.value.path())
    assert "error: quota exceeded for team-a" in saved.read_text()

    # "Reconcile now" without the console token is refused and queues nothing ...
    before = job_ids(bot, "queued") + job_ids(bot, "running")
    page.goto(f"{bot.url}/console?refresh=0")
    response_status: list[int] = []
    page.on(
        "response",
        lambda r: response_status.append(r.status) if "/console/reconcile" in r.url else None,
    )
    page.locator('tr[data-promise="broken"]').get_by_role(
        "button", name=re.compile("reconcile")
    ).click()
    page.wait_for_load_state()
    assert response_status == [403]
    assert "console token" in page.locator("body").inner_text()
    assert job_ids(bot, "queued") + job_ids(bot, "running") == before

    # ... and with it (signed in with a name), it queues a job and opens it.
    page.goto(f"{bot.url}/console?refresh=0")
    page.get_by_text("Sign in to act").click()
    page.get_by_label("Your name").fill("Grace Hopper")
    page.get_by_label("Console token").fill(CONSOLE_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "Signed in as Grace Hopper" in page.locator("header.top").inner_text()
    page.locator('tr[data-promise="broken"]').get_by_role(
        "button", name=re.compile("reconcile")
    ).click()
    page.wait_for_load_state()
    assert re.search(r"/runs/\d+$", page.url), page.url
    assert "console by Grace Hopper" in page.locator("dl.facts").inner_text()
    assert page.locator("dl.facts").get_by_text("broken", exact=True).count() == 1
    log = (bot.log).read_text()
    assert (
        '"actor": "Grace Hopper"' in log and "asked to reconcile acme/platform-source broken" in log
    )

    # On a phone the overview stacks its table and still names the failing object.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    small = phone.new_page()
    small.goto(f"{bot.url}/console?refresh=0&token={RUNS_TOKEN}")
    visible_in_shot(small, 'tr[data-promise="broken"] td', "Promise broken")
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the overview scrolls sideways on a phone ({width} px)"
    keep(small, "overview-phone.png")
    # Nor does a run (full commit hash, check-run URL, file paths) or a Promise's page.
    small.goto(failed_run)
    visible_in_shot(small, "h3", "Promise broken")
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"a run page scrolls sideways on a phone ({width} px)"
    keep(small, "failed-run-phone.png")
    small.goto(f"{bot.url}/console/promise?repository=acme/platform-source&promise=slow")
    assert small.locator("dl.facts").is_visible()
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"a Promise's page scrolls sideways on a phone ({width} px)"
    phone.close()
    context.close()
