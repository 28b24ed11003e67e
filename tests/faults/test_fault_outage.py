"""Telegram unreachable in the middle of a fan-out (every connection dropped): `tagwire run`
keeps running, takes stories from `tagwire push` and over HTTP, does not spend the stories'
attempts on the outage, and delivers everything, once, when Telegram is back."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from bot.app import build_application, serve
from bot.delivery.engine import OUTAGE_AFTER_FAILURES
from bot.delivery.request import AiohttpRequest
from bot.emulator import BotApiEmulator
from tests.support.faults import (
    STORY_PREFIX,
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
from tests.support.harness import api_client, bot_settings, push, running_bot
from tests.support.webhook import free_port, webhook_settings

API_TOKEN = "outage-ingest-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
READER = 950_000


async def test_telegram_unreachable_then_back_loses_nothing(
    emulator: BotApiEmulator,
    database: Path,
    start_bot_process: StartBotProcess,
) -> None:
    readers = list(range(950_001, 950_001 + size(100, 1_000)))
    await seed(database, emulator, {chat: ["Japan"] for chat in readers})
    emulator.add_user(READER)
    emulator.latency = 0.02
    offline_for = duration(12.0, 300.0)
    bot = await start_bot_process(ingest_token=API_TOKEN, http_port=0, rate_limit=50)
    try:
        async with api_client(await bot.http_url(), timeout=30) as client:
            assert (await push(database, [story(1, "Japan")])).returncode == 0
            await emulator.wait_for(lambda: len(received(emulator)) >= 20, timeout=30)

            emulator.set_offline(True)
            went_down = time.monotonic()
            calls_before = len(emulator.calls)
            await asyncio.sleep(offline_for / 2)
            # Stories keep coming in while Telegram is away, by HTTP and from the command line.
            api = await client.post("/api/articles", json=story(2, "Japan"), headers=AUTH)
            cli = await push(database, [story(3, "Japan")])
            emulator.send_text(READER, READER, "/follow Japan")
            health = await client.get("/healthz")
            await asyncio.sleep(offline_for / 2)
            assert bot.process is not None
            assert bot.process.returncode is None, "tagwire run stopped during the outage"
            tries = [
                call
                for call in emulator.calls[calls_before:]
                if call.method.lower() == "sendmessage" and call.status == 0
            ]
            emulator.set_offline(False)
            back = time.monotonic()

            everyone = {chat: {f"{STORY_PREFIX}{n}" for n in (1, 2, 3)} for chat in readers}
            await emulator.wait_for(
                lambda: tally(emulator, everyone, ignore=[READER]).delivered == 3 * len(readers),
                timeout=size(120, 600),
            )
            caught_up = time.monotonic() - back
            await emulator.wait_for(lambda: bool(emulator.sent_messages(READER)), timeout=60)
            answered = (
                next(
                    call.at
                    for call in emulator.calls_of("sendMessage")
                    if call.params.get("chat_id") == READER and call.status == 200
                )
                - back
            )
            # Every outcome written: nothing more will be sent.
            await emulator.wait_for(lambda: not statuses(database)["pending"], timeout=60)
    finally:
        code = await bot.stop()
    assert code == 0, bot.output[-3000:]
    result = tally(emulator, everyone, ignore=[READER])
    attempts = Counter(
        attempt for (chat, _), (_, attempt) in delivery_rows(database).items() if chat != READER
    )
    report(
        "Telegram unreachable",
        offline_s=round(back - went_down, 1),
        sends_tried_while_offline=len(tries),
        delivered=result.delivered,
        expected=result.expected,
        repeats=result.repeats,
        caught_up_s=round(caught_up, 1),
        command_answered_s=round(answered, 1),
        attempts_per_delivery=dict(sorted(attempts.items())),
    )
    assert api.status_code == 201, api.text
    assert cli.returncode == 0, cli.stderr
    assert health.status_code == 200, health.text
    assert not result.missing, result.describe()
    assert not result.unwanted, result.describe()
    assert result.repeats == 0, result.describe()
    assert statuses(database) == Counter({"sent": 3 * len(readers)})
    # Only the failures before the outage was recognised cost an attempt.
    assert sum(count for attempt, count in attempts.items() if attempt > 1) < OUTAGE_AFTER_FAILURES
    # Telegram was not hammered: the engine backs off while it is away.
    assert len(tries) < 200 + offline_for, len(tries)
    assert "Traceback" not in bot.output
    assert "Telegram looks unreachable" in bot.output
    assert "Telegram is reachable again" in bot.output


@pytest.mark.parametrize(
    ("method", "status"),
    [("getMe", 429), ("getMe", 502), ("getMe", 0), ("deleteWebhook", 502), ("deleteWebhook", 429)],
)
async def test_telegram_failing_while_the_bot_starts_is_waited_out(
    emulator: BotApiEmulator, database: Path, method: str, status: int
) -> None:
    """A restart during a hiccup: the first calls (getMe, then deleteWebhook as polling
    starts) meet a flood answer, a gateway error or a reset; the bot waits and starts."""
    emulator.add_user(READER)
    emulator.fail_next(method, status=status, retry_after=1 if status == 429 else None)
    async with running_bot(bot_settings(emulator, database)):
        emulator.send_text(READER, READER, "/help")
        [answer] = await emulator.wait_for_messages(READER, 1)
    assert "What I can do" in answer["text"]
    assert [call.status for call in emulator.calls_of(method)][:2] == [status, 200]


async def test_a_flood_answer_to_set_webhook_is_waited_out(
    emulator: BotApiEmulator, database: Path
) -> None:
    emulator.add_user(READER)
    emulator.fail_next("setWebhook", status=429, retry_after=1)
    async with running_bot(webhook_settings(emulator, database)):
        emulator.send_text(READER, READER, "/help")
        [answer] = await emulator.wait_for_messages(READER, 1)
    assert "What I can do" in answer["text"]
    assert [call.status for call in emulator.calls_of("setWebhook")] == [429, 200]


async def test_stopping_while_telegram_is_unreachable_closes_every_connection(
    emulator: BotApiEmulator, database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`tagwire run` stopped (SIGTERM) before Telegram ever answered: no HTTP session is left
    open behind it (aiohttp would log "Unclosed client session" at exit)."""
    closed_port = free_port()
    settings = bot_settings(
        emulator, database, telegram_api_url=f"http://127.0.0.1:{closed_port}/bot"
    )
    application = build_application(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(application, stop))
    deadline = time.monotonic() + 10
    while "cannot reach Telegram" not in caplog.text:
        assert time.monotonic() < deadline, "the bot never tried to reach Telegram"
        await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert isinstance(application.bot.request, AiohttpRequest)
    assert application.bot.request.closed
