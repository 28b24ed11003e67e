"""The PostgreSQL side of corrections and retractions, as storage/sqlite_corrections.py
describes them: the same rows and rules, edits claimed with FOR UPDATE SKIP LOCKED."""

# Queries put together from constant column lists and `$n` placeholders, never from input.

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from storage.models import (
    SKIPPED_RETRACTED,
    Article,
    CombinedMessage,
    Correction,
    EditAction,
    EditFigures,
    EditJob,
    EditResult,
    NewArticle,
    Retraction,
    StoryChanges,
    StoryReport,
)
from storage.postgres_ingest import INGEST_LOCK, IngestBatch
from storage.postgres_newsroom import _LINK_STORIES
from storage.postgres_pool import PostgresConnections
from storage.postgres_search import search_vector
from storage.sqlite_corrections import (
    MESSAGE_STORIES,
    apply_changes,
    combined_message,
    edit_figures,
    edit_job,
)
from storage.sqlite_newsroom import tag_pairs, tags_column

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]


_QUEUE_EDITS = """
INSERT INTO edits (delivery_id, article_id, action, revision, status, due_at, created_at)
SELECT d.id, d.article_id, $1, $2, 'pending', $3, $3 FROM deliveries d
WHERE d.article_id = $4 AND (
    (d.status = 'sent' AND d.message_id IS NOT NULL)
    OR (d.status = 'pending' AND d.claimed_until IS NOT NULL AND d.claimed_until > $3)
)
ON CONFLICT (delivery_id) DO UPDATE SET action = excluded.action, revision = excluded.revision,
    status = 'pending', outcome = NULL, attempts = 0, due_at = excluded.due_at,
    finished_at = NULL
"""

_JOB_COLUMNS = """
e.id, e.delivery_id, e.article_id, e.action, e.revision, e.attempts, d.chat_id,
COALESCE(c.type, 'private'), d.thread_id, d.status, d.message_id, d.finished_at,
d.message_id IS NOT NULL AND (d.digest_kind IS NOT NULL OR EXISTS (
    SELECT 1 FROM deliveries d2
    WHERE d2.chat_id = d.chat_id AND d2.message_id = d.message_id AND d2.id != d.id
))
"""


def _count(status: str) -> int:
    """The row count of a command's status ("UPDATE 3", "INSERT 0 3")."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresCorrectionsMixin(PostgresConnections):
    if TYPE_CHECKING:
        # Provided by PostgresStore (and its newsroom mixin).
        async def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...

        @staticmethod
        async def _remove_unused_tags(db: asyncpg.Connection, tag_ids: Sequence[int]) -> None: ...

    async def correct_story(
        self, article_id: int, changes: StoryChanges, now: float
    ) -> Correction | None:
        before = (await self.get_articles([article_id])).get(article_id)
        if before is None:
            return None

        async def body(db: asyncpg.Connection) -> Correction | None:
            # Ingests, releases and corrections go one after another (tags, one order).
            await db.execute("SELECT pg_advisory_xact_lock($1)", INGEST_LOCK)
            row = await db.fetchrow(
                "SELECT revision, retracted_at FROM articles WHERE id = $1 FOR UPDATE",
                article_id,
            )
            if row is None:
                return None
            story = before
            if row[1] is not None:
                return Correction(story, changed=False, edits_queued=0, retracted=True)
            schedule = await db.fetchrow(
                "SELECT tags, released_at FROM schedules WHERE article_id = $1", article_id
            )
            held = schedule is not None and schedule[1] is None
            if schedule is not None and held:
                story = replace(story, tags=tuple(name for name, _ in tag_pairs(schedule[0])))
            after = apply_changes(story, changes)
            if after == story:
                return Correction(story, changed=False, edits_queued=0)
            revision = int(row[0]) + 1
            await db.execute(
                "UPDATE articles SET title = $1, teaser = $2, source = $3, image = $4, "
                "revision = $5, search = $6 WHERE id = $7",
                after.title,
                after.teaser,
                after.source,
                after.image,
                revision,
                search_vector(after.title, after.teaser),
                article_id,
            )
            if changes.tags is not None and after.tags != story.tags:
                if held:
                    await db.execute(
                        "UPDATE schedules SET tags = $1 WHERE article_id = $2",
                        tags_column(changes.tags),
                        article_id,
                    )
                else:
                    await self._relink(db, article_id, after, changes.tags, now)
            queued = 0
            if not held:
                queued = _count(
                    await db.execute(_QUEUE_EDITS, EditAction.EDIT.value, revision, now, article_id)
                )
            return Correction(after, changed=True, edits_queued=queued)

        return await self._write(body)

    async def _relink(
        self,
        db: asyncpg.Connection,
        article_id: int,
        story: Article,
        tags: tuple[tuple[str, str], ...],
        now: float,
    ) -> None:
        old = await self._unlink(db, article_id)
        fresh = NewArticle(
            url=story.url,
            title=story.title,
            teaser=story.teaser,
            tags=tags,
            published_at=story.published_at,
            source=story.source,
            image=story.image,
        )
        tag_ids = await IngestBatch._tag_ids(db, [fresh], now)
        links = [(tag_ids[key], position) for position, (_, key) in enumerate(tags)]
        await db.execute(
            _LINK_STORIES,
            [tag_id for tag_id, _ in links],
            [story.published_at.timestamp()] * len(links),
            [article_id] * len(links),
            [position for _, position in links],
        )
        await self._remove_unused_tags(db, old)

    @staticmethod
    async def _unlink(db: asyncpg.Connection, article_id: int) -> list[int]:
        rows = await db.fetch(
            "DELETE FROM article_tags WHERE article_id = $1 RETURNING tag_id", article_id
        )
        tag_ids = [int(row[0]) for row in rows]
        if tag_ids:
            await db.execute(
                "UPDATE tags SET story_count = GREATEST(0, story_count - 1) "
                "WHERE id = ANY($1::bigint[])",
                tag_ids,
            )
        return tag_ids

    async def retract_story(self, article_id: int, now: float) -> Retraction | None:
        article = (await self.get_articles([article_id])).get(article_id)
        if article is None:
            return None

        async def body(db: asyncpg.Connection) -> Retraction | None:
            await db.execute("SELECT pg_advisory_xact_lock($1)", INGEST_LOCK)
            row = await db.fetchrow(
                "SELECT revision, retracted_at FROM articles WHERE id = $1 FOR UPDATE",
                article_id,
            )
            if row is None:
                return None
            if row[1] is not None:
                return Retraction(article, 0, 0, float(row[1]), already=True)
            revision = int(row[0]) + 1
            await db.execute(
                "UPDATE articles SET retracted_at = $1, revision = $2 WHERE id = $3",
                now,
                revision,
                article_id,
            )
            await self._remove_unused_tags(db, await self._unlink(db, article_id))
            await db.execute(
                "UPDATE schedules SET cancelled_at = $1 "
                "WHERE article_id = $2 AND released_at IS NULL AND cancelled_at IS NULL",
                now,
                article_id,
            )
            cancelled = _count(
                await db.execute(
                    """
                    UPDATE deliveries SET status = 'skipped', last_error = $1, finished_at = $2
                    WHERE article_id = $3 AND status = 'pending'
                        AND (claimed_until IS NULL OR claimed_until <= $2)
                    """,
                    SKIPPED_RETRACTED,
                    now,
                    article_id,
                )
            )
            queued = _count(
                await db.execute(_QUEUE_EDITS, EditAction.DELETE.value, revision, now, article_id)
            )
            return Retraction(article, cancelled, queued, now)

        return await self._write(body)

    async def retracted_among(self, article_ids: Sequence[int]) -> set[int]:
        if not article_ids:
            return set()
        rows = await self._fetch(
            "SELECT id FROM articles WHERE id = ANY($1::bigint[]) AND retracted_at IS NOT NULL",
            list(article_ids),
        )
        return {int(row[0]) for row in rows}

    async def retracted_since(self, since: float) -> list[int]:
        rows = await self._fetch(
            "SELECT id FROM articles WHERE retracted_at >= $1 ORDER BY retracted_at", since
        )
        return [int(row[0]) for row in rows]

    async def retracted_at(self, article_id: int) -> float | None:
        row = await self._fetchrow("SELECT retracted_at FROM articles WHERE id = $1", article_id)
        return None if row is None or row[0] is None else float(row[0])

    async def release_edit_claims(self) -> int:
        async def body(db: asyncpg.Connection) -> int:
            return _count(
                await db.execute(
                    "UPDATE edits SET claimed_until = NULL "
                    "WHERE status = 'pending' AND claimed_until IS NOT NULL"
                )
            )

        return await self._write(body)

    async def claim_edits(
        self, now: float, limit: int, lease: float, exclude_chats: Sequence[int] = ()
    ) -> list[EditJob]:
        async def body(db: asyncpg.Connection) -> list[Any]:
            claimed = await db.fetch(
                """
                WITH due AS (
                    SELECT e.id FROM edits e JOIN deliveries d ON d.id = e.delivery_id
                    WHERE e.status = 'pending' AND e.due_at <= $2
                        AND (e.claimed_until IS NULL OR e.claimed_until <= $2)
                        AND d.status != 'pending'
                        AND NOT (d.chat_id = ANY($4::bigint[]))
                    ORDER BY e.due_at, e.id
                    LIMIT $3
                    FOR UPDATE OF e SKIP LOCKED
                )
                UPDATE edits e SET claimed_until = $1 FROM due WHERE e.id = due.id
                RETURNING e.id
                """,
                now + lease,
                now,
                limit,
                list(exclude_chats),
            )
            if not claimed:
                return []
            rows: list[Any] = await db.fetch(
                f"""
                SELECT {_JOB_COLUMNS}
                FROM edits e JOIN deliveries d ON d.id = e.delivery_id
                LEFT JOIN chats c ON c.id = d.chat_id
                WHERE e.id = ANY($1::bigint[])
                ORDER BY e.due_at, e.id
                """,
                [row[0] for row in claimed],
            )
            return rows

        return [edit_job(tuple(row)) for row in await self._write(body)]

    async def finish_edits(self, results: Sequence[EditResult]) -> None:
        if not results:
            return

        async def body(db: asyncpg.Connection) -> None:
            await db.executemany(
                """
                UPDATE edits SET
                    status = CASE WHEN revision = $2::int THEN $3::text ELSE 'pending' END,
                    outcome = CASE WHEN revision = $2::int THEN $4::text ELSE outcome END,
                    attempts = CASE WHEN revision = $2::int THEN $5::int ELSE attempts END,
                    due_at = CASE WHEN revision = $2::int THEN $6::float8 ELSE due_at END,
                    finished_at = CASE WHEN revision = $2::int THEN $7::float8 ELSE NULL END,
                    claimed_until = NULL
                WHERE id = $1 AND status = 'pending'
                """,
                [
                    (
                        result.id,
                        result.revision,
                        result.status.value,
                        result.outcome,
                        result.attempts,
                        result.due_at,
                        result.finished_at,
                    )
                    for result in results
                ],
            )

        await self._write(body)

    async def combined_message(self, chat_id: int, message_id: int) -> CombinedMessage | None:
        rows = await self._fetch(
            MESSAGE_STORIES.format(chat="$1", message="$2"), chat_id, message_id
        )
        return combined_message(chat_id, message_id, [tuple(row) for row in rows])

    async def story_edits(self, article_id: int) -> EditFigures | None:
        row = await self._fetchrow(
            "SELECT revision, retracted_at FROM articles WHERE id = $1", article_id
        )
        if row is None:
            return None
        rows = await self._fetch(
            "SELECT action, status, outcome, COUNT(*) FROM edits WHERE article_id = $1 "
            "GROUP BY 1, 2, 3",
            article_id,
        )
        failures = await self._fetch(
            "SELECT COALESCE(outcome, ''), COUNT(*) FROM edits "
            "WHERE article_id = $1 AND status = 'failed' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
            article_id,
        )
        cancelled = await self._fetchrow(
            "SELECT COUNT(*) FROM deliveries "
            "WHERE article_id = $1 AND status = 'skipped' AND last_error = $2",
            article_id,
            SKIPPED_RETRACTED,
        )
        return edit_figures(
            [tuple(r) for r in rows],
            [tuple(r) for r in failures],
            int(row[0]),
            None if row[1] is None else float(row[1]),
            int(cancelled[0]) if cancelled else 0,
        )

    async def story_report(self, article_id: int) -> StoryReport | None:
        report: StoryReport | None = await super().story_report(article_id)  # type: ignore[misc]
        if report is None:
            return None
        edits = await self.story_edits(article_id)
        if edits is None:
            return report
        return replace(
            report,
            edits=edits,
            skipped_inactive=max(0, report.skipped_inactive - edits.cancelled),
        )
