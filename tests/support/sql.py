"""The bot's database read or changed directly by a test, beside the running bot, on either
backend: a SQLite file (a path) or a PostgreSQL database (a URL). Queries use `?` placeholders,
as SQLite does; for PostgreSQL they become $1, $2, … Calls are synchronous (a test may use them
inside `emulator.wait_for` conditions); PostgreSQL is reached from a worker thread with its own
event loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from storage.url import parse_database

Statement = tuple[str, Sequence[object]]


def _numbered(sql: str) -> str:
    parts = sql.split("?")
    return parts[0] + "".join(f"${number}{part}" for number, part in enumerate(parts[1:], 1))


async def _postgres(url: str, statements: Sequence[Statement]) -> list[tuple[object, ...]]:
    db = await asyncpg.connect(url, timeout=10)
    try:
        rows: list[tuple[object, ...]] = []
        async with db.transaction():
            for sql, params in statements:
                rows = [tuple(row) for row in await db.fetch(_numbered(sql), *params)]
        return rows
    finally:
        await db.close()


def _run(database: Path | str, statements: Sequence[Statement]) -> list[tuple[object, ...]]:
    """Run `statements` in one transaction; the rows of the last."""
    target = parse_database(database)
    if target.is_postgres:
        with ThreadPoolExecutor(max_workers=1) as worker:
            return worker.submit(asyncio.run, _postgres(target.require_dsn(), statements)).result()
    with contextlib.closing(sqlite3.connect(target.require_path())) as db:
        db.execute("PRAGMA foreign_keys = ON")
        rows: list[tuple[object, ...]] = []
        with db:
            for sql, params in statements:
                rows = [tuple(row) for row in db.execute(sql, tuple(params))]
        return rows


def query(database: Path | str, sql: str, *params: object) -> list[tuple[object, ...]]:
    return _run(database, [(sql, params)])


def execute(database: Path | str, *statements: Statement) -> None:
    _run(database, statements)
