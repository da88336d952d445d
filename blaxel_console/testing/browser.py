"""Browser tests: Debian's Chromium driven by Playwright's sync API, screenshots for a
person to look at, and browser tests ordered last."""

import os
from pathlib import Path

import pytest

from .run import ROOT

# Playwright's sync API runs an event loop in the test thread; Django's ORM would then
# refuse synchronous queries from that thread. Tests only (child processes drop it:
# `servers.subprocess_env`).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


def pytest_collection_modifyitems(config, items):
    """Browser tests run last (stable order otherwise): while Chromium is open,
    Playwright's sync API keeps an event loop running in the test thread, and an
    `asyncio.run()` in a test after it would fail."""
    items.sort(key=lambda item: bool({"page", "browser"} & set(getattr(item, "fixturenames", ()))))


# Module scope, not session: while Playwright's sync API is running, the main thread has
# a running event loop, so any later test calling asyncio.run() / async_to_sync fails.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is needed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    """Save a PNG under test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
