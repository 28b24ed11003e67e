"""Who may send: one lease per database, held by one process at a time.

The delivery engine, the digests, the feed poller and long polling must run in exactly one
process per bot. On PostgreSQL the lease is a session advisory lock on a connection of its own:
the server drops it the moment that connection ends (the holder exits, is killed, or loses the
network), so another instance can take over. On SQLite the lease is an exclusive `flock` on a
file beside the database, which the kernel drops when the holder's process ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from abc import ABC, abstractmethod
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from storage.base import StorageUnavailable

# pg_try_advisory_lock takes a bigint; this one is "tagwire" in ASCII, so that it is unlikely
# to clash with another application's lock in a shared database.
ADVISORY_KEY = 0x7461677769726500


class Lease(ABC):
    """A lease that `acquire` takes when it is free, `held` confirms, and `release` gives back."""

    @abstractmethod
    async def acquire(self) -> bool:
        """True when this process holds the lease now (taken now or held already). Raises
        StorageUnavailable when the database cannot be reached."""

    @abstractmethod
    async def held(self) -> bool:
        """True while the lease is still ours; False once it has been lost (the database
        connection that carried it ended)."""

    @abstractmethod
    async def release(self) -> None:
        """Give the lease back (and close what carried it); safe to call more than once."""


class PostgresLease(Lease):
    """A session advisory lock on a dedicated connection."""

    def __init__(self, dsn: str, *, key: int = ADVISORY_KEY, timeout: float = 3.0) -> None:
        self._dsn = dsn
        self._key = key
        self._timeout = timeout
        self._connection: asyncpg.Connection | None = None
        self._held = False

    async def acquire(self) -> bool:
        if self._held:
            return await self.held()
        try:
            return await self._try_lock()
        except (
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.exceptions.InternalClientError,
            TimeoutError,
        ) as exc:
            await self._discard()
            raise StorageUnavailable(f"cannot reach PostgreSQL for the lease: {exc}") from exc

    async def _try_lock(self) -> bool:
        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(
                self._dsn,
                timeout=self._timeout,
                # The server notices a vanished holder by TCP keepalive rather than never.
                server_settings={
                    "application_name": "tagwire-lease",
                    "tcp_keepalives_idle": "5",
                    "tcp_keepalives_interval": "2",
                    "tcp_keepalives_count": "3",
                },
            )
        taken = await self._connection.fetchval(
            "SELECT pg_try_advisory_lock($1)", self._key, timeout=self._timeout
        )
        self._held = bool(taken)
        return self._held

    async def held(self) -> bool:
        if not self._held or self._connection is None or self._connection.is_closed():
            self._held = False
            return False
        try:
            await self._connection.fetchval("SELECT 1", timeout=self._timeout)
        except Exception:
            # However the connection failed (asyncpg raises a few kinds after the server ended
            # the session), the lease went with it.
            self._held = False
            await self._discard()
            return False
        return True

    async def release(self) -> None:
        self._held = False
        await self._discard()

    async def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            # Closing the session releases its advisory locks; a dead connection is just torn
            # down.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout=self._timeout)
            if not connection.is_closed():
                connection.terminate()


class FileLease(Lease):
    """An exclusive flock on `<database>.lock`; taken or not, never waited for."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    async def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # The holder's pid, for the message the second process gives.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str | None:
        """The pid written by the process that holds the lease, if it can be read."""
        try:
            return self.path.read_text().strip() or None
        except OSError:
            return None

    async def held(self) -> bool:
        return self._fd is not None

    async def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class NoLease(Lease):
    """For a database only this process can see (SQLite in memory): always held."""

    async def acquire(self) -> bool:
        return True

    async def held(self) -> bool:
        return True

    async def release(self) -> None:
        return None
