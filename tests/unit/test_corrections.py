"""Corrections and the delivery engine: a delivery still pending when its story is corrected
goes out with the new text (the engine reads its stories again at every claim), and one of a
retracted story does not go out at all. And the correction's fields, checked by the rules of
a pushed story."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.delivery.engine import DeliveryEngine
from bot.errors import InvalidArticle
from bot.intake.corrections import parse_changes
from storage.models import SKIPPED_RETRACTED, ChatSettings, DeliveryMode, StoryChanges
from storage.sqlite import SqliteStore
from tests.conftest import add_chat, make_article
from tests.storage.direct import read_row
from tests.support.engine import Claims, FakeSender, fast_config, nothing_pending, wait_until
from tests.support.harness import FakeClock

CONFIG = fast_config()


async def test_a_delivery_held_for_a_digest_goes_out_with_the_corrected_text(
    store: SqliteStore,
) -> None:
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await store.save_chat_settings(
        2, ChatSettings(mode=DeliveryMode.DAILY, digest_hour=9, timezone="UTC")
    )
    clock = FakeClock(datetime(2026, 12, 1, 8, 30, tzinfo=UTC).timestamp())
    [result] = await store.add_articles(
        [make_article(1, ["Japan"], title="Kuril talks")], notify=True, now=clock.now
    )
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, CONFIG, clock=clock)
    claims = Claims(store)
    engine.start()
    try:
        await wait_until(lambda: len(sender.sent) == 1, what="chat 1's teaser")
        await claims.looked_again()
        correction = await store.correct_story(
            result.article_id, StoryChanges(title="Kuril talks resume"), clock.now
        )
        assert correction is not None
        assert correction.edits_queued == 1
        clock.set(datetime(2026, 12, 1, 9, 0, 1, tzinfo=UTC))
        await wait_until(lambda: len(sender.sent) == 2, what="chat 2's digest")
        await wait_until(lambda: nothing_pending(store), what="every outcome written")
    finally:
        await engine.stop()
    assert "Kuril talks resume" not in sender.to(1)[0]
    assert "Kuril talks resume" in sender.to(2)[0]


async def test_a_withdrawn_story_held_by_the_engine_does_not_go_out(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await store.save_chat_settings(
        1, ChatSettings(mode=DeliveryMode.DAILY, digest_hour=9, timezone="UTC")
    )
    clock = FakeClock(datetime(2026, 12, 1, 8, 30, tzinfo=UTC).timestamp())
    [kept, withdrawn] = await store.add_articles(
        [make_article(1, ["Japan"]), make_article(2, ["Japan"])], notify=True, now=clock.now
    )
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, CONFIG, clock=clock)
    claims = Claims(store)
    engine.start()
    try:
        # Held for the digest; then retracted (the edit worker tells the engine so).
        await claims.looked_again()
        engine.withdraw(withdrawn.article_id)
        clock.set(datetime(2026, 12, 1, 9, 0, 1, tzinfo=UTC))
        await wait_until(lambda: len(sender.sent) == 1, what="the digest")
        await wait_until(lambda: nothing_pending(store), what="every outcome written")
    finally:
        await engine.stop()
    # One story left: it goes out as its teaser, not a digest of two.
    assert ">Story 1<" in sender.to(1)[0] or "Story 1</b>" in sender.to(1)[0]
    assert "Story 2" not in sender.to(1)[0]
    query = "SELECT status, last_error FROM deliveries WHERE article_id = {}"
    row = await read_row(store, query.format(withdrawn.article_id))
    assert row == ("skipped", SKIPPED_RETRACTED)
    assert kept.article_id != withdrawn.article_id


def test_a_correction_names_its_fields_and_keeps_the_push_rules() -> None:
    changes = parse_changes({"title": "  New title ", "tags": ["Japan", "japan", "Kuril Islands"]})
    assert changes.title == "New title"
    assert [name for name, _ in changes.tags or ()] == ["Japan", "Kuril Islands"]
    assert changes.teaser is None
    assert parse_changes({"image": ""}).drop_image
    for raw, field in (
        ({}, "record"),
        ({"url": "https://example.com/"}, "url"),
        ({"title": ""}, "title"),
        ({"image": "ftp://example.com/a.jpg"}, "image"),
        ({"tags": []}, "tags"),
    ):
        with pytest.raises(InvalidArticle) as caught:
            parse_changes(raw)
        assert caught.value.field == field, raw
