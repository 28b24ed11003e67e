"""The sandbox page keeps the newest message in view, as Telegram does, unless the reader has
scrolled up to read something older (issue 12, point 23). Debian's Chromium via Playwright."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, expect

from bot.sandbox import Sandbox
from bot.sandbox.cast import ALICE
from bot.settings import Settings
from tests.support.harness import EXAMPLES, FAST_SETTINGS
from tests.support.sandbox_page import bot_messages, say

# A small window, so that an answer such as /help's is taller than what is left below the
# reader's own message.
VIEWPORT = {"width": 1440, "height": 640}
TIMEOUT_MS = 10_000


@pytest.fixture
async def page(browser: Browser, tmp_path: Path) -> AsyncIterator[Page]:
    settings = Settings(_env_file=None, **FAST_SETTINGS)  # type: ignore[call-arg]
    async with Sandbox(settings, port=0, database=tmp_path / "sandbox.db", stories=EXAMPLES) as box:
        context = await browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        opened = await context.new_page()
        problems: list[str] = []
        opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
        await opened.goto(box.url)
        await expect(opened.locator("#connection")).to_have_attribute("data-state", "live")
        await opened.locator(f'.chat-item[data-chat-id="{ALICE}"]').click()
        try:
            yield opened
        finally:
            await context.close()
        assert problems == []


async def at_the_end(page: Page) -> bool:
    return bool(
        await page.evaluate(
            "() => { const m = document.getElementById('messages');"
            " return m.scrollHeight - m.scrollTop - m.clientHeight < 2; }"
        )
    )


async def test_the_bots_answer_is_scrolled_into_view(page: Page) -> None:
    for command in ("/start", "/tags", "/latest Japan", "/help"):
        answer = await say(page, command)
        await expect(answer).to_be_in_viewport()
        await page.wait_for_function(
            "() => { const m = document.getElementById('messages');"
            " return m.scrollHeight - m.scrollTop - m.clientHeight < 2; }"
        )
    # The end of /help's answer, its last line, is on screen.
    await expect(answer.locator(".text")).to_contain_text("follows its own tags")
    await expect(answer.locator(".meta")).to_be_in_viewport()


async def test_a_reader_who_scrolled_up_is_left_where_they_are(page: Page) -> None:
    await say(page, "/follow Japan")
    for command in ("/help", "/tags", "/help"):
        await say(page, command)
    await page.evaluate("() => { document.getElementById('messages').scrollTop = 0; }")
    await expect(page.locator("#messages .msg").first).to_be_in_viewport()
    answers = await bot_messages(page).count()
    # A story for Alice arrives while she reads older messages: she stays where she is.
    await page.fill("#push-url", "https://news.example.com/sandbox/scroll")
    await page.fill("#push-title", "A story that arrives while Alice reads back")
    await page.fill("#push-teaser", "")
    await page.fill("#push-tags", "Japan")
    await page.click("#push-button")
    await expect(bot_messages(page)).to_have_count(answers + 1)
    await page.wait_for_timeout(200)
    await expect(page.locator("#messages .msg").first).to_be_in_viewport()
    await expect(bot_messages(page).last).not_to_be_in_viewport()
    assert not await at_the_end(page)
    # Sending a message is a wish to see the end again: the answer comes into view.
    answer = await say(page, "/start")
    await expect(answer).to_be_in_viewport()
    await page.wait_for_function(
        "() => { const m = document.getElementById('messages');"
        " return m.scrollHeight - m.scrollTop - m.clientHeight < 2; }"
    )
