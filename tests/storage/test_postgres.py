"""What only PostgreSQL has: a server that can go away and come back, connections the server
ends, several writers at once, LISTEN/NOTIFY. (The contract both backends share is in the
other modules of tests/storage, run against each.)"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator

import pytest

from storage import StorageUnavailable
from storage.base import InvalidSearch
from storage.models import DeliveryStatus, DeliveryUpdate
from storage.postgres import OUTBOX_CHANNEL, PostgresStore
from storage.postgres_migrations import MIGRATIONS
from storage.sqlite import SqliteStore
from tests.conftest import add_chat, make_article
from tests.support.postgres import (
    TcpProxy,
    connect,
    create_database,
    database_url,
    drop_database,
)


@pytest.fixture
async def name() -> AsyncIterator[str]:
    """A fresh database's name, dropped afterwards."""
    created = await create_database()
    try:
        yield created
    finally:
        await drop_database(created)


async def test_a_fresh_database_gets_every_migration_in_its_own_table(name: str) -> None:
    store = await PostgresStore.open(database_url(name))
    await store.close()
    db = await connect(database_url(name))
    try:
        applied = [row[0] for row in await db.fetch("SELECT name FROM migrations ORDER BY name")]
        tables = {
            row[0]
            for row in await db.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        search_index = await db.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'articles_search'"
        )
        # The migration lock is not left behind.
        locks = await db.fetchval(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    finally:
        await db.close()
    assert applied == [migration.name for migration in MIGRATIONS]
    assert {
        "migrations",
        "chats",
        "tags",
        "subscriptions",
        "articles",
        "article_tags",
        "deliveries",
        "feeds",
        "meta",
        "mutes",
        "searches",
    } <= tables
    assert "USING gin (search)" in search_index
    assert locks == 0


async def test_a_missing_database_is_storage_unavailable(name: str) -> None:
    with pytest.raises(StorageUnavailable, match="does not exist"):
        await PostgresStore.open(database_url(name + "_missing"))


async def test_connections_the_server_ends_are_replaced_by_themselves(name: str) -> None:
    store = await PostgresStore.open(database_url(name), min_size=3, max_size=3)
    try:
        await add_chat(store, 1, "Japan")
        admin = await connect(database_url(name))
        try:
            ended = await admin.fetchval(
                "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await admin.close()
        assert ended >= 1
        # Reads and writes carry on, on new connections.
        assert (await store.get_chat(1)) is not None
        results = await store.add_articles(
            [make_article(1, ["Japan"])], notify=True, now=time.time()
        )
        assert results[0].recipients == 1
        assert await store.ping()
    finally:
        await store.close()


async def test_a_connection_goes_back_to_the_pool_without_a_round_trip(name: str) -> None:
    # asyncpg's default reset would be the last statement the server saw from the connection.
    store = await PostgresStore.open(database_url(name), min_size=1, max_size=1)
    try:
        await add_chat(store, 1, "Japan")
        assert (await store.get_chat(1)) is not None
        admin = await connect(database_url(name))
        try:
            last = await admin.fetch(
                "SELECT state, query FROM pg_stat_activity "
                "WHERE datname = $1 AND application_name = 'tagwire'",
                name,
            )
        finally:
            await admin.close()
    finally:
        await store.close()
    assert len(last) == 1
    assert last[0]["state"] == "idle"
    assert "FROM chats" in last[0]["query"]


async def test_a_transaction_left_open_is_rolled_back_when_its_connection_goes_back(
    name: str,
) -> None:
    store = await PostgresStore.open(database_url(name), min_size=1, max_size=1)
    try:
        await add_chat(store, 1, "Japan")
        async with store._pool.acquire() as db:
            await db.execute("BEGIN")
            await db.execute("DELETE FROM chats WHERE id = 1")
        async with store._pool.acquire() as db:
            assert not db.is_in_transaction()
        assert (await store.get_chat(1)) is not None
    finally:
        await store.close()


async def test_a_server_gone_is_storage_unavailable_until_it_is_back(name: str) -> None:
    async with TcpProxy() as proxy:
        store = await PostgresStore.open(proxy.url(name))
        try:
            await add_chat(store, 1, "Japan")
            await proxy.stop()
            with pytest.raises(StorageUnavailable) as reading:
                await store.get_chat(1)
            assert "cannot be read" in str(reading.value)
            with pytest.raises(StorageUnavailable) as writing:
                await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
            assert "cannot be written" in str(writing.value)
            assert "\n" not in str(writing.value)
            assert await store.write_problem() is not None
            assert not await store.ping()

            await proxy.start()
            # Nothing of the failed write was kept: the same batch goes in whole.
            results = await store.add_articles(
                [make_article(1, ["Japan"])], notify=True, now=time.time()
            )
            assert [r.recipients for r in results] == [1]
            assert await store.write_problem() is None
            assert await store.ping()
        finally:
            await store.close()


async def test_a_fan_out_notifies_listeners_in_its_transaction(name: str) -> None:
    store = await PostgresStore.open(database_url(name))
    listener = await connect(database_url(name))
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(OUTBOX_CHANNEL, lambda *args: heard.put_nowait(args[2]))
    try:
        await add_chat(store, 1, "Japan")
        await store.add_articles([make_article(1, ["Russia"])], notify=True, now=time.time())
        await store.add_articles([make_article(2, ["Japan"])], notify=False, now=time.time())
        assert heard.empty()
        await store.add_articles([make_article(3, ["Japan"])], notify=True, now=time.time())
        assert await asyncio.wait_for(heard.get(), 5) == OUTBOX_CHANNEL
    finally:
        await listener.close()
        await store.close()


async def test_a_watcher_wakes_at_deliveries_queued_by_any_process(name: str) -> None:
    watching = await PostgresStore.open(database_url(name))
    pushing = await PostgresStore.open(database_url(name))
    wakes: list[float] = []
    woken = asyncio.Event()

    def wake() -> None:
        wakes.append(time.time())
        woken.set()

    async def woken_by(article: int, notify: bool) -> bool:
        woken.clear()
        await pushing.add_articles([make_article(article, ["Japan"])], notify=notify, now=0.0)
        try:
            await asyncio.wait_for(woken.wait(), 2)
        except TimeoutError:
            return False
        return True

    try:
        await add_chat(pushing, 1, "Japan")
        await watching.watch_outbox(wake)
        # Once at the start, for whatever was queued before anyone listened.
        await asyncio.wait_for(woken.wait(), 5)
        assert await woken_by(1, notify=True)
        assert not await woken_by(2, notify=False)
        # The server ends the listening session: the watcher wakes the engine, listens again.
        admin = await connect(database_url(name))
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND application_name = 'tagwire-listen'",
                name,
            )
        finally:
            await admin.close()
        await asyncio.wait_for(woken.wait(), 5)
        for _ in range(50):
            if await woken_by(3 + len(wakes), notify=True):
                break
        else:
            raise AssertionError("the watcher did not listen again")
        await watching.watch_outbox(None)
        assert not await woken_by(100, notify=True)
    finally:
        await watching.close()
        await pushing.close()


async def test_a_row_being_claimed_elsewhere_is_passed_over_not_waited_for(name: str) -> None:
    store = await PostgresStore.open(database_url(name))
    other = await connect(database_url(name))
    try:
        await add_chat(store, 1, "Japan")
        await store.add_articles(
            [make_article(n, ["Japan"]) for n in range(3)], notify=True, now=time.time()
        )
        async with other.transaction():
            locked = await other.fetchval(
                "SELECT id FROM deliveries ORDER BY id LIMIT 1 FOR UPDATE"
            )
            claimed = await asyncio.wait_for(store.claim_due(time.time(), 10, 60), 5)
        assert locked not in {d.id for d in claimed}
        assert len(claimed) == 2
    finally:
        await other.close()
        await store.close()


async def test_claims_of_several_processes_never_overlap(name: str) -> None:
    stores = [await PostgresStore.open(database_url(name)) for _ in range(3)]
    try:
        for chat_id in range(1, 21):
            await add_chat(stores[0], chat_id, "Japan")
        await stores[0].add_articles(
            [make_article(n, ["Japan"]) for n in range(10)], notify=True, now=time.time()
        )
        now = time.time()
        seen: list[int] = []
        while True:
            rounds = await asyncio.gather(*(s.claim_due(now, 7, 60) for s in stores))
            batch = [d.id for claimed in rounds for d in claimed]
            if not batch:
                break
            seen.extend(batch)
            await stores[0].update_deliveries(
                [DeliveryUpdate(i, DeliveryStatus.SENT, 1, now, finished_at=now) for i in batch]
            )
        assert len(seen) == len(set(seen)) == 200
    finally:
        for store in stores:
            await store.close()


# Pieces of queries and stories where FTS5's reading is easy to miss: case, accents, scripts,
# CJK, emoji, punctuation inside words, digits that are not 0-9, operators and their misuse.
_QUERY_PIECES = [
    *("a", "b", "c", "kuril", "Kuril", "café", "cafe", "東京", "東", "🎌", "ёлка", "C++"),
    *("x_y", "a.b", "don't", "Москва", "москва", "1.5", "Straße", "İstanbul", "naïve", "x²"),
    *("٣", "AND", "OR", "NOT", "and", "(", ")", "*", '"', "title:", "teaser:", "-", "+"),
]
_TEXT_PIECES = [p for p in _QUERY_PIECES if p not in {"AND", "OR", "(", ")", "*", '"', "+"}]


async def test_postgres_finds_what_fts5_finds_for_any_query(name: str) -> None:
    shuffle = random.Random(13)

    def text() -> str:
        return " ".join(shuffle.choice(_TEXT_PIECES) for _ in range(shuffle.randint(0, 5)))

    stories = [make_article(n, ["x"], title=text() or "x", teaser=text()) for n in range(60)]
    postgres = await PostgresStore.open(database_url(name))
    sqlite = await SqliteStore.open(":memory:")
    try:
        for store in (postgres, sqlite):
            await store.add_articles(stories, notify=False, now=0.0)
        for _ in range(1000):
            query = " ".join(
                shuffle.choice(_QUERY_PIECES)
                if shuffle.random() < 0.8
                else f'"{text()}"' + shuffle.choice(["", "*"])
                for _ in range(shuffle.randint(1, 5))
            )
            answers: list[object] = []
            for store in (sqlite, postgres):
                try:
                    answers.append(sorted(a.url for a in await store.search(query, 100)))
                except InvalidSearch:
                    answers.append("invalid")
            assert answers[1] == answers[0], query
    finally:
        await postgres.close()
        await sqlite.close()


async def test_a_word_longer_than_postgres_indexes_is_invalid_search(name: str) -> None:
    # FTS5 would look for it; PostgreSQL keeps no word past 2046 bytes, so it says so.
    store = await PostgresStore.open(database_url(name))
    try:
        with pytest.raises(InvalidSearch, match="not indexed"):
            await store.search('"' + "x" * 3000 + '"', 10)
    finally:
        await store.close()


async def test_sends_reported_by_one_instance_reach_the_one_that_watches_the_outbox(
    name: str,
) -> None:
    watching = await PostgresStore.open(database_url(name))
    replying = await PostgresStore.open(database_url(name))
    heard: list[tuple[str, int]] = []
    woken = asyncio.Event()

    def sent_elsewhere(instance: str, count: int) -> None:
        heard.append((instance, count))

    try:
        await watching.watch_outbox(woken.set, sent_elsewhere)
        await asyncio.wait_for(woken.wait(), 5)
        await replying.report_sends("host-b:41", 3)
        # An instance's name may hold spaces; the count is the last word.
        await replying.report_sends("box 2", 1)
        for _ in range(100):
            if len(heard) == 2:
                break
            await asyncio.sleep(0.02)
        assert heard == [("host-b:41", 3), ("box 2", 1)]
        await watching.watch_outbox(None)
        await replying.report_sends("host-b:41", 5)
        await asyncio.sleep(0.3)
        assert heard == [("host-b:41", 3), ("box 2", 1)]
    finally:
        await watching.close()
        await replying.close()
