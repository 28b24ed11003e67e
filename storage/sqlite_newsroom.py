"""The SQLite side of the newsroom's features: scheduled stories (held until their time, then
released once) and the report of what became of a story's deliveries.

A mixin of SqliteStore, which provides the connections, the transaction helper and the two
halves of an ingest that a release repeats later: linking stories to their tags, and the fan-out.

A scheduled story's `articles` row is written when it is pushed, so its URL is known (a second
push is a duplicate) and its id can be reported; what makes it visible is left for its release:
its `article_tags` rows (which /latest, /tags, the tag counts and the API lists read), its
deliveries, and, for searches, the release itself (UNRELEASED_LEFT_OUT).
"""

# Queries put together from constant column lists and `?` placeholders, never from input.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from storage.models import (
    SKIPPED_MUTED,
    Article,
    NewArticle,
    ReleasedStory,
    ScheduledStory,
    StoryReport,
)
from storage.sqlite_connections import SqliteConnections

if TYPE_CHECKING:
    import aiosqlite

# The condition, on `articles a`, that leaves out scheduled stories not yet released (held or
# cancelled); the same text serves PostgreSQL. `schedules` is keyed by the story's id.
UNRELEASED_LEFT_OUT = (
    "NOT EXISTS (SELECT 1 FROM schedules s0 WHERE s0.article_id = a.id AND s0.released_at IS NULL)"
)
# The most frequent reasons a report lists for failed deliveries.
FAILURE_REASONS = 10

_SCHEDULE_COLUMNS = (
    "a.id, a.url, a.title, a.teaser, a.source, a.published_at, a.image, "
    "s.tags, s.publish_at, s.notify, s.created_at, s.released_at, s.cancelled_at"
)


def story_report(
    article: Article,
    schedule: ScheduledStory | None,
    row: Sequence[Any],
    failures: Sequence[Sequence[Any]],
    half_row: Sequence[Any] | None,
) -> StoryReport:
    """The report from its figures as both backends read them: `row` holds chats, sent,
    pending, held, skipped (muted, inactive), failed, queued, first and last send; `half_row`
    the send that reached half of the chats."""
    return StoryReport(
        article=article,
        schedule=schedule,
        chats=int(row[0]),
        sent=int(row[1]),
        pending=int(row[2]),
        held=int(row[3]),
        skipped_muted=int(row[4]),
        skipped_inactive=int(row[5]),
        failed=int(row[6]),
        failures=tuple((str(reason), int(count)) for reason, count in failures),
        queued_at=row[7],
        first_sent_at=row[8],
        last_sent_at=row[9],
        half_sent_at=None if half_row is None else half_row[0],
    )


def tags_column(tags: Sequence[tuple[str, str]]) -> str:
    """A scheduled story's tags as kept until its release: [name, key] pairs, as JSON."""
    return json.dumps([list(pair) for pair in tags], ensure_ascii=False)


def tag_pairs(column: str) -> tuple[tuple[str, str], ...]:
    return tuple((str(name), str(key)) for name, key in json.loads(column))


def scheduled_story(row: sqlite3.Row | tuple[Any, ...]) -> ScheduledStory:
    """A ScheduledStory from a row of _SCHEDULE_COLUMNS (either backend)."""
    article = Article(
        id=row[0],
        url=row[1],
        title=row[2],
        teaser=row[3],
        source=row[4],
        published_at=datetime.fromtimestamp(row[5], UTC),
        tags=tuple(name for name, _ in tag_pairs(row[7])),
        image=row[6],
    )
    return ScheduledStory(
        article=article,
        publish_at=row[8],
        notify=bool(row[9]),
        created_at=row[10],
        released_at=row[11],
        cancelled_at=row[12],
    )


def stored_story(row: sqlite3.Row | tuple[Any, ...]) -> NewArticle:
    """The story of a row (url, title, teaser, source, published_at, image, tags column) as it
    was pushed, for the release to link and fan out as an ingest would have."""
    return NewArticle(
        url=row[0],
        title=row[1],
        teaser=row[2],
        source=row[3],
        published_at=datetime.fromtimestamp(row[4], UTC),
        image=row[5],
        tags=tag_pairs(row[6]),
    )


async def hold_stories(
    db: aiosqlite.Connection,
    held: Sequence[tuple[int, NewArticle]],
    *,
    notify: bool,
    now: float,
) -> None:
    """Keep stories whose articles rows were just written until their time (in the ingest's
    transaction)."""
    await db.executemany(
        "INSERT INTO schedules (article_id, publish_at, tags, notify, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [
            (article_id, article.publish_at.timestamp(), tags_column(article.tags), notify, now)
            for article_id, article in held
            if article.publish_at is not None
        ],
    )


class SqliteNewsroomMixin(SqliteConnections):
    if TYPE_CHECKING:
        # Provided by SqliteStore.
        async def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...

        @staticmethod
        async def _link_stories(
            db: aiosqlite.Connection, fresh: Sequence[tuple[int, NewArticle]], now: float
        ) -> None: ...

        @staticmethod
        async def _fan_out(
            db: aiosqlite.Connection, fresh: Sequence[tuple[int, NewArticle]], now: float
        ) -> Counter[int]: ...

    async def release_due(self, now: float, limit: int) -> list[ReleasedStory]:
        async with self._transaction() as db:
            # The write lock (BEGIN IMMEDIATE) makes this the only writer: a story is marked
            # released, and fanned out, by one transaction only.
            async with db.execute(
                """
                UPDATE schedules SET released_at = ?1
                WHERE article_id IN (
                    SELECT article_id FROM schedules
                    WHERE released_at IS NULL AND cancelled_at IS NULL AND publish_at <= ?1
                    ORDER BY publish_at, article_id
                    LIMIT ?2
                ) AND released_at IS NULL AND cancelled_at IS NULL
                RETURNING article_id, notify
                """,
                (now, limit),
            ) as cursor:
                due: dict[int, bool] = {row[0]: bool(row[1]) for row in await cursor.fetchall()}
            if not due:
                return []
            async with db.execute(
                """
                SELECT a.id, a.url, a.title, a.teaser, a.source, a.published_at, a.image, s.tags
                FROM articles a JOIN schedules s ON s.article_id = a.id
                WHERE a.id IN (SELECT value FROM json_each(?))
                ORDER BY s.publish_at, a.id
                """,
                (json.dumps(list(due)),),
            ) as cursor:
                stories = [(row[0], stored_story(row[1:])) for row in await cursor.fetchall()]
            await self._link_stories(db, stories, now)
            notified = [(article_id, story) for article_id, story in stories if due[article_id]]
            recipients = await self._fan_out(db, notified, now) if notified else Counter()
        return [
            ReleasedStory(article_id, story.url, recipients.get(article_id, 0))
            for article_id, story in stories
        ]

    async def next_publish_at(self) -> float | None:
        row = await self._read_one(
            "SELECT MIN(publish_at) FROM schedules "
            "WHERE released_at IS NULL AND cancelled_at IS NULL"
        )
        return None if row is None or row[0] is None else float(row[0])

    async def scheduled_stories(self, limit: int) -> list[ScheduledStory]:
        rows = await self._read_all(
            f"""
            SELECT {_SCHEDULE_COLUMNS}
            FROM schedules s JOIN articles a ON a.id = s.article_id
            WHERE s.released_at IS NULL AND s.cancelled_at IS NULL
            ORDER BY s.publish_at, s.article_id
            LIMIT ?
            """,
            (limit,),
        )
        return [scheduled_story(row) for row in rows]

    async def get_schedule(self, article_id: int) -> ScheduledStory | None:
        row = await self._read_one(
            f"SELECT {_SCHEDULE_COLUMNS} FROM schedules s JOIN articles a ON a.id = s.article_id "
            "WHERE s.article_id = ?",
            (article_id,),
        )
        return None if row is None else scheduled_story(row)

    async def cancel_scheduled(self, url: str, now: float) -> ScheduledStory | None:
        async with self._transaction() as db:
            await db.execute(
                """
                UPDATE schedules SET cancelled_at = ?
                WHERE article_id = (SELECT id FROM articles WHERE url = ?)
                    AND released_at IS NULL AND cancelled_at IS NULL
                """,
                (now, url),
            )
            async with db.execute(
                f"SELECT {_SCHEDULE_COLUMNS} FROM schedules s "
                "JOIN articles a ON a.id = s.article_id WHERE a.url = ?",
                (url,),
            ) as cursor:
                row = await cursor.fetchone()
        return None if row is None else scheduled_story(row)

    async def article_id_for_url(self, url: str) -> int | None:
        row = await self._read_one("SELECT id FROM articles WHERE url = ?", (url,))
        return None if row is None else int(row[0])

    async def story_report(self, article_id: int) -> StoryReport | None:
        article = (await self.get_articles([article_id])).get(article_id)
        if article is None:
            return None
        schedule = await self.get_schedule(article_id)
        if schedule is not None and schedule.released_at is None:
            # Not in its tags' lists yet: its tags are those it was pushed with.
            article = schedule.article
        row = await self._read_one(
            """
            SELECT COUNT(*),
                COALESCE(SUM(status = 'sent'), 0),
                COALESCE(SUM(status = 'pending'), 0),
                COALESCE(SUM(status = 'pending' AND held = 1), 0),
                COALESCE(SUM(status = 'skipped' AND last_error IS ?2), 0),
                COALESCE(SUM(status = 'skipped' AND last_error IS NOT ?2), 0),
                COALESCE(SUM(status = 'failed'), 0),
                MIN(created_at),
                MIN(CASE WHEN status = 'sent' THEN finished_at END),
                MAX(CASE WHEN status = 'sent' THEN finished_at END)
            FROM deliveries WHERE article_id = ?1
            """,
            (article_id, SKIPPED_MUTED),
        )
        assert row is not None
        chats, sent = int(row[0]), int(row[1])
        failures = await self._read_all(
            """
            SELECT COALESCE(last_error, ''), COUNT(*) FROM deliveries
            WHERE article_id = ? AND status = 'failed'
            GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?
            """,
            (article_id, FAILURE_REASONS),
        )
        half = (chats + 1) // 2
        half_row = None
        if chats and sent >= half:
            half_row = await self._read_one(
                "SELECT finished_at FROM deliveries WHERE article_id = ? AND status = 'sent' "
                "ORDER BY finished_at LIMIT 1 OFFSET ?",
                (article_id, half - 1),
            )
        return story_report(article, schedule, row, failures, half_row)
