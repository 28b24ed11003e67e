"""kill -9 of `tagwire run` in the middle of a correction's edits, then a clean run: every
delivered copy reads the corrected text, each was changed by exactly one successful edit, and
the repeats after the kill (edits Telegram applied whose outcome was not yet written) were
answered "message is not modified" and counted as done."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from bot.emulator import BotApiEmulator
from tests.support.commands import environment, run_tagwire
from tests.support.faults import StartBotProcess, seed, size, story
from tests.support.harness import push
from tests.support.sql import query

CORRECTED = "Corrected: the talks resume on Monday."


def pending(database: Path | str, table: str) -> int:
    [(count,)] = query(database, f"SELECT COUNT(*) FROM {table} WHERE status = 'pending'")  # noqa: S608
    return int(str(count))


def successful_edits(emulator: BotApiEmulator) -> Counter[tuple[int, int]]:
    return Counter(
        (int(call.params["chat_id"]), int(call.params["message_id"]))
        for call in emulator.calls_of("editMessageText")
        if call.status == 200
    )


async def test_a_kill_in_the_middle_of_the_edits_changes_each_copy_exactly_once(
    emulator: BotApiEmulator,
    database: Path,
    start_bot_process: StartBotProcess,
) -> None:
    followers = list(range(100_001, 100_001 + size(300, 3_000)))
    await seed(database, emulator, {chat: ["Japan"] for chat in followers})
    pushed = await push(database, [story(1, "Japan")])
    assert f"{len(followers)} deliveries queued" in pushed.stdout, pushed.stdout + pushed.stderr
    bot = await start_bot_process(rate_limit=200.0)
    try:
        await emulator.wait_for(lambda: pending(database, "deliveries") == 0, timeout=60)
    finally:
        assert await bot.stop() == 0

    edited = await asyncio.to_thread(
        run_tagwire,
        "edit",
        story(1)["url"],
        "--teaser",
        CORRECTED,
        env=environment(TAGWIRE_DATABASE=str(database)),
    )
    assert f"{len(followers)} delivered teasers queued" in edited.stdout, edited.stderr
    # Edits take a little while, so some are in flight when the kill lands.
    emulator.latency = 0.03
    bot = await start_bot_process(rate_limit=100.0)
    try:
        await emulator.wait_for(lambda: len(successful_edits(emulator)) >= 30, timeout=60)
    finally:
        await bot.kill()
    await emulator.wait_for(lambda: emulator.idle, timeout=30)
    assert pending(database, "edits") > 0, "the kill came after the edits had ended"

    bot = await start_bot_process(rate_limit=200.0)
    try:
        await emulator.wait_for(lambda: pending(database, "edits") == 0, timeout=120)
    finally:
        assert await bot.stop() == 0
    messages = {
        chat: [m for m in emulator.messages_in(chat).values() if "Fault story 1" in m["text"]]
        for chat in followers
    }
    assert all(len(found) == 1 for found in messages.values())
    assert all(CORRECTED in found[0]["text"] for found in messages.values())
    edits = successful_edits(emulator)
    assert set(edits.values()) == {1}, "a copy was changed twice"
    assert len(edits) == len(followers)
    rows = query(database, "SELECT status, outcome, COUNT(*) FROM edits GROUP BY 1, 2")
    outcomes = {(str(status), str(outcome)): int(str(count)) for status, outcome, count in rows}
    assert sum(outcomes.values()) == len(followers)
    assert set(outcomes) <= {("done", "edited"), ("done", "unchanged")}
