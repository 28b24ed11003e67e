"""Validation of a pushed story: the same rules for the CLI, the HTTP API and feeds."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
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
# A story dated (`published_at`) up to this far ahead (seconds) goes out at once: the clocks of
# feeds and of the machines that push are a little off. Past it, the story is scheduled: held
# until then. A `publish_at` ahead is held whatever the distance.
SCHEDULE_TOLERANCE = 60.0
# A story dated further ahead than this is refused: a typo of a year, not a schedule.
MAX_SCHEDULE_AHEAD = timedelta(days=366)
# A picture's URL: shorter than a story's, as Telegram fetches it (and a file_id is ~100).
MAX_IMAGE_LENGTH = 1024
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
    # When the story goes out, if not at once (and not at a future `published_at`).
    publish_at: AwareDatetime | None = None
    source: str | None = None
    image: str | None = None

    @field_validator("url", mode="before")
    @classmethod
    def _check_url(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        url = value.strip()
        problem = url_problem(url, MAX_URL_LENGTH)
        if problem is not None:
            raise ValueError(problem)
        if utf16_len(escape_attribute(url)) > MAX_ESCAPED_URL_LENGTH:
            raise ValueError("has too many characters that HTML must escape (&, <, >, quotes)")
        return url

    @field_validator("image", mode="before")
    @classmethod
    def _check_image(cls, value: object) -> object:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("must be a string")
        image = value.strip()
        if not image:
            return None
        problem = url_problem(image, MAX_IMAGE_LENGTH)
        if problem is not None:
            raise ValueError(problem)
        return image

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


def url_problem(url: str, max_length: int) -> str | None:
    """What is wrong with `url` as a story's link or picture (None: nothing): it must be a
    whole http(s) URL with a host, without spaces or control characters."""
    if not url:
        return "is empty"
    if len(url) > max_length:
        return f"is longer than {max_length} characters"
    if _URL_FORBIDDEN.search(url):
        return "contains spaces or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() not in {"http", "https"}:
        return "must start with http:// or https://"
    if not host:
        return "has no host"
    return None


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
        elif error["type"] == "timezone_aware" or field in {"published_at", "publish_at"}:
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

    moment = now or datetime.now(UTC)
    hold_until = _hold_until(article.published_at, article.publish_at, moment)
    published = article.published_at or article.publish_at or moment
    return NewArticle(
        url=article.url,
        title=article.title,
        teaser=article.teaser,
        tags=tuple(tags),
        published_at=published.astimezone(UTC),
        source=article.source,
        image=article.image,
        publish_at=hold_until,
    )


def _hold_until(
    published_at: datetime | None, publish_at: datetime | None, now: datetime
) -> datetime | None:
    """When a story is to go out if not now: its `publish_at` when that is ahead (an operator's
    instruction, kept to the second), else its `published_at` when that is more than
    SCHEDULE_TOLERANCE ahead (a date, which a clock a little off may put ahead); None to send
    it at once."""
    for field, moment in (("publish_at", publish_at), ("published_at", published_at)):
        if moment is not None and moment - now > MAX_SCHEDULE_AHEAD:
            raise InvalidArticle(field, "is more than a year ahead; is the year right?")
    if publish_at is not None:
        return publish_at.astimezone(UTC) if publish_at > now else None
    if published_at is None or (published_at - now).total_seconds() <= SCHEDULE_TOLERANCE:
        return None
    return published_at.astimezone(UTC)
