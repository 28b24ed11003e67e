"""What a browser test does on the sandbox page: open a chat, say something and wait for the
bot's answer, find the bot's messages."""

from __future__ import annotations

from playwright.async_api import Locator, Page, expect


def chat_item(page: Page, chat_id: int) -> Locator:
    return page.locator(f'.chat-item[data-chat-id="{chat_id}"]')


def bot_messages(page: Page) -> Locator:
    return page.locator("#messages .msg.bot")


async def type_in(page: Page, text: str) -> None:
    """Send `text` in the open chat, without waiting for an answer."""
    await page.fill("#composer-input", text)
    await page.press("#composer-input", "Enter")
    await expect(page.locator("#messages .msg.user.out .text").last).to_have_text(text)


async def say(page: Page, text: str) -> Locator:
    """Send `text` in the open chat and return the bot's answer once it is on the page."""
    before = await bot_messages(page).count()
    await type_in(page, text)
    await expect(bot_messages(page)).to_have_count(before + 1)
    return bot_messages(page).nth(before)
