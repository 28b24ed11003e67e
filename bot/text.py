"""Plain-text helpers shared by validation and formatting: cleaning, cutting, measuring."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from html.parser import HTMLParser

ELLIPSIS = "…"
# Telegram's limit for a message, counted in UTF-16 code units.
MESSAGE_LIMIT = 4096

_WHITESPACE = re.compile(r"\s+")
# Bidi embeddings, overrides and isolates can reorder everything after them on screen.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (most emoji) count twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def clean_text(text: str) -> str:
    """One line of displayable text: no control characters, no lone surrogates, no bidi
    overrides, whitespace runs collapsed to one space."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs":
            out.append("\ufffd")
        elif category == "Cc" or ch in _BIDI_CONTROLS:
            out.append(" ")
        else:
            out.append(ch)
    return _WHITESPACE.sub(" ", "".join(out)).strip()


class _TextExtractor(HTMLParser):
    _SKIPPED = frozenset({"script", "style", "template", "noscript"})
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skip_depth += 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.parts.append(data)


def strip_html(markup: str) -> str:
    """The text of an HTML fragment, entities decoded; plain text passes through unchanged."""
    if "<" not in markup and "&" not in markup:
        return markup
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def cut_at_word(text: str, limit: int) -> str:
    """`text` if it has at most `limit` characters, else cut at the last word boundary before
    the limit (or mid-word when there is none) with "…" appended, all within `limit`."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ELLIPSIS[:limit]
    head = text[: limit - len(ELLIPSIS) + 1]
    space = head.rfind(" ")
    # Cutting at a space far back would lose most of the text: cut mid-word instead.
    head = head[:space] if space >= len(head) // 2 else head[:-1]
    return head.rstrip(" ,;:.-—–") + ELLIPSIS


def fit_cut(text: str, budget: int, render: Callable[[str], str]) -> str | None:
    """The longest word-boundary cut of `text` whose rendering fits in `budget` UTF-16 units,
    or None when not even an ellipsis fits."""
    if utf16_len(render(text)) <= budget:
        return text
    low, high = 0, len(text)
    best: str | None = None
    while low <= high:
        middle = (low + high) // 2
        candidate = cut_at_word(text, middle) if middle else ""
        if candidate and utf16_len(render(candidate)) <= budget:
            best = candidate
            low = middle + 1
        else:
            high = middle - 1
    return best


def escape(text: str) -> str:
    """Text for Telegram HTML: only <, > and & need entities outside attributes."""
    return html.escape(text, quote=False)


def escape_attribute(text: str) -> str:
    return html.escape(text, quote=True)
