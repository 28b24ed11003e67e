"""Digests, quiet hours, mutes, previews, topics and languages in the delivery engine, with a
clock the tests move instead of waiting for hours. "Nothing was sent" is asserted once the
engine has looked at the outbox since the clock moved (tests.support.engine.Claims)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.delivery.engine import DeliveryEngine
from bot.emulator import parse_html
from bot.tags import parse_tag
from bot.texts.plain import MESSAGE_LIMIT, utf16_len
from storage.models import ChatSettings, DeliveryMode
from storage.sqlite import SqliteStore
from tests.conftest import add_chat, make_article
from tests.storage.direct import read_row
from tests.support.engine import Claims, FakeSender, fast_config, nothing_pending, wait_until
from tests.support.harness import FakeClock

CONFIG = fast_config(private_interval=0.02, group_interval=0.05)


async def publish_at(store: SqliteStore, when: float, *stories: tuple[int, list[str]]) -> None:
    await store.add_articles(
        [make_article(number, tags) for number, tags in stories], notify=True, now=when
    )


async def test_daily_digest_waits_for_its_hour_then_comes_as_one_message(
    store: SqliteStore,
) -> None:
    await add_chat(store, 1, "Japan", "Russia")
    await store.save_chat_settings(
        1, ChatSettings(mode=DeliveryMode.DAILY, digest_hour=9, timezone="Europe/Moscow")
    )
    clock = FakeClock(0)
    clock.set(datetime(2026, 12, 1, 5, 30, tzinfo=UTC))  # 08:30 in Moscow
    await publish_at(store, clock.now, (1, ["Japan"]), (2, ["Russia"]), (3, ["Japan", "Russia"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, CONFIG, clock=clock)
    claims = Claims(store)
    engine.start()
    try:
        await claims.looked_again()
        assert sender.sent == []
        clock.set(datetime(2026, 12, 1, 5, 59, tzinfo=UTC))
        await claims.looked_again()
        assert sender.sent == []
        clock.set(datetime(2026, 12, 1, 6, 0, 1, tzinfo=UTC))  # 09:00:01 in Moscow
        await wait_until(lambda: bool(sender.sent), what="the digest")
        await wait_until(lambda: nothing_pending(store), what="every outcome written")
    finally:
        await engine.stop()
    assert len(sender.sent) == 1
    text = sender.to(1)[0]
    assert text.startswith("<b>Your daily digest: 3 stories</b>")
    # Grouped by the chat's tags: Japan's stories together, Russia's under Russia.
    assert text.index("#Japan") < text.index(">Story 1<") < text.index(">Story 3<")
    assert text.index("#Russia") < text.index(">Story 2<")
    assert (await store.stats()).deliveries_sent == 3


async def test_hourly_digest_goes_out_at_the_top_of_the_hour(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await store.save_chat_settings(1, ChatSettings(mode=DeliveryMode.HOURLY))
    clock = FakeClock(datetime(2026, 12, 1, 10, 20, tzinfo=UTC).timestamp())
    await publish_at(store, clock.now, (1, ["Japan"]), (2, ["Japan"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, CONFIG, clock=clock)
    claims = Claims(store)
    engine.start()
    try:
        await claims.looked_again()
        assert sender.sent == []
        clock.set(datetime(2026, 12, 1, 11, 0, 0, tzinfo=UTC))
        await wait_until(lambda: nothing_pending(store), what="the digest sent")
    finally:
        await engine.stop()
    assert [text.split("</b>")[0] for text in sender.to(1)] == ["<b>Your hourly digest: 2 stories"]


async def test_a_digest_too_long_for_one_message_goes_out_in_several_within_the_limit(
    store: SqliteStore,
) -> None:
    await add_chat(store, 1, "Japan")
    await store.save_chat_settings(1, ChatSettings(mode=DeliveryMode.HOURLY))
    clock = FakeClock(datetime(2026, 12, 1, 10, 20, tzinfo=UTC).timestamp())
    # Long titles with characters to escape and characters of two UTF-16 units.
    stories = [
        make_article(n, ["Japan"], title=f"Story {n}: Tom & Jerry <3 😀😀 " + "word " * 33)
        for n in range(1, 61)
    ]
    await store.add_articles(stories, notify=True, now=clock.now)
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, CONFIG, clock=clock)
    claims = Claims(store)
    engine.start()
    try:
        await claims.looked_again()
        clock.set(datetime(2026, 12, 1, 11, 0, 0, tzinfo=UTC))
        await wait_until(lambda: nothing_pending(store), what="the digest sent")
    finally:
        await engine.stop()
    # Telegram would have refused none of them (valid HTML, at most 4 096 units of text)...
    assert sender.refused == []
    messages = sender.to(1)
    assert len(messages) > 1
    links: list[str] = []
    for message in messages:
        # ...and each keeps to the bot's own stricter bound: 4 096 units of HTML.
        assert utf16_len(message) <= MESSAGE_LIMIT
        _, entities = parse_html(message)
        links += [entity["url"] for entity in entities if entity["type"] == "text_link"]
    # Every story once, in order, over the messages.
    assert links == [story.url for story in stories]
    assert (await store.stats()).deliveries_sent == len(stories)


async def test_quiet_hours_hold_stories_and_release_them_as_one_digest(
    store: SqliteStore,
) -> None:
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await store.save_chat_settings(
        1, ChatSettings(timezone="+03:00", quiet_start=23 * 60, quiet_end=7 * 60)
    )
    clock = FakeClock(datetime(2026, 12, 1, 21, 0, tzinfo=UTC).timestamp())  # 00:00 at +03
    await publish_at(store, clock.now, (1, ["Japan"]), (2, ["Japan"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, CONFIG, clock=clock)
    claims = Claims(store)
    engine.start()
    try:
        # Chat 2 has no quiet hours.
        await wait_until(lambda: len(sender.to(2)) == 2, what="chat 2's stories")
        await claims.looked_again()
        assert sender.to(1) == []
        clock.set(datetime(2026, 12, 2, 4, 0, 0, tzinfo=UTC))  # 07:00 at +03
        await wait_until(lambda: nothing_pending(store), what="the held stories sent")
    finally:
        await engine.stop()
    assert len(sender.to(1)) == 1
    assert sender.to(1)[0].startswith("<b>While it was quiet: 2 stories</b>")


async def test_a_muted_word_keeps_the_story_from_the_chat(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await add_chat(store, 2, "Japan")
    await store.mute(1, ["trump"], 50, 0.0)
    await store.add_articles(
        [
            make_article(1, ["Japan"], title="Kremlin: Putin has no plans to meet Trump"),
            make_article(2, ["Japan"], title="Trumpet festival in Osaka"),
        ],
        notify=True,
        now=time.time(),
    )
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, CONFIG)
    engine.start()
    try:
        await wait_until(lambda: nothing_pending(store), what="every outcome written")
    finally:
        await engine.stop()
    assert ["Trumpet" in text for text in sender.to(1)] == [True]
    assert len(sender.to(2)) == 2
    row = await read_row(
        store, "SELECT status, last_error FROM deliveries WHERE chat_id = 1 AND article_id = 1"
    )
    assert row == ("skipped", "muted word")


@dataclass
class RecordingSender(FakeSender):
    options: list[tuple[int, bool, int | None]] | None = None

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        link_preview: bool = True,
        thread_id: int | None = None,
        picture: str | None = None,
    ) -> int | None:
        if self.options is None:
            self.options = []
        self.options.append((chat_id, link_preview, thread_id))
        return await super().send_message(
            chat_id, text, link_preview=link_preview, thread_id=thread_id, picture=picture
        )


async def test_previews_off_and_forum_topics_reach_the_sender(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await store.save_chat_settings(1, ChatSettings(link_previews=False))
    await store.register_chat(-100500, "supergroup", "Forum")
    japan = parse_tag("Japan")
    await store.follow(-100500, [(japan.name, japan.key)], 100, 0.0, thread_id=42)
    await publish_at(store, time.time(), (1, ["Japan"]))
    sender = RecordingSender()
    engine = DeliveryEngine(store, sender, CONFIG)
    engine.start()
    try:
        await wait_until(lambda: nothing_pending(store), what="every outcome written")
    finally:
        await engine.stop()
    assert sorted(sender.options or []) == [(-100500, True, 42), (1, False, None)]


async def test_teaser_label_follows_the_chat_language(store: SqliteStore) -> None:
    await add_chat(store, 1, "Japan")
    await store.save_chat_settings(1, ChatSettings(language="ru"))
    await publish_at(store, time.time(), (1, ["Japan"]))
    sender = FakeSender()
    engine = DeliveryEngine(store, sender, CONFIG)
    engine.start()
    try:
        await wait_until(lambda: nothing_pending(store), what="every outcome written")
    finally:
        await engine.stop()
    assert "Читать дальше" in sender.to(1)[0]
