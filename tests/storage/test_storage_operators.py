"""The operators' storage: feeds, the meta table, outbox figures, the tag list."""

from __future__ import annotations

import asyncio
import time

from storage import open_store
from storage.base import Store
from storage.migrations import MIGRATIONS
from storage.models import DeliveryStatus, DeliveryUpdate
from storage.postgres_migrations import MIGRATIONS as POSTGRES_MIGRATIONS
from storage.url import DatabaseTarget
from tests.conftest import add_chat, make_article
from tests.storage.direct import create_old_schema, execute


def test_operators_migration_is_named_and_creates_its_tables() -> None:
    names = [migration.name for migration in MIGRATIONS]
    assert "0002_operators" in names
    assert names.index("0002_operators") == names.index("0001_core") + 1
    for migrations in (MIGRATIONS, POSTGRES_MIGRATIONS):
        statements = " ".join(next(m for m in migrations if m.name == "0002_operators").statements)
        assert "CREATE TABLE feeds" in statements
        assert "CREATE TABLE meta" in statements


def test_each_backend_has_the_same_named_migrations_in_order() -> None:
    assert [m.name for m in POSTGRES_MIGRATIONS] == [m.name for m in MIGRATIONS]


async def test_add_list_and_remove_feeds(store: Store) -> None:
    feed, created = await store.add_feed("https://a.example.com/feed", ["Japan", "Россия"], 10.0)
    assert created
    assert feed.tags == ("Japan", "Россия")
    assert not feed.primed
    assert feed.last_success_at is None
    await store.add_feed("https://b.example.com/feed", [], 11.0)
    assert [f.url for f in await store.list_feeds()] == [
        "https://a.example.com/feed",
        "https://b.example.com/feed",
    ]
    assert await store.remove_feed("https://a.example.com/feed")
    assert not await store.remove_feed("https://a.example.com/feed")
    assert [f.url for f in await store.list_feeds()] == ["https://b.example.com/feed"]


async def test_adding_a_known_feed_changes_its_tags_and_keeps_its_state(
    store: Store,
) -> None:
    feed, _ = await store.add_feed("https://a.example.com/feed", ["Japan"], 10.0)
    await store.feed_succeeded(feed.id, '"e1"', None, 20.0)
    again, created = await store.add_feed("https://a.example.com/feed", ["World"], 30.0)
    assert not created
    assert again.id == feed.id
    assert again.tags == ("World",)
    assert again.primed
    assert again.etag == '"e1"'
    assert again.created_at == 10.0


async def test_failures_count_up_until_a_success_clears_them(store: Store) -> None:
    feed, _ = await store.add_feed("https://a.example.com/feed", [], 10.0)
    await store.feed_failed(feed.id, "HTTP 500 Internal Server Error", 20.0)
    await store.feed_failed(feed.id, "x" * 2000, 30.0)
    [failed] = await store.list_feeds()
    assert failed.failures == 2
    assert failed.last_error is not None
    assert len(failed.last_error) == 500
    assert failed.last_error_at == 30.0
    assert failed.last_polled_at == 30.0
    assert not failed.primed
    await store.feed_succeeded(feed.id, None, "Tue, 03 Nov 2026 10:00:00 GMT", 40.0)
    [ok] = await store.list_feeds()
    assert (ok.failures, ok.last_error, ok.last_error_at) == (0, None, None)
    assert ok.last_success_at == 40.0
    assert ok.last_modified == "Tue, 03 Nov 2026 10:00:00 GMT"
    assert ok.primed


async def test_meta_keeps_the_first_value_put(store: Store) -> None:
    assert await store.get_meta("webhook_secret") is None
    assert await store.put_meta_if_absent("webhook_secret", "first", 1.0) == "first"
    assert await store.put_meta_if_absent("webhook_secret", "second", 2.0) == "first"
    assert await store.get_meta("webhook_secret") == "first"


async def test_two_processes_racing_for_a_meta_value_agree(database: DatabaseTarget) -> None:
    first, second = await open_store(database), await open_store(database)
    try:
        values = await asyncio.gather(
            first.put_meta_if_absent("webhook_secret", "from-first", 1.0),
            second.put_meta_if_absent("webhook_secret", "from-second", 1.0),
        )
    finally:
        await first.close()
        await second.close()
    assert values[0] == values[1]


async def test_outbox_figures_count_pending_and_date_the_oldest(store: Store) -> None:
    assert (await store.outbox_figures()).pending == 0
    assert (await store.outbox_figures()).oldest_pending_at is None
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await store.add_articles([make_article(1, ["Japan"])], notify=True, now=100.0)
    await store.add_articles([make_article(2, ["Japan"])], notify=True, now=200.0)
    figures = await store.outbox_figures()
    assert figures.pending == 4
    assert figures.oldest_pending_at == 100.0
    claimed = await store.claim_due(1000.0, 2, 60.0)
    await store.update_deliveries(
        [DeliveryUpdate(d.id, DeliveryStatus.SENT, 1, d.due_at, finished_at=300.0) for d in claimed]
    )
    figures = await store.outbox_figures()
    assert figures.pending == 2
    assert figures.oldest_pending_at == 200.0


async def test_list_tags_has_stories_or_followers_most_stories_first(store: Store) -> None:
    await store.add_articles(
        [make_article(1, ["Japan", "Russia"]), make_article(2, ["Japan"])], notify=False, now=1.0
    )
    await add_chat(store, 1, "Followed Only")
    tags = await store.list_tags(10)
    assert [(t.name, t.story_count, t.follower_count) for t in tags] == [
        ("Japan", 2, 0),
        ("Russia", 1, 0),
        ("Followed Only", 0, 1),
    ]
    assert len(await store.list_tags(1)) == 1


async def test_migrating_an_existing_core_database_adds_the_operator_tables(
    database: DatabaseTarget,
) -> None:
    await create_old_schema(database, "0001_core")
    store = await open_store(database)
    try:
        await store.add_feed("https://a.example.com/feed", [], 1.0)
        assert len(await store.list_feeds()) == 1
    finally:
        await store.close()


async def test_stories_stored_before_search_existed_are_found_after_the_upgrade(
    database: DatabaseTarget,
) -> None:
    await create_old_schema(database, "0001_core", "0002_operators")
    await execute(
        database,
        "INSERT INTO articles (url, title, teaser, published_at, created_at) "
        "VALUES ('https://a.example.com/1', 'Kuril Islands talks', 'Новости Москвы', 0, 0)",
    )
    store = await open_store(database)
    try:
        assert [a.id for a in await store.search('"kuril"', 10)] == [1]
        assert [a.id for a in await store.search('"москвы"', 10)] == [1]
        # New stories get the next ids after the old ones.
        [result] = await store.add_articles(
            [make_article(2, ["Japan"], title="Kuril news")], notify=False, now=time.time()
        )
        assert result.article_id == 2
        assert [a.id for a in await store.search('"kuril"', 10)] == [2, 1]
    finally:
        await store.close()


async def test_instances_are_listed_leader_first_and_forgotten_after_a_day(store: Store) -> None:
    await store.record_instance("b-host", "follower", started_at=10.0, now=100.0)
    await store.record_instance("c-host", "leader", started_at=20.0, now=110.0)
    await store.record_instance("a-host", "follower", started_at=30.0, now=50.0)
    seen = await store.instances(since=60.0)
    assert [(i.name, i.role, i.started_at, i.seen_at) for i in seen] == [
        ("c-host", "leader", 20.0, 110.0),
        ("b-host", "follower", 10.0, 100.0),
    ]
    # Seen again in another role; the one silent for a day is gone.
    await store.record_instance("b-host", "leader", started_at=99.0, now=86_500.0)
    assert [(i.name, i.role, i.started_at) for i in await store.instances(since=0.0)] == [
        ("b-host", "leader", 10.0),
        ("c-host", "leader", 20.0),
    ]
