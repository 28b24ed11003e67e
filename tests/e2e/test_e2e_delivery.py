"""Stories reaching readers, end to end: `tagwire push` beside the running bot, real HTTP,
Telegram's error answers from the emulator, restarts and kill -9."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import BotApiEmulator
from bot.tags import parse_tag
from storage.sqlite import SqliteStore
from tests.support.harness import (
    TOKEN,
    bot_settings,
    example_stories,
    links,
    push,
    running_bot,
    start_process,
    stop_process,
    subprocess_env,
)

pytestmark = pytest.mark.e2e

STORIES = example_stories()
JAPAN_URLS = {story["url"] for story in STORIES if "Japan" in story["tags"]}
RUSSIA_URLS = {story["url"] for story in STORIES if "Russia" in story["tags"]}


def teasers(emulator: BotApiEmulator, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in emulator.sent_messages(chat_id) if "Read more" in m.get("text", "")]


def teaser_urls(emulator: BotApiEmulator, chat_id: int) -> list[str]:
    return [links(m)[0] for m in teasers(emulator, chat_id)]


def teaser_calls(emulator: BotApiEmulator, chat_id: int) -> list[Any]:
    return [
        call
        for call in emulator.calls_of("sendMessage")
        if call.params.get("chat_id") == chat_id and "Read more" in call.params.get("text", "")
    ]


async def follow(emulator: BotApiEmulator, chat_id: int, user_id: int, tags: str) -> None:
    before = len(emulator.sent_messages(chat_id))
    emulator.send_text(chat_id, user_id, f"/follow {tags}")
    await emulator.wait_for_messages(chat_id, before + 1)


async def test_reader_gets_one_teaser_per_story_of_the_tag(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    async with running_bot(bot_settings(emulator, database)):
        await follow(emulator, 1001, 1001, "Japan")
        result = await push(database)
        assert result.returncode == 0, result.stderr
        assert "8 deliveries queued" in result.stdout
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == len(JAPAN_URLS))
        await asyncio.sleep(0.5)
    assert sorted(teaser_urls(emulator, 1001)) == sorted(JAPAN_URLS)
    first = teasers(emulator, 1001)[0]
    assert any(e["type"] == "bold" for e in first["entities"])
    assert any(e["type"] == "hashtag" for e in first["entities"])


async def test_story_with_two_followed_tags_arrives_once(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    expected = JAPAN_URLS | RUSSIA_URLS
    async with running_bot(bot_settings(emulator, database)):
        await follow(emulator, 1001, 1001, "Japan, Russia")
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) >= len(expected))
        await asyncio.sleep(0.5)
    urls = teaser_urls(emulator, 1001)
    assert Counter(urls) == Counter(expected)


async def test_unfollow_stops_deliveries(emulator: BotApiEmulator, tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    async with running_bot(bot_settings(emulator, database)):
        await follow(emulator, 1001, 1001, "Japan")
        await follow(emulator, 1002, 1002, "Japan")
        before = len(emulator.sent_messages(1001))
        emulator.send_text(1001, 1001, "/unfollow Japan")
        await emulator.wait_for_messages(1001, before + 1)
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, 1002)) == len(JAPAN_URLS))
        await asyncio.sleep(0.5)
    assert teasers(emulator, 1001) == []


async def test_a_blocked_reader_does_not_stop_the_others_and_can_come_back(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    async with running_bot(bot_settings(emulator, database)):
        for reader in (1001, 1002, 1003):
            await follow(emulator, reader, reader, "Japan")
        emulator.block(1002)
        await push(database)
        await emulator.wait_for(
            lambda: all(len(teasers(emulator, r)) == len(JAPAN_URLS) for r in (1001, 1003))
        )
        await asyncio.sleep(0.3)
        store = await SqliteStore.open(database)
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


async def test_a_migrated_group_keeps_receiving(emulator: BotApiEmulator, tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    emulator.add_group(-4001, title="Newsroom", admins=[2001])
    async with running_bot(bot_settings(emulator, database)):
        await follow(emulator, -4001, 2001, "Russia")
        emulator.migrate(-4001, -1004001)
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, -1004001)) == len(RUSSIA_URLS))
        await asyncio.sleep(0.3)
    assert sorted(teaser_urls(emulator, -1004001)) == sorted(RUSSIA_URLS)
    migrate_answers = teaser_calls(emulator, -4001)
    assert [c.status for c in migrate_answers] == [400]


async def test_429_is_waited_out_and_the_message_retried(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    async with running_bot(bot_settings(emulator, database)):
        await follow(emulator, 1001, 1001, "Japan")
        emulator.fail_next("sendMessage", status=429, retry_after=2, chat_id=1001)
        started = time.monotonic()
        await push(database)
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == len(JAPAN_URLS), timeout=20)
        assert time.monotonic() - started >= 2
    assert sorted(teaser_urls(emulator, 1001)) == sorted(JAPAN_URLS)


async def test_stories_pushed_while_the_bot_is_down_arrive_once_after_start(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    settings = bot_settings(emulator, database)
    async with running_bot(settings):
        await follow(emulator, 1001, 1001, "Japan")
    await push(database)
    async with running_bot(settings):
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == len(JAPAN_URLS))
        await asyncio.sleep(0.5)
    async with running_bot(settings):
        await asyncio.sleep(1.0)
    assert sorted(teaser_urls(emulator, 1001)) == sorted(JAPAN_URLS)


async def test_tagwire_run_delivers_and_never_logs_the_token(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
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


async def test_kill_9_mid_fan_out_loses_nothing(emulator: BotApiEmulator, tmp_path: Path) -> None:
    database = tmp_path / "bot.db"
    readers = list(range(10_001, 10_301))
    store = await SqliteStore.open(database)
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
        await emulator.wait_for(
            lambda: {m["chat"]["id"] for m in emulator.sent_messages()} >= set(readers),
            timeout=60,
        )
        await asyncio.sleep(1.0)
    finally:
        assert await stop_process(process) == 0

    per_chat = Counter(m["chat"]["id"] for m in emulator.sent_messages())
    assert set(per_chat) == set(readers)
    repeats = sum(count - 1 for count in per_chat.values())
    # Only what was in flight at each kill, or sent but not yet recorded, may go twice.
    assert repeats <= 3 * 20, per_chat.most_common(5)
    with sqlite3.connect(database) as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM deliveries GROUP BY status"))
    assert statuses == {"sent": 300}


async def test_a_pushed_story_arrives_within_two_seconds(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    settings = bot_settings(emulator, database, outbox_poll_interval=1.0)
    async with running_bot(settings):
        await follow(emulator, 1001, 1001, "Japan")
        story = {"url": "https://news.example.com/fresh", "title": "Fresh", "tags": ["Japan"]}
        result = await push(database, [story])
        pushed = time.monotonic()
        assert result.returncode == 0
        await emulator.wait_for(lambda: len(teasers(emulator, 1001)) == 1, timeout=5)
        assert time.monotonic() - pushed < 2.0


async def test_removed_from_a_group_then_added_back(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    database = tmp_path / "bot.db"
    emulator.add_group(-4002, title="Desk", admins=[2001])
    async with running_bot(bot_settings(emulator, database)):
        await follow(emulator, -4002, 2001, "Japan")
        emulator.set_bot_status(-4002, 2001, "kicked", old_status="member")

        async def active() -> bool:
            store = await SqliteStore.open(database)
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
        await asyncio.sleep(0.5)
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
