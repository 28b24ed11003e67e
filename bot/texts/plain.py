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
# With no whitespace but single plain spaces, collapsing whitespace changes nothing.
_OTHER_WHITESPACE = re.compile(r"[^\S ]")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it: characters outside the BMP (most emoji) count twice."""
    if text.isascii():
        return len(text)
    # The same count in C: astral characters take two UTF-16 units, anything else (a lone
    # surrogate too) one.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# Exactly the characters clean_text replaces: category Cc (U+0000-U+001F, U+007F-U+009F), Cs
# (lone surrogates) and the bidi embeddings, overrides and isolates, which can reorder
# everything after them on screen. One regular expression instead of a look-up per
# character: with the other fast paths, validating a story takes half the time it did.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def _replace_unsafe(match: re.Match[str]) -> str:
    return "\ufffd" if unicodedata.category(match.group()) == "Cs" else " "


def clean_text(text: str) -> str:
    """One line of displayable text: no control characters, no lone surrogates, no bidi
    overrides, whitespace runs collapsed to one space."""
    if _UNSAFE.search(text) is not None:
        text = _UNSAFE.sub(_replace_unsafe, text)
    if "  " in text or _OTHER_WHITESPACE.search(text) is not None:
        text = _WHITESPACE.sub(" ", text)
    return text.strip()


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

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<script />` opens a script as a browser reads it (the slash means nothing on an
        # element that is not void): what follows, up to `</script>`, is its content.
        if tag not in self._SKIPPED:
            super().handle_startendtag(tag, attrs)
            return
        self._skip_depth += 1
        if tag in self.CDATA_CONTENT_ELEMENTS:
            self.set_cdata_mode(tag)

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
