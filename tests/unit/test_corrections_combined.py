"""Corrections and retractions of stories that went out inside a combined message (a digest or
a burst), between the store and the edits worker, on both backends: the message is rendered
again from its stories' current versions and edited once for all the edits pending on it,
its heading as recorded when it was sent (or, sent by an older version, as it would be now)."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram.error import BadRequest

from bot.delivery.edits import EditConfig, EditWorker
from bot.delivery.engine import DeliveryEngine
from bot.texts.plain import MESSAGE_LIMIT, utf16_len
from storage.base import Store
from storage.models import DeliveryStatus, DeliveryUpdate, StoryChanges
from tests.conftest import BASE_TIME, add_chat, make_article
from tests.support.engine import FakeSender, fast_config, telegram_refusal, wait_until

NOW = BASE_TIME.timestamp() + 3600
CHAT = 1
MESSAGE = 11


@dataclass
class RecordingEditor:
    """Takes every edit and deletion, as Telegram would, and keeps them."""

    texts: list[tuple[int, int, str]] = field(default_factory=list)
    deleted: list[tuple[int, int]] = field(default_factory=list)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, preview: dict[str, object]
    ) -> None:
        self.texts.append((chat_id, message_id, text))

    async def edit_caption(self, chat_id: int, message_id: int, caption: str) -> None:
        raise AssertionError("a combined message is text")

    async def delete(self, chat_id: int, message_id: int) -> None:
        self.deleted.append((chat_id, message_id))


@dataclass
class AlreadyDeletedEditor(RecordingEditor):
    """Telegram after the message was deleted (by an earlier edit of the worker)."""

    async def delete(self, chat_id: int, message_id: int) -> None:
        self.deleted.append((chat_id, message_id))
        raise BadRequest("Message to delete not found")


async def combined_message(store: Store, *, kind: str | None) -> list[int]:
    """Three stories sent to CHAT in one message (MESSAGE), recorded as `kind` (None: as an
    older version recorded it, with its id alone)."""
    await add_chat(store, CHAT, "Japan")
    results = await store.add_articles(
        [make_article(n, ["Japan"], title=f"Story {n}") for n in (1, 2, 3)], notify=True, now=NOW
    )
    claimed = await store.claim_due(NOW, 10, 600)
    assert len(claimed) == 3
    await store.update_deliveries(
        [
            DeliveryUpdate(
                d.id,
                DeliveryStatus.SENT,
                1,
                d.due_at,
                finished_at=NOW,
                message_id=MESSAGE,
                digest_kind=kind,
                digest_language=None if kind is None else "en",
            )
            for d in claimed
        ]
    )
    return [result.article_id for result in results]


async def run_edits(
    store: Store, *, later: float = 60.0, editor: RecordingEditor | None = None
) -> RecordingEditor:
    """Run the edits worker, `later` seconds after the message was sent, until no edit is
    pending; what it asked of Telegram."""
    editor = editor or RecordingEditor()
    engine = DeliveryEngine(store, FakeSender(), fast_config())
    config = EditConfig(poll_interval=0.01)
    worker = EditWorker(store, editor, engine, engine.budget, config, clock=lambda: NOW + later)
    worker.start()

    async def none_pending() -> bool:
        message = await store.combined_message(CHAT, MESSAGE)
        return message is None or not message.edits

    try:
        await wait_until(none_pending, what="the edits done")
    finally:
        await worker.stop()
    return editor


async def test_two_corrections_in_one_digest_edit_it_once_with_both(store: Store) -> None:
    first, _, third = await combined_message(store, kind="daily")
    for article_id, title in ((first, "Story 1, corrected"), (third, "Story 3, corrected")):
        correction = await store.correct_story(article_id, StoryChanges(title=title), NOW + 1)
        assert correction is not None
        assert correction.edits_queued == 1
    editor = await run_edits(store)
    [(chat, message, text)] = editor.texts
    assert (chat, message) == (CHAT, MESSAGE)
    assert text.startswith("<b>Your daily digest: 3 stories</b>")
    assert "Story 1, corrected" in text
    assert "Story 2<" in text
    assert "Story 3, corrected" in text
    assert telegram_refusal(text) is None
    assert utf16_len(text) <= MESSAGE_LIMIT
    for article_id in (first, third):
        figures = await store.story_edits(article_id)
        assert figures is not None
        assert (figures.edited, figures.edits_pending, figures.skipped) == (1, 0, 0)
    assert editor.deleted == []


async def test_a_retraction_takes_its_line_out_and_the_last_one_deletes_it(store: Store) -> None:
    first, second, third = await combined_message(store, kind="burst")
    await store.retract_story(second, NOW + 1)
    editor = await run_edits(store)
    [(_, _, text)] = editor.texts
    assert text.startswith("<b>2 new stories</b>")
    assert "Story 2" not in text
    assert "Story 1" in text
    assert "Story 3" in text
    figures = await store.story_edits(second)
    assert figures is not None
    assert (figures.deleted, figures.noted, figures.skipped) == (1, 0, 0)
    await store.retract_story(first, NOW + 2)
    await store.retract_story(third, NOW + 2)
    editor = await run_edits(store)
    assert editor.texts == []
    assert editor.deleted == [(CHAT, MESSAGE)]
    for article_id in (first, third):
        figures = await store.story_edits(article_id)
        assert figures is not None
        assert (figures.deleted, figures.deletes_pending) == (1, 0)


async def test_the_last_retraction_finding_the_digest_already_deleted_counts_it_deleted(
    store: Store,
) -> None:
    # Its edit was queued just after the one that deleted the message had read the message's
    # pending edits: Telegram answers that the message is gone, which is what it was to do.
    ids = await combined_message(store, kind="daily")
    for article_id in ids:
        await store.retract_story(article_id, NOW + 1)
    editor = await run_edits(store, editor=AlreadyDeletedEditor())
    assert editor.deleted == [(CHAT, MESSAGE)]
    for article_id in ids:
        figures = await store.story_edits(article_id)
        assert figures is not None
        assert (figures.deleted, figures.failed, figures.deletes_pending) == (1, 0, 0)


async def test_a_digest_all_retracted_past_48_hours_becomes_the_withdrawn_note(
    store: Store,
) -> None:
    ids = await combined_message(store, kind="daily")
    for article_id in ids:
        await store.retract_story(article_id, NOW + 1)
    editor = await run_edits(store, later=49 * 3600)
    assert editor.deleted == []
    [(_, _, text)] = editor.texts
    assert "withdrawn" in text
    for article_id in ids:
        figures = await store.story_edits(article_id)
        assert figures is not None
        assert (figures.noted, figures.deleted, figures.deletes_pending) == (1, 0, 0)


async def test_a_digest_sent_before_its_kind_was_recorded_gets_the_heading_it_would_get_now(
    store: Store,
) -> None:
    first, _, _ = await combined_message(store, kind=None)
    message = await store.combined_message(CHAT, MESSAGE)
    assert message is not None
    assert (message.digest_kind, message.held, len(message.article_ids)) == (None, False, 3)
    await store.correct_story(first, StoryChanges(title="Story 1, corrected"), NOW + 1)
    editor = await run_edits(store)
    [(_, _, text)] = editor.texts
    assert text.startswith("<b>3 new stories</b>")
    assert "Story 1, corrected" in text
    figures = await store.story_edits(first)
    assert figures is not None
    assert figures.edited == 1


async def test_a_combined_message_is_read_back_in_the_order_it_was_sent(store: Store) -> None:
    ids = await combined_message(store, kind="hourly")
    await store.correct_story(ids[1], StoryChanges(title="Story 2, corrected"), NOW + 1)
    message = await store.combined_message(CHAT, MESSAGE)
    assert message is not None
    assert message.article_ids == tuple(ids)
    assert (message.digest_kind, message.digest_language, message.sent_at) == ("hourly", "en", NOW)
    assert [(edit.article_id, edit.action.value) for edit in message.edits] == [(ids[1], "edit")]
    assert await store.combined_message(CHAT, MESSAGE + 1) is None
    [job] = await store.claim_edits(NOW + 2, 10, 60)
    assert job.shared
