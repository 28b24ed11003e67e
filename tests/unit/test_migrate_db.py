"""`tagwire migrate-db` (storage/transfer.py): a SQLite database with every kind of row copied
into PostgreSQL and back reads the same through the Store; a target that holds rows is refused;
an interrupted copy leaves the target as it was; the command's exit codes and one-line errors.

Each PostgreSQL database here is a fresh one of the tests' server (tests/support/postgres.py).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Mapping
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from storage import open_store
from storage.base import StorageUnavailable, Store
from storage.models import (
    ChatSettings,
    DeliveryMode,
    DeliveryStatus,
    DeliveryUpdate,
    PictureMode,
    StoryChanges,
)
from storage.transfer import QuietProgress, TargetNotEmpty, TransferError, transfer
from storage.url import DatabaseTarget, parse_database
from storage.words import FollowWords
from tests.conftest import make_article
from tests.support.commands import environment, run_tagwire
from tests.support.postgres import connect, fresh_database

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC).timestamp()
STORIES = 40


@pytest.fixture
async def postgres() -> AsyncIterator[DatabaseTarget]:
    async with fresh_database() as url:
        yield parse_database(url)


@pytest.fixture
async def postgres_url(postgres: DatabaseTarget) -> str:
    return postgres.require_dsn()


async def populate(store: Store) -> None:
    """At least one row of every kind the bot keeps."""
    await store.register_chat(1, "private", None, username="reader", language="ru")
    await store.register_chat(-100, "group", "A group")
    await store.register_chat(-1001, "supergroup", "A forum")
    await store.register_chat(-1002, "channel", "A channel", username="news")
    await store.register_chat(2, "private", None)
    await store.deactivate_chat(2, "blocked by the user", NOW)
    await store.save_chat_settings(
        1,
        ChatSettings(
            language="ru",
            link_previews=False,
            mode=DeliveryMode.DAILY,
            combine_bursts=True,
            digest_hour=7,
            timezone="Europe/Moscow",
            quiet_start=23 * 60,
            quiet_end=7 * 60,
            pictures=PictureMode.PREVIEW,
        ),
    )
    await store.follow(1, [("Japan", "japan"), ("Токио", "токио")], 100, NOW)
    await store.follow(-100, [("Japan", "japan"), ("東京", "東京")], 100, NOW)
    await store.follow(-1001, [("Japan", "japan")], 100, NOW, thread_id=7)
    await store.follow(-1002, [("Economy", "economy"), ("🎌", "🎌")], 100, NOW)
    # A tag followed but with no story yet.
    await store.follow(2, [("Quiet tag", "quiettag")], 100, NOW)
    # Words inside follows: JSON text in SQLite, text[] in PostgreSQL.
    japan = (await store.find_tags(["japan"]))["japan"].id
    await store.set_follow_words(1, japan, FollowWords(only=("землетрясение", "地震")))
    await store.set_follow_words(-1001, japan, FollowWords(skip=("baseball",)), thread_id=7)
    await store.set_follow_words(-100, japan, FollowWords(("tsunami",), ("test", "drill")))
    await store.mute(1, ["crypto", "футбол"], 50, NOW)
    await store.mute(-1002, ["ads"], 50, NOW)
    tags = [["Japan", "Токио"], ["Japan", "東京"], ["Economy", "🎌"], ["Japan", "Economy"]]
    articles = [
        make_article(
            number,
            tags[number % len(tags)],
            title=f"Story {number} Токио 東京 naïve café",
            teaser=f"Teaser {number} about the yen and 🎌 flags",
        )
        for number in range(STORIES)
    ]
    # Pictures: a URL, and the file_id of a photo sent with /post.
    articles[1] = replace(articles[1], image="https://img.example.com/1.jpg")
    articles[12] = replace(articles[12], image="AgACAgIAAxkBAAIBW2Zx9k3Q")
    # Scheduled stories: one held, one cancelled, one released (and fanned out) below.
    for number, hours in ((STORIES - 3, 48), (STORIES - 2, 24), (STORIES - 1, 0)):
        due = datetime.fromtimestamp(NOW + 60 + hours * 3600, UTC)
        articles[number] = replace(articles[number], publish_at=due)
    await store.add_articles(articles[:10], notify=False, now=NOW)
    await store.add_articles(articles[10:], notify=True, now=NOW)
    await store.cancel_scheduled(articles[STORIES - 2].url, NOW)
    assert len(await store.release_due(NOW + 60, 10)) == 1
    claimed = await store.claim_due(NOW + 10, 20, 60)
    assert claimed, "the fan-out queued deliveries"
    updates = []
    for index, delivery in enumerate(claimed):
        if index % 3 == 0:
            updates.append(
                DeliveryUpdate(
                    delivery.id,
                    DeliveryStatus.SENT,
                    1,
                    NOW,
                    finished_at=NOW + 1,
                    message_id=1000 + index,
                )
            )
        elif index % 3 == 1:
            updates.append(
                DeliveryUpdate(
                    delivery.id, DeliveryStatus.FAILED, 3, NOW, "Forbidden", finished_at=NOW + 2
                )
            )
        else:
            updates.append(
                DeliveryUpdate(delivery.id, DeliveryStatus.PENDING, 1, NOW + 30, "429", held=True)
            )
    await store.update_deliveries(updates)
    # A correction of a story out: an edit of its delivered teaser waits in the edits outbox.
    correction = await store.correct_story(
        claimed[0].article_id, StoryChanges(source="Corrected desk"), NOW + 3
    )
    assert correction is not None
    assert correction.edits_queued
    feed, _ = await store.add_feed("https://example.com/feed.xml", ["Japan", "Economy"], NOW)
    await store.feed_succeeded(feed.id, '"etag-1"', "Fri, 20 Nov 2026 12:00:00 GMT", NOW)
    broken, _ = await store.add_feed("https://example.org/rss", ["Токио"], NOW)
    await store.feed_failed(broken.id, "HTTP 500", NOW, pause_after=1)
    await store.open_incident(f"feed:{broken.id}", NOW, "https://example.org/rss", NOW + 1)
    await store.put_meta_if_absent("webhook_secret", "s3cret-value", NOW)
    await store.save_search(1, '"naive cafe" OR yen', NOW)
    await store.record_instance("host-1", "leader", started_at=NOW, now=NOW)


async def snapshot(store: Store) -> dict[str, Any]:
    """Everything the Store reads back, in a form two backends can be compared by."""
    chats = [1, 2, -100, -1001, -1002]
    keys = ["japan", "токио", "東京", "economy", "🎌", "quiettag"]
    tags = await store.find_tags(keys)
    article_ids = list(range(1, STORIES + 1))
    result: dict[str, Any] = {
        "chats": [await store.get_chat(chat) for chat in chats],
        "prefs": await store.chat_prefs(chats),
        "channels": await store.channels(),
        "follows": {chat: await store.all_follows(chat) for chat in chats},
        "followed": {
            (chat, thread): await store.followed_tags(chat, thread)
            for chat in chats
            for thread in (0, 7)
        },
        "tags": tags,
        "tag_ids": await store.get_tags([tag.id for tag in tags.values()]),
        "list_tags": await store.list_tags(100),
        "popular": await store.popular_tags(10, since=0),
        "like": await store.tag_names_like("jap", 10),
        "latest": {key: await store.latest_articles(tag.id, 50) for key, tag in tags.items()},
        "latest_for_chat": {chat: await store.latest_for_chat(chat, 10) for chat in chats},
        "articles": await store.get_articles(article_ids),
        "search": {
            query: await store.search(query, 100)
            for query in ("токио", "東京", "naive cafe", '"naive cafe" OR yen', "stor*", "flags")
        },
        "stats": await store.stats(),
        "outbox": await store.outbox_figures(),
        "next_due": await store.next_due_at(),
        "feeds": await store.list_feeds(),
        "incidents": await store.incidents(),
        "meta": await store.get_meta("webhook_secret"),
        "search_1": await store.get_search(1),
        "scheduled": await store.scheduled_stories(10),
        "schedules": [await store.get_schedule(i) for i in range(STORIES - 2, STORIES + 1)],
        "next_publish": await store.next_publish_at(),
        "report": await store.story_report(STORIES),
        "edits": {i: await store.story_edits(i) for i in article_ids},
    }
    return result


async def table_counts(database: DatabaseTarget) -> dict[str, int]:
    tables = ["chats", "tags", "subscriptions", "mutes", "articles", "article_tags"]
    tables += ["deliveries", "feeds", "meta", "searches", "instances", "incidents"]
    tables += ["schedules", "edits"]
    if database.is_postgres:
        db = await connect(database.require_dsn())
        try:
            count = "SELECT COUNT(*) FROM {}"
            return {t: int(await db.fetchval(count.format(t))) for t in tables}
        finally:
            await db.close()
    with closing(sqlite3.connect(database.require_path())) as db:
        count = "SELECT COUNT(*) FROM {}"
        return {t: int(db.execute(count.format(t)).fetchone()[0]) for t in tables}


def files(folder: Path) -> list[str]:
    """What a folder holds: no temporary copy is ever left behind."""
    return sorted(path.name for path in folder.iterdir())


async def filled_sqlite(path: Path) -> DatabaseTarget:
    database = DatabaseTarget.sqlite(path)
    store = await open_store(database)
    try:
        await populate(store)
    finally:
        await store.close()
    return database


async def read(database: DatabaseTarget) -> dict[str, Any]:
    store = await open_store(database)
    try:
        return await snapshot(store)
    finally:
        await store.close()


async def test_sqlite_to_postgresql_and_back_reads_the_same(
    tmp_path: Path, postgres: DatabaseTarget
) -> None:
    source = await filled_sqlite(tmp_path / "source.db")
    before = await read(source)
    assert all(before["search"].values()), "every search finds stories"
    assert before["prefs"][1].muted
    assert before["feeds"][1].last_error == "HTTP 500"
    counts = await table_counts(source)
    assert all(counts.values()), counts

    there = await transfer(source, postgres)
    assert {c.table: c.source for c in there.tables} == {
        table: count for table, count in counts.items() if table != "instances"
    }
    assert all(c.source == c.target for c in there.tables)
    assert await read(postgres) == before
    assert {**await table_counts(postgres), "instances": 1} == counts

    back = DatabaseTarget.sqlite(tmp_path / "back.db")
    await transfer(postgres, back)
    assert await read(back) == before
    assert {**await table_counts(back), "instances": 1} == counts
    assert files(tmp_path) == ["back.db", "source.db"]

    # Ids were kept, and new rows take the next ones on both backends.
    for database in (postgres, back):
        store = await open_store(database)
        try:
            (result,) = await store.add_articles(
                [make_article(1000, ["Japan"])], notify=True, now=NOW
            )
            assert result.article_id == STORIES + 1
            assert await store.save_search(1, "more", NOW) == 2
            feed, created = await store.add_feed("https://example.net/atom", ["Japan"], NOW)
            assert created
            assert feed.id == 3
            assert (await store.find_tags(["japan"]))["japan"].follower_count == 3
            # The triggers that keep counters work again once the copy is in.
            await store.follow(-1002, [("Japan", "japan")], 100, NOW)
            assert (await store.find_tags(["japan"]))["japan"].follower_count == 4
        finally:
            await store.close()


async def test_a_target_with_rows_is_refused_unless_forced(
    tmp_path: Path, postgres: DatabaseTarget
) -> None:
    source = await filled_sqlite(tmp_path / "source.db")
    await transfer(source, postgres)
    other = DatabaseTarget.sqlite(tmp_path / "other.db")
    store = await open_store(other)
    try:
        await store.register_chat(5, "private", None)
    finally:
        await store.close()

    with pytest.raises(TargetNotEmpty, match="not empty") as refused:
        await transfer(other, postgres)
    assert refused.value.counts["chats"] == 5
    assert await table_counts(postgres) == {**await table_counts(source), "instances": 0}

    said: list[Mapping[str, int]] = []

    class Listening(QuietProgress):
        def replacing(self, counts: Mapping[str, int]) -> None:
            said.append(counts)

    report = await transfer(other, postgres, force=True, progress=Listening())
    assert said[0]["chats"] == 5
    assert said[0]["articles"] == STORIES
    assert report.replaced["articles"] == STORIES
    assert (await table_counts(postgres))["chats"] == 1
    assert (await table_counts(postgres))["articles"] == 0

    # And into a SQLite file that holds rows.
    with pytest.raises(TargetNotEmpty):
        await transfer(postgres, source)
    await transfer(postgres, source, force=True)
    assert (await table_counts(source))["chats"] == 1
    assert not (tmp_path / "source.db-wal").exists() or (await read(source))["chats"]


class Fault(Exception):
    pass


class FailAfter(QuietProgress):
    """The copy interrupted once `rows` rows are written (as by Ctrl-C or a lost server)."""

    def __init__(self, rows: int) -> None:
        self.left = rows

    def advance(self, table: str, rows: int) -> None:
        self.left -= rows
        if self.left <= 0:
            raise Fault(f"interrupted in {table}")


async def test_an_interrupted_copy_leaves_the_target_untouched(
    tmp_path: Path, postgres: DatabaseTarget
) -> None:
    source = await filled_sqlite(tmp_path / "source.db")

    # Into an empty PostgreSQL database: not even the schema is left behind.
    with pytest.raises(Fault, match="articles"):
        await transfer(source, postgres, progress=FailAfter(30), chunk=10)
    db = await connect(postgres.require_dsn())
    try:
        assert await db.fetchval("SELECT to_regclass('chats')") is None
        assert await db.fetchval("SELECT to_regclass('migrations')") is None
    finally:
        await db.close()

    # Into a PostgreSQL database with rows, replacing them: they are all still there.
    other = DatabaseTarget.sqlite(tmp_path / "other.db")
    store = await open_store(other)
    try:
        await store.register_chat(5, "private", None)
    finally:
        await store.close()
    await transfer(other, postgres)
    with pytest.raises(Fault):
        await transfer(source, postgres, force=True, progress=FailAfter(60), chunk=10)
    assert (await table_counts(postgres))["chats"] == 1
    assert (await read(postgres))["chats"][0] is None  # chat 1 is not there

    # Into a new SQLite file: no file at all; over one with rows: the same rows.
    fresh = DatabaseTarget.sqlite(tmp_path / "fresh.db")
    with pytest.raises(Fault):
        await transfer(postgres, fresh, progress=FailAfter(1), chunk=1)
    with pytest.raises(Fault):
        await transfer(source, other, force=True, progress=FailAfter(100), chunk=10)
    assert not (tmp_path / "fresh.db").exists()
    assert await table_counts(other) == {**await table_counts(postgres), "instances": 0}
    assert files(tmp_path) == ["other.db", "source.db"]


async def test_the_source_must_be_a_tagwire_database(
    tmp_path: Path, postgres: DatabaseTarget
) -> None:
    with pytest.raises(StorageUnavailable, match="no database at"):
        await transfer(DatabaseTarget.sqlite(tmp_path / "missing.db"), postgres)
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(TransferError, match="no tagwire database"):
        await transfer(postgres, DatabaseTarget.sqlite(tmp_path / "copy.db"))
    with pytest.raises(TransferError, match="same database"):
        await transfer(postgres, postgres)
    assert not (tmp_path / "copy.db").exists()


def migrate_db(*args: str, cwd: Path) -> Any:
    return run_tagwire("migrate-db", *args, env=environment(), cwd=cwd, timeout=120)


def test_the_command_copies_and_prints_the_counts(tmp_path: Path, postgres_url: str) -> None:
    asyncio.run(filled_sqlite(tmp_path / "tagwire.db"))
    done = migrate_db("--from", "tagwire.db", "--to", postgres_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal: no progress bar
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["table", "source", "target"]
    assert any(line.split() == ["articles", str(STORIES), str(STORIES)] for line in lines)
    assert lines[-1].startswith("copied ")
    assert "every table's count matches" in lines[-1]

    again = migrate_db("--from", "tagwire.db", "--to", postgres_url, cwd=tmp_path)
    assert again.returncode == 1
    assert again.stdout == ""
    assert again.stderr.count("\n") == 1
    assert "is not empty" in again.stderr
    assert "--force" in again.stderr

    forced = migrate_db("--from", "tagwire.db", "--to", postgres_url, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout.startswith("--force: replacing what the target holds: 5 chats")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "mysql://db/x", "--to", "b.db"], "--from: unknown database URL scheme"),
        (["--from", "a.db", "--to", "postgresql://u:pw@h:99999/x"], "--to: the PostgreSQL URL"),
        (["--from", "missing.db", "--to", "b.db"], "there is no database at missing.db"),
        (
            ["--from", "a.db", "--to", "postgresql://me:hunter2@127.0.0.1:1/tagwire"],
            "cannot open the PostgreSQL database postgresql://me:***@127.0.0.1:1/tagwire",
        ),
    ],
)
def test_the_command_says_what_is_wrong_in_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    asyncio.run(filled_sqlite(tmp_path / "a.db"))
    done = migrate_db(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr
    assert "hunter2" not in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "b.db").exists()


async def test_columns_and_tables_come_from_the_schemas(
    tmp_path: Path, postgres: DatabaseTarget
) -> None:
    """What a later migration adds on both backends is copied with no change to the copy."""
    source = await filled_sqlite(tmp_path / "source.db")
    await (await open_store(postgres)).close()
    with closing(sqlite3.connect(source.require_path())) as db, db:
        db.execute("ALTER TABLE chats ADD COLUMN nickname TEXT")
        db.execute("UPDATE chats SET nickname = 'n' || id")
        db.execute("CREATE TABLE extras (chat_id INTEGER NOT NULL, note TEXT, flag INTEGER)")
        db.execute("INSERT INTO extras VALUES (1, 'first', 1), (2, NULL, 0)")
    db = await connect(postgres.require_dsn())
    try:
        await db.execute("ALTER TABLE chats ADD COLUMN nickname TEXT")
        await db.execute("CREATE TABLE extras (chat_id BIGINT NOT NULL, note TEXT, flag BOOLEAN)")
    finally:
        await db.close()

    report = await transfer(source, postgres)
    assert [c.table for c in report.tables][-1] == "extras"
    db = await connect(postgres.require_dsn())
    try:
        assert await db.fetchval("SELECT nickname FROM chats WHERE id = -1002") == "n-1002"
        rows = await db.fetch("SELECT chat_id, note, flag FROM extras ORDER BY chat_id")
        assert [tuple(row) for row in rows] == [(1, "first", True), (2, None, False)]
    finally:
        await db.close()

    # A column the target lacks would be lost: refused, and nothing changed.
    with closing(sqlite3.connect(source.require_path())) as db, db:
        db.execute("ALTER TABLE feeds ADD COLUMN owner TEXT")
    with pytest.raises(TransferError, match="table feeds has no column owner"):
        await transfer(source, postgres, force=True)
    assert (await table_counts(postgres))["chats"] == 5
