"""What the HTTP API takes and answers, as pydantic models: the handlers of `bot.web.api`
build their answers from them and the OpenAPI document (/openapi.json) is generated from them.

A pushed story is checked by `bot.intake.validation` record by record (a bad one is reported
with its field, the others are stored), so `StoryIn` and `StoryChanges` describe a valid
story for the document; they never refuse a whole request."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from bot.intake.validation import (
    MAX_IMAGE_LENGTH,
    MAX_SOURCE_LENGTH,
    MAX_TAGS,
    MAX_TEASER_LENGTH,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
)

# A moment as the API has always written it: ISO 8601 with its offset (+00:00, not Z).
Moment = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
TagName = Annotated[str, Field(min_length=1, max_length=64)]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Requests


class StoryIn(BaseModel):
    """A story to push. Each is validated on its own: one that breaks a rule is answered
    `rejected` with its field and reason, and the others of the request are stored."""

    model_config = ConfigDict(extra="allow")

    update: bool = Field(
        default=False,
        description="true: a known URL is a correction (its fields replace the stored ones "
        "and its delivered teasers are edited), not a duplicate.",
    )
    url: str = Field(
        max_length=MAX_URL_LENGTH,
        json_schema_extra={"format": "uri"},
        description="http or https; the story's identity: a known URL is a duplicate and "
        "notifies nobody.",
    )
    title: str = Field(min_length=1, max_length=MAX_TITLE_LENGTH)
    teaser: str = Field(
        default="",
        description=f"Plain text (HTML is stripped), cut to {MAX_TEASER_LENGTH} characters.",
    )
    tags: list[TagName] = Field(min_length=1, max_length=MAX_TAGS)
    published_at: datetime | None = Field(
        default=None,
        description="ISO 8601 with a time zone; now when absent (publish_at when that is "
        "given). More than a minute ahead, without publish_at: the story is scheduled for "
        "then. At most a year ahead.",
    )
    publish_at: datetime | None = Field(
        default=None,
        description="When the story goes out, ISO 8601 with a time zone. Ahead of now (at "
        "most a year), the story is held until then, to the second: stored, but in no list, "
        "search or tag count, and sent to nobody, until its time.",
    )
    source: str | None = Field(default=None, max_length=MAX_SOURCE_LENGTH)
    image: str | None = Field(
        default=None,
        max_length=MAX_IMAGE_LENGTH,
        json_schema_extra={"format": "uri"},
        description="The story's picture, http or https. Telegram fetches it when the teaser "
        "goes out (tagwire never does): a photo with the teaser as its caption, or a large "
        "preview above the text, as each chat chose. A picture Telegram refuses leaves the "
        "text teaser.",
    )


class StoryChanges(BaseModel):
    """The fields to correct; those left out stay as they are."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE_LENGTH)
    teaser: str | None = Field(default=None, max_length=MAX_TEASER_LENGTH)
    tags: list[TagName] | None = Field(default=None, min_length=1, max_length=MAX_TAGS)
    image: str | None = Field(
        default=None,
        description="A new picture (http or https); an empty string or null removes it. An "
        "already sent photo keeps its picture: its caption is edited.",
    )
    source: str | None = Field(default=None, max_length=MAX_SOURCE_LENGTH)


# Answers


class ErrorAnswer(_Answer):
    error: str = Field(description="What is wrong, in one sentence.")
    suggestions: list[str] | None = Field(
        default=None, description="For an unknown tag: known tags it may have meant."
    )
    field: str | None = Field(default=None, description="For a bad correction: the field.")
    retracted_at: Moment | None = Field(default=None, description="For a retracted story.")


class StoryResult(_Answer):
    index: int = Field(description="Position in the request, from 0.")
    status: Literal["created", "duplicate", "corrected", "rejected"] = Field(
        description="corrected: a known URL pushed with `update: true` and changed; its "
        "delivered teasers are edited."
    )
    id: int | None = Field(default=None, description="The story's id (all but rejected).")
    url: str | None = None
    deliveries_queued: int | None = None
    publish_at: Moment | None = Field(
        default=None,
        description="A new scheduled story: when it goes out (it is held until then).",
    )
    field: str | None = Field(default=None, description="The rejected field, e.g. tags.0.")
    reason: str | None = Field(default=None, description="Why it was rejected.")


class IngestAnswer(_Answer):
    created: int
    duplicates: int
    rejected: int
    deliveries_queued: int
    scheduled: int = Field(description="Of the created, how many are held until publish_at.")
    corrected: int = Field(description="Known stories pushed with `update: true` and changed.")
    results: list[StoryResult]


class Story(_Answer):
    id: int
    url: str
    title: str
    teaser: str
    tags: list[str]
    source: str | None
    published_at: Moment
    image: str | None = Field(
        description="The story's picture: an http(s) URL, or for a photo sent to the bot "
        "with /post, Telegram's file_id of it (no `://`)."
    )


class TagFigures(_Answer):
    name: str
    story_count: int
    follower_count: int


class TagStories(_Answer):
    tag: TagFigures
    articles: list[Story] = Field(description="Newest first.")


class TagList(_Answer):
    tags: list[TagFigures]


class Schedule(_Answer):
    state: Literal["held", "released", "cancelled"]
    publish_at: Moment | None
    released_at: Moment | None
    cancelled_at: Moment | None


class Skipped(_Answer):
    muted: int = Field(description="For a word the chat muted.")
    inactive: int = Field(description="The chat blocked the bot, left or was deleted.")


class FailureCount(_Answer):
    reason: str
    count: int


class StoryEdits(_Answer):
    corrections: int
    edited: int = Field(description="Teasers edited in place.")
    unchanged: int = Field(description="Teasers that already read so (Telegram: not modified).")
    edits_pending: int
    retracted_at: Moment | None
    cancelled: int = Field(description="Deliveries the retraction cancelled before they went out.")
    deleted: int
    noted: int = Field(description="Teasers older than 48 hours, edited into the withdrawn note.")
    deletes_pending: int
    skipped: int = Field(description="Never sent, or its message was not found: not edited.")
    failed: int
    failures: list[FailureCount]


class StoryReport(_Answer):
    story: Story
    scheduled: Schedule | None = Field(description="Set when the story was scheduled.")
    chats: int = Field(description="Chats (forum topics apiece) it was queued for.")
    sent: int
    pending: int
    held: int = Field(description="Of the pending: waiting for quiet hours to end or a digest.")
    skipped: Skipped
    failed: int
    failures: list[FailureCount] = Field(
        description="The ten most frequent reasons of the failed, most first."
    )
    queued_at: Moment | None = Field(description="The fan-out (a scheduled story's release).")
    first_sent_at: Moment | None
    last_sent_at: Moment | None
    half_after_seconds: float | None = Field(
        description="From the fan-out until half of its chats had it; null until then."
    )
    all_after_seconds: float | None = Field(
        description="From the fan-out until every chat had it; null until then (and for good "
        "when one was skipped or failed)."
    )
    edits: StoryEdits | None = Field(
        description="Its corrections and retraction; null when it had neither."
    )


class Correction(_Answer):
    story: Story
    changed: bool
    edits_queued: int = Field(description="Delivered teasers queued to be edited in place.")


class Retraction(_Answer):
    id: int
    url: str
    retracted_at: Moment
    deliveries_cancelled: int
    deletes_queued: int = Field(
        description="Delivered teasers queued to be deleted (older than 48 hours: edited into "
        "a short withdrawn note)."
    )


class Health(_Answer):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    bot: Literal["running", "stopped"]
    mode: Literal["polling", "webhook"]
    instance: str = Field(description="TAGWIRE_INSTANCE_NAME")
    role: Literal["leader", "follower"] = Field(
        description="The leader sends; followers answer updates and the API."
    )


def error_responses(described: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for error statuses ({400: "why"}), each an ErrorAnswer."""
    return {
        status: {"model": ErrorAnswer, "description": text} for status, text in described.items()
    }
