"""What a reader types after /search, as a full-text query: words match anywhere, "quoted
phrases" match as phrases, OR and NOT work, and anything else is taken literally.

A query's cost is bounded before it reaches the store: a prefix (`jap*`) makes the index merge
every word it starts, so it needs a few letters and a search has only a few; and a search has
a dozen terms at most. (The store stops any search at its time limit besides.)"""

from __future__ import annotations

import re

from bot.texts.plain import clean_text
from storage.base import InvalidSearch

MAX_QUERY_LENGTH = 200
# Letters before the * of a prefix, and prefixes in one search: `a* OR b* OR …` (two dozen)
# took 6 s on 300 000 stories.
MIN_PREFIX_LENGTH = 3
MAX_PREFIXES = 4
# Words and "phrases" in one search (operators and parentheses are not counted).
MAX_TERMS = 10
_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+')
_OPERATORS = frozenset({"AND", "OR", "NOT"})
# A word as the index splits text (letters and digits of every script): a prefix applies to
# the last word of what precedes its *, as FTS5 reads `kuril-j*`.
_INDEXED_WORD = re.compile(r"[^\W_]+")


class SearchTooCostly(InvalidSearch):
    """A query refused for what it would cost; `key` names the reply that says why, with
    `values` for its placeholders."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def _check_prefix(word: str) -> None:
    indexed = _INDEXED_WORD.findall(word)
    last = indexed[-1] if indexed else word
    if len(last) < MIN_PREFIX_LENGTH:
        raise SearchTooCostly("search_prefix_short", min=MIN_PREFIX_LENGTH, word=last[:30])


def to_full_text_query(text: str) -> str:
    """A query the full-text index understands; InvalidSearch says what is wrong with it."""
    text = clean_text(text)
    if text.count('"') % 2:
        raise InvalidSearch("a quotation mark is not closed")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidSearch(f"a search has at most {MAX_QUERY_LENGTH} characters")
    terms: list[str] = []
    counted = prefixes = 0
    for token in _TOKEN.findall(text):
        if token in _OPERATORS or token in {"(", ")"}:
            terms.append(token)
            continue
        if token.startswith('"'):
            if not token.strip('" '):
                continue
            terms.append(token)
        else:
            prefix = token.endswith("*") and len(token) > 1
            word = token.rstrip("*") if prefix else token
            if prefix:
                _check_prefix(word)
                prefixes += 1
            # Quoting a bare word makes apostrophes, hyphens and dots plain characters.
            terms.append(f'"{word}"' + ("*" if prefix else ""))
        counted += 1
    if prefixes > MAX_PREFIXES:
        raise SearchTooCostly("search_too_many_prefixes", max=MAX_PREFIXES)
    if counted > MAX_TERMS:
        raise SearchTooCostly("search_too_many_terms", max=MAX_TERMS)
    if not terms:
        raise InvalidSearch("there is nothing to search for")
    return " ".join(terms)
