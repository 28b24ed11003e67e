"""The database under stress: locked by another writer (a long `tagwire push`), locked past the
busy timeout, and a full disk. The bot says so (a log line, /healthz 503, a polite answer to
commands, a clear API and CLI error), keeps what it had, stores nothing half, and recovers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import resource
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.emulator import BotApiEmulator
from tests.support.commands import run_tagwire
from tests.support.faults import (
    StartBotProcess,
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
from tests.support.updates import say

API_TOKEN = "fault-ingest-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
ASKER = 901
NEWCOMER = 902
LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO meta (key, value, updated_at) VALUES ('fault-lock', 'held', 0)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
print("released", flush=True)
"""


@contextlib.asynccontextmanager
async def database_locked(database: Path, seconds: float) -> AsyncIterator[None]:
    """Another process holds the write lock (BEGIN IMMEDIATE) for `seconds`."""
    locker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LOCKER,
        str(database),
        str(seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    assert locker.stdout is not None
    assert (await locker.stdout.readline()).strip() == b"locked"
    try:
        yield
    finally:
        await asyncio.wait_for(locker.wait(), timeout=seconds + 30)


async def ask(emulator: BotApiEmulator, chat: int, text: str) -> str:
    return str((await say(emulator, chat, chat, text, timeout=30))["text"])


async def test_a_writer_holding_the_lock_delays_but_loses_nothing(
    emulator: BotApiEmulator,
    database: Path,
    start_bot_process: StartBotProcess,
) -> None:
    readers = list(range(910_001, 910_001 + size(100, 1_000)))
    await seed(database, emulator, {chat: ["Japan"] for chat in readers})
    # A reader the database knows already: reading needs no write, so no wait for the lock.
    await seed(database, emulator, {ASKER: []})
    bot = await start_bot_process(ingest_token=API_TOKEN, http_port=0, rate_limit=100)
    try:
        base = await bot.http_url()
        assert (await push(database, [story(1, "Japan")])).returncode == 0
        await emulator.wait_for(lambda: len(received(emulator)) >= 20, timeout=30)
        lock_seconds = duration(6.0, 10.0)
        async with api_client(base, timeout=60) as client:
            async with database_locked(database, lock_seconds):
                locked_at = time.monotonic()
                # A story over HTTP, one with `tagwire push`, a command that writes and one
                # that only reads, all while the lock is held.
                api = asyncio.create_task(
                    client.post("/api/articles", json=story(2, "Japan"), headers=AUTH)
                )
                cli = asyncio.create_task(push(database, [story(3, "Japan")]))
                latest = await ask(emulator, ASKER, "/latest Japan")
                read_seconds = time.monotonic() - locked_at
                follow = await ask(emulator, ASKER, "/follow Brazil")
                answer = await api
                pushed = await cli
            waited = time.monotonic() - locked_at
        assert answer.status_code == 201, answer.text
        assert pushed.returncode == 0, pushed.stderr
        assert "Fault story 1" in latest
        assert read_seconds < lock_seconds / 2
        assert "Brazil" in follow
        assert "went wrong" not in follow
        everyone = {chat: {story(n, "Japan")["url"] for n in (1, 2, 3)} for chat in readers}
        await emulator.wait_for(
            lambda: (
                tally(emulator, everyone, ignore=[ASKER, NEWCOMER]).delivered == 3 * len(readers)
            ),
            timeout=size(120, 600),
        )
        # Every outcome written: nothing more will be sent.
        await emulator.wait_for(lambda: not statuses(database)["pending"], timeout=60)
    finally:
        code = await bot.stop()
    assert code == 0, bot.output[-3000:]
    result = tally(emulator, everyone, ignore=[ASKER, NEWCOMER])
    report(
        "database locked by another writer",
        delivered=result.delivered,
        expected=result.expected,
        repeats=result.repeats,
        locked_s=lock_seconds,
        read_while_locked_s=round(read_seconds, 2),
        writes_waited_s=round(waited, 1),
    )
    assert not result.missing, result.describe()
    assert not result.unwanted, result.describe()
    assert result.repeats == 0, result.describe()
    assert statuses(database) == Counter({"sent": 3 * len(readers)})
    assert "Traceback" not in bot.output


async def test_a_lock_longer_than_the_busy_timeout_gets_clear_answers_then_recovers(
    emulator: BotApiEmulator,
    database: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr("storage.sqlite_connections.BUSY_TIMEOUT_MS", 300)
    readers = list(range(920_001, 920_041))
    await seed(database, emulator, {chat: ["Japan"] for chat in readers})
    emulator.add_user(ASKER)
    settings = bot_settings(emulator, database, ingest_token=API_TOKEN, http_port=0)
    async with running_bot(settings) as application:
        async with api_client(application, timeout=30) as client:
            await client.post("/api/articles", json=story(1, "Japan"), headers=AUTH)
            async with database_locked(database, 6.0):
                locked_at = time.monotonic()
                follow = await ask(emulator, ASKER, "/follow Brazil")
                answer = await client.post(
                    "/api/articles", json=[story(2, "Japan"), story(3, "Japan")], headers=AUTH
                )
                health = await client.get("/healthz")
                assert time.monotonic() - locked_at < 5.0, "the lock ended before the checks"
            # The lock is gone: the same request stores both stories now.
            again = await client.post(
                "/api/articles", json=[story(2, "Japan"), story(3, "Japan")], headers=AUTH
            )
            healthy = await client.get("/healthz")
            follow_again = await ask(emulator, ASKER, "/follow Brazil")
        everyone = {chat: {story(n, "Japan")["url"] for n in (1, 2, 3)} for chat in readers}
        await emulator.wait_for(
            lambda: (
                tally(emulator, everyone, ignore=[ASKER, NEWCOMER]).delivered == 3 * len(readers)
            ),
            timeout=60,
        )
    assert "try again" in follow, follow
    assert "went wrong" not in follow, follow
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["retry-after"]) >= 1
    assert "nothing from this request was stored" in answer.json()["error"]
    assert health.status_code == 503
    assert health.json()["database"] == "unavailable"
    assert again.status_code == 201, again.text
    assert again.json()["created"] == 2, again.text
    assert healthy.status_code == 200
    assert "Brazil" in follow_again
    result = tally(emulator, everyone, ignore=[ASKER, NEWCOMER])
    assert not result.missing, result.describe()
    assert result.repeats == 0, result.describe()
    assert any("database cannot be written" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]


def _no_room() -> None:
    # The push below runs on a disk with no room left for the database to grow.
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


async def test_disk_full_mid_fan_out_is_reported_kept_and_recovered(
    emulator: BotApiEmulator,
    database: Path,
    start_bot_process: StartBotProcess,
) -> None:
    readers = list(range(930_001, 930_001 + size(200, 2_000)))
    await seed(database, emulator, {chat: ["Japan"] for chat in readers})
    await seed(database, emulator, {ASKER: []})
    emulator.add_user(NEWCOMER)
    emulator.latency = 0.01
    bot = await start_bot_process(ingest_token=API_TOKEN, http_port=0, rate_limit=50)
    observed: dict[str, Any] = {}
    try:
        async with api_client(await bot.http_url(), timeout=30) as client:
            assert (
                await client.post("/api/articles", json=story(1, "Japan"), headers=AUTH)
            ).status_code == 201
            await emulator.wait_for(lambda: len(received(emulator)) >= 30, timeout=30)

            bot.limit_file_size(1)
            full_at = time.monotonic()
            await bot.wait_for_output("database cannot be written", timeout=15)
            health = await client.get("/healthz")
            rejected = await client.post(
                "/api/articles", json=[story(2, "Japan"), story(3, "Japan")], headers=AUTH
            )
            follow = await ask(emulator, ASKER, "/follow Brazil")
            latest = await ask(emulator, ASKER, "/latest Japan")
            newcomer = await ask(emulator, NEWCOMER, "/follow Japan")
            cli = await asyncio.to_thread(
                run_tagwire,
                "push",
                "-",
                input=json.dumps(story(4, "Japan")),
                env={"TAGWIRE_DATABASE": str(database), "PATH": "/usr/bin:/bin"},
                preexec_fn=_no_room,
            )
            # Sends go on for what was claimed; nothing of it may be lost while the disk is full.
            await asyncio.sleep(2.0)
            sent_while_full = len(received(emulator, ignore=[ASKER, NEWCOMER]))

            bot.limit_file_size(None)
            back_at = time.monotonic()
            for _ in range(100):
                healthy = await client.get("/healthz")
                if healthy.status_code == 200:
                    break
                await asyncio.sleep(0.1)
            recovered_s = time.monotonic() - back_at
            again = await client.post(
                "/api/articles", json=[story(2, "Japan"), story(3, "Japan")], headers=AUTH
            )
            follow_again = await ask(emulator, ASKER, "/follow Brazil")
            everyone = {chat: {story(n, "Japan")["url"] for n in (1, 2, 3)} for chat in readers}
            await emulator.wait_for(
                lambda: (
                    tally(emulator, everyone, ignore=[ASKER, NEWCOMER]).delivered
                    == 3 * len(readers)
                ),
                timeout=size(120, 600),
            )
            # Every outcome written: nothing more will be sent.
            await emulator.wait_for(lambda: not statuses(database)["pending"], timeout=60)
        observed.update(full_s=round(back_at - full_at, 1), recovered_s=round(recovered_s, 1))
    finally:
        code = await bot.stop()
    output = bot.output
    assert code == 0, output[-3000:]
    assert health.status_code == 503, health.text
    assert health.json()["database"] == "unavailable"
    assert rejected.status_code == 503, rejected.text
    assert "nothing from this request was stored" in rejected.json()["error"]
    assert "try again" in follow, follow
    assert "went wrong" not in follow, follow
    assert "Fault story 1" in latest
    assert "try again" in newcomer
    assert cli.returncode == 2, cli.stdout + cli.stderr
    assert "cannot be written" in cli.stderr, cli.stderr
    assert "Traceback" not in cli.stderr, cli.stderr
    assert healthy.status_code == 200, healthy.text
    assert again.status_code == 201, again.text
    assert again.json()["created"] == 2, again.text
    assert "Brazil" in follow_again
    result = tally(emulator, everyone, ignore=[ASKER, NEWCOMER])
    report(
        "disk full mid fan-out",
        delivered=result.delivered,
        expected=result.expected,
        repeats=result.repeats,
        chats_reached_while_full=sent_while_full,
        **observed,
    )
    assert not result.missing, result.describe()
    assert not result.unwanted, result.describe()
    assert result.repeats == 0, result.describe()
    assert statuses(database) == Counter({"sent": 3 * len(readers)})
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT COUNT(*) FROM articles WHERE url LIKE '%/4'").fetchone() == (0,)
    assert "Traceback" not in output, output[-5000:]
    assert "the database takes writes again" in output
