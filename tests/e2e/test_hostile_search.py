"""/search against the running bot (issue 12, point 9): a costly query, a forged "More" offset
and a search stopped at the store's time limit each get a clear answer, in English and in
Russian, never "something went wrong"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from storage.base import SearchTooSlow
from storage.models import Article
from tests.support.harness import buttons, links, push
from tests.support.updates import say, tap

READER = 6101
RUSSIAN = 6102
WENT_WRONG = ("went wrong", "сломалось")


def kuril_stories(count: int) -> list[dict[str, Any]]:
    return [
        {
            "url": f"https://kuril.example.com/{number}",
            "title": f"Kuril story {number}",
            "teaser": "Talks about the islands",
            "tags": ["Russia"],
            "published_at": f"2026-10-{number % 28 + 1:02d}T{number % 24:02d}:00:00+00:00",
        }
        for number in range(count)
    ]


async def _answers(emulator: BotApiEmulator, command: str) -> tuple[str, str]:
    english = (await say(emulator, READER, READER, command))["text"]
    russian = (await say(emulator, RUSSIAN, RUSSIAN, command))["text"]
    for text in (english, russian):
        assert not any(words in text for words in WENT_WRONG), text
    return english, russian


async def test_costly_searches_are_refused_with_the_reason(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database, kuril_stories(5))
    emulator.add_user(RUSSIAN, first_name="Иван", language_code="ru")
    # The report's query: two dozen one-letter prefixes.
    letters = " OR ".join(f"{letter}*" for letter in "abcdefghijklmnopqrstuvwx")
    english, russian = await _answers(emulator, f"/search {letters}")
    assert "at least 3 letters before the *" in english
    assert "«a»" in russian
    assert "не меньше 3 букв" in russian

    english, russian = await _answers(emulator, "/search jap* OR kur* OR tok* OR osa* OR nag*")
    assert "at most 4 words ending in *" in english
    assert "не больше 4 слов со *" in russian

    many = " ".join(f"word{n}" for n in range(11))
    english, russian = await _answers(emulator, f"/search {many}")
    assert "at most 10 words and phrases" in english
    assert "не больше 10 слов и фраз" in russian

    # Within the bounds, a prefix search works as before.
    found = await say(emulator, READER, READER, "/search kur* isl*")
    assert len(links(found)) == 5


async def test_more_stops_at_200_results_and_a_forged_offset_is_refused(
    emulator: BotApiEmulator, bot: TagwireApplication, database: Path
) -> None:
    await push(database, kuril_stories(215))
    emulator.add_user(RUSSIAN, first_name="Иван", language_code="ru")
    first = await say(emulator, READER, READER, "/search kuril")
    [(label, more)] = buttons(first)
    assert label == "More ▶"
    search_id = more.split(":")[1]

    # A button no answer of the bot carries (an offset near a million) is refused at once.
    forged = await tap(emulator, READER, READER, first, f"more:{search_id}:999990")
    assert forged["show_alert"] is True
    assert "only the first 200 results" in forged["text"]
    assert emulator.messages_in(READER)[first["message_id"]]["text"] == first["text"]

    # The last page a button may carry has no More button, and says why.
    await tap(emulator, READER, READER, first, f"more:{search_id}:190")
    await emulator.wait_for(
        lambda: "(from 191)" in emulator.messages_in(READER)[first["message_id"]]["text"]
    )
    last = emulator.messages_in(READER)[first["message_id"]]
    assert [label for label, _ in buttons(last)] == ["◀ Back"]
    assert len(links(last)) == 10
    assert "only the first 200 results" in last["text"]

    russian = await say(emulator, RUSSIAN, RUSSIAN, "/search kuril")
    russian_id = buttons(russian)[0][1].split(":")[1]
    forged = await tap(emulator, RUSSIAN, RUSSIAN, russian, f"more:{russian_id}:200")
    assert forged["show_alert"] is True
    assert "только первые 200 результатов" in forged["text"]


async def test_a_search_stopped_at_the_time_limit_says_so(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    database: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await push(database, kuril_stories(15))
    emulator.add_user(RUSSIAN, first_name="Иван", language_code="ru")
    first = await say(emulator, READER, READER, "/search kuril")
    more = buttons(first)[0][1]

    async def too_slow(query: str, limit: int, offset: int = 0) -> list[Article]:
        raise SearchTooSlow("the search took more than 2 s")

    monkeypatch.setattr(bot.bot_data.require().store, "search", too_slow)
    english, russian = await _answers(emulator, "/search kuril")
    assert "takes too long" in english
    assert "слишком долго" in russian
    answer = await tap(emulator, READER, READER, first, more)
    assert answer["show_alert"] is True
    assert "takes too long" in answer["text"]
