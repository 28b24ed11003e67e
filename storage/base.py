"""The storage interface the rest of tagwire uses; SQLite implements it, PostgreSQL can too."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from storage.models import (
    Article,
    Chat,
    DeliveryUpdate,
    FollowResult,
    IngestResult,
    NewArticle,
    PendingDelivery,
    Stats,
    Tag,
    TagActivity,
)


class StorageUnavailable(Exception):
    """The database cannot be opened or written; the message says why, in one line."""


class Store(ABC):
    """All reads and writes of chats, tags, subscriptions, stories and the delivery outbox.

    Every method is one transaction. Times are Unix seconds (UTC) and are passed in where the
    result depends on them, so that tests control the clock.
    """

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> bool:
        """True when the database answers a trivial query."""

    # Chats

    @abstractmethod
    async def register_chat(self, chat_id: int, chat_type: str, title: str | None) -> Chat:
        """Create the chat or mark it active again, keeping its subscriptions."""

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
        self, chat_id: int, tags: Sequence[tuple[str, str]], max_tags: int, now: float
    ) -> list[FollowResult]:
        """Follow (name, key) tags, creating unknown ones; never more than `max_tags` per chat."""

    @abstractmethod
    async def unfollow(self, chat_id: int, tag_ids: Sequence[int]) -> list[Tag]:
        """Stop following; returns the tags that were followed."""

    @abstractmethod
    async def unfollow_all(self, chat_id: int) -> int: ...

    @abstractmethod
    async def followed_tags(self, chat_id: int) -> list[Tag]: ...

    # Stories

    @abstractmethod
    async def add_articles(
        self, articles: Sequence[NewArticle], *, notify: bool, now: float
    ) -> list[IngestResult]:
        """Store new stories (a known URL is a duplicate and changes nothing) and, with
        `notify`, queue one delivery per following chat in the same transaction."""

    @abstractmethod
    async def latest_articles(self, tag_id: int, limit: int) -> list[Article]: ...

    @abstractmethod
    async def latest_for_chat(self, chat_id: int, limit: int) -> list[Article]:
        """The newest stories across every tag the chat follows."""

    @abstractmethod
    async def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...

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
