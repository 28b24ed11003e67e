from __future__ import annotations

import time

import pytest

from bot.search import to_full_text_query
from storage.base import InvalidSearch, Store
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
    store: Store,
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


async def test_search_finds_cyrillic_case_insensitively(store: Store) -> None:
    await store.add_articles(
        [make_article(1, ["Россия"], title="Новости Москвы", teaser="")], notify=False, now=0.0
    )
    assert len(await store.search(to_full_text_query("москвы"), 10)) == 1


async def test_search_syntax_error_is_invalid_search(store: Store) -> None:
    with pytest.raises(InvalidSearch):
        await store.search("OR", 10)


async def test_saved_search_round_trips(store: Store) -> None:
    search_id = await store.save_search(5, "kuril", time.time())
    assert await store.get_search(search_id) == (5, "kuril")
    assert await store.get_search(search_id + 1) is None


# What FTS5 (unicode61, remove_diacritics 2) answers, which PostgreSQL must answer alike.
CORPUS = [
    ("Kuril Islands", "peace treaty talks"),
    ("Café society", "über alles"),
    ("東京 news", "🎌 flag"),
    ("Новости Москвы", ""),
    ("C++ rocks", "Putin's visit"),
    ("Japan", "Japanese food"),
    ("ёлка йод", "ß straße"),
]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ('"kuril"', [1]),
        ('"KURIL"', [1]),
        ("kuril", [1]),
        ('"peace treaty"', [1]),
        # A phrase never runs from the title into the teaser.
        ('"islands peace"', []),
        ('"islands" "peace"', [1]),
        ('"treaty talks" OR "japan"', [1, 6]),
        ('"jap"*', [6]),
        ("jap*", [6]),
        ('"peace tre"*', [1]),
        ('"pea"* "tre"*', [1]),
        # Letters keep their script; only Latin ones lose their accents.
        ('"cafe"', [2]),
        ('"uber"', [2]),
        ('"москвы"', [4]),
        ('"МОСКВЫ"', [4]),
        ('"елка"', []),
        ('"иод"', []),
        ('"straße"', [7]),
        ('"strasse"', []),
        # A run of CJK characters is one word; an emoji is no word at all.
        ('"東京"', [3]),
        ('"東"', []),
        ('"東"*', [3]),
        ('"🎌"', []),
        ('"🎌" "kuril"', [1]),
        ('"🎌" OR "kuril"', [1]),
        ('"🎌" AND "kuril"', []),
        ('"kuril" NOT "🎌"', [1]),
        # Punctuation separates words.
        ('"C++"', [5]),
        ('"+++"', []),
        ('"putin\'s"', [5]),
        ('"putin s"', [5]),
        ('"japan" NOT "food"', []),
        ('"kuril" OR "japan" "food"', [1, 6]),
        ('"japan" OR "kuril" NOT "islands"', [6]),
        ('"japan" NOT "food" OR "kuril"', [1]),
        ('( "kuril" )', [1]),
        ('title:"peace"', []),
        ('teaser:"peace"', [1]),
        ('-title:"peace"', [1]),
        ('{title teaser}:"japanese"', [6]),
        ('teaser:("japan" OR "talks")', [1]),
    ],
)
async def test_search_answers_as_fts5_does(store: Store, query: str, found: list[int]) -> None:
    stored = await store.add_articles(
        [
            make_article(n, ["Japan"], title=title, teaser=teaser)
            for n, (title, teaser) in enumerate(CORPUS, start=1)
        ],
        notify=False,
        now=0.0,
    )
    number = {result.article_id: n for n, result in enumerate(stored, start=1)}
    assert sorted(number[a.id] for a in await store.search(query, 20)) == found


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("a NOT b c", ["a b", "a c", "a"]),
        ("a OR b c", ["a b", "a c", "b c", "a", "a b c"]),
        ("a b OR c", ["a b", "a c", "b c", "c", "a b c"]),
        ("a AND b OR c", ["a b", "a c", "b c", "c", "a b c"]),
        ("a NOT b AND c", ["a c"]),
        ("a AND b NOT c", ["a b"]),
        ("a NOT b NOT c", ["a"]),
        ("a b AND c", ["a b c"]),
        ("(a) AND (b)", ["a b", "a b c"]),
    ],
)
async def test_search_operators_bind_as_in_fts5(store: Store, query: str, found: list[str]) -> None:
    titles = ["a b", "a c", "b c", "a", "b", "c", "a b c"]
    await store.add_articles(
        [make_article(n, ["x"], title=title, teaser="") for n, title in enumerate(titles)],
        notify=False,
        now=0.0,
    )
    assert sorted(a.title for a in await store.search(query, 20)) == sorted(found)


@pytest.mark.parametrize(
    "query",
    [
        "OR",
        "AND",
        'NOT "x"',
        '"a" AND',
        '"a" NOT',
        '"kuril" ("islands" OR "x")',
        '("islands" OR "x") "kuril"',
        "()",
        '"kuril" AND NOT "x"',
        '"a" OR NOT "b"',
        "a.b",
        "a's",
        "* a",
        "a**",
        "nosuchcolumn:a",
        '"unclosed',
    ],
)
async def test_queries_the_engine_cannot_parse_are_invalid_search(store: Store, query: str) -> None:
    with pytest.raises(InvalidSearch):
        await store.search(query, 10)


async def test_what_a_reader_types_is_found_the_same_way(store: Store) -> None:
    await store.add_articles(
        [
            make_article(1, ["Japan"], title="Putin's visit to Japan", teaser="peace treaty"),
            make_article(2, ["Japan"], title="Japanese C++ conference", teaser="Kuril"),
        ],
        notify=False,
        now=0.0,
    )

    async def titles(typed: str) -> list[str]:
        return sorted(a.title for a in await store.search(to_full_text_query(typed), 10))

    assert await titles("Putin's visit") == ["Putin's visit to Japan"]
    assert await titles('"peace treaty" OR Kuril') == [
        "Japanese C++ conference",
        "Putin's visit to Japan",
    ]
    assert await titles("jap*") == ["Japanese C++ conference", "Putin's visit to Japan"]
    assert await titles("japan NOT kuril") == ["Putin's visit to Japan"]
    # FTS5 puts no group right after a word; neither backend guesses what was meant.
    with pytest.raises(InvalidSearch):
        await titles("C++ (conference)")
    assert await titles("C++ AND (conference)") == ["Japanese C++ conference"]
