"""What a reader may ask of /search is bounded before it reaches the store (issue 12, point 9):
prefixes of a few letters at least, a few of them, a dozen terms at most."""

from __future__ import annotations

import string

import pytest

from bot.search import (
    MAX_PREFIXES,
    MAX_TERMS,
    MIN_PREFIX_LENGTH,
    SearchTooCostly,
    to_full_text_query,
)
from storage.base import InvalidSearch


def refusal(text: str) -> SearchTooCostly:
    with pytest.raises(SearchTooCostly) as refused:
        to_full_text_query(text)
    return refused.value


def test_the_query_of_the_report_is_refused() -> None:
    # Two dozen one-letter prefixes: 6 s on 300 000 stories before.
    text = " OR ".join(f"{letter}*" for letter in string.ascii_lowercase[:24])
    assert refusal(text).key == "search_prefix_short"


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("j*", "j"),
        ("ja*", "ja"),
        ("Japan j*", "j"),
        # The index splits at punctuation: the prefix is the last word's, as FTS5 reads it.
        ("kuril-j*", "j"),
        ("tokyo.ab**", "ab"),
        ("—*", "—"),
    ],
)
def test_a_prefix_needs_three_letters(text: str, word: str) -> None:
    refused = refusal(text)
    assert refused.key == "search_prefix_short"
    assert refused.values == {"min": MIN_PREFIX_LENGTH, "word": word}
    assert isinstance(refused, InvalidSearch)


def test_prefixes_of_three_letters_or_more_are_searched() -> None:
    assert to_full_text_query("jap*") == '"jap"*'
    assert to_full_text_query("kuril-isl*") == '"kuril-isl"*'
    assert to_full_text_query("Мос*") == '"Мос"*'
    # A lone star is a word like any other, not a prefix.
    assert to_full_text_query("a *") == '"a" "*"'


def test_a_search_has_at_most_four_prefixes() -> None:
    allowed = " OR ".join(["jap*", "kur*", "tok*", "osa*"][:MAX_PREFIXES])
    assert to_full_text_query(allowed).count("*") == MAX_PREFIXES
    refused = refusal(allowed + " OR nag*")
    assert refused.key == "search_too_many_prefixes"
    assert refused.values == {"max": MAX_PREFIXES}


def test_a_search_has_at_most_ten_words_and_phrases() -> None:
    words = [f"word{n}" for n in range(MAX_TERMS)]
    # Operators and parentheses are not terms; a phrase is one, however long.
    allowed = "(" + " OR ".join(words[:-1]) + ') NOT "a phrase of many words in quotes"'
    to_full_text_query(allowed)
    refused = refusal(" ".join([*words, "one-more"]))
    assert refused.key == "search_too_many_terms"
    assert refused.values == {"max": MAX_TERMS}
