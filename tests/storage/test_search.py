from __future__ import annotations

import time

import pytest

from bot.search import to_full_text_query
from storage.base import InvalidSearch
from storage.sqlite import SqliteStore
from tests.conftest import make_article


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("kuril", '"kuril"'),
        ("Putin's visit", '"Putin\'s" "visit"'),
        ('"peace treaty" OR Kuril', '"peace treaty" OR "Kuril"'),
        ("jap*", '"jap"*'),
        ("C++ (x)", '"C++" ( "x" )'),
    ],
)
def test_words_become_quoted_terms(raw: str, expected: str) -> None:
    assert to_full_text_query(raw) == expected


@pytest.mark.parametrize("raw", ['"unclosed', '""', "   ", "x" * 201])
def test_queries_that_cannot_be_searched(raw: str) -> None:
    with pytest.raises(InvalidSearch):
        to_full_text_query(raw)


async def test_search_ranks_title_over_teaser_and_newest_among_equals(
    store: SqliteStore,
) -> None:
    await store.add_articles(
        [
            make_article(1, ["Japan"], title="Old news", teaser="about Kuril", minutes=1),
            make_article(2, ["Japan"], title="Kuril Islands", teaser="x", minutes=2),
            make_article(3, ["Japan"], title="New news", teaser="about Kuril", minutes=3),
            make_article(4, ["Japan"], title="Nothing here", teaser="y", minutes=4),
        ],
        notify=False,
        now=time.time(),
    )
    found = await store.search(to_full_text_query("kuril"), 10)
    assert [a.title for a in found] == ["Kuril Islands", "New news", "Old news"]
    assert [a.title for a in await store.search(to_full_text_query("kuril"), 1, 1)] == ["New news"]


async def test_search_finds_cyrillic_case_insensitively(store: SqliteStore) -> None:
    await store.add_articles(
        [make_article(1, ["Россия"], title="Новости Москвы", teaser="")], notify=False, now=0.0
    )
    assert len(await store.search(to_full_text_query("москвы"), 10)) == 1


async def test_search_syntax_error_is_invalid_search(store: SqliteStore) -> None:
    with pytest.raises(InvalidSearch):
        await store.search("OR", 10)


async def test_saved_search_round_trips(store: SqliteStore) -> None:
    search_id = await store.save_search(5, "kuril", time.time())
    assert await store.get_search(search_id) == (5, "kuril")
    assert await store.get_search(search_id + 1) is None
