"""Copy a whole tagwire database from one backend to the other: `tagwire migrate-db`.

SQLite → PostgreSQL and back (or SQLite → SQLite, PostgreSQL → PostgreSQL): chats with their
settings, tags, subscriptions, mutes, stories with their tags, pending and finished deliveries,
feeds, meta (the webhook secret), remembered searches, the incidents the admins were told of
(bot/alerts) and the edits of delivered teasers (corrections, retractions). Every row keeps
its id, so references hold; the full-text index is rebuilt on the target (SQLite's FTS5
triggers, PostgreSQL's `search` column worked out by storage/postgres_search.py). The bot's
instances are not copied: they are rewritten every second by whatever runs.

The tables and their columns are read from both schemas at run time, so a table or column that
a later migration adds is copied without a change here; only what cannot be copied as it is
needs naming below (columns derived from others, counters kept by triggers).

How a copy is made safe:
- the source is read in one read transaction (a consistent snapshot, even while a bot writes);
- the target is brought to this version's schema first (the same named migrations), and
  refused when it holds any row unless `force` is given, which says what it replaces;
- PostgreSQL: the migrations, the emptying, the copy and the count check are one transaction:
  an interrupted copy (an error, Ctrl-C, a killed process, a dropped connection) leaves the
  target as it was, down to its schema;
- SQLite: the copy is written to a temporary file beside the target and renamed over it once
  complete and checked: an interrupted copy leaves the target as it was (a process killed
  outright may leave the temporary `.NAME.migrate-db-PID` file behind, never a half target);
- per table, the rows in the target are counted against the source's snapshot before the copy
  is committed; a difference is an error, and nothing is kept.
"""

# Statements are put together from table and column names read from the schemas themselves
# (quoted) and `?` / `$n` placeholders, never from input.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiosqlite
import asyncpg  # type: ignore[import-untyped]

from storage.base import StorageUnavailable
from storage.migrations import apply_migrations as apply_sqlite_migrations
from storage.postgres_migrations import apply_migrations as apply_postgres_migrations
from storage.postgres_pool import CONNECT_TIMEOUT, one_line, unavailable
from storage.postgres_search import search_vector
from storage.url import DatabaseTarget

# The schema's own bookkeeping, and what a running bot rewrites every second.
SKIPPED_TABLES = frozenset({"migrations", "instances"})
# Parents before the tables that refer to them; a table not named here (added by a later
# migration) follows these, in alphabetical order.
TABLE_ORDER = (
    "chats",
    "tags",
    "subscriptions",
    "mutes",
    "articles",
    "article_tags",
    "schedules",
    "deliveries",
    "edits",
    "feeds",
    "meta",
    "searches",
    "incidents",
)
# Columns a backend works out from others: (table, column) → the columns it is made from and
# how. Left out when reading such a column; filled in when the target has it and the source not.
DERIVED: Mapping[tuple[str, str], tuple[tuple[str, ...], Callable[..., object]]] = {
    ("articles", "search"): (("title", "teaser"), search_vector),
}
# Counters that triggers keep in step as rows are inserted elsewhere (a subscription adds one
# to its tag's follower_count): table → (key, counters). SQLite cannot turn its triggers off,
# so copying the referring rows counts them a second time there: the source's values are
# written again once every table is copied. (PostgreSQL's user triggers are off meanwhile.)
COUNTERS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "tags": ("id", ("follower_count",)),
}
# Rows read and written at a time.
CHUNK = 5_000
# SQLite's limit on `?` in one statement: 32 766 since 3.32, 999 before.
_SQLITE_VARIABLES = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_SQLITE_ROWS_PER_INSERT = 1_000


class TransferError(Exception):
    """The copy was not made (or not kept); the message says why in one line."""


class TargetNotEmpty(TransferError):
    """The target holds rows and `force` was not given; nothing was changed."""

    def __init__(self, target: str, counts: Mapping[str, int]) -> None:
        self.counts = dict(counts)
        super().__init__(
            f"the target {target} is not empty ({describe_counts(counts)}); nothing was "
            "changed. Pass --force to replace its contents"
        )


class TransferProgress(Protocol):
    """What a copy tells as it goes (a progress bar, a test's fault injector)."""

    def replacing(self, counts: Mapping[str, int]) -> None:
        """With `force`: the target holds these rows, which the copy replaces."""

    def begin(self, counts: Mapping[str, int]) -> None:
        """The rows about to be copied, per table (the source's snapshot)."""

    def advance(self, table: str, rows: int) -> None:
        """`rows` more rows of `table` are written (not yet committed)."""

    def end(self) -> None:
        """Every row is written; the copy is being checked and committed."""


class QuietProgress:
    """Tells nothing."""

    def replacing(self, counts: Mapping[str, int]) -> None:
        return None

    def begin(self, counts: Mapping[str, int]) -> None:
        return None

    def advance(self, table: str, rows: int) -> None:
        return None

    def end(self) -> None:
        return None


class RowsBar(Protocol):
    """A progress bar of rows: bot/progress.py's TerminalBar, which draws one only on a
    terminal (storage imports nothing from the bot, so the command hands it in)."""

    def start(self, total: int | None = None) -> None: ...

    def advance(self, done: int = 1) -> None: ...

    def describe(self, text: str) -> None: ...

    def close(self) -> None: ...


class BarProgress(QuietProgress):
    """What `tagwire migrate-db` shows: the rows `force` replaces, said in one line by `say`,
    and, with `bar`, a progress bar of the rows copied out of all, the current table beside
    it."""

    def __init__(self, say: Callable[[str], None], *, bar: RowsBar | None) -> None:
        self._say = say
        self._bar = bar
        self._table = ""

    def replacing(self, counts: Mapping[str, int]) -> None:
        self._say(f"--force: replacing what the target holds: {describe_counts(counts)}")

    def begin(self, counts: Mapping[str, int]) -> None:
        if self._bar is not None:
            self._bar.start(sum(counts.values()))

    def advance(self, table: str, rows: int) -> None:
        if self._bar is None:
            return
        if table != self._table:
            self._table = table
            self._bar.describe(table)
        self._bar.advance(rows)

    def end(self) -> None:
        if self._bar is not None:
            self._bar.describe("checking")
            self._bar.close()


@dataclass(frozen=True, slots=True)
class TableCount:
    table: str
    source: int
    target: int


@dataclass(frozen=True, slots=True)
class TransferReport:
    source: str
    target: str
    tables: tuple[TableCount, ...]
    seconds: float
    replaced: Mapping[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(count.source for count in self.tables)

    def table(self) -> str:
        """The counts, source beside target, as a plain text table."""
        lines = [("table", "source", "target", "")]
        for count in self.tables:
            lines.append(
                (
                    count.table,
                    str(count.source),
                    str(count.target),
                    "" if count.source == count.target else "DIFFERS",
                )
            )
        lines.append(("total", str(self.rows), str(sum(count.target for count in self.tables)), ""))
        widths = [max(len(line[i]) for line in lines) for i in range(3)]
        text = []
        for index, (name, source, target, note) in enumerate(lines):
            row = f"{name:<{widths[0]}}  {source:>{widths[1]}}  {target:>{widths[2]}}  {note}"
            text.append(row.rstrip())
            if index == 0 or index == len(lines) - 2:
                text.append(f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * widths[2]}")
        return "\n".join(text)

    def summary(self) -> str:
        return (
            f"copied {self.rows} rows from {self.source} to {self.target} in "
            f"{self.seconds:.1f} s; every table's count matches"
        )


def describe_counts(counts: Mapping[str, int]) -> str:
    held = [f"{count} {table}" for table, count in counts.items() if count]
    return ", ".join(held) if held else "no rows"


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    # The declared type, lower case: SQLite's (`integer`, `real`, …) or PostgreSQL's data_type.
    type: str
    # PostgreSQL: the column takes its values from a sequence (an identity or a serial).
    sequence: bool = False


Row = Sequence[Any]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# The two ends of a copy.


class _Source(ABC):
    location: str
    tables: dict[str, list[_Column]]

    @abstractmethod
    async def count(self, table: str) -> int: ...

    @abstractmethod
    def rows(self, table: str, columns: Sequence[str], chunk: int) -> AsyncIterator[list[Row]]:
        """Every row of `table`, `chunk` at a time, as tuples of `columns`."""

    @abstractmethod
    async def close(self) -> None: ...


class _Target(ABC):
    location: str
    tables: dict[str, list[_Column]]
    # What the target held before, per table, when `force` replaces it.
    replaced: dict[str, int]

    @abstractmethod
    async def counts(self, tables: Sequence[str]) -> dict[str, int]: ...

    @abstractmethod
    async def clear(self, tables: Sequence[str]) -> None: ...

    @abstractmethod
    async def insert(self, table: str, columns: Sequence[_Column], rows: Sequence[Row]) -> None: ...

    @abstractmethod
    async def overwrite(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Row]
    ) -> None:
        """Set `columns` of the rows whose `key` is each row's first value."""

    @abstractmethod
    async def finish(self, tables: Sequence[str]) -> None:
        """After the last row: sequences moved past the copied ids, references checked."""

    @abstractmethod
    async def commit(self) -> None: ...

    @abstractmethod
    async def abort(self) -> None:
        """Leave the target as it was before the copy began."""


# SQLite


def _sqlite_tables(db: sqlite3.Connection) -> dict[str, list[_Column]]:
    """The tables of a SQLite database, without its own, full-text tables and their shadows."""
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall()
    virtual = [name for name, sql in rows if (sql or "").upper().startswith("CREATE VIRTUAL")]
    tables: dict[str, list[_Column]] = {}
    for name, _ in rows:
        if name.startswith("sqlite_") or name in virtual:
            continue
        if any(name.startswith(f"{parent}_") for parent in virtual):
            continue
        info = db.execute(f"PRAGMA table_info({_quote(name)})").fetchall()
        tables[name] = [_Column(column[1], (column[2] or "").lower()) for column in info]
    return tables


async def _sqlite_schema(db: aiosqlite.Connection) -> dict[str, list[_Column]]:
    rows = await db.execute_fetchall("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    virtual = [row[0] for row in rows if (row[1] or "").upper().startswith("CREATE VIRTUAL")]
    tables: dict[str, list[_Column]] = {}
    for row in rows:
        name = row[0]
        if name.startswith("sqlite_") or name in virtual:
            continue
        if any(name.startswith(f"{parent}_") for parent in virtual):
            continue
        info = await db.execute_fetchall(f"PRAGMA table_info({_quote(name)})")
        tables[name] = [_Column(column[1], (column[2] or "").lower()) for column in info]
    return tables


async def _sqlite_connect(path: Path | str) -> aiosqlite.Connection:
    db = await aiosqlite.connect(str(path), isolation_level=None)
    try:
        await db.execute("PRAGMA busy_timeout = 15000")
    except BaseException:
        await db.close()
        raise
    return db


class _SqliteSource(_Source):
    def __init__(self, db: aiosqlite.Connection, location: str) -> None:
        self._db = db
        self.location = location
        self.tables = {}

    @classmethod
    async def open(cls, path: Path) -> _SqliteSource:
        _check_sqlite_source(path)
        try:
            db = await _sqlite_connect(path)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot open the database {path}: {exc}") from None
        source = cls(db, str(path))
        try:
            # Brought to this version's schema first, as any tagwire command would.
            await _migrate_source(apply_sqlite_migrations(db), path)
            # One read transaction for every read below: a consistent snapshot.
            await db.execute("BEGIN")
            source.tables = await _sqlite_schema(db)
            await db.execute_fetchall("SELECT COUNT(*) FROM migrations")
        except BaseException:
            await db.close()
            raise
        return source

    async def count(self, table: str) -> int:
        rows = await self._db.execute_fetchall(f"SELECT COUNT(*) FROM {_quote(table)}")
        return int(next(iter(rows))[0])

    async def rows(
        self, table: str, columns: Sequence[str], chunk: int
    ) -> AsyncIterator[list[Row]]:
        names = ", ".join(_quote(column) for column in columns)
        async with self._db.execute(f"SELECT {names} FROM {_quote(table)}") as cursor:
            while batch := await cursor.fetchmany(chunk):
                yield list(batch)

    async def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            await self._db.execute("COMMIT")
        await self._db.close()


def _check_sqlite_source(path: Path) -> None:
    """Never create the source: a path that names no tagwire database is an error."""
    if not path.is_file():
        raise StorageUnavailable(f"there is no database at {path}")
    try:
        with contextlib.closing(sqlite3.connect(str(path))) as probe:
            names = {row[0] for row in probe.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise TransferError(f"{path} is not a SQLite database: {exc}") from None
    if "migrations" not in names:
        raise TransferError(f"{path} is not a tagwire database (no migrations table)")


async def _migrate_source(applying: Any, where: object) -> None:
    try:
        await applying
    except RuntimeError as exc:
        # Written by a newer tagwire.
        raise TransferError(f"the source {where}: {exc}") from None


class _SqliteTarget(_Target):
    """Writes a temporary file beside the target, renamed over it once complete."""

    def __init__(self, path: Path, temporary: Path, db: aiosqlite.Connection) -> None:
        self._path = path
        self._temporary = temporary
        self._db = db
        self.location = str(path)
        self.tables = {}
        self.replaced = {}

    @classmethod
    async def open(cls, path: Path, *, force: bool, progress: TransferProgress) -> _SqliteTarget:
        held = _existing_sqlite_rows(path)
        if held is not None and any(held.values()):
            if not force:
                raise TargetNotEmpty(str(path), held)
            progress.replacing(held)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"cannot create {path.parent}: {exc}") from None
        temporary = path.with_name(f".{path.name}.migrate-db-{os.getpid()}")
        _remove_sqlite_files(temporary)
        try:
            db = await _sqlite_connect(temporary)
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"cannot write beside {path}: {exc}") from None
        target = cls(path, temporary, db)
        target.replaced = {table: count for table, count in (held or {}).items() if count}
        try:
            # A file nobody else sees until it is complete: no need to sync every commit,
            # it is synced once before the rename.
            await db.execute("PRAGMA synchronous = OFF")
            await apply_sqlite_migrations(db)
            # References are checked once at the end (PRAGMA foreign_key_check), not row by row.
            await db.execute("PRAGMA foreign_keys = OFF")
            target.tables = await _sqlite_schema(db)
            await db.execute("BEGIN IMMEDIATE")
        except BaseException:
            await target.abort()
            raise
        return target

    async def counts(self, tables: Sequence[str]) -> dict[str, int]:
        counts = {}
        for table in tables:
            rows = await self._db.execute_fetchall(f"SELECT COUNT(*) FROM {_quote(table)}")
            counts[table] = int(next(iter(rows))[0])
        return counts

    async def clear(self, tables: Sequence[str]) -> None:
        # A new file: there is nothing to clear.
        return None

    async def insert(self, table: str, columns: Sequence[_Column], rows: Sequence[Row]) -> None:
        names = ", ".join(_quote(column.name) for column in columns)
        per_statement = max(1, min(_SQLITE_ROWS_PER_INSERT, _SQLITE_VARIABLES // len(columns)))
        placeholder = "(" + ", ".join("?" * len(columns)) + ")"
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            # Many rows a statement: SQLite's FTS5 trigger on articles writes its pending index
            # at every statement (see storage/sqlite.py).
            await self._db.execute(
                f"INSERT INTO {_quote(table)} ({names}) VALUES "
                + ", ".join([placeholder] * len(part)),
                [value for row in part for value in row],
            )

    async def overwrite(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Row]
    ) -> None:
        assignments = ", ".join(f"{_quote(column)} = ?" for column in columns)
        await self._db.executemany(
            f"UPDATE {_quote(table)} SET {assignments} WHERE {_quote(key)} = ?",
            [(*row[1:], row[0]) for row in rows],
        )

    async def finish(self, tables: Sequence[str]) -> None:
        broken = await self._db.execute_fetchall("PRAGMA foreign_key_check")
        if broken:
            first = next(iter(broken))
            raise TransferError(
                f"{len(list(broken))} copied rows refer to rows that do not exist (the first "
                f"in {first[0]}, to {first[2]}); the source is inconsistent"
            )

    async def commit(self) -> None:
        await self._db.execute("COMMIT")
        # The file the bot will open: in WAL mode, as SqliteStore keeps it.
        await self._db.execute("PRAGMA journal_mode = WAL")
        await self._db.close()
        _sync(self._temporary)
        try:
            if self._path.exists():
                _settle(self._path)
            os.replace(self._temporary, self._path)
        except OSError as exc:
            _remove_sqlite_files(self._temporary)
            raise StorageUnavailable(
                f"cannot put the copy in place at {self._path}: {exc}"
            ) from None
        for suffix in ("-wal", "-shm"):
            self._path.with_name(self._path.name + suffix).unlink(missing_ok=True)
        _sync(self._path.parent)

    async def abort(self) -> None:
        with contextlib.suppress(sqlite3.Error, ValueError):
            await self._db.close()
        _remove_sqlite_files(self._temporary)


def _existing_sqlite_rows(path: Path) -> dict[str, int] | None:
    """The rows an existing target holds, per table that would be copied; None when there is
    no file (or an empty one)."""
    if not path.exists():
        return None
    if not path.is_file():
        raise TransferError(f"{path} exists and is not a file")
    if path.stat().st_size == 0:
        return None
    try:
        with contextlib.closing(sqlite3.connect(str(path), timeout=15)) as db:
            tables = _sqlite_tables(db)
            return {
                table: int(db.execute(f"SELECT COUNT(*) FROM {_quote(table)}").fetchone()[0])
                for table in _ordered(tables)
                if table not in SKIPPED_TABLES
            }
    except sqlite3.DatabaseError as exc:
        return {f"(not a SQLite database: {exc})": 1}


def _settle(path: Path) -> None:
    """Fold the replaced database's write-ahead log into it and end WAL mode, so that no log of
    the old file is left beside the new one (where SQLite would read it). TransferError when
    another process has the file open (WAL mode cannot be left then): a bot still running."""
    try:
        with contextlib.closing(sqlite3.connect(str(path), timeout=5)) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            mode = db.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    except sqlite3.OperationalError as exc:
        raise TransferError(
            f"{path} is in use ({exc}): stop the bot before replacing its database"
        ) from None
    except sqlite3.DatabaseError:
        # Not a database at all: there is no log to fold in.
        return
    if str(mode).lower() != "delete":
        raise TransferError(f"{path} is in use: stop the bot before replacing its database")


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with contextlib.suppress(OSError):
            path.with_name(path.name + suffix).unlink(missing_ok=True)


def _sync(path: Path) -> None:
    with contextlib.suppress(OSError):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


# PostgreSQL


async def _postgres_connect(dsn: str, location: str) -> asyncpg.Connection:
    try:
        db = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
    except Exception as exc:
        if unavailable(exc) or isinstance(exc, asyncpg.PostgresError | ValueError):
            raise StorageUnavailable(
                f"cannot open the PostgreSQL database {location}: {one_line(exc)}"
            ) from None
        raise
    # Search vectors go to the server in binary, as search_vector makes them.
    await db.set_type_codec(
        "tsvector", schema="pg_catalog", encoder=bytes, decoder=bytes, format="binary"
    )
    return db


async def _postgres_schema(db: asyncpg.Connection) -> dict[str, list[_Column]]:
    rows = await db.fetch(
        """
        SELECT c.table_name, c.column_name, c.data_type,
            c.is_identity = 'YES' OR COALESCE(c.column_default, '') LIKE 'nextval(%'
        FROM information_schema.columns c
        JOIN information_schema.tables t
            ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name, c.ordinal_position
        """
    )
    tables: dict[str, list[_Column]] = {}
    for row in rows:
        tables.setdefault(row[0], []).append(_Column(row[1], row[2].lower(), bool(row[3])))
    return tables


class _PostgresSource(_Source):
    def __init__(self, db: asyncpg.Connection, location: str) -> None:
        self._db = db
        self.location = location
        self.tables = {}
        self._transaction: Any = None

    @classmethod
    async def open(cls, target: DatabaseTarget) -> _PostgresSource:
        db = await _postgres_connect(target.require_dsn(), target.redacted)
        source = cls(db, target.redacted)
        try:
            if await db.fetchval("SELECT to_regclass('migrations')") is None:
                raise TransferError(
                    f"{target.redacted} holds no tagwire database (no migrations table)"
                )
            await _migrate_source(apply_postgres_migrations(db), target.redacted)
            # One snapshot for every read below.
            source._transaction = db.transaction(isolation="repeatable_read", readonly=True)
            await source._transaction.start()
            source.tables = await _postgres_schema(db)
        except BaseException:
            await source.close()
            raise
        return source

    async def count(self, table: str) -> int:
        return int(await self._db.fetchval(f"SELECT COUNT(*) FROM {_quote(table)}"))

    async def rows(
        self, table: str, columns: Sequence[str], chunk: int
    ) -> AsyncIterator[list[Row]]:
        names = ", ".join(_quote(column) for column in columns)
        cursor = await self._db.cursor(f"SELECT {names} FROM {_quote(table)}")
        while batch := await cursor.fetch(chunk):
            yield [tuple(record) for record in batch]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._db.close(timeout=10)


class _PostgresTarget(_Target):
    """One transaction from the migrations to the count check."""

    def __init__(self, db: asyncpg.Connection, location: str) -> None:
        self._db = db
        self.location = location
        self.tables = {}
        self.replaced = {}
        self._transaction: Any = db.transaction()

    @classmethod
    async def open(
        cls, target: DatabaseTarget, *, force: bool, progress: TransferProgress
    ) -> _PostgresTarget:
        db = await _postgres_connect(target.require_dsn(), target.redacted)
        writer = cls(db, target.redacted)
        try:
            await writer._transaction.start()
            # Inside the transaction (each migration a savepoint): an interrupted copy leaves
            # not even the schema behind.
            await apply_postgres_migrations(db)
            writer.tables = await _postgres_schema(db)
            tables = [table for table in _ordered(writer.tables) if table not in SKIPPED_TABLES]
            held = await writer.counts(tables)
            if any(held.values()):
                if not force:
                    raise TargetNotEmpty(target.redacted, held)
                progress.replacing(held)
                writer.replaced = {table: count for table, count in held.items() if count}
        except BaseException:
            await writer.abort()
            raise
        return writer

    async def counts(self, tables: Sequence[str]) -> dict[str, int]:
        return {
            table: int(await self._db.fetchval(f"SELECT COUNT(*) FROM {_quote(table)}"))
            for table in tables
        }

    async def clear(self, tables: Sequence[str]) -> None:
        if tables:
            await self._db.execute(
                f"TRUNCATE {', '.join(_quote(table) for table in tables)} RESTART IDENTITY"
            )
        # Rows go in as the source has them, counters included, as pg_restore's
        # --disable-triggers does: the follower-count trigger, one UPDATE of a tag a
        # subscription, updated the top tag's row 50 000 times in one transaction (each update
        # a longer chain of row versions to walk). Constraint triggers (the foreign keys) stay.
        for table in tables:
            await self._db.execute(f"ALTER TABLE {_quote(table)} DISABLE TRIGGER USER")

    async def insert(self, table: str, columns: Sequence[_Column], rows: Sequence[Row]) -> None:
        await self._db.copy_records_to_table(
            table, records=rows, columns=[column.name for column in columns]
        )

    async def overwrite(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Row]
    ) -> None:
        types = {column.name: column.type for column in self.tables[table]}
        values = ", ".join(
            f"${index + 2}::{types[column]}[]" for index, column in enumerate(columns)
        )
        names = ", ".join(_quote(column) for column in columns)
        assignments = ", ".join(f"{_quote(column)} = u.{_quote(column)}" for column in columns)
        await self._db.execute(
            f"UPDATE {_quote(table)} t SET {assignments} "
            f"FROM unnest(${1}::{types[key]}[], {values}) AS u({_quote(key)}, {names}) "
            f"WHERE t.{_quote(key)} = u.{_quote(key)}",
            [row[0] for row in rows],
            *[[row[index + 1] for row in rows] for index in range(len(columns))],
        )

    async def finish(self, tables: Sequence[str]) -> None:
        for table in tables:
            await self._db.execute(f"ALTER TABLE {_quote(table)} ENABLE TRIGGER USER")
        # Rows were copied with their ids: the next id a sequence gives must follow them.
        for table in tables:
            for column in self.tables[table]:
                if column.sequence:
                    await self._db.execute(
                        f"SELECT setval(pg_get_serial_sequence($1, $2), "
                        f"COALESCE(MAX({_quote(column.name)}), 0) + 1, false) "
                        f"FROM {_quote(table)}",
                        _quote(table),
                        column.name,
                    )

    async def commit(self) -> None:
        try:
            await self._transaction.commit()
        finally:
            with contextlib.suppress(Exception):
                await self._db.close(timeout=10)

    async def abort(self) -> None:
        # Closing the connection rolls back whatever it had begun; if it is gone already, the
        # server has rolled back.
        with contextlib.suppress(Exception):
            await self._db.close(timeout=10)
        if not self._db.is_closed():
            self._db.terminate()


# The copy


def _ordered(tables: Mapping[str, object]) -> list[str]:
    known = [table for table in TABLE_ORDER if table in tables]
    return known + sorted(table for table in tables if table not in TABLE_ORDER)


@dataclass(frozen=True, slots=True)
class _Plan:
    table: str
    read: tuple[str, ...]
    write: tuple[_Column, ...]
    convert: Callable[[Row], Row]


def _converter(column: _Column) -> Callable[[Any], Any] | None:
    """How a value read from SQLite becomes one this PostgreSQL column takes; None: as it is."""
    if column.type == "array":
        # Lists of words: SQLite keeps them as JSON text (storage/words.py).
        return lambda value: None if value is None else json.loads(value)
    if column.type == "boolean":
        return lambda value: None if value is None else bool(value)
    if column.type in {"double precision", "real"}:
        return lambda value: None if value is None else float(value)
    return None


def _plan(source: _Source, target: _Target, *, target_is_postgres: bool) -> list[_Plan]:
    plans = []
    for table in _ordered(source.tables):
        if table in SKIPPED_TABLES:
            continue
        if table not in target.tables:
            raise TransferError(
                f"the target has no table {table}: is it a database of another tagwire version?"
            )
        source_columns = {column.name for column in source.tables[table]}
        target_columns = {column.name: column for column in target.tables[table]}
        missing = [
            name
            for name in source_columns
            if name not in target_columns and (table, name) not in DERIVED
        ]
        if missing:
            raise TransferError(
                f"the target's table {table} has no column {', '.join(sorted(missing))}"
            )
        common = [
            column.name
            for column in source.tables[table]
            if column.name in target_columns and (table, column.name) not in DERIVED
        ]
        write = [target_columns[name] for name in common]
        read = list(common)
        derived: list[tuple[Callable[..., object], list[int]]] = []
        for name, column in target_columns.items():
            if (table, name) not in DERIVED or name in common:
                continue
            inputs, make = DERIVED[(table, name)]
            for needed in inputs:
                if needed not in read:
                    read.append(needed)
            derived.append((make, [read.index(needed) for needed in inputs]))
            write.append(column)
        if target_is_postgres:
            converters = [_converter(column) for column in write[: len(common)]]
        else:
            kinds = {column.name: column.type for column in source.tables[table]}
            converters = [_as_json if kinds[name] == "array" else None for name in common]
        plans.append(_Plan(table, tuple(read), tuple(write), _row_maker(converters, derived)))
    return plans


def _as_json(value: Any) -> str | None:
    """A PostgreSQL array as SQLite keeps it: JSON text, NULL for none."""
    return None if value is None else json.dumps(list(value), ensure_ascii=False)


def _row_maker(
    converters: list[Callable[[Any], Any] | None],
    derived: list[tuple[Callable[..., object], list[int]]],
) -> Callable[[Row], Row]:
    width = len(converters)
    if not derived and all(convert is None for convert in converters):
        return lambda row: row
    steps = [(index, convert) for index, convert in enumerate(converters) if convert is not None]

    def make(row: Row) -> Row:
        values = list(row[:width])
        for index, convert in steps:
            values[index] = convert(values[index])
        for function, inputs in derived:
            values.append(function(*(row[index] for index in inputs)))
        return tuple(values)

    return make


def _same_database(source: DatabaseTarget, target: DatabaseTarget) -> bool:
    if source.backend != target.backend:
        return False
    if source.dsn is not None and target.dsn is not None:
        first, second = urlsplit(source.dsn), urlsplit(target.dsn)
        return (first.hostname, first.port, first.path.strip("/")) == (
            second.hostname,
            second.port,
            second.path.strip("/"),
        )
    try:
        return source.require_path().resolve() == target.require_path().resolve()
    except OSError:
        return False


async def _open_source(source: DatabaseTarget) -> _Source:
    if source.is_postgres:
        return await _PostgresSource.open(source)
    return await _SqliteSource.open(source.require_path())


async def _open_target(
    target: DatabaseTarget, *, force: bool, progress: TransferProgress
) -> _Target:
    if target.is_postgres:
        return await _PostgresTarget.open(target, force=force, progress=progress)
    path = target.require_path()
    if str(path) == ":memory:":
        raise TransferError("the target must be a file or a PostgreSQL database, not :memory:")
    return await _SqliteTarget.open(path, force=force, progress=progress)


async def transfer(
    source: DatabaseTarget,
    target: DatabaseTarget,
    *,
    force: bool = False,
    progress: TransferProgress | None = None,
    chunk: int = CHUNK,
) -> TransferReport:
    """Copy every row of `source` into `target` (see the module's docstring); the counts per
    table, checked. TargetNotEmpty when the target holds rows and not `force`; TransferError
    when the copy cannot be made or does not check out; StorageUnavailable when a database
    cannot be reached. On any error (or cancellation) the target is left as it was."""
    started = time.perf_counter()
    progress = progress or QuietProgress()
    if _same_database(source, target):
        raise TransferError("the source and the target are the same database")
    try:
        reader = await _open_source(source)
    except Exception as exc:
        raise _one_line(exc, "cannot read the source") from None
    try:
        writer: _Target | None = None
        try:
            writer = await _open_target(target, force=force, progress=progress)
            counts = await _copy(reader, writer, progress, chunk, target.is_postgres)
            await writer.commit()
        except BaseException as exc:
            if writer is not None:
                await writer.abort()
            if isinstance(exc, Exception):
                raise _one_line(exc, "nothing was copied") from None
            raise
    finally:
        await reader.close()
    return TransferReport(
        source=reader.location,
        target=writer.location,
        tables=counts,
        seconds=time.perf_counter() - started,
        replaced=writer.replaced,
    )


def _one_line(error: Exception, context: str) -> Exception:
    """`error` as the operator reads it: our own errors as they are; a database that cannot be
    reached StorageUnavailable, anything a database refused TransferError, in one line."""
    if isinstance(error, TransferError | StorageUnavailable):
        return error
    if unavailable(error):
        return StorageUnavailable(f"{context}: {one_line(error)}")
    if isinstance(
        error,
        asyncpg.PostgresError | asyncpg.InterfaceError | sqlite3.Error | TypeError | ValueError,
    ):
        return TransferError(f"{context}: {one_line(error)}")
    return error


async def _copy(
    reader: _Source,
    writer: _Target,
    progress: TransferProgress,
    chunk: int,
    target_is_postgres: bool,
) -> tuple[TableCount, ...]:
    plans = _plan(reader, writer, target_is_postgres=target_is_postgres)
    tables = [plan.table for plan in plans]
    source_counts = {table: await reader.count(table) for table in tables}
    await writer.clear(tables)
    progress.begin(source_counts)
    for plan in plans:
        async for rows in reader.rows(plan.table, plan.read, chunk):
            await writer.insert(plan.table, plan.write, [plan.convert(row) for row in rows])
            progress.advance(plan.table, len(rows))
    for table, (key, counters) in COUNTERS.items():
        columns = [column.name for column in writer.tables.get(table, [])]
        if table not in tables or not all(name in columns for name in (key, *counters)):
            continue
        async for rows in reader.rows(table, (key, *counters), chunk):
            await writer.overwrite(table, key, counters, rows)
    await writer.finish(tables)
    progress.end()
    target_counts = await writer.counts(tables)
    counts = tuple(
        TableCount(table, source_counts[table], target_counts[table]) for table in tables
    )
    wrong = [count for count in counts if count.source != count.target]
    if wrong:
        raise TransferError(
            "the copy does not check out, nothing was kept: "
            + ", ".join(f"{c.table} {c.source} in the source, {c.target} copied" for c in wrong)
        )
    return counts
