"""The database refusing writes, told to the admins while it lasts and told over once: a full
disk under SQLite (`tagwire run` as a process), a PostgreSQL database turned read-only, and a
PostgreSQL server gone altogether (no instance leads then: the one that led tells)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.emulator import BotApiEmulator
from tests.support.faults import StartBotProcess
from tests.support.harness import bot_settings, running_bot
from tests.support.postgres import fresh_database, set_reachable, set_read_only

ADMIN = 5001
ALERTS = {"admin_ids": ADMIN, "alert_check_interval": 0.1}


def texts(emulator: BotApiEmulator) -> list[str]:
    return [str(message.get("text", "")) for message in emulator.sent_messages(ADMIN)]


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


async def test_a_full_disk_is_told_while_it_lasts_and_told_over_once(
    emulator: BotApiEmulator, start_bot_process: StartBotProcess
) -> None:
    emulator.add_user(ADMIN)
    bot = await start_bot_process(**ALERTS)
    try:
        await bot.wait_for_output("tagwire is running")
        bot.limit_file_size(1)
        [full] = await emulator.wait_for_messages(ADMIN, 1, timeout=30)
        # Still full for several looks: nothing more is said about it (an absence has no
        # moment to wait for).
        await asyncio.sleep(1.0)
        told_while_full = texts(emulator)
        bot.limit_file_size(None)
        [_, back] = await emulator.wait_for_messages(ADMIN, 2, timeout=30)
        await bot.wait_for_output("the database takes writes again")
    finally:
        code = await bot.stop()
    assert code == 0, bot.output[-3000:]
    assert "The database refuses writes" in full["text"]
    assert "disk I/O error" in full["text"]
    assert told_while_full == [full["text"]]
    assert "The database takes writes again" in back["text"]
    assert len(texts(emulator)) == 2, texts(emulator)
    assert "Traceback" not in bot.output


async def test_a_read_only_postgresql_database_is_told_and_told_over_once(
    emulator: BotApiEmulator, postgres_url: str
) -> None:
    emulator.add_user(ADMIN)
    settings = bot_settings(
        emulator, postgres_url, admin_ids=frozenset({ADMIN}), alert_check_interval=0.1
    )
    async with running_bot(settings) as application:
        await set_read_only(postgres_url, True)
        try:
            [refused] = await emulator.wait_for_messages(ADMIN, 1, timeout=30)
            # The lease is untouched: the same instance leads throughout.
            assert application.bot_data.role == "leader"
        finally:
            await set_read_only(postgres_url, False)
        [_, back] = await emulator.wait_for_messages(ADMIN, 2, timeout=30)
    assert "The database refuses writes" in refused["text"]
    assert "read-only transaction" in refused["text"]
    assert "The database takes writes again" in back["text"]
    assert len(texts(emulator)) == 2, texts(emulator)


async def test_postgresql_gone_is_told_by_the_instance_that_led(
    emulator: BotApiEmulator, postgres_url: str
) -> None:
    emulator.add_user(ADMIN)
    settings = bot_settings(
        emulator,
        postgres_url,
        admin_ids=frozenset({ADMIN}),
        alert_check_interval=0.1,
        leader_check_interval=0.2,
    )
    async with running_bot(settings) as application:
        await set_reachable(postgres_url, False)
        try:
            # The lease went with its connection: no instance leads while the server is gone.
            await emulator.wait_for(lambda: application.bot_data.role == "follower", timeout=30)
            [gone] = await emulator.wait_for_messages(ADMIN, 1, timeout=30)
            # Told once, whether the leader saw it before stepping down or after.
            await asyncio.sleep(1.0)
            told_while_gone = texts(emulator)
        finally:
            await set_reachable(postgres_url, True)
        [_, back] = await emulator.wait_for_messages(ADMIN, 2, timeout=30)
        await emulator.wait_for(lambda: application.bot_data.role == "leader", timeout=30)
    assert "The database refuses writes" in gone["text"]
    assert told_while_gone == [gone["text"]]
    assert "The database takes writes again" in back["text"]
    assert len(texts(emulator)) == 2, texts(emulator)
