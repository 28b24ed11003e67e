"""A Bot API that answers 5 % 429 (retry_after 1-5 s), 2 % 502, drops 1 % of connections
before answering and loses 0.5 % of answers after the message went out, with up to 2 s of
latency: every follower gets every story, in order, and the only repeats are the messages
whose answer was lost (Telegram took them; the bot could not know)."""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

from bot.emulator import BotApiEmulator
from tests.support.faults import (
    STORY_PREFIX,
    delivery_rows,
    received,
    report,
    seed,
    size,
    statuses,
    story,
    story_links,
    tally,
)
from tests.support.harness import bot_settings, push, running_bot


async def test_random_429_502_resets_and_latency_lose_nothing(
    emulator: BotApiEmulator, database: Path
) -> None:
    readers = list(range(300_001, 300_001 + size(20, 200)))
    groups = [-(400_001 + n) for n in range(size(20, 100))]
    others = list(range(500_001, 500_011))
    await seed(database, emulator, {chat: ["Japan"] for chat in readers})
    await seed(database, emulator, {chat: ["Japan"] for chat in groups}, chat_type="group")
    await seed(database, emulator, {chat: ["Brazil"] for chat in others})
    stories = [story(n, "Japan") for n in range(1, size(3, 5) + 1)]
    urls = [record["url"] for record in stories]
    fault_seed = int(os.environ.get("TAGWIRE_FAULT_SEED", "5"))

    started = time.monotonic()
    async with running_bot(bot_settings(emulator, database, rate_limit=100)):
        emulator.set_random_faults(
            p429=0.05,
            p502=0.02,
            preset=0.01,
            lost_answer=0.005,
            max_latency=2.0,
            retry_after=(1, 5),
            seed=fault_seed,
        )
        # One of each for certain, whatever the draw: a reset, a 502, a long 429.
        emulator.fail_next("sendMessage", status=0)
        emulator.fail_next("sendMessage", status=502)
        emulator.fail_next("sendMessage", status=429, retry_after=5)
        pushed = await push(database, stories)
        assert pushed.returncode == 0, pushed.stderr
        everyone = set(readers) | set(groups)
        await emulator.wait_for(
            lambda: (
                all(len(received(emulator).get(chat, {})) == len(urls) for chat in everyone)
                and not statuses(database)["pending"]
            ),
            timeout=size(120, 900),
        )
        emulator.clear_faults()
    elapsed = time.monotonic() - started

    teaser_calls = [
        call
        for call in emulator.calls_of("sendMessage")
        if STORY_PREFIX in str(call.params.get("text", ""))
    ]
    outcomes = Counter(
        "lost answer"
        if call.response.get("answer_lost")
        else ("reset" if call.status == 0 else str(call.status))
        for call in teaser_calls
    )
    expected = {chat: set(urls) for chat in everyone}
    result = tally(emulator, expected)
    attempts = Counter(attempt for _, attempt in delivery_rows(database).values())
    report(
        "flaky Bot API",
        chats=len(everyone),
        stories=len(urls),
        delivered=result.delivered,
        expected=result.expected,
        repeats=result.repeats,
        answers=dict(outcomes),
        attempts_per_delivery=dict(sorted(attempts.items())),
        seconds=round(elapsed, 1),
        seed=fault_seed,
    )
    assert not result.missing, result.describe()
    assert not result.unwanted, result.describe()
    assert outcomes["429"], outcomes
    assert outcomes["502"], outcomes
    assert outcomes["reset"], outcomes
    # A lost answer is the only way to a repeat: the bot retried what Telegram had taken.
    assert result.repeats == outcomes["lost answer"], result.describe()
    assert statuses(database) == Counter({"sent": len(expected) * len(urls)})
    # Each chat saw the stories in the order they were published (first copies).
    for message_chat in everyone:
        order = [
            url for message in emulator.sent_messages(message_chat) for url in story_links(message)
        ]
        firsts = list(dict.fromkeys(order))
        assert firsts == urls, (message_chat, order)
