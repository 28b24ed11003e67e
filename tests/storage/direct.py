"""A database of either backend read and written directly, beside the store: what the
migrations recorded, a row a future version would write, an old schema to upgrade."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from contextlib import closing

from storage.base import Store
from storage.migrations import MIGRATIONS as SQLITE_MIGRATIONS
from storage.postgres import PostgresStore
from storage.postgres_migrations import MIGRATIONS as POSTGRES_MIGRATIONS
from storage.sqlite import SqliteStore
from storage.url import DatabaseTarget
from tests.support.postgres import connect


async def execute(database: DatabaseTarget, *statements: str) -> None:
    """Run `statements` in one transaction."""
    if database.is_postgres:
        db = await connect(database.require_dsn())
        try:
            async with db.transaction():
                for statement in statements:
                    await db.execute(statement)
        finally:
            await db.close()
        return

    def run() -> None:
        with closing(sqlite3.connect(database.require_path())) as db:
            # As the store's own connections: references are enforced.
            db.execute("PRAGMA foreign_keys = ON")
            with db:
                for statement in statements:
                    db.execute(statement)

    await asyncio.to_thread(run)


async def fetch(database: DatabaseTarget, query: str) -> list[tuple[object, ...]]:
    if database.is_postgres:
        db = await connect(database.require_dsn())
        try:
            return [tuple(row) for row in await db.fetch(query)]
        finally:
            await db.close()

    def run() -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(database.require_path())) as db:
            return [tuple(row) for row in db.execute(query)]

    return await asyncio.to_thread(run)


async def applied_migrations(database: DatabaseTarget) -> list[str]:
    rows = await fetch(database, "SELECT name FROM migrations ORDER BY name")
    return [str(row[0]) for row in rows]


async def journal_mode(database: DatabaseTarget) -> str:
    rows = await fetch(database, "PRAGMA journal_mode")
    return str(rows[0][0])


def migration_statements(database: DatabaseTarget, name: str) -> Sequence[str]:
    """The statements of migration `name` in the backend's dialect."""
    migrations = POSTGRES_MIGRATIONS if database.is_postgres else SQLITE_MIGRATIONS
    return next(migration.statements for migration in migrations if migration.name == name)


async def create_old_schema(database: DatabaseTarget, *names: str) -> None:
    """The schema of a database that a tagwire knowing only migrations `names` made."""
    statements = ["CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"]
    for name in names:
        statements.extend(migration_statements(database, name))
        # The names are the migrations' own, not input.
        statements.append(f"INSERT INTO migrations VALUES ('{name}', 0)")  # noqa: S608
    await execute(database, *statements)


async def read_row(store: Store, query: str) -> tuple[object, ...] | None:
    """The first row of `query` (plain SQL without parameters) read through `store`'s own
    connection, whichever backend it is."""
    if isinstance(store, PostgresStore):
        row = await store._fetchrow(query)
    else:
        assert isinstance(store, SqliteStore)
        row = await store._read_one(query)
    return None if row is None else tuple(row)
