"""The database a benchmark runs against: the generated SQLite file (the default), or the same
rows in PostgreSQL with `--database postgresql://user@host:5432/NAME`.

With PostgreSQL, database NAME holds the generated database: it is filled from the cached
SQLite file by `tagwire migrate-db`'s copy (storage/transfer.py) and refilled when the scale or
the generator changes (it must be empty or made by this module: the benchmark never replaces
anything else). Each run works on a copy, `CREATE DATABASE NAME_<bench> TEMPLATE NAME`
(PostgreSQL's file copy: seconds where the generator takes minutes), dropped afterwards; the
same idea as the SQLite working copy beside the cached file.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import time
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from bench.generate import Database, _wanted_meta
from storage.transfer import transfer
from storage.url import DatabaseTarget, parse_database

# The key of the `meta` row that says which generated database a PostgreSQL database holds.
MARKER = "bench.generate"
# PostgreSQL truncates a database name past 63 bytes.
_NAME_BYTES = 63


@dataclass(frozen=True, slots=True)
class Backend:
    """SQLite (url None) or the PostgreSQL database `url` names."""

    url: str | None = None
    version: str = sqlite3.sqlite_version

    @property
    def is_postgres(self) -> bool:
        return self.url is not None

    @property
    def name(self) -> str:
        """As a table's title says it: "SQLite 3.40.1", "PostgreSQL 15.20"."""
        return f"PostgreSQL {self.version}" if self.is_postgres else f"SQLite {self.version}"

    @property
    def label(self) -> str:
        """A short name for files and JSON: "sqlite" or "postgresql"."""
        return "postgresql" if self.is_postgres else "sqlite"


def add_database_argument(arguments: Any) -> None:
    arguments.add_argument(
        "--database",
        help="postgresql://… : run against PostgreSQL; this database is filled with the "
        "generated one and copied for each run (default: the generated SQLite file)",
    )


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def _database_name(url: str) -> str:
    name = urlsplit(url).path.lstrip("/")
    if not name:
        raise SystemExit(f"--database {url}: name a database, e.g. …/tagwire_bench")
    return name


async def _admin(url: str) -> asyncpg.Connection:
    """A connection to the server's maintenance database, to create and drop databases."""
    for maintenance in ("postgres", "template1"):
        try:
            return await asyncpg.connect(_with_database(url, maintenance), timeout=10)
        except asyncpg.InvalidCatalogNameError:
            continue
    raise SystemExit(f"--database: no maintenance database on the server of {url}")


async def backend(url: str | None) -> Backend:
    if url is None:
        return Backend()
    if not parse_database(url).is_postgres:
        raise SystemExit(f"--database takes a postgresql:// URL, not {url}")
    admin = await _admin(url)
    try:
        version = str(await admin.fetchval("SHOW server_version")).split()[0]
        name = _database_name(url)
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await admin.close()
    return Backend(url, version)


async def ensure_postgres(chosen: Backend, database: Database) -> dict[str, Any]:
    """The generated database in PostgreSQL database `chosen.url`, copied there first when it
    holds another (or none); returns how that went (seconds 0 when it was there already)."""
    assert chosen.url is not None
    wanted = json.dumps(_wanted_meta(database.scale), sort_keys=True)
    db = await asyncpg.connect(chosen.url, timeout=10)
    try:
        has_meta = await db.fetchval("SELECT to_regclass('meta')") is not None
        marker = (
            await db.fetchval("SELECT value FROM meta WHERE key = $1", MARKER) if has_meta else None
        )
        holds_rows = has_meta and bool(await db.fetchval("SELECT EXISTS (SELECT 1 FROM chats)"))
    finally:
        await db.close()
    if marker == wanted:
        return {"copied": False, "seconds": 0.0, "size_mb": await _size_mb(chosen.url)}
    if holds_rows and marker is None:
        raise SystemExit(
            f"--database {chosen.url} holds data not made by bench.generate: give an empty "
            "database (or one a benchmark filled before)"
        )
    started = time.perf_counter()
    report = await transfer(
        DatabaseTarget.sqlite(database.path), parse_database(chosen.url), force=True
    )
    seconds = time.perf_counter() - started
    db = await asyncpg.connect(chosen.url, timeout=10)
    try:
        await db.execute(
            "INSERT INTO meta (key, value, updated_at) VALUES ($1, $2, $3)",
            MARKER,
            wanted,
            time.time(),
        )
        # Fresh statistics for the planner, as autovacuum would make them in a while.
        await db.execute("VACUUM ANALYZE")
    finally:
        await db.close()
    return {
        "copied": True,
        "seconds": seconds,
        "rows": report.rows,
        "size_mb": await _size_mb(chosen.url),
    }


async def _size_mb(url: str) -> float:
    db = await asyncpg.connect(url, timeout=10)
    try:
        return float(await db.fetchval("SELECT pg_database_size(current_database())")) / 1e6
    finally:
        await db.close()


def _copy_name(url: str, purpose: str) -> str:
    base = _database_name(url)
    suffix = "_" + re.sub(r"[^a-z0-9_]", "_", purpose.lower())
    return base.encode()[: _NAME_BYTES - len(suffix)].decode(errors="ignore") + suffix


async def working_copy(
    chosen: Backend, database: Database, purpose: str, folder: Path
) -> DatabaseTarget:
    """A copy of the generated database to change at will: a file in `folder`, or a
    PostgreSQL database made from the filled one as a template."""
    if chosen.url is None:
        path = folder / f"{purpose}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        await asyncio.to_thread(shutil.copyfile, database.path, path)
        return DatabaseTarget.sqlite(path)
    await ensure_postgres(chosen, database)
    name = _copy_name(chosen.url, purpose)
    admin = await _admin(chosen.url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(
            f'CREATE DATABASE "{name}" TEMPLATE "{_database_name(chosen.url)}" STRATEGY = FILE_COPY'
        )
    finally:
        await admin.close()
    return parse_database(_with_database(chosen.url, name))


async def remove(target: DatabaseTarget) -> None:
    """Remove a working copy."""
    if not target.is_postgres:
        path = target.require_path()
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return
    url = target.require_dsn()
    admin = await _admin(url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{_database_name(url)}" WITH (FORCE)')
    finally:
        await admin.close()


async def fetch(target: DatabaseTarget, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows of `sql` (placeholders written `?`) in a working copy, read directly."""
    if target.is_postgres:
        db = await asyncpg.connect(target.require_dsn(), timeout=10)
        try:
            return [tuple(row) for row in await db.fetch(_dollars(sql), *args)]
        finally:
            await db.close()

    def run() -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(target.require_path())) as db:
            return [tuple(row) for row in db.execute(sql, args)]

    return await asyncio.to_thread(run)


async def execute(
    target: DatabaseTarget, statements: Sequence[tuple[str, Sequence[object]]]
) -> None:
    """Run `statements` (SQL with `?` placeholders, and their values) in one transaction."""
    if target.is_postgres:
        db = await asyncpg.connect(target.require_dsn(), timeout=10)
        try:
            async with db.transaction():
                for sql, args in statements:
                    await db.execute(_dollars(sql), *args)
        finally:
            await db.close()
        return

    def run() -> None:
        with closing(sqlite3.connect(target.require_path(), isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("BEGIN IMMEDIATE")
            for sql, args in statements:
                db.execute(sql, args)
            db.execute("COMMIT")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    await asyncio.to_thread(run)


def _dollars(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1`, `$2`, …"""
    count = 0

    def number(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"${count}"

    return re.sub(r"\?", number, sql)
