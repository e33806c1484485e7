"""Real headless Chromium (Debian's ``/usr/bin/chromium``) against askpro served by uvicorn.

Without Chromium the browser tests skip with the reason, except in CI (``CI=true``), where
a missing browser is a failure: ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from askpro.app import create_app
from askpro.db import Database
from askpro.runtime import Runtime
from tests.fixtures.api import api, app
from tests.fixtures.webhooks import uvicorn_in_thread

__all__ = ["api", "app"]

CHROMIUM = os.environ.get("ASKPRO_TEST_CHROMIUM", "/usr/bin/chromium")
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


def _require_chromium() -> None:
    if os.path.exists(CHROMIUM):
        return
    message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium per test session; each test gets a fresh context (fresh cookies)."""
    _require_chromium()
    async with async_playwright() as playwright:
        # launch() gives Chromium a fresh temporary profile (user data dir) of its own.
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def base_url(runtime: Runtime, database_url: str) -> Iterator[str]:
    """askpro over real HTTP on a free loopback port, with its own connection pool."""
    server_database = Database(database_url, pool_size=5)
    app = create_app(runtime=Runtime(settings=runtime.settings, database=server_database))
    with uvicorn_in_thread(app, server_database) as url:
        yield url


@dataclass
class Tab:
    context: BrowserContext
    page: Page
    base_url: str

    async def login(self, token: str) -> None:
        await self.page.goto(f"{self.base_url}/dashboard")
        await self.page.fill("#token", token)
        await self.page.click("button[type=submit]")
        await self.page.wait_for_load_state()

    async def csrf_token(self) -> str:
        value = await self.page.locator("input[name=csrf_token]").first.get_attribute("value")
        assert value
        return value


@pytest.fixture
async def tab(browser: Browser, base_url: str) -> AsyncIterator[Tab]:
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(15_000)
    try:
        yield Tab(context, page, base_url)
    finally:
        await context.close()
