"""The PostgreSQL side of the operators' features: feeds, the key-value `meta` table, outbox
figures. A mixin of PostgresStore, which provides the pool and the transaction helper; the
same answers as storage/sqlite_operators.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from storage.models import Feed, OutboxFigures, Tag
from storage.postgres_pool import PostgresConnections
from storage.sqlite_operators import MAX_ERROR_LENGTH, pauses

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]


_FEED_COLUMNS = (
    "id, url, tags, etag, last_modified, primed, created_at, last_polled_at, "
    "last_success_at, last_error, last_error_at, failures, paused_at"
)


def _feed(row: Any) -> Feed:
    # Columns in the order of _FEED_COLUMNS.
    return Feed(
        id=row[0],
        url=row[1],
        tags=tuple(json.loads(row[2])),
        etag=row[3],
        last_modified=row[4],
        primed=row[5],
        created_at=row[6],
        last_polled_at=row[7],
        last_success_at=row[8],
        last_error=row[9],
        last_error_at=row[10],
        failures=row[11],
        paused_at=row[12],
    )


class PostgresOperatorsMixin(PostgresConnections):
    async def outbox_figures(self) -> OutboxFigures:
        row = await self._fetchrow(
            "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE status = 'pending'"
        )
        if row is None:
            return OutboxFigures(pending=0, oldest_pending_at=None)
        return OutboxFigures(pending=row[0], oldest_pending_at=row[1])

    async def list_tags(self, limit: int) -> list[Tag]:
        rows = await self._fetch(
            """
            SELECT id, name, key, story_count, follower_count FROM tags
            WHERE story_count > 0 OR follower_count > 0
            ORDER BY story_count DESC, follower_count DESC, key COLLATE "C"
            LIMIT $1
            """,
            None if limit < 0 else limit,
        )
        return [
            Tag(id=row[0], name=row[1], key=row[2], story_count=row[3], follower_count=row[4])
            for row in rows
        ]

    async def add_feed(self, url: str, tags: Sequence[str], now: float) -> tuple[Feed, bool]:
        async def body(db: asyncpg.Connection) -> tuple[Any, bool]:
            created = (
                await db.fetchval("SELECT 1 FROM feeds WHERE md5(url) = md5($1) AND url = $1", url)
                is None
            )
            await db.execute(
                """
                INSERT INTO feeds (url, tags, created_at) VALUES ($1, $2, $3)
                ON CONFLICT ((md5(url))) DO UPDATE SET tags = EXCLUDED.tags
                """,
                url,
                json.dumps(list(tags), ensure_ascii=False),
                now,
            )
            row = await db.fetchrow(
                f"SELECT {_FEED_COLUMNS} FROM feeds WHERE md5(url) = md5($1) AND url = $1", url
            )
            return row, created

        row, created = await self._write(body)
        assert row is not None
        return _feed(row), created

    async def list_feeds(self) -> list[Feed]:
        rows = await self._fetch(f"SELECT {_FEED_COLUMNS} FROM feeds ORDER BY id")
        return [_feed(row) for row in rows]

    async def remove_feed(self, url: str) -> bool:
        async def body(db: asyncpg.Connection) -> bool:
            status: str = await db.execute(
                "DELETE FROM feeds WHERE md5(url) = md5($1) AND url = $1", url
            )
            return status != "DELETE 0"

        return await self._write(body)

    async def feed_succeeded(
        self, feed_id: int, etag: str | None, last_modified: str | None, now: float
    ) -> None:
        async def body(db: asyncpg.Connection) -> None:
            await db.execute(
                """
                UPDATE feeds SET etag = $1, last_modified = $2, primed = TRUE,
                    last_polled_at = $3, last_success_at = $3, last_error = NULL,
                    last_error_at = NULL, failures = 0
                WHERE id = $4
                """,
                etag,
                last_modified,
                now,
                feed_id,
            )

        await self._write(body)

    async def feed_failed(
        self, feed_id: int, error: str, now: float, *, pause_after: int = 0
    ) -> bool:
        async def body(db: asyncpg.Connection) -> bool:
            row = await db.fetchrow(
                "SELECT failures, paused_at FROM feeds WHERE id = $1 FOR UPDATE", feed_id
            )
            if row is None:
                return False
            paused = row[1] is None and pauses(row[0] + 1, pause_after)
            await db.execute(
                """
                UPDATE feeds SET last_polled_at = $1, last_error = $2, last_error_at = $1,
                    failures = failures + 1, paused_at = $3
                WHERE id = $4
                """,
                now,
                error[:MAX_ERROR_LENGTH],
                now if paused else row[1],
                feed_id,
            )
            return paused

        return await self._write(body)

    async def resume_feed(self, url: str) -> Feed | None:
        async def body(db: asyncpg.Connection) -> Any | None:
            row = await db.fetchrow(
                f"SELECT {_FEED_COLUMNS} FROM feeds WHERE md5(url) = md5($1) AND url = $1 "
                "FOR UPDATE",
                url,
            )
            if row is not None:
                await db.execute("UPDATE feeds SET paused_at = NULL WHERE id = $1", row[0])
            return row

        row = await self._write(body)
        return None if row is None else _feed(row)

    async def get_meta(self, key: str) -> str | None:
        row = await self._fetchrow("SELECT value FROM meta WHERE key = $1", key)
        return None if row is None else str(row[0])

    async def put_meta_if_absent(self, key: str, value: str, now: float) -> str:
        async def body(db: asyncpg.Connection) -> str:
            await db.execute(
                "INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (key) DO NOTHING",
                key,
                value,
                now,
            )
            stored: str = await db.fetchval("SELECT value FROM meta WHERE key = $1", key)
            return stored

        return await self._write(body)
