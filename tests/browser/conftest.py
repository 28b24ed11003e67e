"""Every test here drives a real browser: marked `browser` (and `e2e`, as the page runs the
whole bot against the emulator). `browser` is Debian's Chromium, headless, through Playwright."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from bot.sandbox import Sandbox
from tests.support.markers import mark_folder
from tests.support.sandbox import running_sandbox


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, pytest.mark.e2e, pytest.mark.browser)


CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking switches Chromium dials out at start, and this machine's
# closed network refuses it.
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


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser tests need it: "
            "apt-get install -y chromium (.ci/run does this)",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    """`tagwire sandbox` in this process, with the example stories."""
    async with running_sandbox(tmp_path) as running:
        yield running


@pytest.fixture
async def sandbox_page(browser: Browser, sandbox: Sandbox) -> AsyncIterator[Page]:
    """The sandbox's page, live; the test fails if the page logs an error or throws."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(10_000)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    await page.goto(sandbox.url)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    try:
        yield page
    finally:
        await context.close()
    assert problems == []
