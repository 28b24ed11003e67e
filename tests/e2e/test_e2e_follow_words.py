"""Words inside a follow and a taste of the tag, end to end: the real bot, `tagwire push`
beside it, the Bot API emulator (which checks every reply's HTML and length)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.tags import deep_link_payload
from tests.support.harness import buttons, links, outbox_settled, push
from tests.support.updates import say, tap, teasers

READER = 1001
OTHER = 1002
RUSSIAN = 1003
ADMIN = 2001
FORUM = -1008880002

QUAKE = "https://news.example.com/words/quake"
DRILL = "https://news.example.com/words/drill"
GAME = "https://news.example.com/words/game"
SUMO = "https://news.example.com/words/sumo"


def record(url: str, title: str, tags: list[str], minute: int, teaser: str = "") -> dict[str, Any]:
    return {
        "url": url,
        "title": title,
        "teaser": teaser or "What happened today.",
        "tags": tags,
        "published_at": f"2026-11-01T12:{minute:02d}:00+00:00",
        "source": "news.example.com",
    }


STORIES = [
    record(QUAKE, "Earthquake shakes Hokkaido", ["Japan"], 1),
    record(DRILL, "Tsunami drill in Sendai", ["Japan"], 2),
    record(GAME, "Baseball: the Tigers win", ["Japan", "Sports"], 3),
    record(SUMO, "Sumo: 地震 delays the tournament", ["Japan", "Sports"], 4),
]


@pytest.fixture
def before_start(emulator: BotApiEmulator) -> None:
    emulator.add_user(READER, first_name="Reader")
    emulator.add_user(OTHER, first_name="Other")
    emulator.add_user(RUSSIAN, first_name="Иван", language_code="ru")
    emulator.add_group(FORUM, title="Desk", supergroup=True, is_forum=True, admins=[ADMIN])


def urls(emulator: BotApiEmulator, chat_id: int, thread: int | None = None) -> set[str]:
    return {
        links(message)[0]
        for message in teasers(emulator, chat_id)
        if thread is None or message.get("message_thread_id") == thread
    }


async def test_only_and_except_words_choose_what_arrives_and_two_tags_send_once(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    answer = await say(
        emulator, READER, READER, "/follow Japan only earthquake, tsunami, 地震 except DRILL"
    )
    assert "Now following Japan" in answer["text"]
    assert "only with earthquake, tsunami, 地震; except drill" in answer["text"]
    # The same story through a second tag without words: it arrives, and once.
    await say(emulator, OTHER, OTHER, "/follow Japan except baseball")
    await say(emulator, OTHER, OTHER, "/follow Sports")
    result = await push(database, STORIES)
    assert result.returncode == 0, result.stderr
    await emulator.wait_for(lambda: len(teasers(emulator, OTHER)) == 4)
    await outbox_settled(emulator, database)
    assert urls(emulator, READER) == {QUAKE, SUMO}
    assert len(teasers(emulator, READER)) == 2
    assert urls(emulator, OTHER) == {QUAKE, DRILL, GAME, SUMO}
    assert len(teasers(emulator, OTHER)) == 4


async def test_bad_words_get_a_clear_answer_and_change_nothing(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    cases = {
        "/follow only earthquake": "Name the tag before its words",
        "/follow Japan only": "Add words after <b>only</b>",
        "/follow Japan only quake except": "Add words after <b>except</b>",
        "/follow Japan only ###, ---": "These cannot be words",
        "/follow Japan only quake except Quake": "cannot be both",
        "/follow Japan only " + ", ".join(f"w{i}" for i in range(21)): "at most 20 words",
        "/follow Japan only " + "x" * 65: "These cannot be words",
    }
    for command, expected in cases.items():
        answer = await say(emulator, READER, READER, command)
        assert expected in answer["text"] or expected in _html(answer), command
        assert "Nothing was changed" in answer["text"], command
    listing = await say(emulator, READER, READER, "/following")
    assert "You do not follow" in listing["text"] or "not following" in listing["text"].lower()


def _html(message: dict[str, Any]) -> str:
    """The message text with its bold entities put back as <b> (enough for these checks)."""
    text: str = message["text"]
    for entity in sorted(message.get("entities", []), key=lambda e: -e["offset"]):
        if entity["type"] == "bold":
            start, end = entity["offset"], entity["offset"] + entity["length"]
            text = f"{text[:start]}<b>{text[start:end]}</b>{text[end:]}"
    return text


async def test_following_shows_words_and_buttons_change_and_clear_them(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await say(emulator, READER, READER, "/follow Japan only earthquake except drill")
    await say(emulator, READER, READER, "/follow Sports")
    listing = await say(emulator, READER, READER, "/following")
    assert "Japan — only with earthquake; except drill" in listing["text"]
    labels = [label for label, _ in buttons(listing)]
    assert labels == ["✕ Japan", "✎ Japan", "⌫ Japan", "✕ Sports", "✎ Sports"]

    change = next(data for label, data in buttons(listing) if label == "✎ Japan")
    before = len(emulator.sent_messages(READER))
    await tap(emulator, READER, READER, listing, change)
    (prompt,) = (await emulator.wait_for_messages(READER, before + 1))[before:]
    assert "/follow Japan only earthquake, tsunami except drill" in prompt["text"]
    # Following again with new words changes them.
    again = await say(emulator, READER, READER, "/follow japan only tsunami")
    assert "You already follow" in again["text"]
    assert "only with tsunami" in again["text"]

    listing = await say(emulator, READER, READER, "/following")
    assert "Japan — only with tsunami" in listing["text"]
    clear = next(data for label, data in buttons(listing) if label == "⌫ Japan")
    answer = await tap(emulator, READER, READER, listing, clear)
    assert answer["text"] == "Japan: words cleared, every story of it arrives"
    await emulator.wait_for(
        lambda: "only with" not in emulator.messages_in(READER)[listing["message_id"]]["text"]
    )
    edited = emulator.messages_in(READER)[listing["message_id"]]
    assert [label for label, _ in buttons(edited)] == ["✕ Japan", "✎ Japan", "✕ Sports", "✎ Sports"]
    answer = await tap(emulator, READER, READER, listing, clear)
    assert "no longer works" not in answer["text"]

    await push(database, STORIES)
    await emulator.wait_for(lambda: len(teasers(emulator, READER)) == 4)


async def test_forum_topics_have_words_of_their_own(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    emulator.send_text(FORUM, ADMIN, "/follow Japan only baseball", message_thread_id=5)
    emulator.send_text(FORUM, ADMIN, "/follow Japan except baseball", message_thread_id=9)
    await emulator.wait_for(lambda: len(emulator.sent_messages(FORUM)) == 2)
    await push(database, STORIES)
    await emulator.wait_for(lambda: len(teasers(emulator, FORUM)) == 4, timeout=20)
    await outbox_settled(emulator, database)
    assert urls(emulator, FORUM, 5) == {GAME}
    assert urls(emulator, FORUM, 9) == {QUAKE, DRILL, SUMO}


async def test_russian_reader_uses_russian_keywords_and_gets_russian_answers(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    answer = await say(emulator, RUSSIAN, RUSSIAN, "/follow Japan только earthquake кроме drill")
    assert "только со словами earthquake; кроме drill" in answer["text"]
    bad = await say(emulator, RUSSIAN, RUSSIAN, "/follow Japan только")
    assert "Ничего не изменилось" in bad["text"]
    listing = await say(emulator, RUSSIAN, RUSSIAN, "/following")
    assert "✎ меняет слова тега" in listing["text"]


async def test_a_follow_shows_a_taste_of_the_tag(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    # No stories yet: no taste.
    first = await say(emulator, OTHER, OTHER, "/follow Japan")
    assert "Newest in" not in first["text"]
    await push(database, STORIES)
    answer = await say(emulator, READER, READER, "/follow Japan")
    assert "Newest in Japan:" in answer["text"]
    assert links(answer)[:3] == [SUMO, GAME, DRILL]
    worded = await say(emulator, READER, READER, "/follow Sports except sumo")
    assert "Newest in Sports:" in worded["text"]
    assert GAME in links(worded)
    assert SUMO not in links(worded)
    several = await say(emulator, READER, READER, "/follow Russia, Sanctions")
    assert "Newest in" not in several["text"]
    payload = deep_link_payload("Japan")
    assert payload is not None
    linked = await say(emulator, RUSSIAN, RUSSIAN, f"/start {payload}")
    assert "Свежее в Japan:" in linked["text"]
    assert links(linked)[:3] == [SUMO, GAME, DRILL]
