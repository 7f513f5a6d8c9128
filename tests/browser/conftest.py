"""Headless Chromium through Playwright, against pytest-django's live server.

One browser per session; each test gets fresh contexts (cookies) from `new_page`. The
browser is the Debian package at /usr/bin/chromium (Playwright's own download is not used).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def playwright_driver():
    """The one Playwright of the session (its sync API runs an event loop: a second one at the
    same time is refused), for every browser the tests launch."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install the Debian chromium package to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_driver):
    instance = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
    yield instance
    instance.close()


@pytest.fixture
def new_page(browser, live_server, transactional_db):
    """new_page() -> a Page in a fresh context at 1280x800. Each page records the URLs it
    requested (page.requested) and uncaught script errors (page.script_errors)."""
    contexts = []

    def make(width: int = 1280, height: int = 800):
        context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height}, accept_downloads=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.requested = []
        page.script_errors = []
        page.on("request", lambda request: page.requested.append(request.url))
        page.on("pageerror", lambda error: page.script_errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def live_host(live_server) -> str:
    return urlsplit(live_server.url).netloc


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process, as on a laptop. With REDIS_URL set, tasks would go to a
    broker whose workers use another database than the test one."""
    from config.celery import app

    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = old
