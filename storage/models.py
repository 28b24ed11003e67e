"""The records the storage layer hands out: frozen, typed, free of SQL."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from storage.words import FollowWords


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
    username: str | None = None


class DeliveryMode(enum.StrEnum):
    INSTANT = "instant"
    HOURLY = "hourly"
    DAILY = "daily"


@dataclass(frozen=True, slots=True)
class ChatSettings:
    """How a chat wants its stories: when, in which language, with previews or not."""

    language: str | None = None
    link_previews: bool = True
    mode: DeliveryMode = DeliveryMode.INSTANT
    # In instant mode, more than three stories waiting at once go out as one message.
    combine_bursts: bool = False
    digest_hour: int = 8
    timezone: str = "UTC"
    # Minutes after local midnight; both None when there are no quiet hours.
    quiet_start: int | None = None
    quiet_end: int | None = None


@dataclass(frozen=True, slots=True)
class ChatPrefs:
    """What the delivery engine needs to know about a chat, and what the bot compares when the
    chat writes again."""

    chat_id: int
    type: str
    settings: ChatSettings
    muted: tuple[str, ...] = ()
    title: str | None = None
    username: str | None = None
    active: bool = True


class FollowOutcome(enum.StrEnum):
    FOLLOWED = "followed"
    ALREADY = "already"
    LIMIT = "limit"


@dataclass(frozen=True, slots=True)
class FollowResult:
    tag: Tag
    outcome: FollowOutcome


@dataclass(frozen=True, slots=True)
class Follow:
    """A tag a chat (or forum topic) follows, with the words that narrow it (storage/words.py)."""

    tag: Tag
    words: FollowWords = field(default_factory=FollowWords)


@dataclass(frozen=True, slots=True)
class ImportedFollow:
    """A follow an imported file asks for: a tag (name, key) in a forum topic (0: the chat)."""

    name: str
    key: str
    words: FollowWords = field(default_factory=FollowWords)
    thread_id: int = 0


@dataclass(frozen=True, slots=True)
class ChatSetup:
    """All that a chat has chosen, as an import replaces it: its follows (every forum topic's),
    muted words and settings."""

    follows: tuple[ImportedFollow, ...]
    muted: tuple[str, ...]
    settings: ChatSettings


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
    # The forum topic to post into; 0 is the chat itself.
    thread_id: int = 0
    # Held back by quiet hours or a digest schedule: it goes out in a digest.
    held: bool = False


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
    held: bool = False


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


@dataclass(frozen=True, slots=True)
class Feed:
    """An RSS/Atom feed the bot polls, with what the last polls found. Times are Unix seconds."""

    id: int
    url: str
    # Tag names every story of this feed gets, besides the entry's own categories.
    tags: tuple[str, ...]
    etag: str | None
    last_modified: str | None
    # False until the first successful poll stored the backlog (without notifying anyone).
    primed: bool
    created_at: float
    last_polled_at: float | None = None
    last_success_at: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    # Failed polls since the last success.
    failures: int = 0


@dataclass(frozen=True, slots=True)
class OutboxFigures:
    """The outbox at a glance, for metrics: pending deliveries and when the oldest was queued."""

    pending: int
    oldest_pending_at: float | None


@dataclass(frozen=True, slots=True)
class InstanceSeen:
    """A `tagwire run` process as it last recorded itself: its name, its role ("leader" or
    "follower"), when it started and when it was last seen (Unix seconds)."""

    name: str
    role: str
    started_at: float
    seen_at: float
