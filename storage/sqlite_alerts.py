"""The SQLite side of the alerts to operators (bot/alerts): the incidents announced and not yet
over, and how late the outbox is. A mixin of SqliteStore, which provides the connections and the
transaction helper.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from storage.models import Incident
from storage.sqlite_connections import SqliteConnections

if TYPE_CHECKING:
    pass

# An incident's detail is a line for the logs and the admins, not a document.
MAX_DETAIL_LENGTH = 500


def incident(row: sqlite3.Row | tuple[Any, ...]) -> Incident:
    return Incident(key=row[0], started_at=row[1], detail=row[2], announced_at=row[3])


class SqliteAlertsMixin(SqliteConnections):
    async def oldest_due_pending(self, now: float) -> float | None:
        # The partial index deliveries_due (due_at, id) answers this from its first entry.
        row = await self._read_one(
            "SELECT MIN(due_at) FROM deliveries WHERE status = 'pending' AND due_at <= ?", (now,)
        )
        return None if row is None or row[0] is None else float(row[0])

    async def incidents(self) -> list[Incident]:
        rows = await self._read_all(
            "SELECT key, started_at, detail, announced_at FROM incidents ORDER BY started_at, key"
        )
        return [incident(row) for row in rows]

    async def open_incident(self, key: str, started_at: float, detail: str, now: float) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "INSERT INTO incidents (key, started_at, detail, announced_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, started_at, detail[:MAX_DETAIL_LENGTH], now),
            )
            return cursor.rowcount > 0

    async def close_incident(self, key: str) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute("DELETE FROM incidents WHERE key = ?", (key,))
            return cursor.rowcount > 0
