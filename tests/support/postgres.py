"""The PostgreSQL server the tests use: a fresh database for each test, dropped afterwards.

TAGWIRE_TEST_POSTGRES names a database of the server to connect to for creating and dropping
the others (default postgresql://postgres@127.0.0.1:5432/postgres; `scripts/postgres-for-tests`
starts one where none answers). A server that does not answer fails the PostgreSQL half of the
tests with a message saying so: it never skips them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# Databases the tests create start with this, so that leftovers of a killed run are known.
PREFIX = "tagwire_test_"


def admin_url() -> str:
    return os.environ.get("TAGWIRE_TEST_POSTGRES", DEFAULT_ADMIN_URL)


def database_url(name: str) -> str:
    """The URL of database `name` on the tests' server."""
    parts = urlsplit(admin_url())
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(admin_url(), timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"the PostgreSQL tests need a server at TAGWIRE_TEST_POSTGRES={admin_url()!r} "
            f"({exc}); run scripts/postgres-for-tests to start one"
        ) from exc


async def create_database() -> str:
    """A new empty database; returns its name."""
    name = PREFIX + secrets.token_hex(6)
    admin = await _admin()
    try:
        await admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    return name


async def drop_database(name: str) -> None:
    """Drop database `name`, ending the sessions still connected to it."""
    assert name.startswith(PREFIX)
    admin = await _admin()
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """The URL of a new empty database, dropped when the block ends."""
    name = await create_database()
    try:
        yield database_url(name)
    finally:
        await drop_database(name)


async def set_reachable(url: str, reachable: bool) -> None:
    """Refuse (and end) or allow again every session of the bot's database, as while its
    server restarts."""
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(admin_url())
    try:
        await admin.execute(
            f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(reachable).lower()}'
        )
        if not reachable:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
    finally:
        await admin.close()


async def set_read_only(url: str, read_only: bool) -> None:
    """Make the database refuse writes (every new session read-only, as a server switched to
    read-only or out of space refuses them) or take them again. The store's own sessions are
    ended so that its pool opens new ones under the new rule; the leader's lease (a session of
    its own, application_name tagwire-lease) is left alone."""
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(admin_url())
    try:
        if read_only:
            await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        else:
            await admin.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND application_name = 'tagwire' AND pid <> pg_backend_pid()",
            name,
        )
    finally:
        await admin.close()


async def connect(url: str) -> asyncpg.Connection:
    """A plain connection, to look at a database the way a test needs to."""
    return await asyncpg.connect(url, timeout=10)


class TcpProxy:
    """A TCP relay in front of the tests' server, on a port of its own: `stop()` is the server
    going away for every client at once (listener closed, connections cut), `start()` brings
    it back on the same port."""

    def __init__(self) -> None:
        target = urlsplit(admin_url())
        self._target = (target.hostname or "127.0.0.1", target.port or 5432)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    def url(self, database: str) -> str:
        """The URL of `database` through the relay."""
        parts = urlsplit(database_url(database))
        netloc = parts.netloc.rpartition("@")
        host = f"127.0.0.1:{self.port}"
        return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if netloc[1] else host))

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self._target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, upstream_writer))
        await asyncio.gather(
            self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
