"""PostgreSQL goes away in the middle of a fan-out (every session of the bot ended, new ones
refused, as while the server restarts) and comes back: the bot says so in /healthz meanwhile,
reconnects by itself, leads again, and every follower gets the story exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.emulator import BotApiEmulator
from tests.support.faults import received, report, seed, size, story, tally
from tests.support.harness import api_client, bot_settings, push, running_bot
from tests.support.postgres import fresh_database, set_reachable

API_TOKEN = "fault-suite-api-token-0123456789"


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


async def test_the_database_going_away_mid_fan_out_loses_nothing(
    emulator: BotApiEmulator, postgres_url: str
) -> None:
    followers = list(range(400_001, 400_001 + size(300, 3_000)))
    await seed(postgres_url, emulator, {chat: ["Japan"] for chat in followers})
    emulator.latency = 0.02
    settings = bot_settings(
        emulator, postgres_url, ingest_token=API_TOKEN, http_port=0, rate_limit=100.0
    )
    async with running_bot(settings) as application, api_client(application) as client:
        assert (await client.get("/healthz")).json()["database"] == "ok"
        pushed = await push(postgres_url, [story(1, "Japan")])
        assert f"{len(followers)} deliveries queued" in pushed.stdout, pushed.stderr
        await emulator.wait_for(
            lambda: len(emulator.sent_messages()) >= len(followers) // 3, timeout=60
        )
        await set_reachable(postgres_url, False)
        try:
            health = await client.get("/healthz")
            assert health.status_code == 503
            assert health.json()["database"] == "unavailable"
            # The lease went with its connection: the bot stops sending until it holds it again
            # (what it had sent meanwhile waits in memory to be written).
            for _ in range(100):
                if application.bot_data.role == "follower":
                    break
                await asyncio.sleep(0.1)
            assert application.bot_data.role == "follower"
        finally:
            await set_reachable(postgres_url, True)
        await emulator.wait_for(lambda: set(received(emulator)) >= set(followers), timeout=120)

        async def healthy() -> bool:
            return (await client.get("/healthz")).status_code == 200

        for _ in range(100):
            if await healthy():
                break
            await asyncio.sleep(0.1)
        assert await healthy()
        assert application.bot_data.role == "leader"
    url = story(1, "Japan")["url"]
    result = tally(emulator, {chat: {url} for chat in followers})
    report("postgresql away", chats=len(followers), repeats=result.repeats)
    assert not result.missing, result.describe()
    assert not result.unwanted, result.describe()
    # Nothing was in doubt: every send's outcome was kept until the database took it.
    assert result.repeats == 0, result.describe()
