from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import InvalidTag
from bot.tags import (
    deep_link_payload,
    hashtag,
    parse_tag,
    split_tag_list,
    tag_from_deep_link,
)


@pytest.mark.parametrize("raw", ["japan", "Japan", "#Japan", " JAPAN ", "##japan", "Ｊａｐａｎ"])
def test_spellings_of_japan_share_one_key(raw: str) -> None:
    assert parse_tag(raw).key == "japan"


def test_name_keeps_the_spelling_without_hash_and_spaces() -> None:
    assert parse_tag("  #Kuril   Islands ").name == "Kuril Islands"


def test_tag_with_a_space_is_one_tag() -> None:
    assert split_tag_list("Kuril Islands") == ["Kuril Islands"]


def test_commas_and_newlines_separate_tags() -> None:
    assert [p.strip() for p in split_tag_list("Japan, Kuril Islands\nРоссия,,")] == [
        "Japan",
        "Kuril Islands",
        "Россия",
    ]


@pytest.mark.parametrize("raw", ["Россия", "日本", "🚀", "Ünïcödé", "👨‍👩‍👧"])
def test_cyrillic_cjk_and_emoji_tags_work(raw: str) -> None:
    tag = parse_tag(raw)
    assert tag.name == raw
    assert parse_tag(raw.upper()).key == tag.key


def test_cyrillic_case_folds() -> None:
    assert parse_tag("РОССИЯ").key == parse_tag("россия").key


def test_zero_width_and_bidi_characters_do_not_make_a_new_tag() -> None:
    assert parse_tag("Ja\u200bpan\u202e").key == "japan"


@pytest.mark.parametrize("raw", ["", "   ", "#", "###", "!!!", "\u200b", "-_-"])
def test_tags_without_letters_digits_or_emoji_are_invalid(raw: str) -> None:
    with pytest.raises(InvalidTag):
        parse_tag(raw)


def test_tag_longer_than_64_characters_is_invalid() -> None:
    parse_tag("x" * 64)
    with pytest.raises(InvalidTag):
        parse_tag("x" * 65)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Kuril Islands", "#Kuril_Islands"), ("G20", "#G20"), ("C++", "#C"), ("2019", None)],
)
def test_hashtag(name: str, expected: str | None) -> None:
    assert hashtag(name) == expected


@given(st.text(min_size=1, max_size=64))
def test_deep_link_round_trips_any_tag_that_fits(name: str) -> None:
    payload = deep_link_payload(name)
    if payload is None:
        return
    assert len(payload) <= 64
    assert all(ch.isascii() and (ch.isalnum() or ch in "_-") for ch in payload)
    assert tag_from_deep_link(payload) == name


def test_deep_link_for_cyrillic_tag() -> None:
    payload = deep_link_payload("Россия")
    assert payload is not None
    assert tag_from_deep_link(payload) == "Россия"


@pytest.mark.parametrize(
    "payload", ["", "follow_", "hello", "follow_!!", "follow_/w==", "follow__w"]
)
def test_bad_deep_links_give_none(payload: str) -> None:
    assert tag_from_deep_link(payload) is None
