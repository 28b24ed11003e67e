"""The PostgreSQL side of the newsroom's features: scheduled stories and the report per story,
answering as storage/sqlite_newsroom.py does. A mixin of PostgresStore.

Several instances may run this at once (only the leader releases, but a leader that lost its
lease may still be finishing a round): a release marks its stories with one conditional UPDATE
(`released_at IS NULL`, rows taken `FOR UPDATE SKIP LOCKED`) under the ingest's advisory lock,
so each story is released, and fanned out, by exactly one transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from storage.models import SKIPPED_MUTED, Article, ReleasedStory, ScheduledStory, StoryReport
from storage.postgres_ingest import INGEST_LOCK, IngestBatch
from storage.postgres_pool import PostgresConnections
from storage.sqlite_newsroom import FAILURE_REASONS, scheduled_story, stored_story, story_report

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]


_SCHEDULE_COLUMNS = (
    "a.id, a.url, a.title, a.teaser, a.source, a.published_at, a.image, "
    "s.tags, s.publish_at, s.notify, s.created_at, s.released_at, s.cancelled_at"
)
# A URL is found by its md5 index, as everywhere in this backend.
_BY_URL = "md5(a.url) = md5($1) AND a.url = $1"

# Released stories into their tags' lists, and their tags' counts, in one statement.
_LINK_STORIES = """
WITH linked AS (
    INSERT INTO article_tags (tag_id, published_at, article_id, position)
    SELECT * FROM unnest($1::bigint[], $2::float8[], $3::bigint[], $4::int[])
    RETURNING tag_id, published_at
)
UPDATE tags t SET story_count = t.story_count + c.stories,
    last_story_at = GREATEST(COALESCE(t.last_story_at, 0), c.latest)
FROM (
    SELECT tag_id, COUNT(*) AS stories, MAX(published_at) AS latest FROM linked GROUP BY tag_id
) c
WHERE t.id = c.tag_id
"""


class PostgresNewsroomMixin(PostgresConnections):
    if TYPE_CHECKING:
        # Provided by PostgresStore.
        async def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...

    async def release_due(self, now: float, limit: int) -> list[ReleasedStory]:
        async def body(db: asyncpg.Connection) -> list[ReleasedStory]:
            # Ingests and releases go one after another (tags are created in one order).
            await db.execute("SELECT pg_advisory_xact_lock($1)", INGEST_LOCK)
            due = await db.fetch(
                """
                UPDATE schedules SET released_at = $1
                WHERE article_id IN (
                    SELECT article_id FROM schedules
                    WHERE released_at IS NULL AND cancelled_at IS NULL AND publish_at <= $1
                    ORDER BY publish_at, article_id
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED
                ) AND released_at IS NULL AND cancelled_at IS NULL
                RETURNING article_id, notify
                """,
                now,
                limit,
            )
            if not due:
                return []
            notify = {row[0]: bool(row[1]) for row in due}
            rows = await db.fetch(
                """
                SELECT a.id, a.url, a.title, a.teaser, a.source, a.published_at, a.image, s.tags
                FROM articles a JOIN schedules s ON s.article_id = a.id
                WHERE a.id = ANY($1::bigint[])
                ORDER BY s.publish_at, a.id
                """,
                list(notify),
            )
            stories = [(row[0], stored_story(tuple(row)[1:])) for row in rows]
            tag_ids = await IngestBatch._tag_ids(db, [story for _, story in stories], now)
            links = [
                (tag_ids[key], story.published_at.timestamp(), article_id, position)
                for article_id, story in stories
                for position, (_, key) in enumerate(story.tags)
            ]
            await db.execute(
                _LINK_STORIES,
                [link[0] for link in links],
                [link[1] for link in links],
                [link[2] for link in links],
                [link[3] for link in links],
            )
            notified = [(article_id, story) for article_id, story in stories if notify[article_id]]
            recipients = (
                await IngestBatch._fan_out(db, notified, now) if notified else Counter[int]()
            )
            return [
                ReleasedStory(article_id, story.url, recipients.get(article_id, 0))
                for article_id, story in stories
            ]

        return await self._write(body)

    async def next_publish_at(self) -> float | None:
        row = await self._fetchrow(
            "SELECT MIN(publish_at) FROM schedules "
            "WHERE released_at IS NULL AND cancelled_at IS NULL"
        )
        return None if row is None or row[0] is None else float(row[0])

    async def scheduled_stories(self, limit: int) -> list[ScheduledStory]:
        rows = await self._fetch(
            f"""
            SELECT {_SCHEDULE_COLUMNS}
            FROM schedules s JOIN articles a ON a.id = s.article_id
            WHERE s.released_at IS NULL AND s.cancelled_at IS NULL
            ORDER BY s.publish_at, s.article_id
            LIMIT $1
            """,
            limit,
        )
        return [scheduled_story(tuple(row)) for row in rows]

    async def get_schedule(self, article_id: int) -> ScheduledStory | None:
        row = await self._fetchrow(
            f"SELECT {_SCHEDULE_COLUMNS} FROM schedules s JOIN articles a ON a.id = s.article_id "
            "WHERE s.article_id = $1",
            article_id,
        )
        return None if row is None else scheduled_story(tuple(row))

    async def cancel_scheduled(self, url: str, now: float) -> ScheduledStory | None:
        async def body(db: asyncpg.Connection) -> ScheduledStory | None:
            # The same row lock as a release's: whichever comes first wins, the other finds
            # the story released (or cancelled) and leaves it.
            await db.execute(
                f"""
                UPDATE schedules SET cancelled_at = $2
                WHERE article_id = (SELECT a.id FROM articles a WHERE {_BY_URL})
                    AND released_at IS NULL AND cancelled_at IS NULL
                """,
                url,
                now,
            )
            row = await db.fetchrow(
                f"SELECT {_SCHEDULE_COLUMNS} FROM schedules s "
                f"JOIN articles a ON a.id = s.article_id WHERE {_BY_URL}",
                url,
            )
            return None if row is None else scheduled_story(tuple(row))

        return await self._write(body)

    async def article_id_for_url(self, url: str) -> int | None:
        row = await self._fetchrow(f"SELECT a.id FROM articles a WHERE {_BY_URL}", url)
        return None if row is None else int(row[0])

    async def story_report(self, article_id: int) -> StoryReport | None:
        article = (await self.get_articles([article_id])).get(article_id)
        if article is None:
            return None
        schedule = await self.get_schedule(article_id)
        if schedule is not None and schedule.released_at is None:
            article = schedule.article
        row = await self._fetchrow(
            """
            SELECT COUNT(*),
                COUNT(*) FILTER (WHERE status = 'sent'),
                COUNT(*) FILTER (WHERE status = 'pending'),
                COUNT(*) FILTER (WHERE status = 'pending' AND held),
                COUNT(*) FILTER (WHERE status = 'skipped' AND last_error IS NOT DISTINCT FROM $2),
                COUNT(*) FILTER (WHERE status = 'skipped' AND last_error IS DISTINCT FROM $2),
                COUNT(*) FILTER (WHERE status = 'failed'),
                MIN(created_at),
                MIN(finished_at) FILTER (WHERE status = 'sent'),
                MAX(finished_at) FILTER (WHERE status = 'sent')
            FROM deliveries WHERE article_id = $1
            """,
            article_id,
            SKIPPED_MUTED,
        )
        assert row is not None
        chats, sent = int(row[0]), int(row[1])
        failures = await self._fetch(
            """
            SELECT COALESCE(last_error, ''), COUNT(*) FROM deliveries
            WHERE article_id = $1 AND status = 'failed'
            GROUP BY 1 ORDER BY COUNT(*) DESC, COALESCE(last_error, '') COLLATE "C" LIMIT $2
            """,
            article_id,
            FAILURE_REASONS,
        )
        half = (chats + 1) // 2
        half_row = None
        if chats and sent >= half:
            half_row = await self._fetchrow(
                "SELECT finished_at FROM deliveries WHERE article_id = $1 AND status = 'sent' "
                "ORDER BY finished_at LIMIT 1 OFFSET $2",
                article_id,
                half - 1,
            )
        return story_report(article, schedule, row, failures, half_row)
