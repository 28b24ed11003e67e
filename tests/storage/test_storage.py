from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from bot.tags import parse_tag
from storage.migrations import MIGRATIONS
from storage.models import (
    ChatSettings,
    DeliveryMode,
    DeliveryStatus,
    DeliveryUpdate,
    FollowOutcome,
    IngestStatus,
)
from storage.sqlite import SqliteStore
from tests.conftest import add_chat, make_article


def pairs(*names: str) -> list[tuple[str, str]]:
    return [(t.name, t.key) for t in (parse_tag(name) for name in names)]


async def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    first = await SqliteStore.open(path)
    await first.close()
    second = await SqliteStore.open(path)
    await second.close()
    with sqlite3.connect(path) as db:
        names = [row[0] for row in db.execute("SELECT name FROM migrations ORDER BY name")]
        journal = db.execute("PRAGMA journal_mode").fetchone()[0]
    assert names == [migration.name for migration in MIGRATIONS]
    assert journal == "wal"


async def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    await (await SqliteStore.open(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO migrations VALUES ('9999_future', 0)")
    with pytest.raises(Exception, match="newer tagwire"):
        await SqliteStore.open(path)


async def test_find_tags_not_found(store: SqliteStore) -> None:
    assert await store.find_tags(["japan"]) == {}


async def test_follow_creates_tag_and_counts_followers(store: SqliteStore) -> None:
    await add_chat(store, 1)
    results = await store.follow(1, pairs("Japan", "Russia"), 100, 0.0)
    assert [r.outcome for r in results] == [FollowOutcome.FOLLOWED] * 2
    again = await store.follow(1, pairs("japan"), 100, 0.0)
    assert again[0].outcome is FollowOutcome.ALREADY
    tags = await store.find_tags(["japan"])
    assert tags["japan"].follower_count == 1
    assert [t.name for t in await store.followed_tags(1)] == ["Japan", "Russia"]


async def test_follow_stops_at_the_limit(store: SqliteStore) -> None:
    await add_chat(store, 1)
    results = await store.follow(1, pairs("a1", "a2", "a3"), 2, 0.0)
    assert [r.outcome for r in results] == [
        FollowOutcome.FOLLOWED,
        FollowOutcome.FOLLOWED,
        FollowOutcome.LIMIT,
    ]
    assert len(await store.followed_tags(1)) == 2


async def test_tag_followed_before_any_story_takes_the_story_spelling(store: SqliteStore) -> None:
    await add_chat(store, 1, "KURIL islands")
    await store.add_articles([make_article(1, ["Kuril Islands"])], notify=True, now=time.time())
    assert (await store.find_tags(["kuril islands"]))["kuril islands"].name == "Kuril Islands"


async def test_unfollow_returns_what_was_followed(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan", "Russia")
    japan = (await store.find_tags(["japan"]))["japan"]
    assert [t.name for t in await store.unfollow(1, [japan.id])] == ["Japan"]
    assert await store.unfollow(1, [japan.id]) == []
    assert (await store.find_tags(["japan"]))["japan"].follower_count == 0
    assert await store.unfollow_all(1) == 1


async def test_story_goes_once_to_a_chat_following_two_of_its_tags(store: SqliteStore) -> None:
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


async def test_only_chats_following_before_the_story_get_it(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    await add_chat(store, 2, "Japan")
    claimed = await store.claim_due(time.time(), 10, 60)
    assert [d.chat_id for d in claimed] == [1]


async def test_inactive_chats_get_no_deliveries(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await store.deactivate_chat(1, "blocked", time.time())
    results = await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    assert results[0].recipients == 0
    assert [t.name for t in await store.followed_tags(1)] == ["Japan"]


async def test_deactivating_skips_pending_deliveries(store: SqliteStore) -> None:
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


async def test_latest_articles_newest_first(store: SqliteStore) -> None:
    await store.add_articles(
        [make_article(n, ["Japan"], minutes=m) for n, m in [(1, 5), (2, 50), (3, 20)]],
        notify=False,
        now=time.time(),
    )
    japan = (await store.find_tags(["japan"]))["japan"]
    latest = await store.latest_articles(japan.id, 2)
    assert [a.title for a in latest] == ["Story 2", "Story 3"]
    assert latest[0].tags == ("Japan",)


async def test_listed_stories_keep_their_tags_in_the_order_pushed(store: SqliteStore) -> None:
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


async def test_latest_for_chat_merges_tags_without_repeats(store: SqliteStore) -> None:
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


async def test_tag_names_like_finds_close_tags(store: SqliteStore) -> None:
    await store.add_articles(
        [make_article(1, ["Japan", "Jamaica", "Kuril Islands", "Russia"])], notify=False, now=0.0
    )
    names = {t.name for t in await store.tag_names_like("japn", 10)}
    assert {"Japan", "Jamaica"} <= names
    assert "Kuril Islands" in {t.name for t in await store.tag_names_like("kuril", 10)}
    assert "Russia" not in names


async def test_popular_tags_by_recent_stories_then_followers(store: SqliteStore) -> None:
    await add_chat(store, 1, "Russia")
    await store.add_articles(
        [make_article(1, ["Japan", "Russia"]), make_article(2, ["Japan"])], notify=False, now=0.0
    )
    popular = await store.popular_tags(10, since=0.0)
    assert [(p.tag.name, p.recent_stories) for p in popular] == [("Japan", 2), ("Russia", 1)]


async def test_claim_skips_claimed_and_excluded_chats(store: SqliteStore) -> None:
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


async def test_update_deliveries_marks_sent_and_keeps_errors(store: SqliteStore) -> None:
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


async def test_migrate_chat_moves_subscriptions_and_pending(store: SqliteStore) -> None:
    await add_chat(store, -1, "Japan", chat_type="group")
    await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    await store.migrate_chat(-1, -1001)
    assert await store.get_chat(-1) is None
    assert [t.name for t in await store.followed_tags(-1001)] == ["Japan"]
    claimed = await store.claim_due(time.time(), 10, 60)
    assert [d.chat_id for d in claimed] == [-1001]
    assert claimed[0].chat_type == "supergroup"


async def test_migrate_chat_merges_into_an_existing_chat(store: SqliteStore) -> None:
    await add_chat(store, -1, "Japan", "Russia", chat_type="group")
    await add_chat(store, -1001, "Japan", chat_type="supergroup")
    await store.migrate_chat(-1, -1001)
    assert [t.name for t in await store.followed_tags(-1001)] == ["Japan", "Russia"]
    japan = (await store.find_tags(["japan"]))["japan"]
    assert japan.follower_count == 1


async def test_fan_out_to_many_chats_is_one_statement(store: SqliteStore) -> None:
    for chat_id in range(1, 501):
        await add_chat(store, chat_id, "Japan")
    results = await store.add_articles([make_article(1, ["Japan"])], notify=True, now=time.time())
    assert results[0].recipients == 500
    assert (await store.stats()).deliveries_pending == 500


async def test_chat_settings_round_trip_with_muted_words(store: SqliteStore) -> None:
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


async def test_chat_prefs_tell_who_the_chat_is(store: SqliteStore) -> None:
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


async def test_mute_stops_at_the_limit(store: SqliteStore) -> None:
    await add_chat(store, 1)
    assert await store.mute(1, ["a1", "a2", "a3"], 2, 0.0) == ["a1", "a2"]


async def test_new_chat_takes_the_language_it_was_registered_with(store: SqliteStore) -> None:
    await store.register_chat(1, "private", None, language="ru")
    await store.register_chat(1, "private", None, language="en")
    assert (await store.chat_prefs([1]))[1].settings.language == "ru"


async def test_forum_topics_follow_separately(store: SqliteStore) -> None:
    await store.register_chat(-100, "supergroup", "Forum")
    await store.follow(-100, pairs("Japan"), 100, 0.0, thread_id=5)
    await store.follow(-100, pairs("Russia"), 100, 0.0, thread_id=9)
    assert [t.name for t in await store.followed_tags(-100, 5)] == ["Japan"]
    assert [t.name for t in await store.followed_tags(-100)] == []
    await store.add_articles([make_article(1, ["Japan", "Russia"])], notify=True, now=time.time())
    claimed = await store.claim_due(time.time(), 10, 60)
    assert sorted((d.chat_id, d.thread_id) for d in claimed) == [(-100, 5), (-100, 9)]


async def test_new_settings_put_held_stories_back_in_line(store: SqliteStore) -> None:
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


async def test_channels_lists_active_channels(store: SqliteStore) -> None:
    await store.register_chat(-1001, "channel", "Japan Daily", username="japandaily")
    await store.register_chat(-1002, "channel", "Gone")
    await store.deactivate_chat(-1002, "kicked", 0.0)
    await store.register_chat(5, "private", None)
    assert [(c.id, c.username) for c in await store.channels()] == [(-1001, "japandaily")]
