"""The long commands' progress bar: drawn on standard error when it is a terminal, absent
otherwise, and standard output the same byte for byte either way; a backup under constant
writes still ends."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

import storage.backup
from bot.progress import TerminalBar
from storage.backup import _copy_in_steps, backup_database
from tests.support.commands import environment, run_tagwire
from tests.support.terminal import run_tagwire_on_terminal, run_tagwire_through_pipes

RECORDS = 5000


def _stories(count: int) -> bytes:
    lines = (
        json.dumps(
            {"url": f"https://news.example.com/{n}", "title": f"Story {n}", "tags": ["Japan"]}
        )
        for n in range(count)
    )
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def stories(tmp_path: Path) -> Path:
    path = tmp_path / "stories.jsonl"
    path.write_bytes(_stories(RECORDS))
    return path


def _database(tmp_path: Path, name: str) -> dict[str, str]:
    return environment(TAGWIRE_DATABASE=str(tmp_path / name))


@pytest.fixture
def live(tmp_path: Path, stories: Path) -> dict[str, str]:
    """The settings of a database holding the 5000 stories."""
    env = _database(tmp_path, "live.db")
    assert run_tagwire("push", "--no-notify", str(stories), env=env).returncode == 0
    return env


class CommitEveryStep:
    """A backup's progress report that, each time, commits `statement` to the database at
    `path` through a connection of its own: the source changes between every two steps, the
    worst a busy bot can do."""

    def __init__(self, path: Path, statement: str) -> None:
        self.reports: list[tuple[int, int]] = []
        self._statement = statement
        self._writer = sqlite3.connect(path, timeout=15)

    def __call__(self, done: int, pages: int) -> None:
        self.reports.append((done, pages))
        self._writer.execute(self._statement)
        self._writer.commit()

    def close(self) -> None:
        self._writer.close()


def test_push_draws_a_bar_of_records_on_a_terminal(tmp_path: Path, stories: Path) -> None:
    shown = run_tagwire_on_terminal("push", str(stories), env=_database(tmp_path, "t.db"))
    assert shown.returncode == 0, shown.terminal
    assert f"{RECORDS} records" in shown.terminal
    assert shown.stdout == b"added 5000, duplicates 0, rejected 0; 0 deliveries queued\n"


def test_push_from_standard_input_draws_the_bar_too(tmp_path: Path) -> None:
    shown = run_tagwire_on_terminal(
        "push", "-", env=_database(tmp_path, "t.db"), stdin=_stories(RECORDS)
    )
    assert shown.returncode == 0, shown.terminal
    assert f"{RECORDS} records" in shown.terminal


def test_push_through_pipes_prints_no_bar_and_the_same_summary(
    tmp_path: Path, stories: Path
) -> None:
    shown = run_tagwire_on_terminal("push", str(stories), env=_database(tmp_path, "a.db"))
    piped = run_tagwire_through_pipes("push", str(stories), env=_database(tmp_path, "b.db"))
    assert piped.returncode == shown.returncode == 0
    assert piped.terminal == ""
    assert piped.stdout == shown.stdout


def test_push_rejections_come_after_the_bar_is_done(tmp_path: Path) -> None:
    given = _stories(3) + b'{"url": "ftp://x.example/1", "title": "T", "tags": ["Japan"]}\n'
    shown = run_tagwire_on_terminal("push", "-", env=_database(tmp_path, "t.db"), stdin=given)
    assert shown.returncode == 1
    bar, _, after = shown.terminal.rpartition("4 records")
    assert bar
    assert "line 4: url: must start with http:// or https://" in after
    assert shown.stdout == b"added 3, duplicates 0, rejected 1; 0 deliveries queued\n"


def test_backup_draws_a_bar_of_pages_on_a_terminal(tmp_path: Path, live: dict[str, str]) -> None:
    shown = run_tagwire_on_terminal("backup", str(tmp_path / "copy.db"), env=live)
    assert shown.returncode == 0, shown.terminal
    assert "100%" in shown.terminal
    assert " pages" in shown.terminal
    assert b"5000 stories" in shown.stdout


def test_backup_through_pipes_prints_no_bar_and_the_same_summary(
    tmp_path: Path, live: dict[str, str]
) -> None:
    shown = run_tagwire_on_terminal("backup", str(tmp_path / "one.db"), env=live)
    piped = run_tagwire_through_pipes("backup", str(tmp_path / "two.db"), env=live)
    assert piped.returncode == shown.returncode == 0
    assert piped.terminal == ""
    assert piped.stdout == shown.stdout.replace(b"one.db", b"two.db")


def test_migrate_db_draws_its_bar_on_a_terminal_and_none_through_pipes(
    tmp_path: Path, live: dict[str, str]
) -> None:
    source = live["TAGWIRE_DATABASE"]
    shown = run_tagwire_on_terminal(
        "migrate-db", "--from", source, "--to", str(tmp_path / "one.db"), env=live
    )
    assert shown.returncode == 0, shown.terminal
    assert "100%" in shown.terminal
    assert " rows" in shown.terminal
    piped = run_tagwire_through_pipes(
        "migrate-db", "--from", source, "--to", str(tmp_path / "two.db"), env=live
    )
    assert piped.returncode == 0
    assert piped.terminal == ""
    # The same table of counts; the summary line below it differs only in the time taken.
    assert piped.stdout.split(b"\ncopied ")[0] == shown.stdout.split(b"\ncopied ")[0]
    assert shown.stdout.count(b"\n") == piped.stdout.count(b"\n") > 10


def test_backup_under_writes_between_every_step_ends_in_one_pass_with_the_first_snapshot(
    live: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small steps, so that the copy takes many.
    monkeypatch.setattr(storage.backup, "BACKUP_STEP_PAGES", 16)
    database = Path(live["TAGWIRE_DATABASE"])
    writes = CommitEveryStep(database, "INSERT INTO meta VALUES (hex(randomblob(16)), 'x', 0)")
    copy = tmp_path / "copy.db"
    with closing(writes):
        summary = backup_database(database, copy, writes)
    done, pages = writes.reports[-1]
    assert done == pages > 8 * 16
    # Every step went on from the last: not once back to the first page.
    assert [done for done, _ in writes.reports] == [*range(16, pages, 16), pages]
    assert summary.stories == RECORDS
    with closing(sqlite3.connect(copy)) as db:
        assert db.execute("SELECT COUNT(*) FROM meta WHERE value = 'x'").fetchone() == (0,)


def test_a_stepped_copy_that_starts_again_is_finished_in_one_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage.backup, "BACKUP_STEP_PAGES", 16)
    source = tmp_path / "busy.db"
    with closing(sqlite3.connect(source)) as db:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE filler (data BLOB)")
        db.executemany("INSERT INTO filler VALUES (randomblob(500))", [()] * 2_000)
        db.commit()
    writes = CommitEveryStep(source, "INSERT INTO filler VALUES (randomblob(500))")
    # No read transaction held on the source: the step after a commit starts again.
    with (
        closing(writes),
        closing(sqlite3.connect(source, timeout=15)) as src,
        closing(sqlite3.connect(tmp_path / "copy.db")) as dst,
    ):
        _copy_in_steps(src, dst, writes)
        copied = dst.execute("SELECT COUNT(*) FROM filler").fetchone()[0]
    first, last = writes.reports
    assert first[0] == 16
    assert last[0] == last[1] > 16
    assert copied == 2_001


def test_a_bar_on_something_other_than_a_terminal_writes_nothing() -> None:
    stream = io.StringIO()
    with TerminalBar(" records", stream=stream) as bar:
        bar.start(10)
        bar.advance(3)
        bar.reach(10, 10)
        bar.describe("copying")
    assert not bar.shown
    assert stream.getvalue() == ""
