"""Scheduled stories and the report per story, at the storage layer, on both backends: a held
story is in no list, search, count or outbox; its release is one transaction, once, however
many release at the same time; the report counts what became of each delivery."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from storage import open_store
from storage.base import Store
from storage.models import (
    SKIPPED_MUTED,
    DeliveryStatus,
    DeliveryUpdate,
    IngestStatus,
    NewArticle,
)
from storage.url import DatabaseTarget
from tests.conftest import BASE_TIME, add_chat, make_article

NOW = BASE_TIME.timestamp() + 3600
DUE = NOW + 600


def scheduled(number: int, *tags: str, at: float = DUE) -> NewArticle:
    """Story `number`, held until `at` (Unix seconds)."""
    article = make_article(number, list(tags or ("Japan",)), title=f"Scheduled {number} Kuril")
    due = BASE_TIME + timedelta(seconds=at - BASE_TIME.timestamp())
    return replace(article, published_at=due, publish_at=due)


async def visible_anywhere(store: Store, article_id: int, chat_id: int) -> list[str]:
    """Where a reader (or the API) could see the story: the places it must not be while held."""
    places = []
    japan = (await store.find_tags(["japan"])).get("japan")
    if japan is not None:
        if any(a.id == article_id for a in await store.latest_articles(japan.id, 20)):
            places.append("latest")
        if japan.story_count:
            places.append("tag count")
    if any(a.id == article_id for a in await store.latest_for_chat(chat_id, 20)):
        places.append("latest for chat")
    if any(a.id == article_id for a in await store.search("Kuril", 20)):
        places.append("search")
    if any(t.tag.key == "japan" and t.recent_stories for t in await store.popular_tags(10, 0.0)):
        places.append("popular tags")
    if any(t.key == "japan" and t.story_count for t in await store.list_tags(10)):
        places.append("tag list")
    if (await store.outbox_figures()).pending:
        places.append("outbox")
    return places


async def test_a_scheduled_story_is_held_out_of_every_list_until_released(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    [result] = await store.add_articles([scheduled(1)], notify=True, now=NOW)
    assert (result.status, result.recipients, result.publish_at) == (
        IngestStatus.CREATED,
        0,
        DUE,
    )
    assert await visible_anywhere(store, result.article_id, 1) == []
    assert await store.next_publish_at() == DUE
    [listed] = await store.scheduled_stories(10)
    assert (listed.article.url, listed.article.tags, listed.publish_at, listed.held) == (
        "https://news.example.com/story/1",
        ("Japan",),
        DUE,
        True,
    )
    # Its URL is known: a second push is a duplicate, still held.
    [again] = await store.add_articles([scheduled(1)], notify=True, now=NOW)
    assert again.status is IngestStatus.DUPLICATE

    assert await store.release_due(DUE - 1, 10) == []
    [released] = await store.release_due(DUE, 10)
    assert (released.article_id, released.recipients) == (result.article_id, 1)
    assert sorted(await visible_anywhere(store, result.article_id, 1)) == sorted(
        [
            "latest",
            "tag count",
            "latest for chat",
            "search",
            "popular tags",
            "tag list",
            "outbox",
        ]
    )
    [delivery] = await store.claim_due(DUE, 10, 60.0)
    assert (delivery.article_id, delivery.chat_id, delivery.due_at) == (result.article_id, 1, DUE)
    assert await store.release_due(DUE + 10, 10) == []
    assert await store.next_publish_at() is None
    assert await store.scheduled_stories(10) == []
    schedule = await store.get_schedule(result.article_id)
    assert schedule is not None
    assert (schedule.released_at, schedule.held) == (DUE, False)


async def test_a_batch_mixing_scheduled_and_ordinary_stories_keeps_ids_in_order(
    store: Store,
) -> None:
    await add_chat(store, 1, "Japan")
    stories = [make_article(1, ["Japan"]), scheduled(2), make_article(3, ["Japan"])]
    results = await store.add_articles(stories, notify=True, now=NOW)
    assert [r.article_id for r in results] == sorted(r.article_id for r in results)
    assert [r.recipients for r in results] == [1, 0, 1]
    assert [r.publish_at for r in results] == [None, DUE, None]
    japan = (await store.find_tags(["japan"]))["japan"]
    assert japan.story_count == 2
    assert [a.url for a in await store.latest_articles(japan.id, 10)] == [
        stories[2].url,
        stories[0].url,
    ]


async def test_stories_due_are_released_soonest_first_in_batches(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    await store.add_articles(
        [scheduled(n, at=DUE + 10 - n) for n in range(1, 6)], notify=True, now=NOW
    )
    first = await store.release_due(DUE + 10, 2)
    second = await store.release_due(DUE + 10, 10)
    assert [s.url.rsplit("/", 1)[1] for s in first + second] == ["5", "4", "3", "2", "1"]
    assert (await store.outbox_figures()).pending == 5


async def test_released_once_however_many_release_at_the_same_time(
    database: DatabaseTarget,
) -> None:
    stores = [await open_store(database) for _ in range(3)]
    try:
        for chat_id in range(1, 21):
            await add_chat(stores[0], chat_id, "Japan")
        await stores[0].add_articles(
            [scheduled(n, at=DUE) for n in range(1, 11)], notify=True, now=NOW
        )
        rounds = await asyncio.gather(
            *(store.release_due(DUE, 3) for store in stores for _ in range(4))
        )
        released = [story.article_id for stories in rounds for story in stories]
        assert sorted(released) == sorted(set(released))
        assert len(released) == 10
        assert sum(story.recipients for stories in rounds for story in stories) == 200
        assert (await stores[0].outbox_figures()).pending == 200
        japan = (await stores[0].find_tags(["japan"]))["japan"]
        assert japan.story_count == 10
    finally:
        for store in stores:
            await store.close()


async def test_a_cancelled_story_never_goes_out_and_its_url_stays_known(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    [held] = await store.add_articles([scheduled(1)], notify=True, now=NOW)
    [ordinary] = await store.add_articles([make_article(2, ["Russia"])], notify=True, now=NOW)
    cancelled = await store.cancel_scheduled(held_url := "https://news.example.com/story/1", NOW)
    assert cancelled is not None
    assert (cancelled.cancelled_at, cancelled.held) == (NOW, False)
    assert await store.scheduled_stories(10) == []
    assert await store.next_publish_at() is None
    assert await store.release_due(DUE + 100, 10) == []
    assert await visible_anywhere(store, held.article_id, 1) == []
    [again] = await store.add_articles([scheduled(1)], notify=True, now=NOW)
    assert (again.status, again.article_id) == (IngestStatus.DUPLICATE, held.article_id)
    # Cancelling again, or a story that was never scheduled, or an unknown URL.
    twice = await store.cancel_scheduled(held_url, NOW + 5)
    assert twice is not None
    assert twice.cancelled_at == NOW
    assert await store.cancel_scheduled(ordinary.url, NOW) is None
    assert await store.cancel_scheduled("https://news.example.com/nowhere", NOW) is None


async def test_a_released_story_cannot_be_cancelled(store: Store) -> None:
    await store.add_articles([scheduled(1)], notify=True, now=NOW)
    await store.release_due(DUE, 10)
    after = await store.cancel_scheduled("https://news.example.com/story/1", DUE + 1)
    assert after is not None
    assert (after.released_at, after.cancelled_at) == (DUE, None)


async def test_a_story_scheduled_without_notifying_is_listed_but_queued_for_nobody(
    store: Store,
) -> None:
    await add_chat(store, 1, "Japan")
    [held] = await store.add_articles([scheduled(1)], notify=False, now=NOW)
    [released] = await store.release_due(DUE, 10)
    assert released.recipients == 0
    assert (await store.outbox_figures()).pending == 0
    japan = (await store.find_tags(["japan"]))["japan"]
    assert [a.id for a in await store.latest_articles(japan.id, 5)] == [held.article_id]


async def test_the_report_counts_each_outcome_and_the_times_to_half_and_all(
    store: Store,
) -> None:
    # Ten chats: 5 sent (at +1..+5 s), 1 skipped for a muted word, 2 failed for one reason and
    # 1 for another, and 1 pending, held for its quiet hours, whose chat then goes away.
    for chat_id in range(1, 11):
        await add_chat(store, chat_id, "Japan")
    [result] = await store.add_articles([make_article(1, ["Japan"])], notify=True, now=NOW)
    claimed = {d.chat_id: d for d in await store.claim_due(NOW, 100, 60.0)}
    assert len(claimed) == 10

    def outcome(
        chat_id: int, status: DeliveryStatus, error: str | None = None, at: float | None = NOW
    ) -> DeliveryUpdate:
        delivery = claimed[chat_id]
        return DeliveryUpdate(
            delivery.id, status, attempts=1, due_at=NOW, error=error, finished_at=at
        )

    updates = [outcome(chat_id, DeliveryStatus.SENT, at=NOW + chat_id) for chat_id in range(1, 6)]
    updates += [
        outcome(6, DeliveryStatus.SKIPPED, SKIPPED_MUTED),
        outcome(7, DeliveryStatus.FAILED, "Bad Request: chat not found"),
        outcome(8, DeliveryStatus.FAILED, "Bad Request: chat not found"),
        outcome(9, DeliveryStatus.FAILED, "Bad Request: too long"),
        DeliveryUpdate(
            claimed[10].id, DeliveryStatus.PENDING, attempts=0, due_at=NOW + 3600, held=True
        ),
    ]
    await store.update_deliveries(updates)
    report = await store.story_report(result.article_id)
    assert report is not None
    assert report.article.url == "https://news.example.com/story/1"
    assert report.schedule is None
    assert (report.chats, report.sent, report.pending, report.held) == (10, 5, 1, 1)
    assert (report.skipped_muted, report.skipped_inactive, report.failed) == (1, 0, 3)
    assert report.failures == (("Bad Request: chat not found", 2), ("Bad Request: too long", 1))
    assert (report.queued_at, report.first_sent_at, report.last_sent_at) == (
        NOW,
        NOW + 1,
        NOW + 5,
    )
    # Half of ten is five: the fifth send.
    assert report.half_after == 5.0
    assert report.all_after is None

    await store.deactivate_chat(10, "Forbidden: bot was blocked by the user", NOW + 9)
    report = await store.story_report(result.article_id)
    assert report is not None
    assert (report.pending, report.skipped_inactive) == (0, 1)


async def test_the_report_of_a_story_sent_to_everyone_has_its_time_to_all(store: Store) -> None:
    for chat_id in (1, 2, 3):
        await add_chat(store, chat_id, "Japan")
    [result] = await store.add_articles([make_article(1, ["Japan"])], notify=True, now=NOW)
    await store.update_deliveries(
        [
            DeliveryUpdate(
                id=d.id,
                status=DeliveryStatus.SENT,
                attempts=1,
                due_at=d.due_at,
                finished_at=NOW + 0.5 * d.chat_id,
            )
            for d in await store.claim_due(NOW, 10, 60.0)
        ]
    )
    report = await store.story_report(result.article_id)
    assert report is not None
    assert (report.half_after, report.all_after) == (1.0, 1.5)


async def test_the_report_of_a_held_story_says_when_and_counts_nothing(store: Store) -> None:
    await add_chat(store, 1, "Japan")
    [held] = await store.add_articles(
        [scheduled(1, "Japan", "Kuril Islands")], notify=True, now=NOW
    )
    report = await store.story_report(held.article_id)
    assert report is not None
    assert report.schedule is not None
    assert (report.schedule.held, report.schedule.publish_at) == (True, DUE)
    assert report.article.tags == ("Japan", "Kuril Islands")
    assert (report.chats, report.sent, report.queued_at, report.half_after) == (0, 0, None, None)
    assert await store.article_id_for_url(held.url) == held.article_id
    assert await store.article_id_for_url("https://news.example.com/nowhere") is None
    assert await store.story_report(held.article_id + 100) is None
