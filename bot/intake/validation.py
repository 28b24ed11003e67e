"""Validation of a pushed story: the same rules for the CLI, the HTTP API and feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    ValidationError,
    field_validator,
)

from bot.errors import InvalidArticle, InvalidTag
from bot.tags import parse_tag
from bot.texts.plain import clean_text, cut_at_word, escape_attribute, strip_html, utf16_len
from storage.models import NewArticle

MAX_URL_LENGTH = 2048
# An href full of `&` grows fivefold once escaped; past this it cannot fit a message.
MAX_ESCAPED_URL_LENGTH = 3000
MAX_TITLE_LENGTH = 300
MAX_TEASER_LENGTH = 2000
MAX_TAGS = 20
MAX_SOURCE_LENGTH = 100
# Whitespace (`\s` is str.isspace), control characters below U+0020 and lone surrogates.
_URL_FORBIDDEN = re.compile("[\\s\x00-\x1f\ud800-\udfff]")


class ArticleIn(BaseModel):
    """A story as an operator sends it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    url: str
    title: str
    teaser: str = ""
    tags: list[str]
    published_at: AwareDatetime | None = None
    source: str | None = None

    @field_validator("url", mode="before")
    @classmethod
    def _check_url(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        url = value.strip()
        if not url:
            raise ValueError("is empty")
        if len(url) > MAX_URL_LENGTH:
            raise ValueError(f"is longer than {MAX_URL_LENGTH} characters")
        if _URL_FORBIDDEN.search(url):
            raise ValueError("contains spaces or control characters")
        parts = urlsplit(url)
        if parts.scheme.lower() not in {"http", "https"}:
            raise ValueError("must start with http:// or https://")
        if not parts.hostname:
            raise ValueError("has no host")
        if utf16_len(escape_attribute(url)) > MAX_ESCAPED_URL_LENGTH:
            raise ValueError("has too many characters that HTML must escape (&, <, >, quotes)")
        return url

    @field_validator("title", mode="before")
    @classmethod
    def _check_title(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        title = clean_text(value)
        if not title:
            raise ValueError("is empty")
        if len(title) > MAX_TITLE_LENGTH:
            raise ValueError(f"is longer than {MAX_TITLE_LENGTH} characters")
        return title

    @field_validator("teaser", mode="before")
    @classmethod
    def _clean_teaser(cls, value: object) -> object:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError("must be a string")
        return cut_at_word(clean_text(strip_html(value)), MAX_TEASER_LENGTH)

    @field_validator("tags", mode="before")
    @classmethod
    def _check_tags(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError('must be a list of strings, e.g. ["Japan", "Russia"]')
        if not isinstance(value, list):
            raise ValueError("must be a list of strings")
        if not value:
            raise ValueError("needs at least one tag")
        if len(value) > MAX_TAGS:
            raise ValueError(f"has more than {MAX_TAGS} tags")
        for index, tag in enumerate(value):
            if not isinstance(tag, str):
                raise ValueError(f"tag {index + 1} is not a string")
        return value

    @field_validator("source", mode="before")
    @classmethod
    def _check_source(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be a string")
        source = clean_text(value)
        if len(source) > MAX_SOURCE_LENGTH:
            raise ValueError(f"is longer than {MAX_SOURCE_LENGTH} characters")
        return source or None


def validate_article(raw: Any, *, now: datetime | None = None) -> NewArticle:
    """Turn one raw record into a NewArticle or raise InvalidArticle naming the first problem."""
    if not isinstance(raw, dict):
        raise InvalidArticle("record", "must be a JSON object with url, title and tags")
    try:
        article = ArticleIn.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "record"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "timezone_aware" or field == "published_at":
            message = "must be ISO 8601 with a time zone, e.g. 2026-11-29T10:00:00+00:00"
        raise InvalidArticle(field, message) from None

    tags: list[tuple[str, str]] = []
    for index, raw_tag in enumerate(article.tags):
        try:
            tag = parse_tag(raw_tag)
        except InvalidTag as exc:
            raise InvalidArticle(f"tags.{index}", str(exc)) from None
        if all(key != tag.key for _, key in tags):
            tags.append((tag.name, tag.key))

    published = article.published_at or now or datetime.now(UTC)
    return NewArticle(
        url=article.url,
        title=article.title,
        teaser=article.teaser,
        tags=tuple(tags),
        published_at=published.astimezone(UTC),
        source=article.source,
    )
