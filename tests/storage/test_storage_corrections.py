"""Corrections and retractions at the storage layer, on both backends: a correction stores the
new version and queues one edit per teaser delivered (or claimed, perhaps in flight), an edit
renewed by a newer correction stays pending, and a retraction cancels what is not claimed,
takes the story out of every list and queues the deletions."""

from __future__ import annotations

from storage.base import Store
from storage.models import (
    EDITED,
    SKIPPED_RETRACTED,
    DeliveryStatus,
    DeliveryUpdate,
    EditAction,
    EditResult,
    EditStatus,
    StoryChanges,
)
from tests.conftest import BASE_TIME, add_chat, make_article

NOW = BASE_TIME.timestamp() + 3600


async def story_with_three_chats(store: Store) -> tuple[int, list[int]]:
    """A story for chats 1, 2 and 3: sent to 1 (message 11), failed for 2, claimed for 3."""
    for chat in (1, 2, 3):
        await add_chat(store, chat, "Japan")
    [result] = await store.add_articles(
        [make_article(1, ["Japan"], title="Kuril talks")], notify=True, now=NOW
    )
    claimed = sorted(await store.claim_due(NOW, 10, 600), key=lambda d: d.chat_id)
    assert [d.chat_id for d in claimed] == [1, 2, 3]
    await store.update_deliveries(
        [
            DeliveryUpdate(
                claimed[0].id, DeliveryStatus.SENT, 1, NOW, finished_at=NOW, message_id=11
            ),
            DeliveryUpdate(claimed[1].id, DeliveryStatus.FAILED, 1, NOW, "400", finished_at=NOW),
        ]
    )
    return result.article_id, [d.id for d in claimed]


async def test_a_correction_edits_the_teasers_out_and_changes_the_lists(store: Store) -> None:
    article_id, deliveries = await story_with_three_chats(store)
    changes = StoryChanges(title="Kuril talks resume", tags=(("Economy", "economy"),))
    correction = await store.correct_story(article_id, changes, NOW + 1)
    assert correction is not None
    assert correction.changed
    # Chat 1's sent teaser, and chat 3's claimed one (it may be in flight).
    assert correction.edits_queued == 2
    assert correction.article.title == "Kuril talks resume"
    assert correction.article.tags == ("Economy",)
    tags = await store.find_tags(["japan", "economy"])
    assert tags["japan"].story_count == 0
    assert tags["economy"].story_count == 1
    assert [a.id for a in await store.latest_articles(tags["economy"].id, 5)] == [article_id]
    assert [a.title for a in await store.search("resume", 5)] == ["Kuril talks resume"]
    # Only the sent one can be edited; the claimed one waits for its outcome.
    [job] = await store.claim_edits(NOW + 2, 10, 60)
    assert (job.chat_id, job.message_id, job.action, job.shared) == (1, 11, EditAction.EDIT, False)
    await store.update_deliveries(
        [DeliveryUpdate(deliveries[2], DeliveryStatus.SENT, 1, NOW, finished_at=NOW, message_id=33)]
    )
    [third] = await store.claim_edits(NOW + 2, 10, 60)
    assert (third.chat_id, third.message_id) == (3, 33)
    # A newer correction while the first edit is in flight: its outcome leaves it pending.
    again = await store.correct_story(article_id, StoryChanges(teaser="New."), NOW + 3)
    assert again is not None
    assert again.edits_queued == 2
    await store.finish_edits(
        [EditResult(job.id, job.revision, EditStatus.DONE, EDITED, 1, NOW + 4, NOW + 4)]
    )
    await store.finish_edits(
        [EditResult(third.id, third.revision + 1, EditStatus.DONE, EDITED, 1, NOW + 4, NOW + 4)]
    )
    figures = await store.story_edits(article_id)
    assert figures is not None
    assert (figures.corrections, figures.edited, figures.edits_pending) == (2, 1, 1)
    [renewed] = await store.claim_edits(NOW + 5, 10, 60)
    assert renewed.id == job.id
    assert renewed.revision == job.revision + 1
    # The same fields again change nothing.
    same = await store.correct_story(article_id, StoryChanges(teaser="New."), NOW + 6)
    assert same is not None
    assert not same.changed
    assert same.edits_queued == 0


async def test_a_claim_released_after_a_crash_is_claimed_again(store: Store) -> None:
    article_id, _ = await story_with_three_chats(store)
    await store.correct_story(article_id, StoryChanges(title="Fixed"), NOW + 1)
    assert len(await store.claim_edits(NOW + 2, 10, 600)) == 1
    assert await store.claim_edits(NOW + 3, 10, 600) == []
    assert await store.release_edit_claims() == 1
    assert len(await store.claim_edits(NOW + 4, 10, 600)) == 1


async def test_a_retraction_cancels_what_is_not_claimed_and_hides_the_story(
    store: Store,
) -> None:
    article_id, _ = await story_with_three_chats(store)
    await store.add_articles(
        [make_article(2, ["Japan"], title="Other Kuril")], notify=False, now=NOW
    )
    retraction = await store.retract_story(article_id, NOW + 1)
    assert retraction is not None
    assert not retraction.already
    assert (retraction.cancelled, retraction.deletes_queued) == (0, 2)
    japan = (await store.find_tags(["japan"]))["japan"]
    assert japan.story_count == 1
    assert article_id not in [a.id for a in await store.latest_articles(japan.id, 5)]
    assert article_id not in [a.id for a in await store.latest_for_chat(1, 5)]
    assert [a.title for a in await store.search("Kuril", 5)] == ["Other Kuril"]
    assert await store.retracted_among([article_id, 999]) == {article_id}
    assert await store.retracted_since(NOW) == [article_id]
    assert await store.retracted_at(article_id) == NOW + 1
    again = await store.retract_story(article_id, NOW + 2)
    assert again is not None
    assert again.already
    refused = await store.correct_story(article_id, StoryChanges(title="Back"), NOW + 3)
    assert refused is not None
    assert refused.retracted
    assert not refused.changed
    [job] = await store.claim_edits(NOW + 3, 10, 60)
    assert (job.chat_id, job.action) == (1, EditAction.DELETE)


async def test_a_retraction_cancels_the_pending_deliveries_nobody_claimed(store: Store) -> None:
    for chat in (1, 2):
        await add_chat(store, chat, "Japan")
    [result] = await store.add_articles([make_article(1, ["Japan"])], notify=True, now=NOW)
    retraction = await store.retract_story(result.article_id, NOW + 1)
    assert retraction is not None
    assert (retraction.cancelled, retraction.deletes_queued) == (2, 0)
    assert await store.claim_due(NOW + 2, 10, 60) == []
    report = await store.story_report(result.article_id)
    assert report is not None
    assert report.edits is not None
    assert (report.edits.cancelled, report.skipped_inactive, report.pending) == (2, 0, 0)
    assert report.edits.retracted_at == NOW + 1
    [reason] = [row for row in report.failures] or [None]
    assert reason is None, f"cancelled ones are not failures ({SKIPPED_RETRACTED})"
