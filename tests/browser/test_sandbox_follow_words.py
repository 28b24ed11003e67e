"""Issue 17 on the sandbox page, in Chromium: words inside a follow, changed and cleared with
the buttons of /following; the taste of a tag right after /follow (and its deep link); /export's
file shown by its caption. The page cannot send a file, so /import is tested end to end only
(tests/e2e/test_e2e_export_import.py)."""

from __future__ import annotations

import json

from playwright.async_api import Locator, Page, expect

from bot.sandbox.cast import ALICE
from bot.tags import deep_link_payload
from handlers.export_import import FILE_NAME
from tests.support.harness import EXAMPLES
from tests.support.sandbox_page import bot_messages, chat_item, say


def japan_stories() -> list[dict[str, str]]:
    """The example stories tagged Japan, newest first."""
    stories = [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]
    tagged = [story for story in stories if "Japan" in story["tags"]]
    return sorted(tagged, key=lambda story: story["published_at"], reverse=True)


async def expect_taste(answer: Locator, stories: list[dict[str, str]]) -> None:
    """The answer ends with the newest in Japan: these stories, as links, and no others."""
    await expect(answer).to_contain_text("Newest in Japan:")
    links = answer.locator('a[href^="https://news.example.com/"]')
    await expect(links).to_have_count(len(stories))
    for story in stories:
        await expect(answer.locator(f'a[href="{story["url"]}"]')).to_have_text(story["title"])


async def test_words_inside_a_follow_are_changed_and_cleared_with_the_buttons(
    sandbox_page: Page,
) -> None:
    page = sandbox_page
    await chat_item(page, ALICE).click()
    followed = await say(page, "/follow Japan only earthquake")
    await expect(followed).to_contain_text("Now following Japan")
    await expect(followed).to_contain_text("Japan: only with earthquake.")
    # No example story is about an earthquake: no taste.
    await expect(followed).not_to_contain_text("Newest in")

    listing = await say(page, "/following")
    await expect(listing).to_contain_text("Japan — only with earthquake")
    await expect(listing.locator(".kb-button")).to_have_text(["✕ Japan", "✎ Japan", "⌫ Japan"])

    # ✎ says how to give new words; giving them answers with the taste those words let through.
    await listing.locator(".kb-button", has_text="✎ Japan").click()
    how = bot_messages(page).last
    await expect(how).to_contain_text("To change the words of Japan, send the tag again")
    await expect(how.locator("code")).to_have_text(
        "/follow Japan only earthquake, tsunami except drill"
    )
    changed = await say(page, "/follow Japan except Putin")
    await expect(changed).to_contain_text("Japan: except putin.")
    without_putin = [story for story in japan_stories() if "Putin" not in story["title"]]
    await expect_taste(changed, without_putin[:3])

    # ⌫ clears them: a toast, and the list edited in place without the words or the button.
    listing = await say(page, "/following")
    await expect(listing).to_contain_text("Japan — except putin")
    message_id = await listing.get_attribute("data-message-id")
    shown = await bot_messages(page).count()
    await listing.locator(".kb-button", has_text="⌫ Japan").click()
    await expect(page.locator("#toasts .toast")).to_have_text(
        "Japan: words cleared, every story of it arrives"
    )
    edited = page.locator(f'#messages .msg[data-message-id="{message_id}"]')
    await expect(edited.locator(".edited")).to_be_visible()
    await expect(edited).not_to_contain_text("putin")
    await expect(edited.locator(".kb-button")).to_have_text(["✕ Japan", "✎ Japan"])
    assert await bot_messages(page).count() == shown


async def test_following_a_tag_shows_a_taste_of_it_and_so_does_its_deep_link(
    sandbox_page: Page,
) -> None:
    page = sandbox_page
    await chat_item(page, ALICE).click()
    answer = await say(page, "/follow Japan")
    await expect(answer).to_contain_text("Now following Japan")
    await expect_taste(answer, japan_stories()[:3])

    await say(page, "/unfollow Japan")
    payload = deep_link_payload("Japan")
    assert payload is not None
    started = await say(page, f"/start {payload}")
    await expect(started).to_contain_text("Now following Japan")
    await expect_taste(started, japan_stories()[:3])


async def test_export_sends_a_file_shown_by_its_caption(sandbox_page: Page) -> None:
    page = sandbox_page
    await chat_item(page, ALICE).click()
    await say(page, "/follow Japan only earthquake")
    exported = await say(page, "/export")
    await expect(exported).to_contain_text("📦 Follows: 1, muted words: 0, and the settings.")
    await expect(exported.locator("code").first).to_have_text("/import")
    entry = page.locator('#log .log-entry[data-method="sendDocument"]').first
    await expect(entry).to_contain_text("→ Alice")
    await expect(entry).to_contain_text(f"a file, {FILE_NAME}")
