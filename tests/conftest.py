from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.emulator import BotApiEmulator
from bot.tags import parse_tag
from storage.models import NewArticle
from storage.sqlite import SqliteStore

# The shipped settings file of a developer's checkout must not leak into tests.
os.environ.pop("TAGWIRE_BOT_TOKEN", None)
# python-telegram-bot warns on every RetryAfter unless time periods are opted in as timedelta;
# tagwire reads both forms, and `tagwire run` opts in the same way.
os.environ["PTB_TIMEDELTA"] = "true"

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def store() -> AsyncIterator[SqliteStore]:
    db = await SqliteStore.open(":memory:")
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


async def add_chat(
    store: SqliteStore, chat_id: int, *tags: str, chat_type: str = "private"
) -> None:
    await store.register_chat(chat_id, chat_type, None)
    if tags:
        parsed = [parse_tag(tag) for tag in tags]
        await store.follow(chat_id, [(t.name, t.key) for t in parsed], 100, 0.0)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    from tests.support.harness import TOKEN

    async with BotApiEmulator(token=TOKEN) as api:
        yield api
