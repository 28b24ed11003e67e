"""Consistent copies of a live SQLite database, and checks before one is put back; for
PostgreSQL, the pg_dump and pg_restore commands to run instead."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from storage.base import StorageUnavailable
from storage.migrations import MIGRATIONS, MIGRATIONS_TABLE
from storage.private import create_private
from storage.url import DatabaseTarget


@dataclass(frozen=True, slots=True)
class BackupSummary:
    stories: int
    chats: int
    subscriptions: int
    migrations: tuple[str, ...]


class InvalidBackup(ValueError):
    """A file that is not a usable tagwire backup; the message says why."""


# SQLite's primary result codes of a file that is not a database, or a damaged one.
_DAMAGED_CODES = frozenset({11, 26})
# Tables SQLite makes itself when statistics are gathered (ANALYZE): allowed in a backup.
_STATISTICS = frozenset({("table", "sqlite_stat1"), ("table", "sqlite_stat4")})
# Objects named in each part of a refusal; the rest are counted.
_NAMED = 8
# Pages the online backup copies between two reports of progress: 4 MiB at SQLite's default
# page size, a step short enough for a bar that moves and long enough to cost nothing.
BACKUP_STEP_PAGES = 1024
# Tables first, then views and triggers (what runs), then indexes.
_KIND_ORDER = {"table": 0, "view": 1, "trigger": 2, "index": 3}
_SPACE_AROUND_PUNCTUATION = re.compile(r"\s*([(),])\s*")

# A schema: (type, name) of each table, index, trigger and view → (its table, its SQL).
Schema = dict[tuple[str, str], tuple[str, str]]


# What a copy reports after each step: pages copied, pages in all.
PagesProgress = Callable[[int, int], None]


def backup_database(
    source: Path, destination: Path, progress: PagesProgress | None = None
) -> BackupSummary:
    """Copy `source` to `destination` with SQLite's online backup, which is consistent even
    while the bot writes; `progress` is told the pages copied after each step. Blocking: run
    it in a thread from async code."""
    if not source.exists():
        raise StorageUnavailable(f"there is no database at {source}")
    try:
        _copy(source, destination, progress)
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"cannot back up {source} to {destination}: {exc}") from exc
    return check_backup(destination)


def check_backup(path: Path) -> BackupSummary:
    """What a backup holds, after checking it is an intact tagwire database this version
    can use; InvalidBackup otherwise."""
    if not path.is_file():
        raise InvalidBackup(f"{path} is not a file")
    with closing(_connect(path)) as db:
        return _inspect(db, path)


def _inspect(db: sqlite3.Connection, path: Path) -> BackupSummary:
    """Check the database `db` opened (see check_backup). Its schema comes first, read from
    sqlite_master alone: it must be exactly what this version's migrations make (those the
    file has seen), so nothing of the file's own (a view that never ends, a trigger that
    subscribes a stranger) is ever run here, or copied into the live database."""
    try:
        # Nothing written through this connection: no trigger of the file can fire.
        db.execute("PRAGMA query_only = 1")
        found = _schema(db)
        if found.get(("table", "migrations")) != _expected_schema(0)[("table", "migrations")]:
            raise InvalidBackup(f"{path} is not a tagwire database: it has no migrations table")
        # A plain table, as checked just now: reading it runs nothing of the file's.
        applied = tuple(row[0] for row in db.execute("SELECT name FROM migrations"))
        known = [migration.name for migration in MIGRATIONS]
        newer = set(applied) - set(known)
        if newer:
            raise InvalidBackup(
                f"{path} was written by a newer tagwire (migrations {sorted(newer)})"
            )
        seen = len(applied)
        if set(applied) != set(known[:seen]):
            raise InvalidBackup(
                f"{path} is not a tagwire database: its migrations {sorted(applied)} skip some"
            )
        differences = _differences(found, _expected_schema(seen))
        if differences:
            raise InvalidBackup(f"{path} is not a tagwire database: {differences}")
        integrity = db.execute("PRAGMA integrity_check").fetchone()
        if integrity is None or integrity[0] != "ok":
            raise InvalidBackup(f"{path} is damaged: {integrity[0] if integrity else '?'}")
        counts = db.execute(
            "SELECT (SELECT COUNT(*) FROM articles), (SELECT COUNT(*) FROM chats), "
            "(SELECT COUNT(*) FROM subscriptions)"
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise InvalidBackup(f"{path} is not a SQLite database: {exc}") from exc
    return BackupSummary(
        stories=counts[0], chats=counts[1], subscriptions=counts[2], migrations=tuple(applied)
    )


def _schema(db: sqlite3.Connection) -> Schema:
    rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return {(kind, name): (table, _normal(sql)) for kind, name, table, sql in rows}


def _normal(sql: str | None) -> str:
    """`sql` with its spacing made canonical, which nothing but the text of a migration
    changes."""
    return _SPACE_AROUND_PUNCTUATION.sub(r"\1", " ".join((sql or "").split()))


@cache
def _expected_schema(seen: int) -> Schema:
    """The schema the first `seen` migrations make, in a database of their own."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(MIGRATIONS_TABLE)
        for migration in MIGRATIONS[:seen]:
            for statement in migration.statements:
                db.execute(statement)
        return _schema(db)


def _differences(found: Schema, expected: Schema) -> str:
    """How `found` differs from `expected`, in a few words; empty when it does not."""

    def listed(objects: set[tuple[str, str]]) -> str:
        ordered = sorted(objects, key=lambda item: (_KIND_ORDER.get(item[0], 9), item))
        named = ", ".join(f"{kind} {name}" for kind, name in ordered[:_NAMED])
        return named + (f" and {len(ordered) - _NAMED} more" if len(ordered) > _NAMED else "")

    own = set(found) - set(expected) - _STATISTICS
    missing = set(expected) - set(found)
    changed = {key for key in set(found) & set(expected) if found[key] != expected[key]}
    parts = []
    if own:
        parts.append(f"it has {listed(own)} of its own")
    if missing:
        parts.append(f"{listed(missing)} {'is' if len(missing) == 1 else 'are'} missing")
    if changed:
        parts.append(f"{listed(changed)} {'differs' if len(changed) == 1 else 'differ'}")
    return "; ".join(parts)


def restore_database(
    backup: Path, database: Path, keep_previous: Path | None, set_aside: Path | None = None
) -> BackupSummary:
    """Check `backup`, keep a copy of the current database at `keep_previous`, then copy the
    backup over `database` with the backup API (so its WAL and readers stay consistent).

    A current database that is damaged ("file is not a database", "disk image is
    malformed": it can be neither copied nor written over) is moved to `set_aside` with the
    files beside it (-wal, -shm), and the backup copied in its place; without `set_aside`
    that is StorageUnavailable."""
    if not backup.is_file():
        raise InvalidBackup(f"{backup} is not a file")
    with closing(_connect(backup)) as src:
        # What is checked is what is copied: one read transaction for both.
        src.execute("BEGIN")
        summary = _inspect(src, backup)
        moved = False
        if keep_previous is not None and database.exists():
            try:
                _copy(database, keep_previous)
            except sqlite3.DatabaseError as exc:
                if set_aside is None or not _damaged(exc):
                    raise StorageUnavailable(
                        f"cannot back up {database} to {keep_previous}: {exc}"
                    ) from exc
                keep_previous.unlink(missing_ok=True)
                _move_aside(database, set_aside)
                moved = True
        try:
            _copy_from(src, database)
        except sqlite3.DatabaseError as exc:
            if set_aside is None or moved or not _damaged(exc):
                raise StorageUnavailable(f"cannot restore {backup} into {database}: {exc}") from exc
            _move_aside(database, set_aside)
            try:
                _copy_from(src, database)
            except sqlite3.Error as again:
                raise StorageUnavailable(
                    f"cannot restore {backup} into {database}: {again}"
                ) from again
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot restore {backup} into {database}: {exc}") from exc
    return summary


def _damaged(error: sqlite3.DatabaseError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _DAMAGED_CODES


def _copy(source: Path, destination: Path, progress: PagesProgress | None = None) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    create_private(destination)
    with closing(_connect(source)) as src, closing(_connect(destination)) as dst:
        if progress is None:
            src.backup(dst)
            return
        # One read transaction for the whole copy, as the single step of all pages above
        # holds: every step reads the same snapshot. Without it, a step after anyone's write
        # starts the copy again from the first page, and a bot writing every second would
        # keep a large copy from ever ending.
        src.execute("BEGIN")
        src.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        _copy_in_steps(src, dst, progress)


class _Restarted(Exception):
    """The stepped copy started again from the first page."""


def _copy_in_steps(
    src: sqlite3.Connection, dst: sqlite3.Connection, progress: PagesProgress
) -> None:
    """Copy `src` into `dst` BACKUP_STEP_PAGES at a time, telling `progress` after each step.
    Should the copy start again (the source changed between steps), it is finished in one
    step of all pages instead, so it ends whatever writes the source."""
    left: int | None = None

    def step(status: int, remaining: int, pages: int) -> None:
        nonlocal left
        # A step that copied (not one that found the source busy) and is no nearer the end
        # started again from the first page.
        if status == sqlite3.SQLITE_OK and left is not None and remaining >= left:
            raise _Restarted
        left = remaining
        progress(pages - remaining, pages)

    try:
        src.backup(dst, pages=BACKUP_STEP_PAGES, progress=step)
    except _Restarted:
        src.backup(dst)
        pages = src.execute("PRAGMA page_count").fetchone()[0]
        progress(pages, pages)


def _copy_from(src: sqlite3.Connection, destination: Path) -> None:
    create_private(destination)
    with closing(_connect(destination)) as dst:
        src.backup(dst)


def _move_aside(database: Path, aside: Path) -> None:
    """Rename the damaged `database`, and the files SQLite keeps beside it, to `aside`: a
    write-ahead log left behind would be replayed into the restored database."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = database.with_name(database.name + suffix)
        if path.exists():
            os.replace(path, aside.with_name(aside.name + suffix))


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), timeout=15)
    connection.execute("PRAGMA busy_timeout = 15000")
    return connection


def postgres_backup_advice(target: DatabaseTarget, file: Path) -> str:
    """What to run instead of `tagwire backup` when the data is in PostgreSQL."""
    return (
        f"tagwire backup copies a SQLite file, and TAGWIRE_DATABASE is PostgreSQL "
        f"({target.redacted}); nothing was written. Back it up with PostgreSQL's own tool, "
        f"which is consistent while the bot runs:\n"
        f"  pg_dump --format=custom --file={shlex.quote(str(file))} "
        f"{shlex.quote(target.without_password)}{_password_note(target)}"
    )


def postgres_restore_advice(target: DatabaseTarget, file: Path) -> str:
    """What to run instead of `tagwire restore` when the data is in PostgreSQL."""
    return (
        f"tagwire restore puts back a SQLite file, and TAGWIRE_DATABASE is PostgreSQL "
        f"({target.redacted}); nothing was changed. Stop the bot, then restore a pg_dump "
        f"archive with PostgreSQL's own tool (it replaces tagwire's tables in one transaction):\n"
        f"  pg_restore --clean --if-exists --no-owner --single-transaction "
        f"--dbname={shlex.quote(target.without_password)} {shlex.quote(str(file))}"
        f"{_password_note(target)}"
    )


def _password_note(target: DatabaseTarget) -> str:
    if target.password is None:
        return ""
    return "\n(the password is left out above: give it in PGPASSWORD or ~/.pgpass)"
