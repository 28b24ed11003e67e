"""Pictures on the sandbox page: a story pushed with a picture shows it above the teaser as a
photo, or as a large preview when the chat chose that in /settings; a picture Telegram refuses
leaves the text teaser, and the log shows both calls."""

from __future__ import annotations

from playwright.async_api import Page, expect

from bot.sandbox.cast import ALICE
from tests.support.sandbox_page import bot_messages, chat_item, say

ISLANDS = "Kuril Islands talks resume in Moscow"


async def push(page: Page, slug: str, picture: str | None = None) -> None:
    """Push the form's story under a new URL, with `picture` when given (else the form's)."""
    await page.fill("#push-url", f"https://news.example.com/sandbox/{slug}")
    if picture is not None:
        await page.fill("#push-image", picture)
    await page.click("#push-button")
    await expect(page.locator("#push-results .result")).to_have_attribute("data-status", "created")


async def loaded(page: Page, selector: str) -> bool:
    """True once the picture at `selector` was drawn (the browser decoded it)."""
    width = await page.locator(selector).evaluate("image => image.complete && image.naturalWidth")
    return bool(width)


async def test_pictures_show_as_photos_or_above_the_text_and_a_refused_one_as_text(
    sandbox_page: Page,
) -> None:
    page = sandbox_page
    await chat_item(page, ALICE).click()
    await say(page, "/follow Kuril Islands")
    # The second example has a picture, served by the sandbox itself.
    await page.click("#push-example")
    picture = await page.input_value("#push-image")
    assert picture.endswith("/static/harbour.svg")

    await push(page, "islands-photo")
    photo = bot_messages(page).last
    await expect(photo.locator(".picture.photo img")).to_have_attribute("src", picture)
    await expect(photo.locator(".text b").first).to_have_text(ISLANDS)
    assert await loaded(page, "#messages .msg.bot >> nth=-1 >> .picture img")
    sent = page.locator('#log .log-entry[data-method="sendPhoto"]').first
    await expect(sent).to_contain_text(ISLANDS)

    shown = await bot_messages(page).count()
    await push(page, "islands-refused", "https://pictures.invalid/islands.jpg")
    await expect(bot_messages(page)).to_have_count(shown + 1)
    text = bot_messages(page).last
    await expect(text.locator(".text")).to_contain_text("Read more")
    await expect(text.locator(".picture")).to_have_count(0)
    refused = page.locator('#log .log-entry[data-method="sendPhoto"]').first
    await expect(refused).to_contain_text("failed to get HTTP URL content")

    panel = await say(page, "/settings")
    await panel.locator(".kb-button", has_text="Above the text").click()
    await expect(page.locator("#toasts .toast")).to_have_text("Saved")
    await push(page, "islands-above", picture)
    above = bot_messages(page).last
    await expect(above.locator(".picture.preview img")).to_have_attribute("src", picture)
    await expect(above.locator(".text")).to_contain_text("Read more")
