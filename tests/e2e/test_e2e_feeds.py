"""Feeds end to end: `tagwire feeds …`, the running bot polling on its JobQueue, readers
notified through the emulator; and `tagwire run` with its HTTP server as a process."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.emulator import BotApiEmulator
from storage import open_store
from storage.models import Feed
from tests.support.commands import environment, run_tagwire
from tests.support.feed_server import FeedServer, fixture
from tests.support.harness import (
    ROOT,
    TOKEN,
    StartBot,
    api_client,
    links,
    outbox_settled,
    start_process,
    stop_process,
    subprocess_env,
)
from tests.support.updates import teasers
from tests.support.webhook import free_port

READER = 1001
ADMIN = 5001
API_TOKEN = "test-ingest-token-0123456789"


def tagwire(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tagwire(*args, env=environment(TAGWIRE_DATABASE=str(database)), cwd=ROOT)


async def feeds_in(database: Path) -> list[Feed]:
    store = await open_store(database)
    try:
        return await store.list_feeds()
    finally:
        await store.close()


async def wait_until(predicate: Any, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def test_the_bot_polls_feeds_and_notifies_only_entries_after_the_backlog(
    emulator: BotApiEmulator, feed_server: FeedServer, database: Path, start_bot: StartBot
) -> None:
    url = feed_server.serve("asia.xml", fixture("rss2.xml"), etag='"v1"')
    added = await asyncio.to_thread(tagwire, database, "feeds", "add", url, "--tag", "Asia")
    assert added.returncode == 0, added.stderr
    async with start_bot(feed_interval=0.2):
        before = len(emulator.sent_messages(READER))
        emulator.send_text(READER, READER, "/follow Japan")
        await emulator.wait_for_messages(READER, before + 1)

        async def primed() -> bool:
            return all(feed.primed for feed in await feeds_in(database))

        await wait_until(primed)
        # Polls go on every 0.2 s, conditional, and find nothing new.
        await emulator.wait_for(lambda: len(feed_server.requests_for("asia.xml")) >= 3)
        assert feed_server.requests_for("asia.xml")[-1]["if-none-match"] == '"v1"'
        assert teasers(emulator, READER) == []

        feed_server.serve("asia.xml", fixture("rss2_next.xml"), etag='"v2"')
        await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1)
        # Polled twice more since, and what those polls stored went out.
        polls = len(feed_server.requests_for("asia.xml"))
        await emulator.wait_for(lambda: len(feed_server.requests_for("asia.xml")) >= polls + 2)
        await outbox_settled(emulator, database)
    [teaser] = teasers(emulator, READER)
    assert links(teaser) == ["https://news.example.com/asia/peace-treaty-draft"]
    assert "#Asia #Japan" in teaser["text"]


async def test_a_failing_feed_shows_in_feeds_list_and_in_the_admins_feeds(
    emulator: BotApiEmulator, feed_server: FeedServer, database: Path, start_bot: StartBot
) -> None:
    broken = feed_server.serve("down.xml", status=500)
    working = feed_server.serve("asia.xml", fixture("rss2.xml"))
    await asyncio.to_thread(tagwire, database, "feeds", "add", broken)
    await asyncio.to_thread(tagwire, database, "feeds", "add", working, "--tag", "Asia")
    emulator.add_user(ADMIN)
    async with start_bot(feed_interval=0.2, admin_ids=frozenset({ADMIN})):

        async def both_polled() -> bool:
            feeds = await feeds_in(database)
            return all(feed.last_polled_at is not None for feed in feeds)

        await wait_until(both_polled)
        emulator.send_text(ADMIN, ADMIN, "/feeds")
        [reply] = await emulator.wait_for_messages(ADMIN, 1)
    assert "HTTP 500 Internal Server Error" in reply["text"]
    assert f"2. {working}\nTags: Asia · last success: 20" in reply["text"]
    listed = await asyncio.to_thread(tagwire, database, "feeds", "list")
    assert listed.returncode == 0
    assert f"{broken}\n  tags: (only the entries’ own categories)\n  last success: never" in (
        listed.stdout
    )
    assert "  last error: HTTP 500 Internal Server Error (" in listed.stdout
    assert f"{working}\n  tags: Asia\n  last success: 20" in listed.stdout


def test_feeds_cli_adds_updates_lists_and_removes(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    empty = tagwire(database, "feeds", "list")
    assert empty.stdout.startswith("no feeds")
    added = tagwire(
        database, "feeds", "add", "https://a.example.com/rss", "--tag", "Japan", "--tag", "#japan"
    )
    assert added.returncode == 0
    assert added.stdout.startswith("added https://a.example.com/rss (tags: Japan)")
    updated = tagwire(database, "feeds", "add", "https://a.example.com/rss", "--tag", "World")
    assert updated.stdout == "updated https://a.example.com/rss: tags now World\n"
    listed = tagwire(database, "feeds", "list")
    assert listed.stdout == (
        "https://a.example.com/rss\n  tags: World\n  last success: never\n  not polled yet\n"
    )
    removed = tagwire(database, "feeds", "remove", "https://a.example.com/rss")
    assert removed.returncode == 0
    gone = tagwire(database, "feeds", "remove", "https://a.example.com/rss")
    assert gone.returncode == 1
    assert "there is no feed https://a.example.com/rss" in gone.stderr


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["ftp://a.example.com/rss"], "must start with http:// or https://"),
        (["https:///rss"], "has no host"),
        (["https://a.example.com/rss", "--tag", "!!"], "--tag '!!': a tag needs"),
    ],
)
def test_feeds_add_refuses_bad_input_in_one_line(
    tmp_path: Path, args: list[str], problem: str
) -> None:
    result = tagwire(tmp_path / "cli.db", "feeds", "add", *args)
    assert result.returncode == 2
    assert problem in result.stderr
    assert result.stderr.count("\n") == 1


async def test_tagwire_run_serves_http_and_stops_cleanly_on_sigterm(
    emulator: BotApiEmulator, database: Path, tmp_path: Path
) -> None:
    port = free_port()
    env = subprocess_env(
        emulator, database, ingest_token=API_TOKEN, http_port=port, log_level="DEBUG"
    )
    log = tmp_path / "run.log"
    process = start_process(env, tmp_path, log)
    try:
        async with api_client(f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 20
            while True:
                try:
                    health = await http.get("/healthz")
                    if health.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.1)
            emulator.send_text(READER, READER, "/follow Japan")
            await emulator.wait_for_messages(READER, 1)
            answer = await http.post(
                "/api/articles",
                json={"url": "https://news.example.com/p", "title": "Via HTTP", "tags": ["Japan"]},
                headers={"Authorization": f"Bearer {API_TOKEN}"},
            )
            assert answer.status_code == 201
            await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 1)
    finally:
        code = await stop_process(process)
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output
    assert TOKEN not in output
    assert API_TOKEN not in output
    assert f"HTTP server on http://127.0.0.1:{port}: API, health, metrics" in output
