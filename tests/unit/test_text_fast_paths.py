"""The faster text checks used by `tagwire push` give exactly what the per-character
definitions they replaced give, for any text."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import example, given
from hypothesis import strategies as st

from bot.intake.validation import _URL_FORBIDDEN
from bot.tags import _clean as clean_tag
from bot.texts.plain import clean_text, utf16_len

_WHITESPACE = re.compile(r"\s+")
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

# Plenty of the characters the fast paths single out: controls, surrogates, bidi, spaces.
_TRICKY = st.sampled_from(
    [
        "\x00", "\x1f", "\x7f", "\x85", "\x9f", "\xa0", "\t", "\n", "\r", "\x0b", "\x1c",
        "  ", " ", "\u2028", "\u3000", "\u200b", "\u200d", "\u202e", "\u2066", "\ud800",
        "\udfff", "\ue000", "é", "ﬁ", "Ａ", "😀", "a", "Z", "#", "&",
    ]
)  # fmt: skip
_TEXTS = st.lists(st.one_of(_TRICKY, st.text(max_size=5)), max_size=30).map("".join)


def reference_clean_text(text: str) -> str:
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


def reference_clean_tag(raw: str) -> str:
    kept = (
        ch
        for ch in raw
        if ch == "\u200d" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"}
    )
    text = unicodedata.normalize("NFKC", "".join(kept))
    return _WHITESPACE.sub(" ", text).strip()


def reference_url_forbidden(url: str) -> bool:
    return any(ch.isspace() or ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF for ch in url)


@given(_TEXTS)
@example("Tokyo\u202e  hopes\x00\tfor\ud800 peace ")
def test_clean_text_matches_its_definition(text: str) -> None:
    assert clean_text(text) == reference_clean_text(text)


@given(_TEXTS)
@example(" Kuril\x7f  Islands\t")
def test_tag_cleaning_matches_its_definition(text: str) -> None:
    assert clean_tag(text) == reference_clean_tag(text)


@given(_TEXTS)
@example("https://example.com/a\u3000b")
def test_url_check_matches_its_definition(text: str) -> None:
    assert (_URL_FORBIDDEN.search(text) is not None) is reference_url_forbidden(text)


@given(_TEXTS)
def test_utf16_length_counts_astral_characters_twice(text: str) -> None:
    assert utf16_len(text) == len(text.encode("utf-16-le", "surrogatepass")) // 2
