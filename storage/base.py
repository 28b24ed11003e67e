"""The storage interface the rest of tagwire uses: SQLite (storage/sqlite.py) and PostgreSQL
(storage/postgres.py) implement it, and tests/storage holds both to one contract."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

from storage.models import (
    Article,
    Chat,
    ChatPrefs,
    ChatSettings,
    ChatSetup,
    CombinedMessage,
    Correction,
    DeliveryUpdate,
    EditFigures,
    EditJob,
    EditResult,
    Feed,
    Follow,
    FollowResult,
    Incident,
    IngestResult,
    InstanceSeen,
    NewArticle,
    OutboxFigures,
    PendingDelivery,
    ReleasedStory,
    Retraction,
    ScheduledStory,
    Stats,
    StoryChanges,
    StoryReport,
    Tag,
    TagActivity,
)
from storage.words import FollowWords

# How long an instance that stopped recording itself is remembered (seconds).
INSTANCE_MEMORY = 24 * 3600
# How long one search may take, its wait for a turn included (seconds); past it the search is
# stopped and SearchTooSlow raised. An ordinary search takes milliseconds.
SEARCH_TIME_LIMIT = 2.0


class StorageUnavailable(Exception):
    """The database cannot be opened, read or written just now (disk full, locked past the
    busy timeout, an I/O error, a PostgreSQL server unreachable or restarting); the message
    says why, in one line. Nothing of the operation
    that raised it was stored: it may be retried as it is."""


class InvalidSearch(ValueError):
    """A search query the full-text engine cannot parse."""


class SearchTooSlow(Exception):
    """A search that did not finish within the store's `search_time_limit` (its wait for a
    turn included) and was stopped; nothing is wrong with the database."""


class Store(ABC):
    """All reads and writes of chats, tags, subscriptions, stories and the delivery outbox.

    Every method is one transaction. Times are Unix seconds (UTC) and are passed in where the
    result depends on them, so that tests control the clock.
    """

    # Of each store, so that a test can shorten it.
    search_time_limit: float = SEARCH_TIME_LIMIT
    # Whether other processes may change the same data at any moment (several instances on
    # one PostgreSQL): what a process keeps in memory of it must then be read again.
    shared: bool = False

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> bool:
        """True when the database answers a trivial query."""

    async def write_problem(self) -> str | None:
        """None when the database takes writes; otherwise why the last one failed, checked
        again with a small write (so that space coming back is noticed)."""
        return None

    # Instances: several `tagwire run` on one database (bot/instance.py)

    @abstractmethod
    async def record_instance(self, name: str, role: str, *, started_at: float, now: float) -> None:
        """Note that instance `name` runs with `role` at `now`; rows of instances not seen
        for a day are removed meanwhile."""

    @abstractmethod
    async def instances(self, since: float) -> list[InstanceSeen]:
        """The instances seen at or after `since`, leader first, then by name."""

    async def watch_outbox(
        self,
        wake: Callable[[], None] | None,
        sent_elsewhere: Callable[[str, int], None] | None = None,
    ) -> None:
        """Call `wake` whenever any process queues deliveries, and `sent_elsewhere(instance,
        count)` whenever an instance reports messages it sent (report_sends); None stops. By
        default nothing: with SQLite one process sends, and its engine finds what another
        process (`tagwire push`) queued at its next poll of the outbox."""
        return None

    async def report_sends(self, instance: str, count: int) -> None:
        """Tell the instance that watches the outbox that `instance` sent `count` messages
        (replies to commands), so that its deliveries make room for them. By default nothing:
        with SQLite the one process that sends counts its replies itself."""
        return None

    # Chats

    @abstractmethod
    async def register_chat(
        self,
        chat_id: int,
        chat_type: str,
        title: str | None,
        username: str | None = None,
        language: str | None = None,
    ) -> Chat:
        """Create the chat (in `language`, when given) or mark it active again, keeping its
        subscriptions and settings."""

    @abstractmethod
    async def get_chat(self, chat_id: int) -> Chat | None: ...

    @abstractmethod
    async def deactivate_chat(self, chat_id: int, reason: str, now: float) -> int:
        """Mark the chat inactive and skip its pending deliveries; returns how many were skipped."""

    @abstractmethod
    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Move a group that became a supergroup, with its subscriptions and pending deliveries."""

    # Tags and subscriptions

    @abstractmethod
    async def find_tags(self, keys: Sequence[str]) -> dict[str, Tag]:
        """The known tags among `keys`, by key."""

    @abstractmethod
    async def get_tags(self, tag_ids: Sequence[int]) -> dict[int, Tag]: ...

    @abstractmethod
    async def tag_names_like(self, key: str, limit: int) -> list[Tag]:
        """Tags used by stories that could be what `key` meant: same start, or containing it."""

    @abstractmethod
    async def popular_tags(self, limit: int, since: float) -> list[TagActivity]:
        """Tags ordered by stories published since `since`, then by followers."""

    @abstractmethod
    async def follow(
        self,
        chat_id: int,
        tags: Sequence[tuple[str, str]],
        max_tags: int,
        now: float,
        thread_id: int = 0,
        words: FollowWords | None = None,
    ) -> list[FollowResult]:
        """Follow (name, key) tags, creating unknown ones; never more than `max_tags` per chat
        (per forum topic: `thread_id`, 0 for the chat itself). With `words`, those become the
        words of each tag followed, or already followed (replacing what it had). A name past
        the limit creates nothing: its result (LIMIT) has a Tag of id 0 when it was unknown."""

    @abstractmethod
    async def unfollow(self, chat_id: int, tag_ids: Sequence[int], thread_id: int = 0) -> list[Tag]:
        """Stop following; returns the tags that were followed. A tag left with no story and
        no follower is removed (on SQLite the newest one stays until a newer one exists, so
        that no tag id, which old buttons carry, is ever given to a second tag)."""

    @abstractmethod
    async def unfollow_all(self, chat_id: int, thread_id: int = 0) -> int:
        """Stop following every tag; how many were followed. Unused tags go as in unfollow."""

    @abstractmethod
    async def followed_tags(self, chat_id: int, thread_id: int = 0) -> list[Tag]: ...

    @abstractmethod
    async def follows(self, chat_id: int, thread_id: int = 0) -> list[Follow]:
        """The chat's (or forum topic's) follows with their words, in the order of
        `followed_tags`."""

    @abstractmethod
    async def set_follow_words(
        self, chat_id: int, tag_id: int, words: FollowWords, thread_id: int = 0
    ) -> bool:
        """Replace the words of a follow (empty words clear them); False when the chat does
        not follow the tag."""

    @abstractmethod
    async def all_follows(self, chat_id: int) -> list[tuple[int, Follow]]:
        """Every follow of the chat with its forum topic (0: the chat itself), by topic, then
        as `follows` orders them."""

    @abstractmethod
    async def import_chat(self, chat_id: int, setup: ChatSetup, now: float) -> None:
        """Replace, in one transaction, the chat's follows (in every forum topic), muted words
        and settings with `setup`'s (checked beforehand: its limits are not checked again);
        unknown tags are created, tags left unused go as in unfollow, and stories held for a
        digest become due again as in save_chat_settings."""

    # Stories

    @abstractmethod
    async def add_articles(
        self, articles: Sequence[NewArticle], *, notify: bool, now: float
    ) -> list[IngestResult]:
        """Store new stories (a known URL is a duplicate and changes nothing) and, with
        `notify`, queue one delivery per following chat in the same transaction: a chat
        gets a story once when any of its follows of the story's tags lets it through (its
        words, storage/words.py)."""

    @abstractmethod
    async def latest_articles(self, tag_id: int, limit: int) -> list[Article]: ...

    @abstractmethod
    async def latest_for_chat(self, chat_id: int, limit: int, thread_id: int = 0) -> list[Article]:
        """The newest stories across every tag the chat (or forum topic) follows."""

    @abstractmethod
    async def search(self, query: str, limit: int, offset: int = 0) -> list[Article]:
        """Stories whose title or teaser match `query` (full-text syntax: words, "phrases",
        OR, NOT), best match first and newest first among equals; InvalidSearch when the
        query cannot be parsed, SearchTooSlow when it has not finished within
        `search_time_limit` (waiting for a turn included: searches take turns, so that they
        never hold up the other reads)."""

    @abstractmethod
    async def save_search(self, chat_id: int, query: str, now: float) -> int:
        """Remember a search so a "More" button can page through it later; returns its id."""

    @abstractmethod
    async def get_search(self, search_id: int) -> tuple[int, str] | None:
        """The (chat id, query) of a remembered search."""

    @abstractmethod
    async def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...

    # Scheduled stories and reports (storage/sqlite_newsroom.py, storage/postgres_newsroom.py)

    @abstractmethod
    async def release_due(self, now: float, limit: int) -> list[ReleasedStory]:
        """Release up to `limit` scheduled stories due by `now`, in one transaction: each one
        enters its tags' lists (tag counts, /latest, searches) and, unless it was pushed
        without notifying, is fanned out to its followers as a new story is. A story is
        released once however many processes call this at the same time."""

    @abstractmethod
    async def next_publish_at(self) -> float | None:
        """When the earliest held scheduled story is due, or None when none is held."""

    @abstractmethod
    async def scheduled_stories(self, limit: int) -> list[ScheduledStory]:
        """The held scheduled stories, the soonest first."""

    @abstractmethod
    async def get_schedule(self, article_id: int) -> ScheduledStory | None:
        """The schedule of a story (held, released or cancelled); None when it had none."""

    @abstractmethod
    async def cancel_scheduled(self, url: str, now: float) -> ScheduledStory | None:
        """Cancel the held story with this URL for good (it never goes out; its URL stays
        known); returns its schedule as it now is (released or already cancelled ones are
        unchanged), or None when no scheduled story has this URL."""

    @abstractmethod
    async def article_id_for_url(self, url: str) -> int | None: ...

    @abstractmethod
    async def story_report(self, article_id: int) -> StoryReport | None:
        """What became of the story's deliveries; None when there is no such story."""

    # Corrections and retractions (storage/sqlite_corrections.py, storage/postgres_corrections.py)

    @abstractmethod
    async def correct_story(
        self, article_id: int, changes: StoryChanges, now: float
    ) -> Correction | None:
        """Store the story's new version (a new revision; tags moved between their lists and
        counts) and queue an edit of each teaser delivered or claimed for it, in one
        transaction; a held scheduled story just changes. Unchanged fields change nothing;
        a retracted story is not changed (`retracted`). None when there is no such story."""

    @abstractmethod
    async def retract_story(self, article_id: int, now: float) -> Retraction | None:
        """Withdraw the story for good, in one transaction: out of its tags' lists, counts and
        searches, its unclaimed pending deliveries cancelled (skipped, "retracted"), a held
        schedule cancelled, and a deletion queued for each teaser delivered or claimed (a
        claimed one waits for its send's outcome). A second retraction does nothing
        (`already`). None when there is no such story."""

    @abstractmethod
    async def retracted_among(self, article_ids: Sequence[int]) -> set[int]:
        """The retracted stories among `article_ids`."""

    @abstractmethod
    async def retracted_since(self, since: float) -> list[int]:
        """Stories retracted at or after `since`, in that order."""

    @abstractmethod
    async def retracted_at(self, article_id: int) -> float | None:
        """When the story was retracted; None while it stands (or when there is none)."""

    @abstractmethod
    async def release_edit_claims(self) -> int:
        """Forget the claims on edits left by a process that stopped; how many."""

    @abstractmethod
    async def claim_edits(
        self, now: float, limit: int, lease: float, exclude_chats: Sequence[int] = ()
    ) -> list[EditJob]:
        """Claim up to `limit` pending edits due by `now` whose delivery is no longer pending
        (sent, or finished without a message), oldest first, leaving out `exclude_chats`."""

    @abstractmethod
    async def finish_edits(self, results: Sequence[EditResult]) -> None:
        """Record edits' outcomes, ending their claims; an edit renewed meanwhile (a newer
        revision) stays pending instead."""

    @abstractmethod
    async def combined_message(self, chat_id: int, message_id: int) -> CombinedMessage | None:
        """The message `message_id` of the chat as a combined message (a digest or a burst):
        its stories in the order they were sent, its heading's kind and the edits pending for
        any of them; None when no delivery of the chat has that message."""

    @abstractmethod
    async def story_edits(self, article_id: int) -> EditFigures | None:
        """The story's corrections, retraction and edits by outcome; None when there is no
        such story, or it was neither corrected nor retracted."""

    # Reader settings

    @abstractmethod
    async def chat_prefs(self, chat_ids: Sequence[int]) -> dict[int, ChatPrefs]:
        """Settings and muted words of the known chats among `chat_ids`."""

    @abstractmethod
    async def save_chat_settings(self, chat_id: int, settings: ChatSettings) -> None:
        """Save the settings; stories held for a digest become due again, to be scheduled by
        the new settings."""

    @abstractmethod
    async def mute(
        self, chat_id: int, words: Sequence[str], max_words: int, now: float
    ) -> list[str]:
        """Mute words (already normalised); returns those newly muted, within `max_words`."""

    @abstractmethod
    async def unmute(self, chat_id: int, words: Sequence[str]) -> list[str]: ...

    @abstractmethod
    async def channels(self) -> list[Chat]:
        """Active channels the bot has been added to."""

    # Delivery outbox

    @abstractmethod
    async def release_claims(self) -> int:
        """Forget claims left by a process that stopped; returns how many were released."""

    @abstractmethod
    async def claim_due(
        self, now: float, limit: int, lease: float, exclude_chats: Sequence[int] = ()
    ) -> list[PendingDelivery]:
        """Claim up to `limit` pending deliveries due by `now`, oldest first, leaving out
        those of `exclude_chats`; a claim lasts `lease` seconds unless released."""

    @abstractmethod
    async def release_deliveries(self, delivery_ids: Sequence[int]) -> None:
        """Give claimed deliveries back unchanged, for this or another worker to take later."""

    @abstractmethod
    async def update_deliveries(self, updates: Sequence[DeliveryUpdate]) -> None:
        """Record outcomes in one transaction; each update also ends the delivery's claim."""

    @abstractmethod
    async def next_due_at(self) -> float | None:
        """When the earliest unclaimed pending delivery is due, or None when none is."""

    @abstractmethod
    async def prune_deliveries(self, finished_before: float, batch: int = 10_000) -> int: ...

    @abstractmethod
    async def stats(self) -> Stats: ...

    # Operators: feeds, key-value settings, figures for metrics

    @abstractmethod
    async def outbox_figures(self) -> OutboxFigures:
        """How many deliveries are pending and when the oldest of them was queued."""

    @abstractmethod
    async def list_tags(self, limit: int) -> list[Tag]:
        """Tags that have stories or followers, most stories first."""

    @abstractmethod
    async def add_feed(self, url: str, tags: Sequence[str], now: float) -> tuple[Feed, bool]:
        """Add a feed, or set the tags of a known one; True when it was new."""

    @abstractmethod
    async def list_feeds(self) -> list[Feed]:
        """Every feed, in the order they were added."""

    @abstractmethod
    async def remove_feed(self, url: str) -> bool:
        """Forget a feed (its stories stay); False when there was none with that URL."""

    @abstractmethod
    async def feed_succeeded(
        self, feed_id: int, etag: str | None, last_modified: str | None, now: float
    ) -> None:
        """A poll worked: keep the validators for the next conditional GET, clear the error,
        and mark the backlog as stored."""

    @abstractmethod
    async def feed_failed(
        self, feed_id: int, error: str, now: float, *, pause_after: int = 0
    ) -> bool:
        """A poll failed: keep the error and count it; the next poll tries again. With
        `pause_after`, the feed is paused at every `pause_after`-th failure in a row (so a
        resumed feed that goes on failing gets a whole streak again); True when this failure
        paused it."""

    @abstractmethod
    async def resume_feed(self, url: str) -> Feed | None:
        """Poll a paused feed again (its failures in a row are kept); returns the feed as it
        was before (`paused_at` says whether it was paused), None when no feed has the URL."""

    @abstractmethod
    async def get_meta(self, key: str) -> str | None:
        """A value of the small key-value table (e.g. the generated webhook secret)."""

    @abstractmethod
    async def put_meta_if_absent(self, key: str, value: str, now: float) -> str:
        """Store `value` unless `key` has one already; returns the value that is stored, so
        two processes racing to create it agree on one."""

    # Alerts to operators (storage/sqlite_alerts.py, storage/postgres_alerts.py; bot/alerts)

    @abstractmethod
    async def oldest_due_pending(self, now: float) -> float | None:
        """When the longest-waiting pending delivery that is due by `now` became due (held
        for a digest or quiet hours counts from its release), or None when none is due."""

    @abstractmethod
    async def incidents(self) -> list[Incident]:
        """The incidents announced and not yet over, oldest first."""

    @abstractmethod
    async def open_incident(self, key: str, started_at: float, detail: str, now: float) -> bool:
        """Record incident `key` as announced at `now`; False (and nothing changed) when it
        is recorded already, so that of two processes racing only one announces it."""

    @abstractmethod
    async def close_incident(self, key: str) -> bool:
        """Forget incident `key`; False when it was not recorded (nobody is to say it is
        over twice)."""
