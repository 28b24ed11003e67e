"""Consistent copies of a live SQLite database, and checks before one is put back."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from storage.base import StorageUnavailable
from storage.migrations import MIGRATIONS


@dataclass(frozen=True, slots=True)
class BackupSummary:
    stories: int
    chats: int
    subscriptions: int
    migrations: tuple[str, ...]


class InvalidBackup(ValueError):
    """A file that is not a usable tagwire backup; the message says why."""


def backup_database(source: Path, destination: Path) -> BackupSummary:
    """Copy `source` to `destination` with SQLite's online backup, which is consistent even
    while the bot writes. Blocking: run it in a thread from async code."""
    if not source.exists():
        raise StorageUnavailable(f"there is no database at {source}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(_connect(source)) as src, closing(_connect(destination)) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"cannot back up {source} to {destination}: {exc}") from exc
    return check_backup(destination)


def check_backup(path: Path) -> BackupSummary:
    """What a backup holds, after checking it is an intact tagwire database this version
    can use; InvalidBackup otherwise."""
    if not path.is_file():
        raise InvalidBackup(f"{path} is not a file")
    try:
        with closing(_connect(path)) as db:
            integrity = db.execute("PRAGMA integrity_check").fetchone()
            if integrity is None or integrity[0] != "ok":
                raise InvalidBackup(f"{path} is damaged: {integrity[0] if integrity else '?'}")
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
            if "migrations" not in tables or "articles" not in tables:
                raise InvalidBackup(f"{path} is not a tagwire database")
            applied = tuple(
                row[0] for row in db.execute("SELECT name FROM migrations ORDER BY name")
            )
            newer = set(applied) - {migration.name for migration in MIGRATIONS}
            if newer:
                raise InvalidBackup(
                    f"{path} was written by a newer tagwire (migrations {sorted(newer)})"
                )
            counts = db.execute(
                "SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM chats), "
                "(SELECT COUNT(*) FROM subscriptions)"
            ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise InvalidBackup(f"{path} is not a SQLite database: {exc}") from exc
    return BackupSummary(
        stories=counts[0], chats=counts[1], subscriptions=counts[2], migrations=applied
    )


def restore_database(backup: Path, database: Path, keep_previous: Path | None) -> BackupSummary:
    """Check `backup`, keep a copy of the current database at `keep_previous`, then copy the
    backup over `database` with the backup API (so its WAL and readers stay consistent)."""
    summary = check_backup(backup)
    if keep_previous is not None and database.exists():
        backup_database(database, keep_previous)
    try:
        with closing(_connect(backup)) as src, closing(_connect(database)) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"cannot restore {backup} into {database}: {exc}") from exc
    return summary


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), timeout=15)
    connection.execute("PRAGMA busy_timeout = 15000")
    return connection
