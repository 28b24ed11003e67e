"""`tagwire restore` against unlucky and hostile files (issue 12, points 11 and 12): a damaged
database is set aside and replaced; a backup whose schema is not exactly tagwire's (a few of
its tables only, a recursive view, a trigger of its own) is refused in one line, quickly,
and installs nothing."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from storage.migrations import MIGRATIONS, MIGRATIONS_TABLE
from tests.support.commands import environment, run_tagwire
from tests.support.harness import EXAMPLES

# A trigger that subscribes a stranger to every tag anyone creates.
EVIL_TRIGGER = """
CREATE TRIGGER spy AFTER INSERT ON tags BEGIN
    INSERT INTO subscriptions (chat_id, thread_id, tag_id, created_at)
    VALUES (666, 0, NEW.id, 0);
END
"""
LOOP_VIEW = (
    "WITH RECURSIVE forever(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM forever) "
    "SELECT n AS id FROM forever"
)


def tagwire(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_tagwire(*args, env=environment(TAGWIRE_DATABASE=str(database)), timeout=30)


@pytest.fixture
def live(tmp_path: Path) -> Path:
    database = tmp_path / "live.db"
    pushed = tagwire(database, "push", str(EXAMPLES))
    assert pushed.returncode == 0, pushed.stderr
    return database


@pytest.fixture
def good(live: Path, tmp_path: Path) -> Path:
    backup = tmp_path / "good.db"
    made = tagwire(live, "backup", str(backup))
    assert made.returncode == 0, made.stderr
    return backup


def stories(database: Path) -> str:
    return next(
        line for line in tagwire(database, "stats").stdout.splitlines() if "stories" in line
    )


def schema(database: Path) -> set[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(database)) as db:
        return set(db.execute("SELECT type, name FROM sqlite_master"))


# Point 11: a damaged database


def garbage(data: bytes) -> bytes:
    return b"this is no database, only garbage " * 200


def scribbled_header(data: bytes) -> bytes:
    return b"not sqlite at all" + data[17:]


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 3]


@pytest.mark.parametrize("damage", [garbage, scribbled_header, truncated])
def test_a_damaged_database_is_set_aside_and_the_backup_restored(
    live: Path, good: Path, tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    damaged = damage(live.read_bytes())
    live.write_bytes(damaged)
    # A write-ahead log left beside it belongs to the damaged file, not to the restored one.
    (tmp_path / "live.db-wal").write_bytes(b"stale log" * 100)
    result = tagwire(live, "restore", str(good))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    [aside] = tmp_path.glob("live.db.damaged-*[0-9]")
    assert aside.read_bytes() == damaged
    # (SQLite itself may have dropped the log, which is no log of any database; if not,
    # it went aside with the file.)
    wal = tmp_path / "live.db-wal"
    assert not wal.exists() or wal.read_bytes() != b"stale log" * 100
    assert f"set aside as {aside}" in result.stdout
    assert "restored" in result.stdout
    assert stories(live).endswith(" 10")
    with contextlib.closing(sqlite3.connect(live)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_database_that_cannot_be_opened_is_not_set_aside(good: Path, tmp_path: Path) -> None:
    """Only a damaged file is moved: one that cannot be opened (here a directory where the
    database should be) is an error to fix, said in one line."""
    database = tmp_path / "folder.db"
    database.mkdir()
    result = tagwire(database, "restore", str(good))
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert database.is_dir()
    assert not list(tmp_path.glob("folder.db.damaged-*"))


# Point 12: only tagwire's own schema


def refused(live: Path, backup: Path) -> str:
    before = live.read_bytes()
    result = tagwire(live, "restore", str(backup))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("tagwire: not restored: ")
    assert live.read_bytes() == before
    assert not list(live.parent.glob("live.db.before-restore-*"))
    return result.stderr


def test_a_file_with_only_the_tables_once_checked_is_refused(live: Path, tmp_path: Path) -> None:
    impostor = tmp_path / "impostor.db"
    with contextlib.closing(sqlite3.connect(impostor)) as db, db:
        db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        db.executemany("INSERT INTO migrations VALUES (?, 0)", [(m.name,) for m in MIGRATIONS])
        for table in ("articles", "chats", "subscriptions"):
            db.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    line = refused(live, impostor)
    assert "is not a tagwire database" in line
    assert "table deliveries" in line
    assert "are missing" in line


def test_a_recursive_view_is_refused_at_once(live: Path, tmp_path: Path) -> None:
    impostor = tmp_path / "loop.db"
    with contextlib.closing(sqlite3.connect(impostor)) as db, db:
        db.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
        db.executemany("INSERT INTO migrations VALUES (?, 0)", [(m.name,) for m in MIGRATIONS])
        # Counting its stories never ends.
        db.execute(f"CREATE VIEW articles AS {LOOP_VIEW}")
        db.execute("CREATE TABLE chats (id INTEGER PRIMARY KEY)")
        db.execute("CREATE TABLE subscriptions (id INTEGER PRIMARY KEY)")
    line = refused(live, impostor)
    assert "is not a tagwire database" in line
    assert "view articles" in line


def test_a_migrations_view_is_refused_before_it_is_read(live: Path, tmp_path: Path) -> None:
    impostor = tmp_path / "loop.db"
    with contextlib.closing(sqlite3.connect(impostor)) as db, db:
        db.execute(
            f"CREATE VIEW migrations AS SELECT 'x' AS name, id AS applied_at FROM ({LOOP_VIEW})"  # noqa: S608 - a fixed statement of the test
        )
        db.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY)")
    assert "is not a tagwire database" in refused(live, impostor)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (EVIL_TRIGGER, "trigger spy"),
        ("CREATE VIEW everything AS SELECT * FROM chats", "view everything"),
        ("CREATE TABLE extra (x)", "table extra"),
        ("CREATE INDEX chats_by_title ON chats (title)", "index chats_by_title"),
        ("ALTER TABLE chats ADD COLUMN secret TEXT", "table chats"),
        ("DROP INDEX deliveries_due", "index deliveries_due"),
        ("DROP TRIGGER articles_fts_insert", "trigger articles_fts_insert"),
    ],
)
def test_a_backup_with_anything_of_its_own_is_refused_and_installs_nothing(
    live: Path, good: Path, change: str, named: str
) -> None:
    with contextlib.closing(sqlite3.connect(good)) as db, db:
        db.execute(
            "INSERT INTO chats (id, type, created_at, updated_at) VALUES (666, 'private', 0, 0)"
        )
        db.execute(change)
    line = refused(live, good)
    assert "is not a tagwire database" in line
    assert named in line
    assert ("trigger", "spy") not in schema(live)
    # The bot goes on as before: a new tag subscribes nobody.
    followed = tagwire(live, "stats")
    assert followed.returncode == 0, followed.stderr


def test_a_backup_of_an_older_version_is_restored_and_brought_up_to_date(
    live: Path, tmp_path: Path
) -> None:
    older = tmp_path / "older.db"
    with contextlib.closing(sqlite3.connect(older)) as db, db:
        db.execute(MIGRATIONS_TABLE)
        for migration in MIGRATIONS[:3]:
            for statement in migration.statements:
                db.execute(statement)
            db.execute("INSERT INTO migrations VALUES (?, 0)", (migration.name,))
    result = tagwire(live, "restore", str(older))
    assert result.returncode == 0, result.stderr
    assert stories(live).endswith(" 0")
    names = {name for kind, name in schema(live) if kind == "table"}
    assert "instances" in names
