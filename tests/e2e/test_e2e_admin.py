"""Operators in Telegram: /post, /stats, /feeds for admins only, through the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.texts.replies import DEFAULT_LANGUAGE, LANGUAGES
from handlers.admin import ADMIN_COMMANDS, parse_post
from storage import open_store
from tests.support.harness import StartBot, links
from tests.support.updates import say, teasers

ADMIN = 5001
READER = 1001
STRANGER = 1002
GROUP = -4001


@pytest.fixture
def bot_options() -> dict[str, Any]:
    return {"admin_ids": frozenset({ADMIN})}


@pytest.fixture
def before_start(emulator: BotApiEmulator) -> None:
    emulator.add_user(ADMIN, first_name="Operator")
    emulator.add_group(GROUP, title="Newsroom", admins=[ADMIN])


async def test_post_publishes_and_answers_with_the_teaser_and_the_audience(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, READER, READER, "/follow Kuril Islands")
    reply = await say(
        emulator,
        ADMIN,
        ADMIN,
        "/post https://news.example.com/kuril-deal Kuril deal is close #Japan #Kuril_Islands",
    )
    assert "Published. Chats to notify: 1." in reply["text"]
    assert "Kuril deal is close" in reply["text"]
    assert "#Japan #Kuril_Islands" in reply["text"]
    assert links(reply) == ["https://news.example.com/kuril-deal"]
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1)
    assert links(teasers(emulator, READER)[0]) == ["https://news.example.com/kuril-deal"]


async def test_post_on_several_lines_has_a_teaser(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(
        emulator,
        ADMIN,
        ADMIN,
        "/post https://news.example.com/multi\nA title, with a comma\n"
        "The teaser <b>stays</b> plain & safe.\nSecond line of it.\nJapan, Kuril Islands",
    )
    assert "Chats to notify: 0" in reply["text"]
    assert "A title, with a comma" in reply["text"]
    assert "The teaser stays plain & safe. Second line of it." in reply["text"]
    assert "#Kuril_Islands" in reply["text"]


async def test_post_with_a_bad_field_names_it(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    reply = await say(emulator, ADMIN, ADMIN, "/post news.example.com/x Title #Japan")
    assert "Not published: url: must start with http:// or https://" in reply["text"]
    no_tags = await say(emulator, ADMIN, ADMIN, "/post https://news.example.com/x Title")
    assert "Not published: tags: needs at least one tag" in no_tags["text"]
    no_title = await say(emulator, ADMIN, ADMIN, "/post https://news.example.com/x #Japan")
    assert "Not published: title: is empty" in no_title["text"]
    usage = await say(emulator, ADMIN, ADMIN, "/post")
    assert "Publish a story on one line" in usage["text"]


async def test_posting_a_known_url_again_notifies_nobody(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, READER, READER, "/follow Japan")
    text = "/post https://news.example.com/once Once only #Japan"
    await say(emulator, ADMIN, ADMIN, text)
    again = await say(emulator, ADMIN, ADMIN, text)
    assert "Already published as story" in again["text"]
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1)
    services = bot.bot_data.services
    assert services is not None
    figures = await services.store.stats()
    # One delivery row in all, whether its outcome is written yet or not: nothing else can
    # be sent.
    assert figures.deliveries_pending + figures.deliveries_sent == 1
    assert len(teasers(emulator, READER)) == 1
    counted = bot.bot_data.metrics.registry.get_sample_value(
        "tagwire_stories_ingested_total", {"source": "telegram", "result": "duplicate"}
    )
    assert counted == 1


@pytest.mark.parametrize(
    "command", ["/post https://news.example.com/x Title #Japan", "/stats", "/feeds"]
)
async def test_anyone_else_gets_the_unknown_command_answer(
    emulator: BotApiEmulator, bot: TagwireApplication, command: str
) -> None:
    reply = await say(emulator, STRANGER, STRANGER, command)
    assert f"I do not know {command.split()[0]}" in reply["text"]
    services = bot.bot_data.services
    assert services is not None
    assert (await services.store.stats()).stories == 0


async def test_admin_commands_in_a_group_do_nothing(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    emulator.send_text(GROUP, ADMIN, "/post https://news.example.com/g Group post #Japan")
    await say(emulator, GROUP, ADMIN, "/tags@tagwire_test_bot")
    services = bot.bot_data.services
    assert services is not None
    assert (await services.store.stats()).stories == 0


async def test_stats_shows_the_numbers(emulator: BotApiEmulator, bot: TagwireApplication) -> None:
    await say(emulator, READER, READER, "/follow Japan, Russia")
    await say(emulator, ADMIN, ADMIN, "/post https://news.example.com/s Stats story #Japan")
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1)
    services = bot.bot_data.services
    assert services is not None
    for _ in range(100):
        if (await services.store.stats()).deliveries_sent == 1:
            break
        await asyncio.sleep(0.05)
    reply = await say(emulator, ADMIN, ADMIN, "/stats")
    text = reply["text"]
    assert "Chats: 2 active, 0 inactive" in text
    assert "Subscriptions: 2" in text
    assert "Stories: 1" in text
    assert "Deliveries: 0 pending, 0 failed, 1 sent" in text
    assert "Last delivery took: " in text
    assert "no delivery yet" not in text


async def test_feeds_lists_each_feed_with_its_last_success_and_error(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    empty = await say(emulator, ADMIN, ADMIN, "/feeds")
    assert "No feeds yet" in empty["text"]
    store = await open_store(database)
    try:
        good, _ = await store.add_feed("https://a.example.com/rss", ["Japan"], 1.0)
        bad, _ = await store.add_feed("https://user:pw@b.example.com/atom", [], 2.0)
        await store.feed_succeeded(good.id, None, None, 1_800_000_000.0)
        await store.feed_failed(bad.id, "HTTP 500 Internal Server Error <oops>", 1_800_000_100.0)
    finally:
        await store.close()
    reply = await say(emulator, ADMIN, ADMIN, "/feeds")
    text = reply["text"]
    assert "Feeds (2)" in text
    assert "1. https://a.example.com/rss\nTags: Japan · last success: 2027-01-15 08:00 UTC" in text
    assert "2. https://b.example.com/atom" in text
    assert "pw@" not in text
    assert "last success: never" in text
    assert (
        "Last error (2027-01-15 08:01 UTC, 1 in a row): HTTP 500 Internal Server Error <oops>"
        in (text)
    )


async def test_feeds_fits_one_message_however_many_feeds(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    store = await open_store(database)
    try:
        for number in range(60):
            feed, _ = await store.add_feed(f"https://feeds.example.com/{number}", [], 1.0)
            await store.feed_failed(feed.id, "x" * 500, 2.0)
    finally:
        await store.close()
    reply = await say(emulator, ADMIN, ADMIN, "/feeds")
    assert len(reply["text"]) <= 4096
    assert "more: tagwire feeds list shows them all" in reply["text"]


async def test_the_admin_menu_is_registered_for_admins_only(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    admin_menus = {
        call.params.get("language_code"): [c["command"] for c in call.params["commands"]]
        for call in emulator.calls_of("setMyCommands")
        if (call.params.get("scope") or {}).get("chat_id") == ADMIN
    }
    # The default menu and one per language, since a chat's menu wins over a language's.
    assert set(admin_menus) == {None, *(lang for lang in LANGUAGES if lang != DEFAULT_LANGUAGE)}
    for commands in admin_menus.values():
        assert commands[-len(ADMIN_COMMANDS) :] == list(ADMIN_COMMANDS)
        assert "follow" in commands
    assert "post" not in emulator.commands[("default", "")]


async def test_a_failing_menu_registration_does_not_stop_the_bot(
    emulator: BotApiEmulator, start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.fail_next(
        "setMyCommands", status=400, description="Bad Request: chat not found", count=10
    )
    async with start_bot(admin_ids=frozenset({ADMIN})):
        reply = await say(emulator, ADMIN, ADMIN, "/stats")
    assert "tagwire in numbers" in reply["text"]
    assert f"could not register the admin menu for user {ADMIN}" in caplog.text


@pytest.mark.parametrize(
    ("text", "record"),
    [
        (
            "https://x.example.com/a Some title here #Japan #Kuril_Islands",
            {
                "url": "https://x.example.com/a",
                "title": "Some title here",
                "tags": ["Japan", "Kuril Islands"],
            },
        ),
        (
            "https://x.example.com/a\nTitle #notatag inside\n#Japan",
            {"url": "https://x.example.com/a", "title": "Title #notatag inside", "tags": ["Japan"]},
        ),
        (
            "https://x.example.com/a\nTitle\nLine one\nLine two\nJapan, Kuril Islands",
            {
                "url": "https://x.example.com/a",
                "title": "Title",
                "teaser": "Line one\nLine two",
                "tags": ["Japan", "Kuril Islands"],
            },
        ),
        (
            "https://x.example.com/a\nA title #Japan",
            {"url": "https://x.example.com/a", "title": "A title", "tags": ["Japan"]},
        ),
        ("", {"url": "", "title": "", "tags": []}),
    ],
)
def test_parse_post(text: str, record: dict[str, Any]) -> None:
    assert parse_post(text) == record
