"""What a reader types after /search, as a full-text query: words match anywhere, "quoted
phrases" match as phrases, OR and NOT work, and anything else is taken literally."""

from __future__ import annotations

import re

from bot.texts.plain import clean_text
from storage.base import InvalidSearch

MAX_QUERY_LENGTH = 200
_TOKEN = re.compile(r'"[^"]*"|\(|\)|[^\s()"]+')
_OPERATORS = frozenset({"AND", "OR", "NOT"})


def to_full_text_query(text: str) -> str:
    """A query the full-text index understands; InvalidSearch says what is wrong with it."""
    text = clean_text(text)
    if text.count('"') % 2:
        raise InvalidSearch("a quotation mark is not closed")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidSearch(f"a search has at most {MAX_QUERY_LENGTH} characters")
    terms: list[str] = []
    for token in _TOKEN.findall(text):
        if token in _OPERATORS or token in {"(", ")"}:
            terms.append(token)
        elif token.startswith('"'):
            if token.strip('" '):
                terms.append(token)
        else:
            prefix = token.endswith("*") and len(token) > 1
            word = token.rstrip("*") if prefix else token
            # Quoting a bare word makes apostrophes, hyphens and dots plain characters.
            terms.append(f'"{word}"' + ("*" if prefix else ""))
    if not terms:
        raise InvalidSearch("there is nothing to search for")
    return " ".join(terms)
