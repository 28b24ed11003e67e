"""SqliteStore's connections: a writer (one transaction at a time, under a lock), a reader,
and a connection for searches; opening the file with its migrations applied, and how SQLite's
errors become StorageUnavailable. The store and its mixins run their SQL through these."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Self

import aiosqlite

from storage.base import StorageUnavailable
from storage.migrations import apply_migrations
from storage.private import create_private

logger = logging.getLogger("storage.sqlite")

# Long enough to wait out a `tagwire push` of a large file writing beside the bot.
BUSY_TIMEOUT_MS = 15_000
# SQLite's primary result codes that mean the database, not the query, is in trouble: busy or
# locked past the busy timeout, read-only, an I/O error (a write past RLIMIT_FSIZE is one),
# full, cannot be opened, a locking protocol error.
UNAVAILABLE_CODES = frozenset({5, 6, 8, 10, 13, 14, 15})


def unavailable(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return (
        isinstance(error, sqlite3.Error) and code is not None and code & 0xFF in UNAVAILABLE_CODES
    )


def _probe(path: Path | str) -> None:
    connection = sqlite3.connect(str(path))
    try:
        connection.execute("SELECT 1 FROM sqlite_master LIMIT 1")
    finally:
        connection.close()


class SearchClock:
    """When the statement running on the search connection must stop (`time.monotonic()`),
    None while no search runs; SQLite's progress handler asks it, in the connection's thread."""

    __slots__ = ("deadline",)

    def __init__(self) -> None:
        self.deadline: float | None = None

    def stop(self) -> int:
        deadline = self.deadline
        return 1 if deadline is not None and time.monotonic() > deadline else 0


class SqliteConnections:
    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        searcher: aiosqlite.Connection | None = None,
    ) -> None:
        self._writer = writer
        self._reader = reader
        # Searches have a connection of their own and take turns on it, so that a costly one
        # never holds up the other reads (each statement of a connection waits for the one
        # before). An in-memory database has one connection for everything.
        self._searcher = searcher if searcher is not None else reader
        self._search_turn = asyncio.Lock()
        self._search_clock = SearchClock()
        self._search_clock_set = False
        self._write_lock = asyncio.Lock()
        # Why the last write failed, until one succeeds again.
        self._write_failure: str | None = None

    @classmethod
    async def open(cls, path: Path | str) -> Self:
        try:
            return await cls._open(path)
        except (sqlite3.Error, OSError) as exc:
            raise StorageUnavailable(f"cannot open the database {path}: {exc}") from exc

    @classmethod
    async def _open(cls, path: Path | str) -> Self:
        in_memory = str(path) == ":memory:"
        if not in_memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Made by tagwire, before SQLite would make it with the umask's mode.
            create_private(Path(path))
            # aiosqlite leaves its thread behind when a connection fails to open, so find out
            # first, with a plain connection, whether the file can be opened at all.
            await asyncio.to_thread(_probe, path)
        writer = await cls._connect(path)
        try:
            await apply_migrations(writer)
            # An in-memory database exists only inside its connection, so it reads there too.
            reader = writer if in_memory else await cls._connect(path)
        except BaseException:
            await writer.close()
            raise
        if in_memory:
            return cls(writer, reader)
        try:
            searcher = await cls._connect(path)
            await searcher.execute("PRAGMA query_only = 1")
        except BaseException:
            await reader.close()
            await writer.close()
            raise
        return cls(writer, reader, searcher)

    @staticmethod
    async def _connect(path: Path | str) -> aiosqlite.Connection:
        db = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await db.execute("PRAGMA journal_mode = WAL")
            # WAL with synchronous=NORMAL survives a crash of the process (kill -9) without
            # losing commits; only a power cut can lose the last few transactions.
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        if self._searcher is not self._reader and self._searcher is not self._writer:
            await self._searcher.close()
        if self._reader is not self._writer:
            await self._reader.close()
        await self._writer.close()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._write_lock:
            changes = self._writer.total_changes
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
                # Inside the try: a full disk often shows only when the commit writes the WAL.
                await self._writer.execute("COMMIT")
            except BaseException as exc:
                await self._rollback()
                if unavailable(exc):
                    raise self._cannot_write(exc) from exc
                raise
            if self._write_failure is not None and self._writer.total_changes != changes:
                logger.warning("the database takes writes again")
                self._write_failure = None

    def _cannot_write(self, error: BaseException) -> StorageUnavailable:
        if self._write_failure is None:
            logger.error(
                "the database cannot be written: %s; nothing half-written is kept, work in "
                "progress waits and is retried (is the disk full, or another process holding "
                "the lock?)",
                error,
            )
        self._write_failure = str(error)
        return StorageUnavailable(f"the database cannot be written: {error}")

    async def write_problem(self) -> str | None:
        if self._write_failure is None:
            return None
        with contextlib.suppress(StorageUnavailable):
            async with self._transaction() as db:
                await db.execute(
                    "INSERT INTO meta (key, value, updated_at) VALUES ('write_probe', '', ?) "
                    "ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at",
                    (time.time(),),
                )
        return self._write_failure

    async def _rollback(self) -> None:
        # Runs after whatever was queued on the connection thread, including a BEGIN whose
        # caller was cancelled before it ran, so no transaction outlives the lock.
        with contextlib.suppress(sqlite3.OperationalError):
            await asyncio.shield(self._writer.execute("ROLLBACK"))

    async def _read_all(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        # One trip to the connection's thread, not three (execute, fetch, close): with many
        # readers at once the trips, queued on one thread, were most of a /latest reply's time.
        try:
            return list(await self._reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            if unavailable(exc):
                raise StorageUnavailable(f"the database cannot be read: {exc}") from exc
            raise

    async def _read_one(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        # Every caller asks for one row (by key, an aggregate, LIMIT 1), so fetching all is one.
        rows = await self._read_all(sql, params)
        return rows[0] if rows else None

    async def ping(self) -> bool:
        try:
            row = await self._read_one("SELECT 1")
        except (sqlite3.Error, ValueError, StorageUnavailable):
            return False
        return row is not None
