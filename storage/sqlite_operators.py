"""The SQLite side of the operators' features: feeds, the key-value `meta` table, outbox figures.

A mixin of SqliteStore, which provides the connections and the transaction helper.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from storage.models import Feed, OutboxFigures, Tag
from storage.sqlite_connections import SqliteConnections

if TYPE_CHECKING:
    pass

# Long enough for any error worth reading; a feed cannot fill the table with one.
MAX_ERROR_LENGTH = 500


def _feed(row: sqlite3.Row | tuple[Any, ...]) -> Feed:
    # Columns in the order of the SELECTs below.
    return Feed(
        id=row[0],
        url=row[1],
        tags=tuple(json.loads(row[2])),
        etag=row[3],
        last_modified=row[4],
        primed=bool(row[5]),
        created_at=row[6],
        last_polled_at=row[7],
        last_success_at=row[8],
        last_error=row[9],
        last_error_at=row[10],
        failures=row[11],
        paused_at=row[12],
    )


def pauses(failures: int, pause_after: int) -> bool:
    """Whether the `failures`-th failure in a row pauses a feed: every `pause_after`-th does
    (0: none), so a resumed feed that goes on failing gets a whole streak again."""
    return pause_after > 0 and failures > 0 and failures % pause_after == 0


class SqliteOperatorsMixin(SqliteConnections):
    async def outbox_figures(self) -> OutboxFigures:
        row = await self._read_one(
            "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status = 'pending'"
        )
        if row is None:
            return OutboxFigures(pending=0, oldest_pending_at=None)
        return OutboxFigures(pending=row[0], oldest_pending_at=row[1])

    async def list_tags(self, limit: int) -> list[Tag]:
        rows = await self._read_all(
            """
            SELECT id, name, key, story_count, follower_count FROM tags
            WHERE story_count > 0 OR follower_count > 0
            ORDER BY story_count DESC, follower_count DESC, key
            LIMIT ?
            """,
            (limit,),
        )
        return [
            Tag(id=row[0], name=row[1], key=row[2], story_count=row[3], follower_count=row[4])
            for row in rows
        ]

    async def add_feed(self, url: str, tags: Sequence[str], now: float) -> tuple[Feed, bool]:
        async with self._transaction() as db:
            async with db.execute("SELECT id FROM feeds WHERE url = ?", (url,)) as cursor:
                created = await cursor.fetchone() is None
            await db.execute(
                """
                INSERT INTO feeds (url, tags, created_at) VALUES (?, ?, ?)
                ON CONFLICT (url) DO UPDATE SET tags = excluded.tags
                """,
                (url, json.dumps(list(tags), ensure_ascii=False), now),
            )
            async with db.execute(
                """
                SELECT id, url, tags, etag, last_modified, primed, created_at, last_polled_at,
                    last_success_at, last_error, last_error_at, failures, paused_at
                FROM feeds WHERE url = ?
                """,
                (url,),
            ) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return _feed(row), created

    async def list_feeds(self) -> list[Feed]:
        rows = await self._read_all(
            """
            SELECT id, url, tags, etag, last_modified, primed, created_at, last_polled_at,
                last_success_at, last_error, last_error_at, failures, paused_at
            FROM feeds ORDER BY id
            """
        )
        return [_feed(row) for row in rows]

    async def remove_feed(self, url: str) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute("DELETE FROM feeds WHERE url = ?", (url,))
            return cursor.rowcount > 0

    async def feed_succeeded(
        self, feed_id: int, etag: str | None, last_modified: str | None, now: float
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                """
                UPDATE feeds SET etag = ?, last_modified = ?, primed = 1, last_polled_at = ?,
                    last_success_at = ?, last_error = NULL, last_error_at = NULL, failures = 0
                WHERE id = ?
                """,
                (etag, last_modified, now, now, feed_id),
            )

    async def feed_failed(
        self, feed_id: int, error: str, now: float, *, pause_after: int = 0
    ) -> bool:
        async with self._transaction() as db:
            async with db.execute(
                "SELECT failures, paused_at FROM feeds WHERE id = ?", (feed_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return False
            paused = row[1] is None and pauses(row[0] + 1, pause_after)
            await db.execute(
                """
                UPDATE feeds SET last_polled_at = ?, last_error = ?, last_error_at = ?,
                    failures = failures + 1, paused_at = ?
                WHERE id = ?
                """,
                (now, error[:MAX_ERROR_LENGTH], now, now if paused else row[1], feed_id),
            )
        return paused

    async def resume_feed(self, url: str) -> Feed | None:
        async with self._transaction() as db:
            async with db.execute(
                """
                SELECT id, url, tags, etag, last_modified, primed, created_at, last_polled_at,
                    last_success_at, last_error, last_error_at, failures, paused_at
                FROM feeds WHERE url = ?
                """,
                (url,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            await db.execute("UPDATE feeds SET paused_at = NULL WHERE id = ?", (row[0],))
        return _feed(row)

    async def get_meta(self, key: str) -> str | None:
        row = await self._read_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    async def put_meta_if_absent(self, key: str, value: str, now: float) -> str:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO meta (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING",
                (key, value, now),
            )
            async with db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return str(row[0])
