"""`tagwire sandbox` in a real browser: Debian's Chromium, driven by Playwright.

Playwright never downloads a browser here; it launches /usr/bin/chromium (`.ci/run` installs
it). A missing Chromium fails these tests with a clear message instead of skipping them.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from bot.sandbox import Sandbox
from bot.sandbox.cast import ALICE, BOB, NEWSROOM
from tests.support.harness import ROOT
from tests.support.sandbox_page import bot_messages, chat_item, type_in

ARTIFACTS = ROOT / "test-artifacts"

STORY_URL = "https://news.example.com/sandbox/tokyo-driverless-metro"
STORY_TITLE = "Tokyo opens its first driverless metro line"


@pytest.fixture
def page(sandbox_page: Page) -> Page:
    return sandbox_page


async def push_story(page: Page, url: str, title: str, teaser: str, tags: str) -> None:
    await page.fill("#push-url", url)
    await page.fill("#push-title", title)
    await page.fill("#push-teaser", teaser)
    await page.fill("#push-tags", tags)
    await page.click("#push-button")


async def test_a_reader_follows_gets_a_story_unfollows_and_a_group_refuses_a_non_admin(
    page: Page,
) -> None:
    await chat_item(page, ALICE).click()
    await type_in(page, "/follow Japan")
    await expect(bot_messages(page).last).to_contain_text("Now following Japan")

    await push_story(
        page,
        STORY_URL,
        STORY_TITLE,
        "Trains without a driver now run every three minutes between Shinjuku & the bay…",
        "Japan, Tokyo",
    )
    await expect(page.locator("#push-results .result")).to_have_attribute("data-status", "created")
    await expect(page.locator("#push-results")).to_contain_text("1 delivery queued")
    teaser = bot_messages(page).last
    await expect(teaser.locator("b").first).to_have_text(STORY_TITLE)
    await expect(teaser).to_contain_text("between Shinjuku & the bay")
    await expect(teaser.locator(f'a[href="{STORY_URL}"]')).to_have_text("Read more")
    await expect(teaser.locator(".hashtag")).to_have_text(["#Japan", "#Tokyo"])
    delivery = page.locator('#log .log-entry[data-method="sendMessage"]').first
    await expect(delivery).to_contain_text("→ Alice")
    await expect(delivery).to_contain_text(STORY_TITLE)

    await type_in(page, "/following")
    following = bot_messages(page).last
    await expect(following).to_contain_text("Tags you follow (1)")
    message_id = await following.get_attribute("data-message-id")
    shown = await bot_messages(page).count()
    await following.locator(".kb-button", has_text="✕ Japan").click()
    await expect(page.locator("#toasts .toast")).to_have_text("Stopped following Japan")
    edited = page.locator(f'#messages .msg[data-message-id="{message_id}"]')
    await expect(edited).to_contain_text("You do not follow any tags yet")
    await expect(edited.locator(".edited")).to_be_visible()
    await expect(edited.locator(".kb-button")).to_have_count(0)
    assert await bot_messages(page).count() == shown

    await chat_item(page, NEWSROOM).click()
    await page.select_option("#as-member", str(BOB))
    await type_in(page, "/follow Japan")
    await expect(bot_messages(page).last.locator(".text")).to_have_text(
        "Only this group's admins can change what it follows."
    )
    await page.select_option("#as-member", str(ALICE))
    await type_in(page, "/follow Japan")
    await expect(bot_messages(page).last).to_contain_text("Now following Japan")

    ARTIFACTS.mkdir(exist_ok=True)
    await chat_item(page, ALICE).click()
    await page.screenshot(path=str(ARTIFACTS / "sandbox.png"))


async def test_story_fields_are_shown_as_text_never_as_markup(page: Page) -> None:
    await chat_item(page, BOB).click()
    await type_in(page, "/follow Japan")
    title = '<img src=x onerror="window.injected=1"> <script>window.injected=2</script> & co'
    await push_story(page, "https://news.example.com/sandbox/markup", title, "", "Japan")
    teaser = bot_messages(page).last
    await expect(teaser.locator("b").first).to_have_text(title)
    assert await page.locator("#messages img, #messages script").count() == 0
    assert await page.evaluate("window.injected === undefined")
    entry = page.locator('#log .log-entry[data-method="sendMessage"]').first
    await expect(entry).to_contain_text('<img src=x onerror="window.injected=1">')


async def test_the_command_menu_buttons_alerts_and_edits_of_the_keyboard(
    page: Page, sandbox: Sandbox
) -> None:
    registered = sandbox.emulator.commands[("default", "")]
    await chat_item(page, NEWSROOM).click()
    await page.select_option("#as-member", str(ALICE))
    await page.click("#menu-button")
    menu = page.locator("#command-menu .command-item")
    await expect(menu).to_have_count(len(registered))
    await expect(menu.first).to_contain_text(f"/{registered[0]['command']}")
    await expect(menu.first).to_contain_text(registered[0]["description"])
    await page.fill("#composer-input", "/ta")
    starting_with_ta = [c for c in registered if c["command"].startswith("ta")]
    await expect(menu).to_have_count(len(starting_with_ta))
    await page.click('#command-menu .command-item[data-command="tags"]')
    await expect(page.locator("#messages .msg.user.out .text").last).to_have_text("/tags")
    tags = bot_messages(page).last
    await expect(tags).to_contain_text("Most active tags")
    japan = tags.locator(".kb-button", has_text="Japan")
    await expect(japan).to_have_text("Japan")

    await japan.click()
    await expect(page.locator("#toasts .toast")).to_have_text("Following Japan")
    await expect(tags.locator(".kb-button", has_text="Japan")).to_have_text("✓ Japan")

    await page.select_option("#as-member", str(BOB))
    await tags.locator(".kb-button", has_text="Russia").click()
    await expect(page.locator("#alert")).to_be_visible()
    await expect(page.locator("#alert-text")).to_have_text(
        "Only this group's admins can change what it follows"
    )
    await page.click("#alert-ok")
    await expect(page.locator("#alert")).to_be_hidden()
    await expect(tags.locator(".kb-button", has_text="Russia")).to_have_text("Russia")


async def test_the_fault_switches_make_the_emulator_answer_429_and_403(
    page: Page, sandbox: Sandbox
) -> None:
    await chat_item(page, ALICE).click()
    await type_in(page, "/follow Japan")
    await expect(bot_messages(page).last).to_contain_text("Now following Japan")

    await page.click("#next-429")
    await push_story(page, "https://news.example.com/sandbox/429", "Flood", "", "Japan")
    limited = page.locator('#log .log-entry[data-status="429"]')
    await expect(limited).to_contain_text("→ Alice")
    await expect(limited).to_contain_text("Too Many Requests: retry after 3")
    await expect(bot_messages(page).last.locator("b").first).to_have_text("Flood")

    operator_lines = page.locator("#log .log-entry.by-operator")
    await page.check("#flood-toggle")
    await expect(operator_lines.first).to_contain_text("flood limits on")
    await expect(page.locator("#flood-toggle")).to_be_checked()
    assert sandbox.emulator.limits_enforced
    await page.uncheck("#flood-toggle")
    await expect(operator_lines.first).to_contain_text("flood limits off")
    assert not sandbox.emulator.limits_enforced

    await expect(page.locator("#block-label")).to_contain_text("Alice blocked the bot")
    await page.check("#block-toggle")
    await push_story(page, "https://news.example.com/sandbox/403", "Blocked", "", "Japan")
    blocked = page.locator('#log .log-entry[data-status="403"]')
    await expect(blocked).to_contain_text("→ Alice")
    await expect(blocked).to_contain_text("Forbidden: bot was blocked by the user")
    assert sandbox.emulator.is_blocked(ALICE)

    # Writing to the bot unblocks it, and the switch follows.
    await type_in(page, "/start")
    await expect(page.locator("#block-toggle")).not_to_be_checked()
