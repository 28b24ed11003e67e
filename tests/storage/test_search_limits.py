"""A costly search stops at the store's time limit, waiting for its turn included, and never
delays the other reads (issue 12, point 9): on SQLite searches have a connection of their own,
on PostgreSQL they never take more than a third of the pool."""

from __future__ import annotations

import asyncio
import random
import string
import time
from collections.abc import Awaitable, Iterator
from datetime import timedelta

from storage import open_store
from storage.base import SearchTooSlow
from storage.models import Article, NewArticle
from storage.url import DatabaseTarget
from tests.conftest import BASE_TIME

STORIES = 100_000
BATCH = 5_000
# Two dozen one-letter prefixes, as a hostile reader typed them (the reader's commands refuse
# such a query before it reaches the store; the store's own limit is the last line): every
# story matches, each with two dozen phrases to rank.
COSTLY = " OR ".join(f'"{letter}"*' for letter in "abcdefghijklmnopqrstuvwx")
# What a forged "More" button could ask for.
FAR_OFFSET = 900_000
# More searches at once than PostgreSQL's pool has connections (10).
AT_ONCE = 12


def _stories() -> Iterator[NewArticle]:
    draw = random.Random(12)
    vocabulary = [
        "".join(draw.choices(string.ascii_lowercase, k=draw.randint(3, 9))) for _ in range(20_000)
    ]
    for number in range(STORIES):
        yield NewArticle(
            url=f"https://load.example.com/{number}",
            title=" ".join(draw.choices(vocabulary, k=8)),
            teaser=" ".join(draw.choices(vocabulary, k=30)),
            tags=(("Japan", "japan"),),
            published_at=BASE_TIME + timedelta(seconds=number),
        )


async def _timed(search: Awaitable[list[Article]]) -> tuple[float, BaseException | None]:
    started = time.monotonic()
    try:
        await search
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


async def test_a_costly_search_stops_at_its_limit_and_never_delays_other_reads(
    database: DatabaseTarget,
) -> None:
    store = await open_store(database)
    try:
        batch: list[NewArticle] = []
        for story in _stories():
            batch.append(story)
            if len(batch) == BATCH:
                await store.add_articles(batch, notify=False, now=0.0)
                batch = []
        japan = (await store.find_tags(["japan"]))["japan"]

        # Without a limit worth the name, the query takes seconds (SQLite) or most of one.
        store.search_time_limit = 120.0
        started = time.monotonic()
        assert await store.search(COSTLY, 11, FAR_OFFSET) == []
        unbounded = time.monotonic() - started

        limit = unbounded / 4
        store.search_time_limit = limit
        began = time.monotonic()
        searches = [
            asyncio.create_task(_timed(store.search(COSTLY, 11, FAR_OFFSET)))
            for _ in range(AT_ONCE)
        ]
        # The searches are under way (the first ones running, the others waiting their turn).
        await asyncio.sleep(limit / 3)
        read_started = time.monotonic()
        newest = await store.latest_articles(japan.id, 5)
        read = time.monotonic() - read_started
        outcomes = await asyncio.gather(*searches)
        every_search = time.monotonic() - began
        # An ordinary search still works, at once.
        word = newest[0].title.split()[0]
        assert await store.search(f'"{word}"', 10)
    finally:
        await store.close()

    print(
        f"[search limit] {database.backend}: unbounded {unbounded:.2f} s, limit {limit:.2f} s, "
        f"{AT_ONCE} searches done in {every_search:.2f} s, latest read {read * 1000:.0f} ms"
    )
    assert [article.url for article in newest] == [
        f"https://load.example.com/{number}" for number in range(STORIES - 1, STORIES - 6, -1)
    ]
    # The read went ahead of the searches: before, it waited for them (SQLite's one read
    # connection; PostgreSQL's pool, every connection of it taken by a search).
    assert read < limit, (read, limit)
    # Every search was stopped at its limit, its wait for a turn included: none ran on.
    assert all(isinstance(error, SearchTooSlow) for _, error in outcomes), outcomes
    slack = max(1.0, limit)
    assert max(took for took, _ in outcomes) < limit + slack, outcomes
    assert every_search < limit + slack + 1.0, every_search
