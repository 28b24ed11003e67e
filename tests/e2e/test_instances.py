"""Several `tagwire run` on one database: one leader sends and polls, another takes over when it
stops; on SQLite a second run refuses to start."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.app import StartupError
from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from tests.support.commands import environment, run_tagwire
from tests.support.harness import StartBot, api_client, bot_settings, push, running_bot
from tests.support.postgres import fresh_database
from tests.support.updates import follow, say, teasers

READER = 1001
ADMIN = 2001


def story(number: int) -> dict[str, Any]:
    return {
        "url": f"https://news.example.com/instances/{number}",
        "title": f"Instance story {number}",
        "teaser": "A teaser.",
        "tags": ["Japan"],
    }


async def until(condition: Callable[[], bool], within: float) -> float:
    """Seconds until `condition` held; fails the test after `within`."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > within:
            raise AssertionError(f"not within {within}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - began


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


@pytest.fixture
def start_instance(
    emulator: BotApiEmulator, postgres_url: str
) -> Callable[..., AbstractAsyncContextManager[TagwireApplication]]:
    def start(name: str, **settings: Any) -> AbstractAsyncContextManager[TagwireApplication]:
        return running_bot(
            bot_settings(
                emulator,
                postgres_url,
                instance_name=name,
                leader_check_interval=0.2,
                admin_ids=frozenset({ADMIN}),
                **settings,
            )
        )

    return start


@pytest.mark.backends(
    "sqlite", reason="the file lease is SQLite's; PostgreSQL's instances elect a leader"
)
async def test_a_second_run_on_the_same_sqlite_file_refuses_with_one_line(
    start_bot: StartBot, database: Path
) -> None:
    async with start_bot() as first:
        assert first.bot_data.role == "leader"
        with pytest.raises(StartupError) as refused:
            async with start_bot():
                pass
    message = str(refused.value)
    assert message.startswith(f"another `tagwire run` uses {database} (pid ")
    assert "\n" not in message
    # Once the first has stopped, the file is free again.
    async with start_bot() as again:
        assert again.bot_data.role == "leader"


async def test_a_follower_takes_over_within_seconds_and_nothing_is_sent_twice(
    emulator: BotApiEmulator,
    postgres_url: str,
    start_instance: Callable[..., AbstractAsyncContextManager[TagwireApplication]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.app")
    async with contextlib.AsyncExitStack() as stack:
        second = None
        async with start_instance("a") as first:
            second = await stack.enter_async_context(start_instance("b"))
            assert (first.bot_data.role, second.bot_data.role) == ("leader", "follower")
            health = first.bot_data.instance_name, second.bot_data.instance_name
            assert health == ("a", "b")
            # Only the leader polls: the reader's command is answered once.
            await follow(emulator, READER, READER, "Japan")
            result = await push(postgres_url, [story(1)])
            assert result.returncode == 0, result.stderr
            await until(lambda: len(teasers(emulator, READER)) == 1, within=10)
            stats = await asyncio.to_thread(
                run_tagwire, "stats", env=environment(TAGWIRE_DATABASE=postgres_url)
            )
            assert "instances (1 min)    a (leader), b (follower)" in stats.stdout, stats.stdout
            await say(emulator, ADMIN, ADMIN, "/stats")
            [answer] = emulator.sent_messages(ADMIN)[-1:]
            assert "Instances (last minute): a (leader), b (follower)" in answer["text"]
        stopped_at = time.monotonic()
        # The first has stopped and given the lease back: the second leads, polls and sends.
        await until(lambda: second.bot_data.role == "leader", within=5)
        assert time.monotonic() - stopped_at < 5
        reply = await say(emulator, READER, READER, "/latest Japan")
        assert "Instance story 1" in reply["text"]
        result = await push(postgres_url, [story(2)])
        assert result.returncode == 0, result.stderr
        await until(lambda: len(teasers(emulator, READER)) == 2, within=10)
        # The marker: once the bot answered a later command, nothing more is on its way.
        await say(emulator, READER, READER, "/help")
        texts = [message["text"] for message in teasers(emulator, READER)]
        assert sum("Instance story 1" in text for text in texts) == 1
        assert sum("Instance story 2" in text for text in texts) == 1
        # Telegram answers a second poller 409 (the emulator too): no instance was ever
        # refused, so none polled beside another. (The first's last long poll, abandoned when
        # it stopped, is ended with a 409 that nobody reads, as Telegram ends it.)
        refused = [r for r in caplog.records if "cannot fetch updates" in r.getMessage()]
        assert refused == []


async def test_a_story_scheduled_on_a_follower_goes_out_once_at_its_time_across_a_handover(
    emulator: BotApiEmulator,
    start_instance: Callable[..., AbstractAsyncContextManager[TagwireApplication]],
) -> None:
    """The leader alone releases scheduled stories, sleeping until the next is due (up to
    30 s): a story scheduled through a follower's API wakes it (NOTIFY), and one still held when
    the leader stops is released by the next leader, once."""
    token = "test-ingest-token-0123456789"
    auth = {"Authorization": f"Bearer {token}"}

    def scheduled(number: int, due: float) -> dict[str, Any]:
        return {
            **story(number),
            "title": f"Scheduled instance story {number}",
            "publish_at": datetime.fromtimestamp(due, UTC).isoformat(),
        }

    def arrived(title: str) -> list[dict[str, Any]]:
        return [m for m in teasers(emulator, READER) if title in m["text"]]

    api = {"ingest_token": token, "http_port": 0}
    async with contextlib.AsyncExitStack() as stack:
        async with start_instance("a", **api) as first:
            second = await stack.enter_async_context(start_instance("b", **api))
            assert (first.bot_data.role, second.bot_data.role) == ("leader", "follower")
            await follow(emulator, READER, READER, "Japan")
            # The leader's releaser has nothing to do: it sleeps its longest.
            await asyncio.sleep(0.5)
            due = time.time() + 3
            async with api_client(second) as http:
                answer = await http.post(
                    "/api/articles", json=[scheduled(1, due), scheduled(2, due + 6)], headers=auth
                )
            assert answer.json()["scheduled"] == 2, answer.text
            await until(lambda: bool(arrived("story 1")), within=10)
            offset = time.time() - time.monotonic()
            [sent] = [
                call.at + offset
                for call in emulator.calls_of("sendMessage")
                if "Scheduled instance story 1" in str(call.params.get("text", ""))
            ]
            assert due <= sent < due + 2
        # The leader stopped with story 2 held: the follower leads and releases it.
        await until(lambda: second.bot_data.role == "leader", within=5)
        await until(lambda: bool(arrived("story 2")), within=15)
        await say(emulator, READER, READER, "/help")
    assert len(arrived("story 1")) == 1
    assert len(arrived("story 2")) == 1
