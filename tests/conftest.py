from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.emulator import BotApiEmulator
from bot.tags import parse_tag
from storage.base import Store
from storage.models import NewArticle
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from storage.url import DatabaseTarget, parse_database
from tests.support.postgres import fresh_database

# The shipped settings file of a developer's checkout must not leak into tests.
os.environ.pop("TAGWIRE_BOT_TOKEN", None)
# python-telegram-bot warns on every RetryAfter unless time periods are opted in as timedelta;
# tagwire reads both forms, and `tagwire run` opts in the same way.
os.environ["PTB_TIMEDELTA"] = "true"

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


# Every test that takes `store` or `database` runs once per backend: one contract, two
# implementations. A test that cannot apply to one of them says so with
# @pytest.mark.backends("sqlite", reason="..."), which the report shows as its only backend.
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names, reason): run a test that takes `store` or `database` on these "
        "backends only (default: sqlite and postgresql), for the reason given",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("backends")
    names: tuple[str, ...] = BACKENDS
    if marker is not None:
        names = tuple(marker.args)
        if not marker.kwargs.get("reason") or not set(names) <= set(BACKENDS) or not names:
            raise pytest.UsageError(
                f"{metafunc.definition.nodeid}: @pytest.mark.backends takes backend names "
                f"among {BACKENDS} and a reason="
            )
    metafunc.parametrize("backend", names)


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[DatabaseTarget]:
    """An empty database of the test's backend, which the test may open (open_store) as often
    as it likes: a SQLite file, or a PostgreSQL database of its own, dropped afterwards."""
    if backend == "sqlite":
        yield DatabaseTarget.sqlite(tmp_path / "tagwire.db")
        return
    async with fresh_database() as url:
        yield parse_database(url)


@pytest.fixture
async def store(backend: str) -> AsyncIterator[Store]:
    """An open store of the test's backend: SQLite in memory, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        db: Store = await SqliteStore.open(":memory:")
        try:
            yield db
        finally:
            await db.close()
        return
    async with fresh_database() as url:
        db = await PostgresStore.open(url)
        try:
            yield db
        finally:
            await db.close()


def make_article(
    number: int,
    tags: list[str],
    *,
    title: str | None = None,
    teaser: str = "A teaser…",
    minutes: int | None = None,
) -> NewArticle:
    """Story `number`, published `number` minutes (or `minutes`) after BASE_TIME."""
    parsed = [parse_tag(tag) for tag in tags]
    return NewArticle(
        url=f"https://news.example.com/story/{number}",
        title=title or f"Story {number}",
        teaser=teaser,
        tags=tuple((tag.name, tag.key) for tag in parsed),
        published_at=BASE_TIME + timedelta(minutes=number if minutes is None else minutes),
        source="test",
    )


async def add_chat(store: Store, chat_id: int, *tags: str, chat_type: str = "private") -> None:
    await store.register_chat(chat_id, chat_type, None)
    if tags:
        parsed = [parse_tag(tag) for tag in tags]
        await store.follow(chat_id, [(t.name, t.key) for t in parsed], 100, 0.0)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    from tests.support.harness import TOKEN

    async with BotApiEmulator(token=TOKEN) as api:
        yield api
