"""The PostgreSQL side of the alerts to operators (bot/alerts): the incidents announced and not
yet over, and how late the outbox is. A mixin of PostgresStore, which provides the pool and the
transaction helper; the same answers as storage/sqlite_alerts.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.models import Incident
from storage.postgres_pool import PostgresConnections
from storage.sqlite_alerts import MAX_DETAIL_LENGTH, incident

if TYPE_CHECKING:
    import asyncpg  # type: ignore[import-untyped]


class PostgresAlertsMixin(PostgresConnections):
    async def oldest_due_pending(self, now: float) -> float | None:
        # The partial index deliveries_due (due_at, id) answers this from its first entry.
        row = await self._fetchrow(
            "SELECT MIN(due_at) FROM deliveries WHERE status = 'pending' AND due_at <= $1", now
        )
        return None if row is None or row[0] is None else float(row[0])

    async def incidents(self) -> list[Incident]:
        rows = await self._fetch(
            "SELECT key, started_at, detail, announced_at FROM incidents "
            'ORDER BY started_at, key COLLATE "C"'
        )
        return [incident(row) for row in rows]

    async def open_incident(self, key: str, started_at: float, detail: str, now: float) -> bool:
        async def body(db: asyncpg.Connection) -> bool:
            status: str = await db.execute(
                "INSERT INTO incidents (key, started_at, detail, announced_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING",
                key,
                started_at,
                detail[:MAX_DETAIL_LENGTH],
                now,
            )
            return status != "INSERT 0 0"

        return await self._write(body)

    async def close_incident(self, key: str) -> bool:
        async def body(db: asyncpg.Connection) -> bool:
            status: str = await db.execute("DELETE FROM incidents WHERE key = $1", key)
            return status != "DELETE 0"

        return await self._write(body)
