"""The SQLite side of corrections and retractions: a story's new version or its withdrawal,
and the outbox of edits of its delivered teasers (table `edits`, migration 0009_corrections).

A mixin of SqliteStore, which provides the connections, the transaction helper and the linking
of a story to its tags (reused when a correction changes them).

A correction or a retraction queues one edit row per delivered teaser, in its own transaction:
for each delivery sent, and each one claimed by the engine (it may be in flight; its row waits
until the send's outcome is written, and is skipped when it was never sent). A delivery still
pending and unclaimed needs no edit: it goes out with the new text, or, for a retraction, is
cancelled here.
"""

# Queries put together from constant column lists and `?` placeholders, never from input.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
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
    MessageEdit,
    NewArticle,
    Retraction,
    StoryChanges,
    StoryReport,
)
from storage.sqlite_connections import SqliteConnections
from storage.sqlite_newsroom import tag_pairs, tags_column

if TYPE_CHECKING:
    import aiosqlite

# Deliveries whose teaser may be out there: sent (with its message's id), or claimed by the
# engine (in flight, or held in its memory) and so perhaps sent in a moment.
DELIVERED_OR_CLAIMED = (
    "((d.status = 'sent' AND d.message_id IS NOT NULL) "
    "OR (d.status = 'pending' AND d.claimed_until IS NOT NULL AND d.claimed_until > ?))"
)

_QUEUE_EDITS = f"""
INSERT INTO edits (delivery_id, article_id, action, revision, status, due_at, created_at)
SELECT d.id, d.article_id, ?, ?, 'pending', ?, ? FROM deliveries d
WHERE d.article_id = ? AND {DELIVERED_OR_CLAIMED}
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

# A combined message's deliveries in the order the engine took them (its queue is claimed by
# due_at, id), each with its story's pending edit (NULLs when none).
MESSAGE_STORIES = """
SELECT d.article_id, d.thread_id, d.digest_kind, d.digest_language, d.held, d.finished_at,
    e.id, e.action, e.revision, e.attempts
FROM deliveries d LEFT JOIN edits e ON e.delivery_id = d.id AND e.status = 'pending'
WHERE d.chat_id = {chat} AND d.message_id = {message} AND d.status = 'sent'
ORDER BY d.due_at, d.id
"""


def edit_job(row: sqlite3.Row | tuple[Any, ...]) -> EditJob:
    """An EditJob from a row of _JOB_COLUMNS (either backend)."""
    return EditJob(
        id=row[0],
        delivery_id=row[1],
        article_id=row[2],
        action=EditAction(row[3]),
        revision=row[4],
        attempts=row[5],
        chat_id=row[6],
        chat_type=row[7],
        thread_id=row[8],
        delivery_status=row[9],
        message_id=row[10],
        sent_at=row[11],
        shared=bool(row[12]),
    )


def combined_message(
    chat_id: int, message_id: int, rows: Sequence[Sequence[Any]]
) -> CombinedMessage | None:
    """A CombinedMessage from the rows of MESSAGE_STORIES (either backend)."""
    if not rows:
        return None
    recorded = next((row for row in rows if row[2] is not None), rows[0])
    return CombinedMessage(
        chat_id=chat_id,
        message_id=message_id,
        thread_id=int(rows[0][1]),
        article_ids=tuple(int(row[0]) for row in rows),
        digest_kind=recorded[2],
        digest_language=recorded[3],
        held=any(bool(row[4]) for row in rows),
        sent_at=min((float(row[5]) for row in rows if row[5] is not None), default=None),
        edits=tuple(
            MessageEdit(
                id=int(row[6]),
                article_id=int(row[0]),
                action=EditAction(row[7]),
                revision=int(row[8]),
                attempts=int(row[9]),
            )
            for row in rows
            if row[6] is not None
        ),
    )


def apply_changes(article: Article, changes: StoryChanges) -> Article:
    """The story with the correction's fields (tags by their names)."""
    return replace(
        article,
        title=article.title if changes.title is None else changes.title,
        teaser=article.teaser if changes.teaser is None else changes.teaser,
        source=article.source if changes.source is None else changes.source,
        image=None
        if changes.drop_image
        else (article.image if changes.image is None else changes.image),
        tags=article.tags if changes.tags is None else tuple(name for name, _ in changes.tags),
    )


def edit_figures(
    rows: Sequence[Sequence[Any]],
    failures: Sequence[Sequence[Any]],
    revision: int,
    retracted_at: float | None,
    cancelled: int,
) -> EditFigures | None:
    """A story's EditFigures from its edits counted by (action, status, outcome)."""
    counts: dict[str, int] = {}
    for action, status, outcome, count in rows:
        if status == "pending":
            key = "edits_pending" if action == EditAction.EDIT else "deletes_pending"
        elif status in {"failed", "skipped"}:
            key = str(status)
        else:
            key = str(outcome)
        counts[key] = counts.get(key, 0) + int(count)
    corrections = revision - (1 if retracted_at is not None else 0)
    if not counts and corrections <= 0 and retracted_at is None:
        return None
    return EditFigures(
        edited=counts.get("edited", 0),
        unchanged=counts.get("unchanged", 0),
        edits_pending=counts.get("edits_pending", 0),
        deleted=counts.get("deleted", 0),
        noted=counts.get("noted", 0),
        deletes_pending=counts.get("deletes_pending", 0),
        skipped=counts.get("skipped", 0),
        failed=counts.get("failed", 0),
        failures=tuple((str(reason), int(count)) for reason, count in failures),
        corrections=max(0, corrections),
        retracted_at=retracted_at,
        cancelled=cancelled,
    )


class SqliteCorrectionsMixin(SqliteConnections):
    if TYPE_CHECKING:
        # Provided by SqliteStore (and its newsroom mixin).
        async def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]: ...

        @staticmethod
        async def _link_stories(
            db: aiosqlite.Connection, fresh: Sequence[tuple[int, NewArticle]], now: float
        ) -> None: ...

        @staticmethod
        async def _remove_unused_tags(db: aiosqlite.Connection, tag_ids: Sequence[int]) -> None: ...

    async def correct_story(
        self, article_id: int, changes: StoryChanges, now: float
    ) -> Correction | None:
        before = (await self.get_articles([article_id])).get(article_id)
        if before is None:
            return None
        async with self._transaction() as db:
            async with db.execute(
                "SELECT revision, retracted_at FROM articles WHERE id = ?", (article_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            if row[1] is not None:
                return Correction(before, changed=False, edits_queued=0, retracted=True)
            async with db.execute(
                "SELECT s.tags, s.released_at FROM schedules s WHERE s.article_id = ?",
                (article_id,),
            ) as cursor:
                schedule = await cursor.fetchone()
            held = schedule is not None and schedule[1] is None
            if schedule is not None and held:
                # A scheduled story not yet released: its tags are those kept for its release.
                before = replace(before, tags=tuple(name for name, _ in tag_pairs(schedule[0])))
            after = apply_changes(before, changes)
            if after == before:
                return Correction(before, changed=False, edits_queued=0)
            revision = int(row[0]) + 1
            await db.execute(
                "UPDATE articles SET title = ?, teaser = ?, source = ?, image = ?, revision = ? "
                "WHERE id = ?",
                (after.title, after.teaser, after.source, after.image, revision, article_id),
            )
            if changes.tags is not None and after.tags != before.tags:
                if held:
                    await db.execute(
                        "UPDATE schedules SET tags = ? WHERE article_id = ?",
                        (tags_column(changes.tags), article_id),
                    )
                else:
                    await self._relink(db, article_id, after, changes.tags, now)
            queued = 0
            if not held:
                cursor = await db.execute(
                    _QUEUE_EDITS, (EditAction.EDIT.value, revision, now, now, article_id, now)
                )
                queued = max(0, cursor.rowcount)
        return Correction(after, changed=True, edits_queued=queued)

    async def _relink(
        self,
        db: aiosqlite.Connection,
        article_id: int,
        story: Article,
        tags: tuple[tuple[str, str], ...],
        now: float,
    ) -> None:
        """Move a story from its tags' lists to those of its corrected tags (counts kept)."""
        old = await self._unlink(db, article_id)
        await self._link_stories(
            db,
            [
                (
                    article_id,
                    NewArticle(
                        url=story.url,
                        title=story.title,
                        teaser=story.teaser,
                        tags=tags,
                        published_at=story.published_at,
                        source=story.source,
                        image=story.image,
                    ),
                )
            ],
            now,
        )
        await self._remove_unused_tags(db, old)

    @staticmethod
    async def _unlink(db: aiosqlite.Connection, article_id: int) -> list[int]:
        """Take a story out of its tags' lists and counts; returns those tags' ids."""
        async with db.execute(
            "DELETE FROM article_tags WHERE article_id = ? RETURNING tag_id", (article_id,)
        ) as cursor:
            tag_ids = [int(row[0]) for row in await cursor.fetchall()]
        await db.executemany(
            "UPDATE tags SET story_count = MAX(0, story_count - 1) WHERE id = ?",
            [(tag_id,) for tag_id in tag_ids],
        )
        return tag_ids

    async def retract_story(self, article_id: int, now: float) -> Retraction | None:
        article = (await self.get_articles([article_id])).get(article_id)
        if article is None:
            return None
        async with self._transaction() as db:
            async with db.execute(
                "SELECT revision, retracted_at FROM articles WHERE id = ?", (article_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            if row[1] is not None:
                return Retraction(article, 0, 0, float(row[1]), already=True)
            revision = int(row[0]) + 1
            await db.execute(
                "UPDATE articles SET retracted_at = ?, revision = ? WHERE id = ?",
                (now, revision, article_id),
            )
            old = await self._unlink(db, article_id)
            await self._remove_unused_tags(db, old)
            # A scheduled story not yet out never goes out.
            await db.execute(
                "UPDATE schedules SET cancelled_at = ? "
                "WHERE article_id = ? AND released_at IS NULL AND cancelled_at IS NULL",
                (now, article_id),
            )
            cursor = await db.execute(
                """
                UPDATE deliveries SET status = 'skipped', last_error = ?, finished_at = ?
                WHERE article_id = ? AND status = 'pending'
                    AND (claimed_until IS NULL OR claimed_until <= ?)
                """,
                (SKIPPED_RETRACTED, now, article_id, now),
            )
            cancelled = max(0, cursor.rowcount)
            cursor = await db.execute(
                _QUEUE_EDITS, (EditAction.DELETE.value, revision, now, now, article_id, now)
            )
            queued = max(0, cursor.rowcount)
        return Retraction(article, cancelled, queued, now)

    async def retracted_among(self, article_ids: Sequence[int]) -> set[int]:
        if not article_ids:
            return set()
        rows = await self._read_all(
            "SELECT id FROM articles WHERE id IN (SELECT value FROM json_each(?)) "
            "AND retracted_at IS NOT NULL",
            (json.dumps(list(article_ids)),),
        )
        return {int(row[0]) for row in rows}

    async def retracted_since(self, since: float) -> list[int]:
        rows = await self._read_all(
            "SELECT id FROM articles WHERE retracted_at >= ? ORDER BY retracted_at", (since,)
        )
        return [int(row[0]) for row in rows]

    async def retracted_at(self, article_id: int) -> float | None:
        row = await self._read_one("SELECT retracted_at FROM articles WHERE id = ?", (article_id,))
        return None if row is None or row[0] is None else float(row[0])

    async def release_edit_claims(self) -> int:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE edits SET claimed_until = NULL "
                "WHERE status = 'pending' AND claimed_until IS NOT NULL"
            )
            return max(0, cursor.rowcount)

    async def claim_edits(
        self, now: float, limit: int, lease: float, exclude_chats: Sequence[int] = ()
    ) -> list[EditJob]:
        async with self._transaction() as db:
            async with db.execute(
                """
                UPDATE edits SET claimed_until = ?1
                WHERE id IN (
                    SELECT e.id FROM edits e JOIN deliveries d ON d.id = e.delivery_id
                    WHERE e.status = 'pending' AND e.due_at <= ?2
                        AND (e.claimed_until IS NULL OR e.claimed_until <= ?2)
                        AND d.status != 'pending'
                        AND d.chat_id NOT IN (SELECT value FROM json_each(?4))
                    ORDER BY e.due_at, e.id
                    LIMIT ?3
                )
                RETURNING id
                """,
                (now + lease, now, limit, json.dumps(list(exclude_chats))),
            ) as cursor:
                ids = [int(row[0]) for row in await cursor.fetchall()]
            if not ids:
                return []
            async with db.execute(
                f"""
                SELECT {_JOB_COLUMNS}
                FROM edits e JOIN deliveries d ON d.id = e.delivery_id
                LEFT JOIN chats c ON c.id = d.chat_id
                WHERE e.id IN (SELECT value FROM json_each(?))
                ORDER BY e.due_at, e.id
                """,
                (json.dumps(ids),),
            ) as cursor:
                return [edit_job(row) for row in await cursor.fetchall()]

    async def finish_edits(self, results: Sequence[EditResult]) -> None:
        if not results:
            return
        async with self._transaction() as db:
            # A newer correction (or the retraction) renewed the row meanwhile: it stays
            # pending, to be sent again with what is now to be sent.
            await db.executemany(
                """
                UPDATE edits SET
                    status = CASE WHEN revision = ?2 THEN ?3 ELSE 'pending' END,
                    outcome = CASE WHEN revision = ?2 THEN ?4 ELSE outcome END,
                    attempts = CASE WHEN revision = ?2 THEN ?5 ELSE attempts END,
                    due_at = CASE WHEN revision = ?2 THEN ?6 ELSE due_at END,
                    finished_at = CASE WHEN revision = ?2 THEN ?7 ELSE NULL END,
                    claimed_until = NULL
                WHERE id = ?1 AND status = 'pending'
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

    async def combined_message(self, chat_id: int, message_id: int) -> CombinedMessage | None:
        rows = await self._read_all(
            MESSAGE_STORIES.format(chat="?", message="?"), (chat_id, message_id)
        )
        return combined_message(chat_id, message_id, rows)

    async def story_edits(self, article_id: int) -> EditFigures | None:
        row = await self._read_one(
            "SELECT revision, retracted_at FROM articles WHERE id = ?", (article_id,)
        )
        if row is None:
            return None
        rows = await self._read_all(
            "SELECT action, status, outcome, COUNT(*) FROM edits WHERE article_id = ? "
            "GROUP BY 1, 2, 3",
            (article_id,),
        )
        failures = await self._read_all(
            "SELECT COALESCE(outcome, ''), COUNT(*) FROM edits "
            "WHERE article_id = ? AND status = 'failed' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10",
            (article_id,),
        )
        cancelled = await self._read_one(
            "SELECT COUNT(*) FROM deliveries "
            "WHERE article_id = ? AND status = 'skipped' AND last_error = ?",
            (article_id, SKIPPED_RETRACTED),
        )
        return edit_figures(
            rows,
            failures,
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
        # Cancelled by the retraction: not among the chats gone away.
        return replace(
            report,
            edits=edits,
            skipped_inactive=max(0, report.skipped_inactive - edits.cancelled),
        )
