"""The runs page in a real headless Chromium, against a real `gitbot serve` after a real push.

Debian's chromium is driven by Playwright through `executable_path` (Playwright's own browser
download is not used); when it is missing, `scripts/install-browser` installs it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from serveworld import Bot, examples, open_pr, push, running_world, wait_for

from ghserver import GitHubServer
from gitbot.github.events import HANDLED_EVENTS

ROOT = Path(__file__).resolve().parent.parent.parent
TOKEN = "runs-token-for-browser-tests"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium: on PATH already, or installed now by scripts/install-browser."""
    found = shutil.which("chromium")
    if found:
        return found
    installed = subprocess.run(
        [str(ROOT / "scripts" / "install-browser")], capture_output=True, text=True, timeout=600
    )
    assert installed.returncode == 0, f"scripts/install-browser failed:\n{installed.stderr}"
    return installed.stdout.strip().splitlines()[-1]


@pytest.fixture
def browser(chromium_path: str) -> Iterator[Browser]:
    # launch() gives Chromium a fresh temporary user-data dir, removed when it closes.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def served(example_images: list[str], tmp_path: Path) -> Iterator[tuple[GitHubServer, Bot, Path]]:
    """The in-tree GitHub server and `gitbot serve` with GITBOT_RUNS_TOKEN set."""
    with running_world(tmp_path, {"GITBOT_RUNS_TOKEN": TOKEN}) as parts:
        yield parts


def runs_page(bot: Bot) -> str:
    request = urllib.request.Request(
        f"{bot.url}/runs", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(response.read().decode())
    except urllib.error.URLError:
        return ""


def finished_reconcile(bot: Bot) -> bool:
    """True once every reconcile job listed is finished (and there is at least one)."""
    rows = re.findall(r"<td[^>]*>reconcile</td>.*?class=\"(\w+)\"", runs_page(bot), re.S)
    return bool(rows) and all(status in ("succeeded", "failed") for status in rows)


def test_runs_page_shows_a_pushed_reconcile_in_a_real_browser(
    served: tuple[GitHubServer, Bot, Path], browser: Browser, tmp_path: Path
) -> None:
    server, bot, work = served
    head = push(server, bot, work, examples(), "browser-push-1")
    pr = wait_for(lambda: open_pr(server), what="the pull request")
    wait_for(lambda: finished_reconcile(bot), what="the reconcile job to finish")

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page: Page = context.new_page()

    # Without the token: refused.
    response = page.goto(f"{bot.url}/runs")
    assert response is not None and response.status == 401
    assert "GITBOT_RUNS_TOKEN" in page.content()
    assert page.locator("table#jobs").count() == 0
    page.screenshot(path=str(tmp_path / "refused.png"))

    # With the token once: the jobs table lists the reconcile job, succeeded.
    response = page.goto(f"{bot.url}/runs?token={TOKEN}")
    assert response is not None and response.status == 200
    assert page.title() == "gitbot — runs"
    row = page.locator("table#jobs tr", has=page.locator("td", has_text="reconcile")).first
    cells = row.locator("td").all_inner_texts()
    assert cells[1:3] == ["reconcile", "acme/platform-source"]
    assert cells[4] == head[:12]
    assert cells[5] == "succeeded"
    assert row.locator("td.succeeded").count() == 1
    deliveries = page.locator("table#deliveries").inner_text()
    assert "browser-push-1" in deliveries and "push" in deliveries
    page.screenshot(path=str(tmp_path / "runs.png"), full_page=True)

    # The token is now a cookie: the job page opens by clicking, without ?token=.
    row.locator("a").first.click()
    page.wait_for_load_state()
    assert re.search(r"/runs/\d+$", page.url), page.url
    body = page.locator("body").inner_text()
    assert "succeeded" in body
    assert page.locator("h2", has_text="gitbot/postgres").count() == 1
    link = page.locator("a", has_text=f"/pull/{pr['number']}")
    assert link.count() == 1
    assert link.get_attribute("href") == pr["html_url"]
    pipelines = page.locator("h4").all_inner_texts()
    for name in ("install-operator", "plan", "render"):
        assert any(text.startswith(f"pipeline {name} ") for text in pipelines), pipelines
    assert "container install localhost/gitbot-examples/postgres-pipeline:v0.1.0: exit 0" in body
    logs = page.locator("pre").all_inner_texts()
    assert any("installing the postgres operator" in log for log in logs), logs
    assert any("planned large" in log for log in logs), logs

    # A link back, and a screenshot of the whole job page.
    assert page.locator("a", has_text="all runs").get_attribute("href") == "/runs"
    shot = tmp_path / "run.png"
    page.screenshot(path=str(shot), full_page=True)
    data = shot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert (tmp_path / "runs.png").read_bytes().startswith(PNG_SIGNATURE)
    context.close()


def test_the_app_manifest_asks_for_what_gitbot_handles() -> None:
    manifest = json.loads((ROOT / "deploy" / "github-app-manifest.json").read_text())
    assert manifest["hook_attributes"]["url"].endswith("/webhook")
    # ping, installation and installation_repositories reach every App without subscribing.
    implicit = {"ping", "installation", "installation_repositories"}
    assert set(manifest["default_events"]) | implicit == HANDLED_EVENTS
    assert manifest["default_permissions"] == {
        "contents": "write",
        "pull_requests": "write",
        "checks": "write",
        "issues": "write",
        "metadata": "read",
    }
