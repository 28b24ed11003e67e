"""Chats that change under a fan-out: readers block the bot, chats disappear ("chat not
found"), groups become supergroups (found out by a send, or told by the service message
first). Every delivery row ends sent or skipped, each sent row is exactly one message, a
blocked chat keeps its tags, a migrated group gets every story once at its new id."""

from __future__ import annotations

import random
import time
from collections import Counter
from pathlib import Path

from bot.emulator import BotApiEmulator
from storage.sqlite import SqliteStore
from tests.support.faults import delivery_rows, received, report, seed, size, statuses, story, tally
from tests.support.harness import bot_settings, push, running_bot


async def test_blocks_deletions_and_migrations_mid_fan_out(
    emulator: BotApiEmulator, database: Path
) -> None:
    rng = random.Random(11)
    readers = list(range(600_001, 600_001 + size(200, 2_000)))
    groups = [-(700_001 + n) for n in range(size(20, 200))]
    others = list(range(800_001, 800_021))
    await seed(database, emulator, {chat: ["Japan"] for chat in readers})
    await seed(database, emulator, {chat: ["Japan"] for chat in groups}, chat_type="group")
    await seed(database, emulator, {chat: ["Brazil"] for chat in others})
    stories = [story(n, "Japan") for n in range(1, 4)]
    urls = [record["url"] for record in stories]

    shuffled = rng.sample(readers, len(readers))
    blocked = shuffled[: len(readers) // 10]
    deleted = shuffled[len(readers) // 10 : len(readers) // 10 + len(readers) // 20]
    migrating = rng.sample(groups, len(groups) // 2)
    moved = {old: -1_000_000_000_000 + old for old in migrating}
    # Half the groups' service message ("upgraded to a supergroup") reaches the bot first.
    announced = set(migrating[: len(migrating) // 2])
    total = (len(readers) + len(groups)) * len(urls)

    started = time.monotonic()
    emulator.latency = 0.02
    async with running_bot(bot_settings(emulator, database, rate_limit=150)):
        assert (await push(database, stories)).returncode == 0
        waves = 3
        for wave in range(waves):
            threshold = total * (wave + 1) // (waves + 2)
            await emulator.wait_for(
                lambda threshold=threshold: len(emulator.sent_messages()) >= threshold, timeout=60
            )
            for chat in blocked[wave::waves]:
                emulator.block(chat)
            for chat in deleted[wave::waves]:
                emulator.delete_chat(chat)
            for old in migrating[wave::waves]:
                emulator.migrate(old, moved[old], notify=old in announced)
        # Nothing pending: every outcome is written, nothing more will be sent.
        await emulator.wait_for(lambda: not statuses(database)["pending"], timeout=size(60, 300))
    elapsed = time.monotonic() - started

    rows = delivery_rows(database)
    got = received(emulator, moved)
    gone = set(blocked) | set(deleted)
    skipped = 0
    for chat in gone:
        counts = got.get(chat, Counter())
        # What reached a chat before it went is a prefix of the stories, each recorded sent.
        reached = [url for url in urls if counts[url]]
        assert reached == urls[: len(reached)], (chat, reached)
        for url in urls:
            status, _ = rows[(chat, url)]
            assert status == ("sent" if counts[url] == 1 else "skipped"), (chat, url, status)
            skipped += status == "skipped"
    expected = {
        moved.get(chat, chat): {url for url in urls if chat not in gone or got[chat][url]}
        for chat in [*readers, *groups]
        if chat not in gone or got.get(chat)
    }
    result = tally(emulator, expected, moved)
    report(
        "blocked, deleted, migrated mid fan-out",
        deliveries=total,
        delivered=result.delivered,
        skipped=skipped,
        repeats=result.repeats,
        blocked=len(blocked),
        not_found=len(deleted),
        migrated=len(migrating),
        seconds=round(elapsed, 1),
    )
    assert not result.missing, result.describe()
    assert not result.unwanted, result.describe()
    assert result.repeats == 0, result.describe()
    assert skipped > 0
    assert result.delivered + skipped == total
    assert statuses(database) == Counter({"sent": result.delivered, "skipped": skipped})
    # Migrated groups: every row follows the group to its new id, the old id is gone.
    assert not any(chat in moved for chat, _ in rows)
    store = await SqliteStore.open(database)
    try:
        for chat in gone:
            record = await store.get_chat(chat)
            # A chat that had every story before it went was never told apart from the rest.
            missed = any(rows[(chat, url)][0] == "skipped" for url in urls)
            assert record is not None, chat
            assert record.active is not missed, chat
            assert [tag.name for tag in await store.followed_tags(chat)] == ["Japan"]
        for old, new in moved.items():
            assert await store.get_chat(old) is None
            record = await store.get_chat(new)
            assert record is not None
            assert record.active
            assert record.type == "supergroup"
            assert [tag.name for tag in await store.followed_tags(new)] == ["Japan"]
    finally:
        await store.close()
