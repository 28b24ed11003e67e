"""kill -9 of `tagwire run` at random moments of a fan-out, five times in a row, then a clean
run: every follower gets the story, nobody else does, and the only repeats are the messages
Telegram had accepted when the process died but whose success was not yet written. And a
kill while a request is in flight, held unanswered by the emulator: that delivery was not
marked sent, and goes out after the restart."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path

from bot.delivery.config import DeliveryConfig
from bot.emulator import BotApiEmulator
from storage.models import NewArticle
from storage.sqlite import SqliteStore
from tests.conftest import make_article
from tests.support.faults import (
    StartBotProcess,
    delivery_rows,
    duration,
    received,
    report,
    seed,
    size,
    statuses,
    story,
    tally,
)
from tests.support.harness import links, push

KILLS = 5


async def test_five_kills_mid_fan_out_then_a_clean_run_lose_nothing(
    emulator: BotApiEmulator,
    database: Path,
    start_bot_process: StartBotProcess,
) -> None:
    followers = list(range(100_001, 100_001 + size(1_000, 5_000)))
    others = list(range(200_001, 200_001 + len(followers) // 10))
    await seed(database, emulator, {chat: ["Japan"] for chat in followers})
    await seed(database, emulator, {chat: ["Brazil"] for chat in others})
    url = story(1, "Japan")["url"]
    pushed = await push(database, [story(1, "Japan")])
    assert f"{len(followers)} deliveries queued" in pushed.stdout, pushed.stdout + pushed.stderr

    rate = 200.0
    config = DeliveryConfig(rate_limit=rate)
    # Requests take a little while, so some are always in flight when the kill lands.
    emulator.latency = 0.03
    seed_value = int(os.environ.get("TAGWIRE_FAULT_SEED", "20261129"))
    rng = random.Random(seed_value)
    unrecorded: list[int] = []
    started = time.monotonic()
    for _ in range(KILLS):
        before = received(emulator)
        sent_before = len(emulator.sent_messages())
        bot = await start_bot_process(rate_limit=rate)
        try:
            await emulator.wait_for(
                lambda sent_before=sent_before: len(emulator.sent_messages()) > sent_before,
                timeout=60,
            )
            await asyncio.sleep(rng.uniform(0.0, duration(0.5, 2.0)))
        finally:
            await bot.kill()
        # Requests that reached the stand-in before the kill still complete there.
        await emulator.wait_for(lambda: emulator.idle, timeout=30)
        after = received(emulator)
        rows = delivery_rows(database)
        grew = {
            chat for chat, counts in after.items() if counts[url] > before.get(chat, Counter())[url]
        }
        unrecorded.append(sum(1 for chat in grew if rows[(chat, url)][0] == "pending"))
        assert statuses(database)["pending"] > 0, "the kill came after the fan-out had ended"

    bot = await start_bot_process(rate_limit=rate)
    try:
        await emulator.wait_for(
            lambda: statuses(database) == Counter({"sent": len(followers)}),
            timeout=size(120, 300),
        )
    finally:
        assert await bot.stop() == 0, bot.output[-3000:]

    result = tally(emulator, {chat: {url} for chat in followers})
    report(
        "kill -9 x5",
        chats=len(followers),
        delivered=result.delivered,
        expected=result.expected,
        repeats=result.repeats,
        unrecorded_at_each_kill=unrecorded,
        seconds=round(time.monotonic() - started, 1),
        seed=seed_value,
    )
    assert not result.missing, result.describe()
    assert not result.unwanted, result.describe()
    # Exactly the messages accepted but not yet written at a kill went twice; no others.
    assert result.repeats == sum(unrecorded), result.describe()
    assert all(count <= config.max_in_flight + config.flush_size for count in unrecorded)
    assert statuses(database) == Counter({"sent": len(followers)})


async def test_a_message_in_flight_at_a_kill_is_sent_again_after_the_restart(
    emulator: BotApiEmulator,
    database: Path,
    start_bot_process: StartBotProcess,
) -> None:
    held_chat, other_chat = 100_001, 100_002
    await seed(database, emulator, {held_chat: ["Japan"], other_chat: ["Brazil"]})
    first, second = make_article(1, ["Japan"]), make_article(2, ["Brazil"])

    async def publish(*stories: NewArticle) -> None:
        store = await SqliteStore.open(database)
        try:
            await store.add_articles(stories, notify=True, now=time.time())
        finally:
            await store.close()

    # The first sendMessage to `held_chat` reaches Telegram and waits there, unanswered.
    held = emulator.hold("sendMessage", chat_id=held_chat)
    await publish(first)
    bot = await start_bot_process()
    try:
        await emulator.wait_for(lambda: held.arrived, timeout=60)
        # Another chat's story goes out and is recorded while that request is in flight:
        # outcomes were written after it left.
        await publish(second)
        await emulator.wait_for(
            lambda: delivery_rows(database)[(other_chat, second.url)][0] == "sent", timeout=30
        )
        assert delivery_rows(database)[(held_chat, first.url)][0] == "pending"
    finally:
        await bot.kill()
    # The bot died before Telegram answered: Telegram drops the request, nothing was sent.
    held.release(drop=True)
    assert emulator.sent_messages(held_chat) == []

    bot = await start_bot_process()
    try:
        await emulator.wait_for(lambda: bool(emulator.sent_messages(held_chat)), timeout=60)
        await emulator.wait_for(lambda: statuses(database) == Counter({"sent": 2}), timeout=30)
    finally:
        assert await bot.stop() == 0, bot.output[-3000:]
    assert [links(m) for m in emulator.sent_messages(held_chat)] == [[first.url]]
    assert [links(m) for m in emulator.sent_messages(other_chat)] == [[second.url]]
