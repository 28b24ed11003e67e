"""Feeds from the wild end to end (issue 12, points 1–7): the running bot polls feeds in the
shapes of tests/fixtures/feeds/wild/ on its JobQueue, and a reader gets each new entry as a
teaser through the Bot API emulator, which parses every message as Telegram would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from storage import open_store
from tests.support.feed_server import ATOM, FIXTURES, FeedServer
from tests.support.harness import StartBot, links, outbox_settled
from tests.support.updates import follow, teaser_text, teasers

READER = 1001
# A valid feed with nothing in it: the first poll primes the feed, so what comes next notifies.
EMPTY = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Soon</title>'
    b"<link>https://soon.example.com/</link><description>Soon</description></channel></rss>"
)
# Fixture, content type, and how many of its entries the reader (below) follows.
WILD = {
    "mastodon.rss": (None, 2),  # birds: titled from their descriptions
    "text_constructs.atom": (ATOM, 4),  # Web: text stays text
    "koi8r.rss": (None, 2),  # Москва: KOI8-R declared nowhere
    "undefined_entities.rss": (None, 2),  # Paris: &nbsp; and &eacute; in XML
}


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as feeds:
        yield feeds


async def primed(database: Path) -> bool:
    store = await open_store(database)
    try:
        return all(feed.primed for feed in await store.list_feeds())
    finally:
        await store.close()


async def test_the_running_bot_delivers_entries_of_wild_feeds_as_readable_teasers(
    emulator: BotApiEmulator, server: FeedServer, database: Path, start_bot: StartBot
) -> None:
    store = await open_store(database)
    try:
        for name in WILD:
            await store.add_feed(server.serve(name, EMPTY), [], time.time())
    finally:
        await store.close()
    async with start_bot(feed_interval=0.2):
        for tag in ("birds", "Web", "Москва", "Paris"):
            await follow(emulator, READER, READER, tag)
        deadline = time.monotonic() + 10
        while not await primed(database):
            assert time.monotonic() < deadline, "the feeds were not polled"
            await asyncio.sleep(0.05)

        for name, (content_type, _) in WILD.items():
            body = (FIXTURES / "wild" / name).read_bytes()
            if content_type is None:
                server.serve(name, body)
            else:
                server.serve(name, body, content_type=content_type)
        expected = sum(count for _, count in WILD.values())
        await emulator.wait_for(lambda: len(teasers(emulator, READER)) >= expected, timeout=15)
        # The feeds were polled again since, and what that stored went out.
        polled = {name: len(server.requests_for(name)) for name in WILD}
        await emulator.wait_for(
            lambda: all(len(server.requests_for(name)) >= polled[name] + 2 for name in WILD)
        )
        await outbox_settled(emulator, database)
    sent = teasers(emulator, READER)
    assert len(sent) == expected
    by_link = {links(message)[0]: teaser_text(message) for message in sent}

    shipped = by_link["https://social.example/@jane/113456789012345678"]
    assert shipped.startswith("Just shipped version 2.0 of our bird-count app!\n\n")
    blink = by_link["https://markup.example.org/blink"]
    assert blink.startswith("History of the <blink> tag\n\nHistory of the <blink> tag\n\n")
    winter = by_link["https://moscow.example.ru/news/winter"]
    assert winter.startswith("Как пережить зиму в Москве\n\nВрачи и синоптики")
    cafes = by_link["https://cafe.example.com/2026/11/cafes-reopen"]
    assert cafes.startswith("Cafés reopen after the summer break\n\nTerraces are full again — ")
    for text in by_link.values():
        assert "Ã" not in text
        assert "\ufffd" not in text
