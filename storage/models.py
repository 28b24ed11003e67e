"""The records the storage layer hands out: frozen, typed, free of SQL."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Tag:
    id: int
    name: str
    key: str
    story_count: int
    follower_count: int


@dataclass(frozen=True, slots=True)
class TagActivity:
    tag: Tag
    recent_stories: int


@dataclass(frozen=True, slots=True)
class Article:
    id: int
    url: str
    title: str
    teaser: str
    source: str | None
    published_at: datetime
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NewArticle:
    """A validated story, ready to be stored; tags are (name, key) pairs in the story's order."""

    url: str
    title: str
    teaser: str
    tags: tuple[tuple[str, str], ...]
    published_at: datetime
    source: str | None = None


class IngestStatus(enum.StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class IngestResult:
    url: str
    article_id: int
    status: IngestStatus
    recipients: int


@dataclass(frozen=True, slots=True)
class Chat:
    id: int
    type: str
    title: str | None
    active: bool


class FollowOutcome(enum.StrEnum):
    FOLLOWED = "followed"
    ALREADY = "already"
    LIMIT = "limit"


@dataclass(frozen=True, slots=True)
class FollowResult:
    tag: Tag
    outcome: FollowOutcome


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    # Not sent because the chat went away (blocked the bot, was deleted): not a failure of ours.
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    id: int
    article_id: int
    chat_id: int
    chat_type: str
    attempts: int
    due_at: float


@dataclass(frozen=True, slots=True)
class DeliveryUpdate:
    """The new state of one delivery after a send attempt (or a decision not to send)."""

    id: int
    status: DeliveryStatus
    attempts: int
    due_at: float
    error: str | None = None
    finished_at: float | None = None
    # False records a failed attempt while the worker keeps the delivery to retry it.
    release: bool = True


@dataclass(frozen=True, slots=True)
class Stats:
    chats_active: int
    chats_inactive: int
    subscriptions: int
    stories: int
    deliveries_pending: int
    deliveries_failed: int
    deliveries_sent: int
    last_delivery_delay: float | None
