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
    # The story's picture: an http(s) URL, or the file_id of a photo sent to the bot with
    # /post (see `is_web_image`); None when it has none.
    image: str | None = None


def is_web_image(image: str) -> bool:
    """True for a picture given as an http(s) URL, False for a Telegram file_id (which never
    contains "://"). sendPhoto takes either as it is; only a URL can be a link preview."""
    return "://" in image


@dataclass(frozen=True, slots=True)
class NewArticle:
    """A validated story, ready to be stored; tags are (name, key) pairs in the story's order."""

    url: str
    title: str
    teaser: str
    tags: tuple[tuple[str, str], ...]
    published_at: datetime
    source: str | None = None
    image: str | None = None
    # A scheduled story: held (stored, but in no list and no outbox) until this moment, then
    # released to its followers (storage: `release_due`). None: it goes out at once.
    publish_at: datetime | None = None


class IngestStatus(enum.StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    # A known story pushed again with "update": true, and changed: its teasers are edited.
    CORRECTED = "corrected"


@dataclass(frozen=True, slots=True)
class IngestResult:
    url: str
    article_id: int
    status: IngestStatus
    recipients: int
    # Unix seconds a new story is held until (scheduled); None when it went out at once.
    publish_at: float | None = None


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


class PictureMode(enum.StrEnum):
    """How a teaser shows its story's picture."""

    # sendPhoto with the teaser as its caption (at most 1024 UTF-16 units).
    PHOTO = "photo"
    # The text teaser with the picture as a large link preview above it.
    PREVIEW = "preview"
    # The text teaser alone.
    OFF = "off"


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
    pictures: PictureMode = PictureMode.PHOTO


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


# The error a delivery skipped for a muted word keeps (storage tells it from a chat gone away).
SKIPPED_MUTED = "muted word"


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
    # Telegram's id of the message that carried it, once sent (a digest's, for each story in it).
    message_id: int | None = None
    # Sent inside a combined message (a digest or a burst): its heading's kind ('burst',
    # 'hourly', 'daily', 'quiet') and language, so that a correction can render it again.
    digest_kind: str | None = None
    digest_language: str | None = None


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
    # When it was paused after TAGWIRE_FEED_PAUSE_AFTER failures in a row (not polled until
    # resumed); None while it is polled.
    paused_at: float | None = None


@dataclass(frozen=True, slots=True)
class Incident:
    """Trouble the admins were told of and not yet told is over (bot/alerts): `key` names it
    ('feed:12', 'outbox', 'telegram'), `detail` says what it was about."""

    key: str
    started_at: float
    detail: str
    announced_at: float


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


@dataclass(frozen=True, slots=True)
class ScheduledStory:
    """A story pushed to go out later: the story (its tags as pushed), when it is due and what
    became of it. Times are Unix seconds; held until released or cancelled."""

    article: Article
    publish_at: float
    # False: pushed with --no-notify, so its release queues no delivery.
    notify: bool
    created_at: float
    released_at: float | None = None
    cancelled_at: float | None = None

    @property
    def held(self) -> bool:
        return self.released_at is None and self.cancelled_at is None


@dataclass(frozen=True, slots=True)
class ReleasedStory:
    """A scheduled story that has just gone out: in the lists, and queued for its followers."""

    article_id: int
    url: str
    recipients: int


@dataclass(frozen=True, slots=True)
class StoryReport:
    """What became of one story's deliveries, from the outbox (finished rows are pruned after
    a week, so an older story's figures shrink). Times are Unix seconds."""

    article: Article
    # Set when the story was scheduled (held, released or cancelled).
    schedule: ScheduledStory | None
    # Chats (forum topics count apiece) it was queued for.
    chats: int
    sent: int
    pending: int
    # Of the pending: waiting for the chat's quiet hours to end or for its digest.
    held: int
    skipped_muted: int
    # Chats that blocked the bot, left or were deleted before their turn.
    skipped_inactive: int
    failed: int
    # (reason, count), most frequent first: the ten most frequent reasons of `failed`.
    failures: tuple[tuple[str, int], ...]
    # When its deliveries were queued (the fan-out; for a scheduled story, its release).
    queued_at: float | None
    first_sent_at: float | None
    last_sent_at: float | None
    # When the sends reached half of `chats` (rounded up); None while they have not.
    half_sent_at: float | None
    # Its corrections and retraction (storage/*_corrections.py); None when it had neither.
    edits: EditFigures | None = None

    @property
    def half_after(self) -> float | None:
        """Seconds from the fan-out until half of its chats had it."""
        if self.half_sent_at is None or self.queued_at is None:
            return None
        return max(0.0, self.half_sent_at - self.queued_at)

    @property
    def all_after(self) -> float | None:
        """Seconds from the fan-out until every chat it was for had it; None until then
        (and for good when a chat was skipped or failed)."""
        if self.chats == 0 or self.sent < self.chats or self.last_sent_at is None:
            return None
        return max(0.0, self.last_sent_at - (self.queued_at or self.last_sent_at))


# Corrections and retractions (storage/sqlite_corrections.py, storage/postgres_corrections.py;
# bot/delivery/edits.py sends them).

# The error a delivery cancelled by its story's retraction keeps.
SKIPPED_RETRACTED = "retracted"


class EditAction(enum.StrEnum):
    """What an edit does to a delivered teaser."""

    # editMessageText / editMessageCaption with the story's current version.
    EDIT = "edit"
    # deleteMessage, or (past Telegram's 48 hours) an edit into the "withdrawn" note.
    DELETE = "delete"


class EditStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    # Nothing to do: the delivery was never sent, or its message is a digest's.
    SKIPPED = "skipped"


# What a done edit did (EditOutcome.outcome) and why one was skipped.
EDITED = "edited"
UNCHANGED = "unchanged"
DELETED = "deleted"
NOTED = "noted"
NOT_SENT = "never sent"
IN_A_DIGEST = "in a digest"


@dataclass(frozen=True, slots=True)
class StoryChanges:
    """A correction: the fields given (None: unchanged). `tags` are (name, key) pairs."""

    title: str | None = None
    teaser: str | None = None
    image: str | None = None
    source: str | None = None
    tags: tuple[tuple[str, str], ...] | None = None
    # True: remove the story's picture (an `image` of "" in a correction).
    drop_image: bool = False


@dataclass(frozen=True, slots=True)
class Correction:
    """What a correction did: the story as it now is, whether anything changed, and how many
    delivered teasers were queued for an edit."""

    article: Article
    changed: bool
    edits_queued: int
    # The story was retracted: nothing was changed.
    retracted: bool = False


@dataclass(frozen=True, slots=True)
class Retraction:
    """What a retraction did: pending deliveries cancelled, delivered teasers queued to be
    deleted (or, past 48 hours, edited into the note); `already` when it was retracted
    before (nothing done again)."""

    article: Article
    cancelled: int
    deletes_queued: int
    retracted_at: float
    already: bool = False


@dataclass(frozen=True, slots=True)
class EditJob:
    """A claimed edit of one delivered teaser, with what sending it needs."""

    id: int
    delivery_id: int
    article_id: int
    action: EditAction
    revision: int
    attempts: int
    chat_id: int
    chat_type: str
    thread_id: int
    # The delivery's status and message (None when it never went out).
    delivery_status: str
    message_id: int | None
    # When the teaser was sent (Unix seconds), for Telegram's 48 hours.
    sent_at: float | None
    # It went out inside a combined message (a digest or a burst): recorded as one, or other
    # stories went out in the same message.
    shared: bool


@dataclass(frozen=True, slots=True)
class MessageEdit:
    """A pending edit of one of a combined message's stories, as read with the message."""

    id: int
    article_id: int
    action: EditAction
    revision: int
    attempts: int


@dataclass(frozen=True, slots=True)
class CombinedMessage:
    """One message that carried several stories (a digest or a burst), read again to render
    it anew: its stories in the order they were sent, how its heading was made (None when an
    older version sent it and did not record it) and the edits pending for any of them."""

    chat_id: int
    message_id: int
    thread_id: int
    article_ids: tuple[int, ...]
    digest_kind: str | None
    digest_language: str | None
    # Its deliveries were held for a digest or quiet hours (not a burst).
    held: bool
    # When it was sent (Unix seconds), for Telegram's 48 hours.
    sent_at: float | None
    edits: tuple[MessageEdit, ...]


@dataclass(frozen=True, slots=True)
class EditResult:
    """The outcome of one edit: DONE, FAILED or SKIPPED with `outcome` (what it did, or why),
    or PENDING again (a retry) at `due_at`. Written only while the row still has `revision`:
    a newer correction leaves the row pending, to be sent again with the newer text."""

    id: int
    revision: int
    status: EditStatus
    outcome: str | None
    attempts: int
    due_at: float
    finished_at: float | None = None


@dataclass(frozen=True, slots=True)
class EditFigures:
    """A story's edits (corrections) and deletions (retraction) by what became of them."""

    edited: int = 0
    unchanged: int = 0
    edits_pending: int = 0
    deleted: int = 0
    noted: int = 0
    deletes_pending: int = 0
    skipped: int = 0
    failed: int = 0
    # (reason, count), most frequent first.
    failures: tuple[tuple[str, int], ...] = ()
    corrections: int = 0
    retracted_at: float | None = None
    # Deliveries cancelled by the retraction before they went out.
    cancelled: int = 0
