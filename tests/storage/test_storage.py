from __future__ import annotations

import asyncio
import time

import pytest

from bot.tags import parse_tag
from storage import open_store
from storage.base import Store
from storage.migrations import MIGRATIONS
from storage.models import (
    ChatSettings,
    DeliveryMode,
    DeliveryStatus,
    DeliveryUpdate,
    FollowOutcome,
    IngestStatus,
)
from storage.url import DatabaseTarget
from tests.conftest import add_chat, make_article
from tests.storage.direct import applied_migrations, execute, fetch, journal_mode


def pairs(*names: str) -> list[tuple[str, str]]:
    return [(t.name, t.key) for t in (parse_tag(name) for name in names)]


async def test_migrations_are_recorded_once(database: DatabaseTarget) -> None:
    first = await open_store(database)
    await first.close()
    second = await open_store(database)
    await second.close()
    assert await applied_migrations(database) == [migration.name for migration in MIGRATIONS]
    if not database.is_postgres:
        assert await journal_mode(database) == "wal"


async def test_starters_racing_apply_each_migration_once(database: DatabaseTarget) -> None:
    stores = await asyncio.gather(*(open_store(database) for _ in range(4)))
    for opened in stores:
        await opened.close()
    assert await applied_migrations(database) == [migration.name for migration in MIGRATIONS]


async def test_database_from_a_newer_version_is_refused(database: DatabaseTarget) -> None:
    await (await open_store(database)).close()
    await execute(database, "INSERT INTO migrations VALUES ('9999_future', 0)")
    with pytest.raises(Exception, match="newer tagwire"):
        await open_store(database)


async def test_find_tags_not_found(store: Store) -> None:
    assert await store.find_tags(["japan"]) == {}


async def test_follow_creates_tag_and_counts_followers(store: Store) -> None:
    await add_chat(store, 1)
    results = await store.follow(1, pairs("Japan", "Russia"), 100, 0.0)
    assert [r.outcome for r in results] == [FollowOutcome.FOLLOWED] * 2
    again = await store.follow(1, pairs("japan"), 100, 0.0)
    assert again[0].outcome is FollowOutcome.ALREADY
    tags = await store.find_tags(["japan"])
    assert tags["japan"].follower_count == 1
    assert [t.name for t in await store.followed_tags(1)] == ["Japan", "Russia"]


async def test_follow_stops_at_the_limit(store: Store) -> None:
    await add_chat(store, 1)
    results = await store.follow(1, pairs("a1", "a2", "a3"), 2, 0.0)
    assert [r.outcome for r in results] == [
        FollowOutcome.FOLLOWED,
        FollowOutcome.FOLLOWED,
        FollowOutcome.LIMIT,
    ]
    assert len(await store.followed_tags(1)) == 2


async def test_tag_followed_before_any_story_takes_the_story_spelling(store: Store) -> None:
    await add_chat(store, 1, "KURIL islands")
    await store.add_articles([make_article(1, ["Kuril Islands"])], notify=True, now=time.time())
    assert (await store.find_tags(["kuril islands"]))["kuril islands"].name == "Kuril Islands"


async def test_unfollow_returns_what_was_followed(store: Store) -> None:
    await add_chat(store, 1, "Japan", "Russia")
    japan = (await store.find_tags(["japan"]))["japan"]
    assert [t.name for t in await store.unfollow(1, [japan.id])] == ["Japan"]
    assert await store.unfollow(1, [japan.id]) == []
    # No story and no follower left: the tag is gone (tests/storage/test_follow_growth.py).
    assert await store.find_tags(["japan"]) == {}
    assert await store.unfollow_all(1) == 1


async def test_story_goes_once_to_a_chat_following_two_of_its_tags(store: Store) -> None:
    await add_chat(store, 1, "Japan", "Russia")
    await add_chat(store, 2, "Russia")
    await add_chat(store, 3, "Sanctions")
    results = await store.add_articles(
        [make_article(1, ["Japan", "Russia"])], notify=True, now=time.time()
    )
    assert results[0].status is IngestStatus.CREATED
    assert results[0].recipients == 2
    claimed = await store.claim_due(time.time(), 10, 60)
    assert sorted(d.chat_id for d in claimed) == [1, 2]


async def test_only_chats_following_before_the_story_get_it(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    await add_chat(store, 2, "Japan")
    claimed = await store.claim_due(time.time(), 10, 60)
    assert [d.chat_id for d in claimed] == [1]


async def test_inactive_chats_get_no_deliveries(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.deactivate_chat(1, "blocked", time.time())
    results = await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    assert results[0].recipients == 0
    assert [t.name for t in await store.followed_tags(1)] == ["Japan"]


async def test_deactivating_skips_pending_deliveries(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.add_articles(
        [make_article(n, ["Japan"]) for n in range(3)], notify=True, now=time.time()
    )
    assert (
        await store.deactivate_chat(1, "Forbidden: bot was blocked by the user", time.time()) == 3
    )
    stats = await store.stats()
    assert (stats.deliveries_pending, stats.chats_inactive) == (0, 1)
    await store.register_chat(1, "private", None)
    assert (await store.get_chat(1)).active  # type: ignore[union-attr]


async def test_latest_articles_newest_first(store: Store) -> None:
    await store.add_articles(
        [make_article(n, ["Japan"], minutes=m) for n, m in [(1, 5), (2, 50), (3, 20)]],
        notify=False,
        now=time.time(),
    )
    japan = (await store.find_tags(["japan"]))["japan"]
    latest = await store.latest_articles(japan.id, 2)
    assert [a.title for a in latest] == ["Story 2", "Story 3"]
    assert latest[0].tags == ("Japan",)


async def test_listed_stories_keep_their_tags_in_the_order_pushed(store: Store) -> None:
    await store.add_articles(
        [
            make_article(1, ["Sanctions", "Russia", "Kuril Islands"]),
            make_article(2, ["Russia"]),
        ],
        notify=False,
        now=time.time(),
    )
    russia = (await store.find_tags(["russia"]))["russia"]
    latest = await store.latest_articles(russia.id, 5)
    assert [a.tags for a in latest] == [("Russia",), ("Sanctions", "Russia", "Kuril Islands")]
    by_id = await store.get_articles([latest[1].id])
    assert by_id[latest[1].id].tags == ("Sanctions", "Russia", "Kuril Islands")


async def test_latest_for_chat_merges_tags_without_repeats(store: Store) -> None:
    await add_chat(store, 1, "Japan", "Russia")
    await store.add_articles(
        [
            make_article(1, ["Japan", "Russia"]),
            make_article(2, ["Russia"]),
            make_article(3, ["Sanctions"]),
            make_article(4, ["Japan"]),
        ],
        notify=False,
        now=time.time(),
    )
    latest = await store.latest_for_chat(1, 10)
    assert [a.title for a in latest] == ["Story 4", "Story 2", "Story 1"]


async def test_tag_names_like_finds_close_tags(store: Store) -> None:
    await store.add_articles(
        [make_article(1, ["Japan", "Jamaica", "Kuril Islands", "Russia"])], notify=False, now=0.0
    )
    names = {t.name for t in await store.tag_names_like("japn", 10)}
    assert {"Japan", "Jamaica"} <= names
    assert "Kuril Islands" in {t.name for t in await store.tag_names_like("kuril", 10)}
    assert "Russia" not in names


async def test_popular_tags_by_recent_stories_then_followers(store: Store) -> None:
    await add_chat(store, 1, "Russia")
    await store.add_articles(
        [make_article(1, ["Japan", "Russia"]), make_article(2, ["Japan"])], notify=False, now=0.0
    )
    popular = await store.popular_tags(10, since=0.0)
    assert [(p.tag.name, p.recent_stories) for p in popular] == [("Japan", 2), ("Russia", 1)]


async def test_claim_skips_claimed_and_excluded_chats(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await store.add_articles(
        [make_article(n, ["Japan"]) for n in range(2)], notify=True, now=time.time()
    )
    now = time.time()
    first = await store.claim_due(now, 1, 60)
    rest = await store.claim_due(now, 10, 60, exclude_chats=[2])
    assert len(first) == 1
    assert {d.id for d in rest}.isdisjoint({d.id for d in first})
    assert all(d.chat_id == 1 for d in rest)
    assert await store.release_claims() == 1 + len(rest)


async def test_update_deliveries_marks_sent_and_keeps_errors(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.add_articles(
        [make_article(n, ["Japan"]) for n in range(2)], notify=True, now=time.time()
    )
    a, b = await store.claim_due(time.time(), 10, 60)
    now = time.time()
    await store.update_deliveries(
        [
            DeliveryUpdate(a.id, DeliveryStatus.SENT, 1, a.due_at, None, now),
            DeliveryUpdate(b.id, DeliveryStatus.FAILED, 10, b.due_at, "Bad Request: x", now),
        ]
    )
    stats = await store.stats()
    assert (stats.deliveries_sent, stats.deliveries_failed, stats.deliveries_pending) == (1, 1, 0)
    assert stats.last_delivery_delay is not None
    assert await store.prune_deliveries(now + 1) == 2


async def test_migrate_chat_moves_subscriptions_and_pending(store: Store) -> None:
    await add_chat(store, -1, "Japan", chat_type="group")
    await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    await store.migrate_chat(-1, -1001)
    assert await store.get_chat(-1) is None
    assert [t.name for t in await store.followed_tags(-1001)] == ["Japan"]
    claimed = await store.claim_due(time.time(), 10, 60)
    assert [d.chat_id for d in claimed] == [-1001]
    assert claimed[0].chat_type == "supergroup"


async def test_migrate_chat_merges_into_an_existing_chat(store: Store) -> None:
    await add_chat(store, -1, "Japan", "Russia", chat_type="group")
    await add_chat(store, -1001, "Japan", chat_type="supergroup")
    await store.migrate_chat(-1, -1001)
    assert [t.name for t in await store.followed_tags(-1001)] == ["Japan", "Russia"]
    japan = (await store.find_tags(["japan"]))["japan"]
    assert japan.follower_count == 1


async def test_fan_out_to_many_chats_is_one_statement(store: Store) -> None:
    for chat_id in range(1, 501):
        await add_chat(store, chat_id, "Japan")
    results = await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    assert results[0].recipients == 500
    assert (await store.stats()).deliveries_pending == 500


async def test_chat_settings_round_trip_with_muted_words(store: Store) -> None:
    await add_chat(store, 1)
    settings = ChatSettings(
        language="ru",
        link_previews=False,
        mode=DeliveryMode.DAILY,
        digest_hour=7,
        timezone="Europe/Moscow",
        quiet_start=60,
        quiet_end=300,
        combine_bursts=True,
    )
    await store.save_chat_settings(1, settings)
    assert await store.mute(1, ["putin", "osaka", "putin"], 50, 0.0) == ["putin", "osaka"]
    prefs = (await store.chat_prefs([1, 2]))[1]
    assert prefs.settings == settings
    assert prefs.muted == ("osaka", "putin")
    assert await store.unmute(1, ["putin", "nothing"]) == ["putin"]


async def test_chat_prefs_tell_who_the_chat_is(store: Store) -> None:
    await store.register_chat(-100, "supergroup", "Readers <3", "readers")
    await store.register_chat(2, "private", None)
    await store.deactivate_chat(2, "Forbidden: bot was blocked by the user", 0.0)
    prefs = await store.chat_prefs([-100, 2, 3])
    group, blocked = prefs[-100], prefs[2]
    assert (group.type, group.title, group.username, group.active) == (
        "supergroup",
        "Readers <3",
        "readers",
        True,
    )
    assert (group.muted, blocked.active) == ((), False)
    assert 3 not in prefs


async def test_mute_stops_at_the_limit(store: Store) -> None:
    await add_chat(store, 1)
    assert await store.mute(1, ["a1", "a2", "a3"], 2, 0.0) == ["a1", "a2"]


async def test_new_chat_takes_the_language_it_was_registered_with(store: Store) -> None:
    await store.register_chat(1, "private", None, language="ru")
    await store.register_chat(1, "private", None, language="en")
    assert (await store.chat_prefs([1]))[1].settings.language == "ru"


async def test_forum_topics_follow_separately(store: Store) -> None:
    await store.register_chat(-100, "supergroup", "Forum")
    await store.follow(-100, pairs("Japan"), 100, 0.0, thread_id=5)
    await store.follow(-100, pairs("Russia"), 100, 0.0, thread_id=9)
    assert [t.name for t in await store.followed_tags(-100, 5)] == ["Japan"]
    assert [t.name for t in await store.followed_tags(-100)] == []
    await store.add_articles([make_article(1, ["Japan", "Russia"])], notify=True, now=time.time())
    claimed = await store.claim_due(time.time(), 10, 60)
    assert sorted((d.chat_id, d.thread_id) for d in claimed) == [(-100, 5), (-100, 9)]


async def test_new_settings_put_held_stories_back_in_line(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    (delivery,) = await store.claim_due(time.time(), 10, 60)
    later = time.time() + 3600
    await store.update_deliveries(
        [DeliveryUpdate(delivery.id, DeliveryStatus.PENDING, 0, later, held=True)]
    )
    assert await store.claim_due(time.time(), 10, 60) == []
    await store.save_chat_settings(1, ChatSettings())
    (again,) = await store.claim_due(time.time(), 10, 60)
    assert (again.id, again.held) == (delivery.id, False)


async def test_channels_lists_active_channels(store: Store) -> None:
    await store.register_chat(-1001, "channel", "Japan Daily", username="japandaily")
    await store.register_chat(-1002, "channel", "Gone")
    await store.deactivate_chat(-1002, "kicked", 0.0)
    await store.register_chat(5, "private", None)
    assert [(c.id, c.username) for c in await store.channels()] == [(-1001, "japandaily")]


async def test_two_processes_claiming_at_once_never_share_a_delivery(
    database: DatabaseTarget,
) -> None:
    first, second = await open_store(database), await open_store(database)
    try:
        for chat_id in range(1, 11):
            await add_chat(first, chat_id, "Japan")
        await first.add_articles(
            [make_article(n, ["Japan"]) for n in range(5)], notify=True, now=time.time()
        )
        now = time.time()
        a, b = await asyncio.gather(first.claim_due(now, 30, 60), second.claim_due(now, 30, 60))
        assert {d.id for d in a}.isdisjoint({d.id for d in b})
        assert len(a) + len(b) == 50
    finally:
        await first.close()
        await second.close()


async def test_two_processes_ingesting_at_once_count_every_story(
    database: DatabaseTarget,
) -> None:
    first, second = await open_store(database), await open_store(database)
    try:
        await add_chat(first, 1, "Japan", "Russia")
        batches = [
            [make_article(n, ["Japan", "Russia"] if n % 2 else ["Russia", "Japan"])]
            for n in range(40)
        ]
        results = await asyncio.gather(
            *(
                (first if n % 2 else second).add_articles(batch, notify=True, now=time.time())
                for n, batch in enumerate(batches)
            )
        )
        assert all(r[0].status is IngestStatus.CREATED for r in results)
        tags = await first.find_tags(["japan", "russia"])
        assert (tags["japan"].story_count, tags["russia"].story_count) == (40, 40)
        assert (await first.stats()).deliveries_pending == 40
        # The same URLs again, from both at once: duplicates, nothing queued.
        again = await asyncio.gather(
            first.add_articles(batches[0], notify=True, now=time.time()),
            second.add_articles(batches[0], notify=True, now=time.time()),
        )
        assert [r[0].status for r in again] == [IngestStatus.DUPLICATE] * 2
    finally:
        await first.close()
        await second.close()


async def test_references_hold_as_in_sqlite(database: DatabaseTarget) -> None:
    # PostgreSQL keeps the references of article_tags and deliveries with triggers rather than
    # foreign keys (storage/postgres_migrations.py): deleting by hand behaves the same.
    store = await open_store(database)
    try:
        await add_chat(store, 1, "Japan")
        await add_chat(store, 2, "Japan")
        _, second = await store.add_articles(
            [make_article(1, ["Japan"]), make_article(2, ["Japan"])], notify=True, now=0.0
        )
    finally:
        await store.close()
    await execute(database, "DELETE FROM articles WHERE url = 'https://news.example.com/story/1'")
    await execute(database, "DELETE FROM chats WHERE id = 2")
    assert await fetch(database, "SELECT COUNT(*) FROM article_tags") == [(1,)]
    assert await fetch(database, "SELECT article_id, chat_id FROM deliveries") == [
        (second.article_id, 1)
    ]
    with pytest.raises(Exception, match=r"(?i)foreign key|has stories"):
        await execute(database, "DELETE FROM tags WHERE key = 'japan'")
