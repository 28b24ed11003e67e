"""The database, the files SQLite makes beside it (-wal, -shm) and backups are readable by their
owner only, whatever the umask (issue 12, point 13): the database holds the generated webhook
secret, and with it anyone could post a forged update as an admin."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storage.sqlite import SqliteStore
from tests.support.commands import environment, run_tagwire
from tests.support.harness import EXAMPLES

PRIVATE = 0o600


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def beside(database: Path) -> list[Path]:
    """The database and every file SQLite has made beside it."""
    return sorted(database.parent.glob(database.name + "*"))


@contextmanager
def umask(value: int) -> Iterator[None]:
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o000])
async def test_the_database_and_the_files_beside_it_are_private(tmp_path: Path, mask: int) -> None:
    database = tmp_path / "data" / "tagwire.db"
    with umask(mask):
        store = await SqliteStore.open(database)
        try:
            await store.put_meta_if_absent("webhook_secret", "a generated secret", 0.0)
            files = beside(database)
            assert {path.name for path in files} >= {"tagwire.db", "tagwire.db-wal"}
            assert {path.name: mode(path) for path in files} == {
                path.name: PRIVATE for path in files
            }
        finally:
            await store.close()
        # The last connection to close takes the WAL away; SQLite makes new ones at the next
        # open, later, as the bot runs: private too.
        assert not (tmp_path / "data" / "tagwire.db-wal").exists()
        store = await SqliteStore.open(database)
        try:
            await store.put_meta_if_absent("other", "value", 0.0)
            files = beside(database)
            assert len(files) >= 2
            assert {path.name: mode(path) for path in files} == {
                path.name: PRIVATE for path in files
            }
        finally:
            await store.close()


def test_backups_and_restored_databases_are_private(tmp_path: Path) -> None:
    database = tmp_path / "live.db"
    env = environment(TAGWIRE_DATABASE=str(database))
    pushed = run_tagwire("push", str(EXAMPLES), env=env, umask=0o022)
    assert pushed.returncode == 0, pushed.stderr
    assert mode(database) == PRIVATE
    backup = tmp_path / "copies" / "backup.db"
    made = run_tagwire("backup", str(backup), env=env, umask=0o022)
    assert made.returncode == 0, made.stderr
    assert [mode(path) for path in beside(backup)] == [PRIVATE] * len(beside(backup))

    # Restored where there was no database: the new one is private, as is the copy kept of
    # a database that was there.
    database.unlink()
    for leftover in tmp_path.glob("live.db-*"):
        leftover.unlink()
    restored = run_tagwire("restore", str(backup), env=env, umask=0o022)
    assert restored.returncode == 0, restored.stderr
    assert mode(database) == PRIVATE
    again = run_tagwire("restore", str(backup), env=env, umask=0o022)
    assert again.returncode == 0, again.stderr
    [kept] = tmp_path.glob("live.db.before-restore-*")
    assert {path.name: mode(path) for path in beside(database)} == {
        path.name: PRIVATE for path in beside(database)
    }
    assert mode(kept) == PRIVATE
