"""Search, settings, digests, quiet hours, mutes, languages, channels and forum topics, end to
end through the Bot API emulator. Time is moved by the test, never waited for."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from tests.support.harness import (
    FakeClock,
    buttons,
    example_stories,
    links,
    outbox_settled,
    push,
)
from tests.support.sql import query
from tests.support.updates import say, tap, teasers

READER = 1001
OTHER = 1002
RUSSIAN_READER = 1003
ADMIN = 2001
MEMBER = 2002
CHANNEL = -1007770001
FORUM = -1008880001
STORIES = example_stories()
JAPAN_URLS = {story["url"] for story in STORIES if "Japan" in story["tags"]}


@pytest.fixture
def clock() -> FakeClock:
    # A fixed day in the future, so that real "now" (used when stories are stored) is earlier.
    return FakeClock(datetime(2030, 6, 1, 12, 0, tzinfo=UTC).timestamp())


@pytest.fixture
def before_start(emulator: BotApiEmulator) -> None:
    emulator.add_user(READER, first_name="Reader")
    emulator.add_user(OTHER, first_name="Other")
    emulator.add_user(RUSSIAN_READER, first_name="Иван", language_code="ru")
    emulator.add_channel(CHANNEL, title="Japan Daily", username="japandaily", admins=[ADMIN])
    emulator.add_group(FORUM, title="Desk", supergroup=True, is_forum=True, admins=[ADMIN])


def story(
    number: int, title: str, teaser: str = "", tags: tuple[str, ...] = ("Japan",)
) -> dict[str, Any]:
    return {
        "url": f"https://news.example.com/extra/{number}",
        "title": title,
        "teaser": teaser,
        "tags": list(tags),
        "published_at": f"2026-11-{number % 28 + 1:02d}T10:00:00+00:00",
    }


def not_held(database: Path | str) -> int:
    """Pending deliveries the engine has not yet held for a digest or quiet hours."""
    [(count,)] = query(
        database, "SELECT COUNT(*) FROM deliveries WHERE status = 'pending' AND NOT held"
    )
    return int(count)


async def test_search_ranks_title_matches_first_and_pages(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    extra = [
        story(n, f"Ordinary story {n}", "Something about the Kuril dispute") for n in range(12)
    ]
    extra.append(story(99, "Kuril Islands talks resume", "Talks again", tags=("Russia",)))
    await push(database, extra)
    first = await say(emulator, READER, READER, "/search kuril")
    assert first["text"].startswith("Search: kuril")
    titles = [line for line in first["text"].splitlines() if re.match(r"^\d+\. ", line)]
    assert "Kuril Islands talks resume" in titles[0]
    assert len(links(first)) == 10
    assert [label for label, _ in buttons(first)] == ["More ▶"]
    more = buttons(first)[0][1]
    await tap(emulator, READER, READER, first, more)
    await emulator.wait_for(
        lambda: "(from 11)" in emulator.messages_in(READER)[first["message_id"]]["text"]
    )
    second = emulator.messages_in(READER)[first["message_id"]]
    assert 1 <= len(links(second)) <= 10
    assert not set(links(second)) & set(links(first))
    assert next(label for label, _ in buttons(second)) == "◀ Back"


async def test_search_phrase_and_syntax_errors_get_clear_answers(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database)
    phrase = await say(emulator, READER, READER, '/search "peace treaty"')
    assert len(links(phrase)) >= 1
    assert "peace" in phrase["text"].lower()
    unclosed = await say(emulator, READER, READER, '/search "peace treaty')
    assert "could not understand that search" in unclosed["text"]
    dangling = await say(emulator, READER, READER, "/search OR")
    assert "could not understand that search" in dangling["text"]
    nothing = await say(emulator, READER, READER, "/search zzzqqq")
    assert "No story matches" in nothing["text"]
    apostrophe = await say(emulator, READER, READER, "/search Putin's")
    assert "could not understand" not in apostrophe["text"]


async def test_settings_edit_themselves_in_place(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    panel = await say(emulator, READER, READER, "/settings")
    assert "Delivery: Instant" in panel["text"]
    hourly = next(data for label, data in buttons(panel) if label == "Every hour")
    answer = await tap(emulator, READER, READER, panel, hourly)
    assert answer["text"] == "Saved"
    await emulator.wait_for(
        lambda: "Every hour" in emulator.messages_in(READER)[panel["message_id"]]["text"]
    )
    edited = emulator.messages_in(READER)[panel["message_id"]]
    assert "Delivery: Every hour" in edited["text"]
    assert "✓ Every hour" in [label for label, _ in buttons(edited)]
    assert len(emulator.sent_messages(READER)) == 1


async def test_daily_digest_arrives_at_its_hour_as_one_message(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path, clock: FakeClock
) -> None:
    await say(emulator, READER, READER, "/follow Japan")
    await say(emulator, READER, READER, "/timezone Europe/Moscow")
    panel = await say(emulator, READER, READER, "/settings")
    await tap(emulator, READER, READER, panel, "cfg:mode:daily")
    clock.set(datetime(2030, 6, 1, 4, 30, tzinfo=UTC))  # 07:30 in Moscow; digest at 08:00
    before = len(emulator.sent_messages(READER))
    await push(database)
    # The engine has looked at every delivery and held it for the digest.
    await emulator.wait_for(lambda: not_held(database) == 0)
    assert len(emulator.sent_messages(READER)) == before
    clock.set(datetime(2030, 6, 1, 5, 0, 1, tzinfo=UTC))
    messages = await emulator.wait_for_messages(READER, before + 1)
    digest = messages[before]
    assert digest["text"].startswith(f"Your daily digest: {len(JAPAN_URLS)} stories")
    assert set(links(digest)) == JAPAN_URLS
    await outbox_settled(emulator, database)
    assert len(emulator.sent_messages(READER)) == before + 1


async def test_quiet_hours_hold_stories_until_they_end(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path, clock: FakeClock
) -> None:
    await say(emulator, READER, READER, "/follow Japan")
    await say(emulator, OTHER, OTHER, "/follow Japan")
    reply = await say(emulator, READER, READER, "/quiet 23:00-07:00")
    assert "Quiet hours set to 23:00–07:00 (UTC)" in reply["text"]
    clock.set(datetime(2030, 6, 1, 23, 30, tzinfo=UTC))
    before = len(emulator.sent_messages(READER))
    await push(database)
    await emulator.wait_for(lambda: len(teasers(emulator, OTHER)) == len(JAPAN_URLS))
    assert len(emulator.sent_messages(READER)) == before
    clock.set(datetime(2030, 6, 2, 7, 0, 1, tzinfo=UTC))
    released = (await emulator.wait_for_messages(READER, before + 1))[before]
    assert released["text"].startswith(f"While it was quiet: {len(JAPAN_URLS)} stories")
    assert set(links(released)) == JAPAN_URLS


async def test_combined_bursts_and_previews_off(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await say(emulator, READER, READER, "/follow Japan")
    panel = await say(emulator, READER, READER, "/settings")
    await tap(emulator, READER, READER, panel, "cfg:burst:on")
    await tap(emulator, READER, READER, panel, "cfg:preview:off")
    before = len(emulator.sent_messages(READER))
    await push(database)
    combined = (await emulator.wait_for_messages(READER, before + 1))[before]
    assert combined["text"].startswith(f"{len(JAPAN_URLS)} new stories")
    assert set(links(combined)) == JAPAN_URLS
    single = story(200, "One more from Tokyo")
    await push(database, [single])
    teaser = (await emulator.wait_for_messages(READER, before + 2))[before + 1]
    assert links(teaser) == [single["url"]]
    call = next(
        c for c in reversed(emulator.calls_of("sendMessage")) if c.params.get("chat_id") == READER
    )
    assert call.params["link_preview_options"] == {"is_disabled": True}


async def test_muted_words_keep_stories_away(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await say(emulator, READER, READER, "/follow Japan")
    reply = await say(emulator, READER, READER, "/mute putin, Osaka")
    assert "Muted" in reply["text"]
    listing = await say(emulator, READER, READER, "/muted")
    assert "putin" in listing["text"]
    await push(database)
    expected = {
        s["url"]
        for s in STORIES
        if "Japan" in s["tags"]
        and not any(w in (s["title"] + " " + s["teaser"]).lower() for w in ("putin", "osaka"))
    }
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == len(expected))
    await outbox_settled(emulator, database)
    assert {links(m)[0] for m in teasers(emulator, READER)} == expected
    unmuted = await say(emulator, READER, READER, "/unmute putin, nothing")
    assert "Unmuted" in unmuted["text"]
    assert "Not muted" in unmuted["text"]


async def test_a_russian_speaker_gets_russian_replies_and_teasers(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    start = await say(emulator, RUSSIAN_READER, RUSSIAN_READER, "/start")
    assert "Добро пожаловать" in start["text"]
    followed = await say(emulator, RUSSIAN_READER, RUSSIAN_READER, "/follow Japan")
    assert "Подписка оформлена" in followed["text"]
    bad = await say(emulator, RUSSIAN_READER, RUSSIAN_READER, "/latest Japan 0")
    assert "не число новостей" in bad["text"]
    await push(database, [story(300, "Tokyo news")])
    await emulator.wait_for(lambda: len(teasers(emulator, RUSSIAN_READER)) == 1)
    assert "Читать дальше" in teasers(emulator, RUSSIAN_READER)[0]["text"]
    panel = await say(emulator, RUSSIAN_READER, RUSSIAN_READER, "/settings")
    await tap(emulator, RUSSIAN_READER, RUSSIAN_READER, panel, "cfg:lang:en")
    english = await say(emulator, RUSSIAN_READER, RUSSIAN_READER, "/help")
    assert "What I can do" in english["text"]


async def test_channel_admin_follows_for_the_channel_and_others_are_refused(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    emulator.add_user(ADMIN, first_name="Admin")
    refused = await say(emulator, OTHER, OTHER, "/follow @japandaily Japan")
    assert "Only the administrators of @japandaily" in refused["text"]
    missing = await say(emulator, ADMIN, ADMIN, "/follow @nosuchchannel Japan")
    assert "cannot find the channel" in missing["text"]
    accepted = await say(emulator, ADMIN, ADMIN, "/follow @japandaily Japan")
    assert accepted["text"].startswith("Channel @japandaily:")
    assert "Now following Japan" in accepted["text"]
    listing = await say(emulator, ADMIN, ADMIN, "/following @japandaily")
    assert "Japan" in listing["text"]
    await push(database)
    await emulator.wait_for(lambda: len(teasers(emulator, CHANNEL)) == len(JAPAN_URLS))
    assert teasers(emulator, ADMIN) == []
    picker = await say(emulator, ADMIN, ADMIN, "/channels")
    assert [label for label, _ in buttons(picker)] == ["@japandaily"]
    await tap(emulator, ADMIN, ADMIN, picker, buttons(picker)[0][1])
    await emulator.wait_for(
        lambda: "@japandaily:" in emulator.messages_in(ADMIN)[picker["message_id"]]["text"]
    )
    edited = emulator.messages_in(ADMIN)[picker["message_id"]]
    assert "✓ Japan" in [label for label, _ in buttons(edited)]
    assert "@japandaily" in edited["text"]
    none = await say(emulator, OTHER, OTHER, "/channels")
    assert "I know no channel" in none["text"]


async def test_forum_topics_follow_their_own_tags(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    emulator.send_text(FORUM, ADMIN, "/follow Japan", message_thread_id=5)
    emulator.send_text(FORUM, ADMIN, "/follow Sanctions", message_thread_id=9)
    await emulator.wait_for(lambda: len(emulator.sent_messages(FORUM)) == 2)
    await push(database)
    sanctions = {s["url"] for s in STORIES if "Sanctions" in s["tags"]}

    def by_topic(thread: int) -> list[dict[str, Any]]:
        return [m for m in teasers(emulator, FORUM) if m.get("message_thread_id") == thread]

    await emulator.wait_for(
        lambda: len(by_topic(5)) == len(JAPAN_URLS) and len(by_topic(9)) == len(sanctions),
        timeout=20,
    )
    await outbox_settled(emulator, database)
    assert {links(m)[0] for m in by_topic(5)} == JAPAN_URLS
    assert {links(m)[0] for m in by_topic(9)} == sanctions
    assert len(teasers(emulator, FORUM)) == len(JAPAN_URLS) + len(sanctions)


async def test_channel_admin_changes_the_channels_settings_from_a_private_chat(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    emulator.add_user(ADMIN, first_name="Admin")
    refused = await say(emulator, OTHER, OTHER, "/settings @japandaily")
    assert "Only the administrators of @japandaily" in refused["text"]
    panel = await say(emulator, ADMIN, ADMIN, "/settings @japandaily")
    assert panel["text"].startswith("Settings of @japandaily")
    assert all(data.endswith(f":{CHANNEL}") for _, data in buttons(panel))
    russian = next(data for label, data in buttons(panel) if label == "Русский")
    answer = await tap(emulator, ADMIN, ADMIN, panel, russian)
    assert answer["text"] == "Saved"
    await emulator.wait_for(
        lambda: (
            "✓ Русский"
            in [label for label, _ in buttons(emulator.messages_in(ADMIN)[panel["message_id"]])]
        )
    )
    moscow = await say(emulator, ADMIN, ADMIN, "/timezone @japandaily Europe/Moscow")
    assert moscow["text"].startswith("Channel @japandaily:")
    assert "Europe/Moscow" in moscow["text"]
    quiet = await say(emulator, ADMIN, ADMIN, "/quiet @japandaily 23:00-07:00")
    assert "23:00–07:00" in quiet["text"]
    store = bot.bot_data.require().store
    prefs = await store.chat_prefs([CHANNEL, ADMIN])
    channel = prefs[CHANNEL].settings
    assert (channel.language, channel.timezone) == ("ru", "Europe/Moscow")
    assert (channel.quiet_start, channel.quiet_end) == (23 * 60, 7 * 60)
    # The admin's own chat is untouched, and still answers in English.
    assert prefs[ADMIN].settings.timezone == "UTC"
    assert prefs[ADMIN].settings.quiet_start is None
    assert "Settings of this chat" in (await say(emulator, ADMIN, ADMIN, "/settings"))["text"]
    # A button tapped after the bot was removed from the channel changes nothing.
    emulator.kick(CHANNEL)
    english = next(data for _, data in buttons(panel) if data.startswith("cfg:lang:en:"))
    stale = await tap(emulator, ADMIN, ADMIN, panel, english)
    assert stale.get("show_alert") is True
    assert "@japandaily" in stale["text"]
    assert (await store.chat_prefs([CHANNEL]))[CHANNEL].settings.language == "ru"


async def test_channel_admin_mutes_words_for_the_channel(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    emulator.add_user(ADMIN, first_name="Admin")
    refused = await say(emulator, OTHER, OTHER, "/mute @japandaily Trump")
    assert "Only the administrators of @japandaily" in refused["text"]
    muted = await say(emulator, ADMIN, ADMIN, "/mute @japandaily Trump, Osaka")
    assert muted["text"].startswith("Channel @japandaily:")
    listing = await say(emulator, ADMIN, ADMIN, "/muted @japandaily")
    assert "trump" in listing["text"]
    assert "osaka" in listing["text"]
    unmuted = await say(emulator, ADMIN, ADMIN, "/unmute @japandaily osaka")
    assert unmuted["text"].startswith("Channel @japandaily:")
    store = bot.bot_data.require().store
    prefs = await store.chat_prefs([CHANNEL, ADMIN])
    assert prefs[CHANNEL].muted == ("trump",)
    assert prefs[ADMIN].muted == ()
    own = await say(emulator, ADMIN, ADMIN, "/muted")
    assert "Channel" not in own["text"]
