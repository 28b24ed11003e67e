"""Cutting a reply's Telegram HTML to a size: the result always fits and stays valid HTML."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.emulator import parse_html
from bot.texts.cut import cut_html
from bot.texts.plain import escape, escape_attribute, utf16_len

_TEXT = st.text(st.characters(codec="utf-8"), max_size=40).map(escape)


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    simple = st.sampled_from(["b", "i", "u", "s", "code", "tg-spoiler"])
    return st.one_of(
        st.tuples(simple, st.lists(children, max_size=4)).map(
            lambda parts: f"<{parts[0]}>{''.join(parts[1])}</{parts[0]}>"
        ),
        st.tuples(st.text(max_size=30), st.lists(children, max_size=3)).map(
            lambda parts: (
                f'<a href="https://x.example/{escape_attribute(parts[0])}">{"".join(parts[1])}</a>'
            )
        ),
        st.lists(children, max_size=3).map(lambda parts: f"<pre>{''.join(parts)}</pre>"),
    )


MARKUP = st.lists(
    st.recursive(_TEXT | st.sampled_from(["\n", "&amp;", "&lt;", "😀", "&quot;"]), _element),
    max_size=12,
).map("".join)


@given(markup=MARKUP, limit=st.integers(min_value=0, max_value=300))
def test_a_cut_fits_and_stays_valid_html(markup: str, limit: int) -> None:
    parse_html(markup)
    cut = cut_html(markup, limit)
    assert utf16_len(cut) <= limit
    parse_html(cut)
    if utf16_len(markup) <= limit:
        assert cut == markup


def test_a_cut_keeps_the_beginning_closes_the_tags_and_says_it_was_cut() -> None:
    markup = "<b>Title</b>\n\n" + "<i>" + "word " * 2000 + "</i>"
    cut = cut_html(markup, 4096)
    assert cut.startswith("<b>Title</b>\n\n<i>word word")
    assert cut.endswith("…</i>")
    assert utf16_len(cut) <= 4096
    parse_html(cut)


def test_a_cut_never_splits_an_entity_a_surrogate_pair_or_a_link() -> None:
    markup = '<a href="https://x.example/very/long/path">' + "&amp;😀" * 50 + "</a> tail"
    for limit in range(0, 200):
        cut = cut_html(markup, limit)
        assert utf16_len(cut) <= limit
        parse_html(cut)
