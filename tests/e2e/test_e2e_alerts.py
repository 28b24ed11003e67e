"""Alerts to operators through the emulator: a failing feed told once, paused, resumed from the
command line and told over once; Telegram unreachable told once and over once, both when it is
back; a stuck outbox told once; nothing told twice by the bot started again. Both backends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import BotApiEmulator
from storage import open_store
from storage.models import Feed
from tests.support.commands import environment, run_tagwire
from tests.support.feed_server import FeedServer, fixture
from tests.support.harness import TOKEN, StartBot, bot_settings, push, running_bot
from tests.support.updates import say

ADMIN = 5001
READER = 1001
# Quick looks and short streaks, so that each incident plays out in a second or two.
ALERTS: dict[str, Any] = {
    "admin_ids": frozenset({ADMIN}),
    "alert_check_interval": 0.05,
    "feed_interval": 0.1,
    "alert_feed_failures": 3,
    "feed_pause_after": 6,
}
# Looks enough to be sure that nothing more is coming (an absence has no moment to wait for).
SETTLE = 0.5


def tagwire(database: Path | str, *args: str) -> Any:
    return run_tagwire(*args, env=environment(TAGWIRE_DATABASE=str(database)))


async def feeds_of(database: Path | str) -> list[Feed]:
    store = await open_store(database)
    try:
        return await store.list_feeds()
    finally:
        await store.close()


def texts(emulator: BotApiEmulator, chat_id: int = ADMIN) -> list[str]:
    return [str(message.get("text", "")) for message in emulator.sent_messages(chat_id)]


@pytest.fixture(autouse=True)
def admin(emulator: BotApiEmulator) -> None:
    emulator.add_user(ADMIN, first_name="Operator")
    emulator.add_user(READER)


async def test_a_failing_feed_is_told_once_paused_resumed_and_told_over_once(
    emulator: BotApiEmulator, feed_server: FeedServer, database: Path | str, start_bot: StartBot
) -> None:
    url = feed_server.serve("down.xml", status=503)
    assert (await asyncio.to_thread(tagwire, database, "feeds", "add", url)).returncode == 0
    async with start_bot(**ALERTS):
        [failing] = await emulator.wait_for_messages(ADMIN, 1)

        # The pause is told once the feed is paused: no more polls from then on.
        [_, pause] = await emulator.wait_for_messages(ADMIN, 2)
        polls = len(feed_server.requests_for("down.xml"))
        listed = await asyncio.to_thread(tagwire, database, "feeds", "list")
        # The feed works again, but a paused feed is not polled: nobody finds out yet.
        feed_server.serve("down.xml", fixture("rss2.xml"))
        await asyncio.sleep(SETTLE)
        assert len(feed_server.requests_for("down.xml")) == polls
        assert len(texts(emulator)) == 2

        resumed = await asyncio.to_thread(tagwire, database, "feeds", "resume", url)
        [*_, over] = await emulator.wait_for_messages(ADMIN, 3)
        await asyncio.sleep(SETTLE)
        final = texts(emulator)
    assert re.search(
        r"A feed keeps failing\n.*down\.xml\n[3-5] polls in a row have failed", failing["text"]
    )
    assert "The last error: HTTP 503 Service Unavailable" in failing["text"]
    assert "It is paused (no longer polled) after 6 in a row." in failing["text"]
    assert "A feed is paused" in pause["text"]
    assert "It failed 6 polls in a row" in pause["text"]
    assert f"/resume {url}" in pause["text"]
    assert f"tagwire feeds resume {url}" in pause["text"]
    # Bold headings, the URL as code: Telegram's HTML, parsed by the emulator.
    assert {"bold", "code"} <= {entity["type"] for entity in pause.get("entities", [])}
    assert polls == 6
    assert "paused since " in listed.stdout
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"resumed {url}: the running bot polls it again")
    assert "after 6 failed polls in a row" in resumed.stdout
    assert "A feed works again" in over["text"]
    assert "It had not worked since " in over["text"]
    assert len(final) == 3, final
    [feed] = await feeds_of(database)
    assert (feed.failures, feed.paused_at) == (0, None)


async def test_resume_answers_for_an_unknown_and_a_working_feed(
    feed_server: FeedServer, database: Path | str, start_bot: StartBot
) -> None:
    url = feed_server.serve("asia.xml", fixture("rss2.xml"))
    unknown = await asyncio.to_thread(tagwire, database, "feeds", "resume", url)
    assert unknown.returncode == 1
    assert f"there is no feed {url}" in unknown.stderr
    assert (await asyncio.to_thread(tagwire, database, "feeds", "add", url)).returncode == 0
    working = await asyncio.to_thread(tagwire, database, "feeds", "resume", url)
    assert working.returncode == 0
    assert working.stdout == f"{url} is not paused: the bot polls it\n"


async def test_telegram_unreachable_is_told_once_and_over_once_when_it_is_back(
    emulator: BotApiEmulator,
    database: Path | str,
    start_bot: StartBot,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    settings = {**ALERTS, "alert_telegram_down": 0.5}
    async with start_bot(**settings):
        emulator.send_text(READER, READER, "/follow Japan")
        await emulator.wait_for_messages(READER, 1)
        emulator.set_offline(True)
        # A story waits meanwhile, and goes out when Telegram is back.
        story = {"url": "https://news.example.com/a", "title": "During", "tags": ["Japan"]}
        assert (await push(database, [story])).returncode == 0
        await emulator.wait_for(
            lambda: "alert (telegram) to admin" in caplog.text and "not delivered" in caplog.text,
            timeout=10,
        )
        await asyncio.sleep(SETTLE)
        emulator.set_offline(False)
        [down, back] = await emulator.wait_for_messages(ADMIN, 2)
        await emulator.wait_for_messages(READER, 2)
        await asyncio.sleep(SETTLE)
        final = texts(emulator)
    assert "Telegram unreachable" in down["text"]
    assert "more than 0 s" in down["text"] or "more than 1 s" in down["text"]
    assert "Telegram reachable again" in back["text"]
    assert len(final) == 2, final
    undelivered = [r for r in caplog.records if "not delivered" in r.getMessage()]
    # One line for the alert that had to wait, however many looks it waited.
    assert len(undelivered) == 1, [r.getMessage() for r in undelivered]
    assert "\n" not in undelivered[0].getMessage()
    # (httpx's own request lines hold the token; `tagwire run` silences them, bot/logs.py.)
    alerts_log = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("bot.alerts")
    )
    assert TOKEN not in alerts_log
    assert "alert (telegram) delivered to admin" in caplog.text


async def test_a_stuck_outbox_is_told_once_and_over_once(
    emulator: BotApiEmulator, database: Path | str, start_bot: StartBot
) -> None:
    async with start_bot(**{**ALERTS, "alert_outbox_age": 0.5}):
        emulator.send_text(READER, READER, "/follow Japan")
        await emulator.wait_for_messages(READER, 1)
        # Telegram makes the bot wait 3 s before it may send again: the story waits longer
        # than the half second allowed.
        emulator.fail_next("sendMessage", status=429, retry_after=3, chat_id=READER)
        story = {"url": "https://news.example.com/late", "title": "Late", "tags": ["Japan"]}
        assert (await push(database, [story])).returncode == 0
        [late] = await emulator.wait_for_messages(ADMIN, 1)
        assert len(emulator.sent_messages(READER)) == 1
        [_, on_time] = await emulator.wait_for_messages(ADMIN, 2, timeout=15)
        await asyncio.sleep(SETTLE)
        final = texts(emulator)
    assert "Deliveries are late" in late["text"]
    assert "1 are pending" in late["text"]
    assert "Deliveries are on time again" in on_time["text"]
    assert len(emulator.sent_messages(READER)) == 2
    assert len(final) == 2, final


async def test_the_bot_started_again_tells_nothing_twice(
    emulator: BotApiEmulator, feed_server: FeedServer, database: Path | str, start_bot: StartBot
) -> None:
    url = feed_server.serve("down.xml", status=500)
    assert (await asyncio.to_thread(tagwire, database, "feeds", "add", url)).returncode == 0
    settings = {**ALERTS, "feed_pause_after": 0}
    async with start_bot(**settings):
        await emulator.wait_for_messages(ADMIN, 1)
    polls = len(feed_server.requests_for("down.xml"))
    async with start_bot(**settings):
        # Still failing, polled again by the new leader: it was told already.
        await emulator.wait_for(
            lambda: len(feed_server.requests_for("down.xml")) >= polls + 5, timeout=10
        )
        await asyncio.sleep(SETTLE)
        assert len(texts(emulator)) == 1
    async with start_bot(**settings):
        feed_server.serve("down.xml", fixture("rss2.xml"))
        [_, over] = await emulator.wait_for_messages(ADMIN, 2)
        await asyncio.sleep(SETTLE)
        final = texts(emulator)
    assert "A feed works again" in over["text"]
    assert len(final) == 2, final


@pytest.mark.backends("postgresql", reason="several instances share a PostgreSQL database")
async def test_a_failover_does_not_tell_again_what_the_leader_told(
    emulator: BotApiEmulator, feed_server: FeedServer, database: Path | str
) -> None:
    url = feed_server.serve("down.xml", status=500)
    assert (await asyncio.to_thread(tagwire, database, "feeds", "add", url)).returncode == 0

    def instance(name: str) -> Any:
        return running_bot(
            bot_settings(
                emulator,
                database,
                instance_name=name,
                leader_check_interval=0.2,
                **{**ALERTS, "feed_pause_after": 0},
            )
        )

    async with contextlib.AsyncExitStack() as stack:
        async with instance("first") as first:
            second = await stack.enter_async_context(instance("second"))
            await emulator.wait_for_messages(ADMIN, 1)
            assert (first.bot_data.role, second.bot_data.role) == ("leader", "follower")
        # The first stopped: the second leads, polls the feed still failing, and says nothing.
        await emulator.wait_for(lambda: second.bot_data.role == "leader", timeout=10)
        polls = len(feed_server.requests_for("down.xml"))
        await emulator.wait_for(
            lambda: len(feed_server.requests_for("down.xml")) >= polls + 5, timeout=10
        )
        await asyncio.sleep(SETTLE)
        assert len(texts(emulator)) == 1
        feed_server.serve("down.xml", fixture("rss2.xml"))
        [_, over] = await emulator.wait_for_messages(ADMIN, 2)
        await asyncio.sleep(SETTLE)
        final = texts(emulator)
    assert "A feed works again" in over["text"]
    assert len(final) == 2, final


async def test_admins_resume_a_paused_feed_in_telegram_and_are_told_in_their_language(
    emulator: BotApiEmulator, feed_server: FeedServer, database: Path | str, start_bot: StartBot
) -> None:
    russian = ADMIN + 1
    emulator.add_user(russian, language_code="ru")
    url = feed_server.serve("down.xml", status=503)
    assert (await asyncio.to_thread(tagwire, database, "feeds", "add", url)).returncode == 0
    settings = {**ALERTS, "admin_ids": frozenset({ADMIN, russian}), "feed_pause_after": 3}
    async with start_bot(**{**settings, "alert_feed_failures": 3, "feed_interval": 3600.0}):
        # The Russian admin has talked to the bot: their chat is in Russian.
        await say(emulator, russian, russian, "/start")
    async with start_bot(**settings):
        paused_ru = (await emulator.wait_for_messages(russian, 2))[-1]
        [paused_en] = await emulator.wait_for_messages(ADMIN, 1)
        listing = (await say(emulator, ADMIN, ADMIN, "/feeds"))["text"]
        usage = (await say(emulator, ADMIN, ADMIN, "/resume"))["text"]
        unknown = (await say(emulator, ADMIN, ADMIN, "/resume https://nowhere.example.com/x"))[
            "text"
        ]
        feed_server.serve("down.xml", fixture("rss2.xml"))
        resumed = (await say(emulator, ADMIN, ADMIN, f"/resume {url}"))["text"]
        # Its next poll works: both admins are told, each in their language.
        await emulator.wait_for(lambda: "A feed works again" in texts(emulator)[-1], timeout=10)
        await emulator.wait_for(
            lambda: "Лента снова читается" in texts(emulator, russian)[-1], timeout=10
        )
        again = (await say(emulator, ADMIN, ADMIN, f"/resume {url}"))["text"]
    assert "Лента не читается" in paused_ru["text"]
    assert "Лента приостановлена" in paused_ru["text"]
    assert "A feed keeps failing" in paused_en["text"]
    assert "A feed is paused" in paused_en["text"]
    assert "⏸ Paused since " in listing
    assert f"/resume {url}" in listing
    assert "Send the URL of a paused feed" in usage
    assert "There is no feed https://nowhere.example.com/x" in unknown
    assert f"Resumed {url}: it is polled again within 0.1 s." in resumed
    assert f"{url} is not paused: it is polled every 0.1 s." in again
