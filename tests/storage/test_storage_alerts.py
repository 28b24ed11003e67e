"""The alerts' storage (storage/*_alerts.py, the feeds' pause): incidents recorded once across
processes, a feed paused at every streak of failures and resumed, and how late the outbox is.
Every test on both backends."""

from __future__ import annotations

import asyncio

from storage import open_store
from storage.base import Store
from storage.migrations import MIGRATIONS
from storage.models import DeliveryStatus, DeliveryUpdate
from storage.postgres_migrations import MIGRATIONS as POSTGRES_MIGRATIONS
from storage.url import DatabaseTarget
from tests.conftest import add_chat, make_article
from tests.storage.direct import create_old_schema, execute, fetch

URL = "https://a.example.com/feed"


def test_the_alerts_migration_adds_the_pause_and_the_incidents_on_both_backends() -> None:
    for migrations in (MIGRATIONS, POSTGRES_MIGRATIONS):
        names = [migration.name for migration in migrations]
        assert "0008_alerts" in names
        statements = " ".join(next(m for m in migrations if m.name == "0008_alerts").statements)
        assert "ALTER TABLE feeds ADD COLUMN paused_at" in statements
        assert "CREATE TABLE incidents" in statements


async def test_a_feed_is_paused_at_every_streak_of_failures_and_resumed(store: Store) -> None:
    feed, _ = await store.add_feed(URL, [], 1.0)
    paused = [await store.feed_failed(feed.id, "HTTP 503", 10.0 + n, pause_after=3) for n in (1, 2)]
    assert paused == [False, False]
    assert (await store.list_feeds())[0].paused_at is None
    assert await store.feed_failed(feed.id, "HTTP 503", 13.0, pause_after=3)
    [now_paused] = await store.list_feeds()
    assert now_paused.paused_at == 13.0
    assert now_paused.failures == 3

    before = await store.resume_feed(URL)
    assert before is not None
    assert before.paused_at == 13.0
    [resumed] = await store.list_feeds()
    assert resumed.paused_at is None
    # The streak is kept (the alerts' "it works again" waits for a success), and a resumed
    # feed that goes on failing is paused after a whole streak more.
    assert resumed.failures == 3
    assert resumed.last_error == "HTTP 503"
    assert [
        await store.feed_failed(feed.id, "HTTP 503", 20.0 + n, pause_after=3) for n in (1, 2)
    ] == [
        False,
        False,
    ]
    assert await store.feed_failed(feed.id, "HTTP 503", 23.0, pause_after=3)
    assert (await store.list_feeds())[0].paused_at == 23.0
    await store.resume_feed(URL)
    await store.feed_succeeded(feed.id, None, None, 30.0)
    [working] = await store.list_feeds()
    assert (working.failures, working.paused_at, working.last_error) == (0, None, None)


async def test_without_a_pause_setting_a_feed_is_never_paused(store: Store) -> None:
    feed, _ = await store.add_feed(URL, [], 1.0)
    assert not any([await store.feed_failed(feed.id, "down", float(n)) for n in range(5)])
    assert (await store.list_feeds())[0].paused_at is None
    assert (await store.list_feeds())[0].failures == 5


async def test_resuming_an_unknown_or_working_feed_changes_nothing(store: Store) -> None:
    assert await store.resume_feed(URL) is None
    await store.add_feed(URL, ["Japan"], 1.0)
    before = await store.resume_feed(URL)
    assert before is not None
    assert before.paused_at is None
    assert await store.resume_feed("https://other.example.com/feed") is None


async def test_an_incident_is_recorded_once_and_ended_once(store: Store) -> None:
    assert await store.incidents() == []
    assert await store.open_incident("telegram", 100.0, "unreachable", 400.0)
    assert not await store.open_incident("telegram", 500.0, "again", 600.0)
    assert await store.open_incident("feed:1", 50.0, "x" * 2000, 700.0)
    first, second = await store.incidents()
    assert (first.key, first.started_at, len(first.detail)) == ("feed:1", 50.0, 500)
    assert (second.key, second.started_at, second.detail, second.announced_at) == (
        "telegram",
        100.0,
        "unreachable",
        400.0,
    )
    assert await store.close_incident("telegram")
    assert not await store.close_incident("telegram")
    assert [incident.key for incident in await store.incidents()] == ["feed:1"]


async def test_two_processes_racing_to_record_an_incident_announce_it_once(
    database: DatabaseTarget,
) -> None:
    first, second = await open_store(database), await open_store(database)
    try:
        recorded = await asyncio.gather(
            first.open_incident("outbox", 1.0, "late", 2.0),
            second.open_incident("outbox", 1.0, "late", 2.0),
        )
        ended = await asyncio.gather(
            first.close_incident("outbox"), second.close_incident("outbox")
        )
    finally:
        await first.close()
        await second.close()
    assert sorted(recorded) == [False, True]
    assert sorted(ended) == [False, True]


async def test_the_oldest_due_delivery_counts_claimed_ones_and_not_those_held_for_later(
    store: Store,
) -> None:
    assert await store.oldest_due_pending(1_000.0) is None
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await store.add_articles([make_article(1, ["Japan"])], notify=True, now=100.0)
    await store.add_articles([make_article(2, ["Japan"])], notify=True, now=200.0)
    assert await store.oldest_due_pending(150.0) == 100.0
    assert await store.oldest_due_pending(50.0) is None
    # Claimed by the engine and not sent yet (Telegram away, a 429): still waiting.
    claimed = await store.claim_due(1_000.0, 2, 60.0)
    assert {d.due_at for d in claimed} == {100.0}
    assert await store.oldest_due_pending(1_000.0) == 100.0
    # One sent, the other held for a digest at 5 000: neither waits now.
    sent, held = claimed
    await store.update_deliveries(
        [
            DeliveryUpdate(sent.id, DeliveryStatus.SENT, 1, sent.due_at, finished_at=300.0),
            DeliveryUpdate(held.id, DeliveryStatus.PENDING, 0, 5_000.0, held=True),
        ]
    )
    assert await store.oldest_due_pending(1_000.0) == 200.0
    assert await store.oldest_due_pending(6_000.0) == 200.0
    rest = await store.claim_due(1_000.0, 10, 60.0)
    await store.update_deliveries(
        [DeliveryUpdate(d.id, DeliveryStatus.SENT, 1, d.due_at, finished_at=300.0) for d in rest]
    )
    assert await store.oldest_due_pending(1_000.0) is None
    assert await store.oldest_due_pending(6_000.0) == 5_000.0


async def test_upgrading_keeps_the_feeds_and_starts_them_unpaused(database: DatabaseTarget) -> None:
    earlier = [m.name for m in MIGRATIONS][: [m.name for m in MIGRATIONS].index("0008_alerts")]
    await create_old_schema(database, *earlier)
    await execute(
        database,
        "INSERT INTO feeds (url, tags, created_at, failures) "
        "VALUES ('https://a.example.com/feed', '[\"Japan\"]', 1.0, 7)",
    )
    store = await open_store(database)
    try:
        [feed] = await store.list_feeds()
        assert (feed.url, feed.tags, feed.failures, feed.paused_at) == (URL, ("Japan",), 7, None)
        assert await store.incidents() == []
    finally:
        await store.close()
    assert await fetch(database, "SELECT COUNT(*) FROM incidents") == [(0,)]
