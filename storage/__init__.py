"""All SQL lives here, behind the `Store` interface the rest of tagwire uses.

May import: nothing of `bot` or `handlers` (checked by `lint-imports`).
"""

from __future__ import annotations

from pathlib import Path

from storage.base import StorageUnavailable, Store


async def open_store(database: Path | str) -> Store:
    """Open (and migrate) the database; a second backend would be chosen here by its URL."""
    from storage.sqlite import SqliteStore

    return await SqliteStore.open(database)


__all__ = ["StorageUnavailable", "Store", "open_store"]
