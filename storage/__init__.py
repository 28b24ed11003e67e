"""All SQL lives here, behind the `Store` interface the rest of tagwire uses.

May import: nothing of `bot` or `handlers` (checked by `lint-imports`).
"""

from __future__ import annotations

import os

from storage.base import StorageUnavailable, Store
from storage.url import DatabaseTarget, InvalidDatabaseUrl, parse_database


async def open_store(database: DatabaseTarget | str | os.PathLike[str]) -> Store:
    """Open (and migrate) the database TAGWIRE_DATABASE names: a SQLite file (a path or
    `sqlite:///…`) or a PostgreSQL server (`postgresql://…`). InvalidDatabaseUrl for any other
    `scheme://`; StorageUnavailable when the database cannot be opened."""
    target = database if isinstance(database, DatabaseTarget) else parse_database(database)
    if target.is_postgres:
        from storage.postgres import PostgresStore

        return await PostgresStore.open(target.require_dsn())
    from storage.sqlite import SqliteStore

    return await SqliteStore.open(target.require_path())


__all__ = [
    "DatabaseTarget",
    "InvalidDatabaseUrl",
    "StorageUnavailable",
    "Store",
    "open_store",
    "parse_database",
]
