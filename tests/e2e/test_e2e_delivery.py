"""Stories reaching readers, end to end: `tagwire push` beside the running bot, real HTTP,
Telegram's error answers from the emulator, restarts and kill -9."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.emulator import BotApiEmulator
from bot.settings import Settings
from bot.tags import parse_tag
from storage import open_store
from tests.conftest import make_article
from tests.support.faults import delivery_rows, statuses
from tests.support.harness import (
    TOKEN,
    StartBot,
    example_stories,
    links,
    outbox_settled,
    push,
    start_process,
    stop_process,
    subprocess_env,
)
from tests.support.updates import follow, teasers

STORIES = example_stories()
JAPAN_URLS = {story["url"] for story in STORIES if "Japan" in story["tags"]}
RUSSIA_URLS = {story["url"] for story in STORIES if "Russia" in story["tags"]}


def teaser_urls(emulator: BotApiEmulator, chat_id: int) -> list[str]:
    return [links(m)[0] for m in teasers(emulator, chat_id)]


def teaser_calls(emulator: BotApiEmulator, chat_id: int) -> list[Any]:
    return [
        call
        for call in emulator.calls_of("sendMessage")
        if call.params.get("chat_id") == chat_id and "Read more" in call.params.get("text", "")
    ]


async def test_reader_gets_one_teaser_per_story_of_the_tag(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    async with start_bot():
        await follow(emulator, 1001, 1001, "Japan")
        result = await push(database)
        assert result.returncode == 0, result.stderr
        assert "8 deliveries queued" in result.stdout
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == len(JAPAN_URLS))
        await outbox_settled(emulator, database)
    assert sorted(teaser_urls(emulator, 1001)) == sorted(JAPAN_URLS)
    first = teasers(emulator, 1001)[0]
    assert any(e["type"] == "bold" for e in first["entities"])
    assert any(e["type"] == "hashtag" for e in first["entities"])


async def test_story_with_two_followed_tags_arrives_once(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    expected = JAPAN_URLS | RUSSIA_URLS
    async with start_bot():
        await follow(emulator, 1001, 1001, "Japan, Russia")
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) >= len(expected))
        await outbox_settled(emulator, database)
    urls = teaser_urls(emulator, 1001)
    assert Counter(urls) == Counter(expected)


async def test_unfollow_stops_deliveries(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    async with start_bot():
        await follow(emulator, 1001, 1001, "Japan")
        await follow(emulator, 1002, 1002, "Japan")
        before = len(emulator.sent_messages(1001))
        emulator.send_text(1001, 1001, "/unfollow Japan")
        await emulator.wait_for_messages(1001, before + 1)
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, 1002)) == len(JAPAN_URLS))
        await outbox_settled(emulator, database)
    # Nothing was queued for 1001 at all, so nothing could come later.
    assert [chat for chat, _ in delivery_rows(database) if chat == 1001] == []
    assert teasers(emulator, 1001) == []


async def test_a_blocked_reader_does_not_stop_the_others_and_can_come_back(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    async with start_bot():
        for reader in (1001, 1002, 1003):
            await follow(emulator, reader, reader, "Japan")
        emulator.block(1002)
        await push(database)
        await emulator.wait_for(
            lambda: all(len(teasers(emulator, r)) == len(JAPAN_URLS) for r in (1001, 1003))
        )
        await outbox_settled(emulator, database)
        store = await open_store(database)
        try:
            chat = await store.get_chat(1002)
            assert chat is not None
            assert not chat.active
            assert [t.name for t in await store.followed_tags(1002)] == ["Japan"]
        finally:
            await store.close()
        blocked_calls = teaser_calls(emulator, 1002)
        assert [c.status for c in blocked_calls] == [403]

        emulator.send_text(1002, 1002, "/start")
        await emulator.wait_for(lambda: bool(emulator.sent_messages(1002)))
        await push(
            database,
            [{"url": "https://news.example.com/new", "title": "Back again", "tags": ["Japan"]}],
        )
        await emulator.wait_for(lambda: len(teasers(emulator, 1002)) == 1)
    assert teaser_urls(emulator, 1002) == ["https://news.example.com/new"]


async def test_a_migrated_group_keeps_receiving(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    emulator.add_group(-4001, title="Newsroom", admins=[2001])
    async with start_bot():
        await follow(emulator, -4001, 2001, "Russia")
        emulator.migrate(-4001, -1004001)
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, -1004001)) == len(RUSSIA_URLS))
        await outbox_settled(emulator, database)
    assert sorted(teaser_urls(emulator, -1004001)) == sorted(RUSSIA_URLS)
    migrate_answers = teaser_calls(emulator, -4001)
    assert [c.status for c in migrate_answers] == [400]


async def test_429_is_waited_out_and_the_message_retried(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    retry_after = 2
    async with start_bot():
        await follow(emulator, 1001, 1001, "Japan")
        emulator.fail_next("sendMessage", status=429, retry_after=retry_after, chat_id=1001)
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == len(JAPAN_URLS), timeout=20)
    assert sorted(teaser_urls(emulator, 1001)) == sorted(JAPAN_URLS)
    refused, retried = teaser_calls(emulator, 1001)[:2]
    assert (refused.status, retried.status) == (429, 200)
    assert retried.params["text"] == refused.params["text"]
    # From Telegram's answer to the retry (not from the start of `tagwire push`).
    assert retried.at - refused.at >= retry_after


async def test_at_the_default_spacing_telegrams_per_chat_limits_are_never_hit(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    # Telegram's numbers: 30 messages a second, one a second to a private chat, 20 a minute
    # to a group; beyond them the answer is 429. Messages spaced exactly may arrive a few
    # milliseconds closer than they left: that much early is on time.
    jitter = 0.05
    emulator.enforce_limits(jitter=jitter)
    defaults = {
        name: Settings.model_fields[name].default
        for name in ("rate_limit", "private_chat_interval", "group_chat_interval")
    }
    emulator.add_user(1001)
    emulator.add_group(-4003, title="Desk")
    store = await open_store(database)
    try:
        japan = parse_tag("Japan")
        for chat_id, chat_type in ((1001, "private"), (-4003, "group")):
            await store.register_chat(chat_id, chat_type, None)
            await store.follow(chat_id, [(japan.name, japan.key)], 100, 0.0)
        stories = [make_article(n, ["Japan"]) for n in range(1, 4)]
        await store.add_articles(stories, notify=True, now=time.time())
    finally:
        await store.close()
    async with start_bot(**defaults):
        await emulator.wait_for(
            lambda: len(teasers(emulator, 1001)) == 3 and len(teasers(emulator, -4003)) == 3,
            timeout=30,
        )
    sends = emulator.calls_of("sendMessage")
    assert [call.status for call in sends] == [200] * 6, emulator.calls_of("sendMessage")
    group = [call.at for call in sends if call.params.get("chat_id") == -4003]
    # 20 a minute is one every 3 s, as configured, not 20 at once and then a pause.
    assert min(b - a for a, b in itertools.pairwise(group)) >= 60 / 20 - jitter


async def test_stories_pushed_while_the_bot_is_down_arrive_once_after_start(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    async with start_bot():
        await follow(emulator, 1001, 1001, "Japan")
    await push(database)
    async with start_bot():
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == len(JAPAN_URLS))
        await outbox_settled(emulator, database)
    marker = {"url": "https://news.example.com/marker", "title": "Marker", "tags": ["Japan"]}
    async with start_bot():
        # Anything the restart would send again goes before a story pushed after it.
        await push(database, [marker])
        await emulator.wait_for(lambda: marker["url"] in teaser_urls(emulator, 1001))
    urls = teaser_urls(emulator, 1001)
    assert sorted(urls[:-1]) == sorted(JAPAN_URLS)
    assert urls[-1] == marker["url"]


async def test_tagwire_run_delivers_and_never_logs_the_token(
    emulator: BotApiEmulator, database: Path, tmp_path: Path
) -> None:
    log = tmp_path / "bot.log"
    process = start_process(subprocess_env(emulator, database, log_level="DEBUG"), tmp_path, log)
    try:
        await emulator.wait_for(lambda: emulator.polling, timeout=30)
        await follow(emulator, 1001, 1001, "Japan")
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == len(JAPAN_URLS))
    finally:
        assert await stop_process(process) == 0
    output = log.read_text()
    assert "tagwire is running as @tagwire_test_bot" in output
    assert TOKEN not in output
    assert TOKEN.split(":")[1] not in output


async def test_kill_9_mid_fan_out_loses_nothing(
    emulator: BotApiEmulator, database: Path, tmp_path: Path
) -> None:
    readers = list(range(10_001, 10_301))
    store = await open_store(database)
    japan = parse_tag("Japan")
    for reader in readers:
        emulator.add_user(reader)
        await store.register_chat(reader, "private", None)
        await store.follow(reader, [(japan.name, japan.key)], 100, 0.0)
    await store.close()
    story = {"url": "https://news.example.com/big", "title": "Big story", "tags": ["Japan"]}
    assert "300 deliveries queued" in (await push(database, [story])).stdout

    # Slow enough that the kill lands mid fan-out.
    emulator.latency = 0.05
    env = subprocess_env(emulator, database, rate_limit=60)
    log = tmp_path / "bot.log"
    for _ in range(3):
        process = start_process(env, tmp_path, log)
        try:
            sent_before = len(emulator.sent_messages())
            await emulator.wait_for(
                lambda before=sent_before: len(emulator.sent_messages()) >= before + 40,
                timeout=30,
            )
        finally:
            await stop_process(process, kill=True)
    process = start_process(env, tmp_path, log)
    try:
        await emulator.wait_for(lambda: statuses(database) == {"sent": 300}, timeout=60)
    finally:
        assert await stop_process(process) == 0

    per_chat = Counter(m["chat"]["id"] for m in emulator.sent_messages())
    assert set(per_chat) == set(readers)
    repeats = sum(count - 1 for count in per_chat.values())
    # Only what was in flight at each kill, or sent but not yet recorded, may go twice.
    assert repeats <= 3 * 20, per_chat.most_common(5)
    assert statuses(database) == {"sent": 300}


async def test_a_pushed_story_arrives_within_two_seconds(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    async with start_bot(outbox_poll_interval=1.0):
        await follow(emulator, 1001, 1001, "Japan")
        story = {"url": "https://news.example.com/fresh", "title": "Fresh", "tags": ["Japan"]}
        result = await push(database, [story])
        pushed = time.monotonic()
        assert result.returncode == 0
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == 1, timeout=5)
        (arrived,) = teaser_calls(emulator, 1001)
        assert arrived.at - pushed < 2.0


async def test_removed_from_a_group_then_added_back(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    emulator.add_group(-4002, title="Desk", admins=[2001])
    async with start_bot():
        await follow(emulator, -4002, 2001, "Japan")
        emulator.set_bot_status(-4002, 2001, "kicked", old_status="member")

        async def active() -> bool:
            store = await open_store(database)
            try:
                chat = await store.get_chat(-4002)
                return chat is not None and chat.active
            finally:
                await store.close()

        for _ in range(100):
            if not await active():
                break
            await asyncio.sleep(0.05)
        assert not await active()
        await push(database)
        # The fan-out left the group out: nothing is queued for it, nothing can arrive.
        assert [chat for chat, _ in delivery_rows(database) if chat == -4002] == []
        assert teasers(emulator, -4002) == []

        emulator.set_bot_status(-4002, 2001, "member", old_status="kicked")
        for _ in range(100):
            if await active():
                break
            await asyncio.sleep(0.05)
        assert await active()
        story = {"url": "https://news.example.com/back", "title": "Back", "tags": ["Japan"]}
        await push(database, [story])
        await emulator.wait_for(lambda: len(teasers(emulator, -4002)) == 1)
