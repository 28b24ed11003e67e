"""What the end-to-end tests share: the bot's database file, the bot started against the Bot
API emulator (`start_bot` for a test's own settings, `bot` for its module's), and an HTTP
client for the bot's own server. Every test here is marked `e2e`.

A module shapes its `bot` by overriding fixtures: `bot_options` (settings beside the fast
defaults), `before_start` (the users, chats and stories there before the bot starts) and
`clock` (the wall clock its schedules follow)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from tests.support.feed_server import FeedServer
from tests.support.harness import StartBot, api_client, bot_settings, running_bot
from tests.support.markers import mark_folder
from tests.support.postgres import fresh_database


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    mark_folder(items, Path(__file__).parent, pytest.mark.e2e)


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Path | str]:
    """The bot's database, once per storage backend (the root conftest parametrizes `backend`):
    a SQLite file, or the URL of a PostgreSQL database of the test's own, dropped afterwards.
    `tagwire push` and the tests open it beside the running bot. A test that looks inside the
    SQLite file says so with @pytest.mark.backends("sqlite", reason=...)."""
    if backend == "sqlite":
        yield tmp_path / "bot.db"
        return
    async with fresh_database() as url:
        yield url


@pytest.fixture
def start_bot(emulator: BotApiEmulator, database: Path | str) -> StartBot:
    """`async with start_bot(**settings) as application:` the bot as `tagwire run` runs it,
    against this test's emulator and database, with the fast settings and `settings`."""

    def start(
        *, clock: Callable[[], float] = time.time, **settings: Any
    ) -> AbstractAsyncContextManager[TagwireApplication]:
        return running_bot(bot_settings(emulator, database, **settings), clock=clock)

    return start


@pytest.fixture
async def feed_server() -> AsyncIterator[FeedServer]:
    """A local web server playing the feeds the test gives it (tests/support/feed_server.py)."""
    async with FeedServer() as feeds:
        yield feeds


@pytest.fixture
def bot_options() -> dict[str, Any]:
    """Settings of the module's `bot` beside the fast defaults."""
    return {}


@pytest.fixture
async def before_start() -> None:
    """What the emulator and the database hold before the module's `bot` starts."""


@pytest.fixture
def clock() -> Callable[[], float]:
    """The wall clock the bot's schedules (digests, quiet hours) follow."""
    return time.time


@pytest.fixture
async def bot(
    start_bot: StartBot,
    bot_options: dict[str, Any],
    before_start: None,
    clock: Callable[[], float],
) -> AsyncIterator[TagwireApplication]:
    async with start_bot(clock=clock, **bot_options) as application:
        yield application


@pytest.fixture
async def client(bot: TagwireApplication) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the running bot's own server (its module's `bot_options` turn it on)."""
    async with api_client(bot) as http:
        yield http
