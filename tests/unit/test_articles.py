from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import InvalidArticle
from bot.intake.validation import validate_article

VALID = {
    "url": "https://news.example.com/a",
    "title": "Japan wants to make peace with Russia in new era",
    "teaser": "Tokyo hopes…",
    "tags": ["Japan", "Russia"],
}


def with_(**changes: object) -> dict[str, object]:
    record = dict(VALID)
    record.update(changes)
    return {key: value for key, value in record.items() if value is not ...}


def rejected_field(record: object) -> tuple[str, str]:
    with pytest.raises(InvalidArticle) as caught:
        validate_article(record)
    return caught.value.field, caught.value.reason


def test_valid_record_becomes_an_article() -> None:
    now = datetime(2026, 11, 29, tzinfo=UTC)
    article = validate_article(VALID, now=now)
    assert article.url == VALID["url"]
    assert article.tags == (("Japan", "japan"), ("Russia", "russia"))
    assert article.published_at == now


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "ftp://example.com/a"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "https://x.example/" + "a" * 2048}, "url"),
        ({"url": "https://x.example/a b"}, "url"),
        ({"url": ...}, "url"),
        ({"url": 42}, "url"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"title": ...}, "title"),
        ({"tags": []}, "tags"),
        ({"tags": "Japan"}, "tags"),
        ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"tags": ["x" * 65]}, "tags.0"),
        ({"tags": ["Japan", "###"]}, "tags.1"),
        ({"tags": ["Japan", 5]}, "tags"),
        ({"published_at": "2026-11-29T10:00:00"}, "published_at"),
        ({"published_at": "yesterday"}, "published_at"),
        ({"teaser": 5}, "teaser"),
    ],
)
def test_invalid_records_name_the_field(changes: dict[str, object], field: str) -> None:
    assert rejected_field(with_(**changes))[0] == field


def test_a_list_is_not_a_record() -> None:
    assert rejected_field(["https://x"])[0] == "record"


def test_title_whitespace_collapses_and_300_characters_fit() -> None:
    article = validate_article(with_(title="  a \n\t b  " + "x" * 290))
    assert article.title.startswith("a b x")


def test_teaser_html_is_stripped_and_entities_decoded() -> None:
    article = validate_article(
        with_(teaser="<p>Tom &amp; Jerry&nbsp;<b>run</b></p><script>evil()</script>")
    )
    assert article.teaser == "Tom & Jerry run"


def test_duplicate_tag_spellings_count_once() -> None:
    article = validate_article(with_(tags=["Japan", "#japan", " JAPAN "]))
    assert article.tags == (("Japan", "japan"),)


def test_published_at_with_offset_is_stored_in_utc() -> None:
    article = validate_article(with_(published_at="2019-05-01T12:15:00+03:00"))
    assert article.published_at == datetime(2019, 5, 1, 9, 15, tzinfo=UTC)


def test_lone_surrogates_and_controls_in_text_are_cleaned() -> None:
    article = validate_article(with_(title="bad \ud800 title\x00", teaser="a\x07b"))
    assert "\ud800" not in article.title
    assert "\x00" not in article.title
    assert article.teaser == "a b"


def test_url_with_lone_surrogate_is_rejected() -> None:
    assert rejected_field(with_(url="https://x.example/\udc00"))[0] == "url"
