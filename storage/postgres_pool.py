"""Connections to PostgreSQL for the store: the pool, which failures mean the server (not the
statement) is in trouble, and the two ways to the database, a read and a transaction.

A read is one statement, run again on a fresh connection when the one it met had been closed
by the server (a restart, an idle timeout). A transaction is run again from the start when it
could not begin on such a connection, or lost a deadlock; anything else the server cannot do
just now is StorageUnavailable, in one line, with nothing of the transaction kept. (One case
cannot be told apart: a connection lost while its COMMIT was on the way may have committed.
Retrying is still safe: a story pushed again is a duplicate whose deliveries were queued the
first time, and a claim ends with its lease.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]

from storage.base import StorageUnavailable
from storage.url import redact_url

logger = logging.getLogger("storage.postgres")

T = TypeVar("T")
Row = Any  # asyncpg.Record: by index, like sqlite3.Row

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
# Seconds to open a connection, and for any one statement: past them the server is taken
# to be unavailable (a stuck statement must not hang the bot).
CONNECT_TIMEOUT = 10.0
COMMAND_TIMEOUT = 60.0
# A health check that waits longer than this says the database is unavailable.
PING_TIMEOUT = 5.0
# A transaction is run again at most this many times when it could not begin (a connection
# the server had closed) or lost a deadlock.
_ATTEMPTS = 3


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return text or type(error).__name__


def unavailable(error: BaseException) -> bool:
    """The server, not the statement, is in trouble: unreachable, restarting, out of space or
    connections, read-only, too slow to answer, or the transaction lost a deadlock."""
    if broken_connection(error):
        return True
    return isinstance(
        error,
        OSError
        | TimeoutError
        | asyncpg.PostgresConnectionError
        | asyncpg.exceptions.OperatorInterventionError
        | asyncpg.exceptions.InsufficientResourcesError
        | asyncpg.exceptions.ReadOnlySQLTransactionError
        | asyncpg.exceptions.TransactionRollbackError
        | asyncpg.exceptions.InvalidCatalogNameError
        | asyncpg.exceptions.InvalidAuthorizationSpecificationError
        | asyncpg.exceptions.LockNotAvailableError
        | asyncpg.exceptions.PostgresSystemError
        # "database … is not currently accepting connections": closed to new sessions by
        # its administrator for maintenance, as during a restore.
        | asyncpg.exceptions.ObjectNotInPrerequisiteStateError,
    )


def broken_connection(error: BaseException) -> bool:
    """The connection, not the statement, failed: it cannot be used again."""
    return isinstance(
        error,
        OSError
        | asyncpg.PostgresConnectionError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.CannotConnectNowError
        # asyncpg's own state went wrong, as after the server ended the connection.
        | asyncpg.exceptions.InternalClientError,
    ) or (isinstance(error, asyncpg.InterfaceError) and "closed" in str(error))


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    """A pool of connections to `dsn`; StorageUnavailable (one line, no password) when the
    server cannot be reached or refuses."""
    try:
        return await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            timeout=CONNECT_TIMEOUT,
            command_timeout=COMMAND_TIMEOUT,
            init=_prepare_connection,
            reset=_keep_session,
            server_settings={
                "application_name": "tagwire",
                # Compiling a plan costs more than the short statements of a bot save.
                "jit": "off",
            },
        )
    except Exception as exc:
        if unavailable(exc) or isinstance(exc, asyncpg.PostgresError | ValueError):
            raise StorageUnavailable(
                f"cannot open the PostgreSQL database {redact_url(dsn)}: {one_line(exc)}"
            ) from None
        raise


class PostgresConnections:
    """The pool of a PostgresStore and the helpers its methods run their SQL with."""

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        self._pool = pool
        # For a session of one's own (a LISTEN, the lease of storage/leases.py); never logged.
        self.dsn = dsn
        # Where the data is, as an operator may read it in a message (no password).
        self.location = redact_url(dsn)
        # Why the last write failed, until one succeeds again.
        self._write_failure: str | None = None

    async def close(self) -> None:
        await close_pool(self._pool)

    # The two ways to the database.

    async def _read(
        self, method: str, sql: str, *args: object, time_limit: float | None = None
    ) -> Any:
        """One statement (`fetch`, `fetchrow` or `fetchval`) on a connection of the pool; run
        again on a fresh connection when the one it met had been closed by the server. With
        `time_limit` (seconds), the server stops the statement past it: QueryCanceledError."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self._pool.acquire() as db:
                    try:
                        if time_limit is None:
                            return await getattr(db, method)(sql, *args)
                        async with db.transaction(readonly=True):
                            # For this statement only: SET LOCAL ends with the transaction.
                            milliseconds = max(1, round(time_limit * 1000))
                            await db.execute(f"SET LOCAL statement_timeout = {milliseconds}")
                            return await getattr(db, method)(sql, *args)
                    except Exception as exc:
                        if broken_connection(exc):
                            # The pool opens a new one in its place.
                            _discard(db)
                        raise
            except Exception as exc:
                if broken_connection(exc) and attempt < _ATTEMPTS:
                    continue
                if time_limit is not None and isinstance(
                    exc, asyncpg.exceptions.QueryCanceledError
                ):
                    # The statement's own limit, not the server in trouble.
                    raise
                if unavailable(exc):
                    raise StorageUnavailable(
                        f"the database cannot be read: {one_line(exc)}"
                    ) from None
                raise
        raise AssertionError("unreachable")

    async def _fetch(self, sql: str, *args: object) -> list[Row]:
        rows: list[Row] = await self._read("fetch", sql, *args)
        return rows

    async def _fetchrow(self, sql: str, *args: object) -> Row | None:
        return await self._read("fetchrow", sql, *args)

    async def _write(self, body: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `body` in one transaction and return what it returns. Run again (from the
        start, with nothing of the failed try kept) when the transaction could not begin on
        a connection the server had closed, or lost a deadlock; StorageUnavailable when the
        server cannot take it."""
        for attempt in range(1, _ATTEMPTS + 1):
            began = False
            try:
                async with self._pool.acquire() as db:
                    transaction = db.transaction()
                    try:
                        await transaction.start()
                        began = True
                        result = await body(db)
                        await transaction.commit()
                    except BaseException as exc:
                        await _abandon(db, transaction, began, exc)
                        raise
            except Exception as exc:
                retry = (not began and broken_connection(exc)) or isinstance(
                    exc, asyncpg.exceptions.TransactionRollbackError
                )
                if retry and attempt < _ATTEMPTS:
                    continue
                if unavailable(exc):
                    raise self._cannot_write(exc) from None
                raise
            if self._write_failure is not None:
                logger.warning("the database takes writes again")
                self._write_failure = None
            return result
        raise AssertionError("unreachable")

    def _cannot_write(self, error: BaseException) -> StorageUnavailable:
        reason = one_line(error)
        if self._write_failure is None:
            logger.error(
                "the database cannot be written: %s; nothing half-written is kept, work in "
                "progress waits and is retried (is the PostgreSQL server at %s up, with space "
                "and connections to spare?)",
                reason,
                self.location,
            )
        self._write_failure = reason
        return StorageUnavailable(f"the database cannot be written: {reason}")

    async def write_problem(self) -> str | None:
        if self._write_failure is None:
            return None

        async def probe(db: asyncpg.Connection) -> None:
            await db.execute(
                "INSERT INTO meta (key, value, updated_at) VALUES ('write_probe', '', $1) "
                "ON CONFLICT (key) DO UPDATE SET updated_at = EXCLUDED.updated_at",
                time.time(),
            )

        with contextlib.suppress(StorageUnavailable):
            await self._write(probe)
        return self._write_failure

    async def ping(self) -> bool:
        # Twice: the first may meet a connection the server closed (and replace it).
        for _ in range(2):
            try:
                async with self._pool.acquire(timeout=PING_TIMEOUT) as db:
                    try:
                        answer = await db.fetchval("SELECT 1", timeout=PING_TIMEOUT)
                    except Exception as exc:
                        if broken_connection(exc):
                            _discard(db)
                        raise
                return bool(answer == 1)
            except Exception as exc:
                if not broken_connection(exc):
                    return False
        return False


async def _abandon(
    db: asyncpg.Connection, transaction: Any, began: bool, error: BaseException
) -> None:
    """After `error`, roll the transaction back, or end a connection that cannot say: one
    broken, or interrupted in the middle of a statement, goes back to the pool closed."""
    if broken_connection(error) or not began or isinstance(error, asyncio.CancelledError):
        _discard(db)
        return
    try:
        await asyncio.shield(transaction.rollback())
    except Exception:
        _discard(db)


def _discard(db: asyncpg.Connection) -> None:
    """Close `db` at once; the pool opens a new connection in its place."""
    # A connection the server ended has been handed back to the pool already.
    with contextlib.suppress(asyncpg.InterfaceError):
        if not db.is_closed():
            db.terminate()


async def _prepare_connection(db: asyncpg.Connection) -> None:
    """Every connection of the pool sends tsvectors in binary, as search_vector makes them."""
    await db.set_type_codec(
        "tsvector", schema="pg_catalog", encoder=_as_is, decoder=_as_is, format="binary"
    )


async def _keep_session(db: asyncpg.Connection) -> None:
    """Nothing to undo when a connection goes back to the pool.

    asyncpg's default sends `RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); CLOSE ALL`
    on every release: a round trip per read of the Store, a third of its CPU and latency
    (docs/scaling.md). The store leaves no session state on a pool connection: settings are
    `SET LOCAL`, cursors live in transactions, LISTEN and the leader's lock have sessions of
    their own, the migration lock is unlocked in a `finally`. An open transaction is still
    rolled back: the pool does that itself before calling this (Connection._reset)."""


def _as_is(value: bytes) -> bytes:
    return value


async def close_pool(pool: asyncpg.Pool) -> None:
    try:
        await asyncio.wait_for(pool.close(), timeout=10)
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        pool.terminate()
