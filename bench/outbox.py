"""Outboxes to deliver, made in a working copy of the generated database through the Store
(the product's own fan-out), and put back to "all pending" before each run."""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.generate import Database, Vocabulary
from bot.tags import tag_key
from bot.texts.formatting import render_teaser
from storage.models import NewArticle
from storage.sqlite import SqliteStore


@dataclass(frozen=True, slots=True)
class Outbox:
    """Deliveries of some stories: who gets what, in the order the engine claims them."""

    name: str
    article_ids: tuple[int, ...]
    tags: tuple[tuple[str, int], ...]
    messages: tuple[tuple[int, str], ...]
    chats: tuple[tuple[int, str], ...]

    @property
    def size(self) -> int:
        return len(self.messages)


def working_copy(database: Database, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    shutil.copyfile(database.path, path)
    return path


def tag_near(path: Path, followers: int, *, exclude: tuple[str, ...] = ()) -> tuple[str, int]:
    """The tag whose follower count is closest to `followers`."""
    db = sqlite3.connect(path)
    try:
        row = db.execute(
            "SELECT name, follower_count FROM tags "
            "WHERE name NOT IN (SELECT value FROM json_each(?)) "
            "ORDER BY abs(follower_count - ?), id LIMIT 1",
            (json.dumps(list(exclude)), followers),
        ).fetchone()
    finally:
        db.close()
    return str(row[0]), int(row[1])


async def make_outbox(path: Path, name: str, plan: list[tuple[str, int]]) -> Outbox:
    """Push `count` fresh stories for each (tag, count) with notify, as `tagwire push` does."""
    vocabulary = Vocabulary(1, 10)
    rng = random.Random(name)
    now = time.time()
    store = await SqliteStore.open(path)
    try:
        article_ids: list[int] = []
        tags: list[tuple[str, int]] = []
        for tag_name, count in plan:
            articles = [
                NewArticle(
                    url=f"https://news.example.com/bench/{name}/{tag_key(tag_name)}/{number}",
                    title=vocabulary.title(rng),
                    teaser=vocabulary.teaser(rng),
                    tags=((tag_name, tag_key(tag_name)),),
                    published_at=datetime.fromtimestamp(now, UTC),
                    source="news.example.com",
                )
                for number in range(count)
            ]
            results = await store.add_articles(articles, notify=True, now=now)
            article_ids.extend(result.article_id for result in results)
            tags.append((tag_name, sum(result.recipients for result in results)))
        stories = await store.get_articles(article_ids)
    finally:
        await store.close()
    db = sqlite3.connect(path)
    try:
        rows = db.execute(
            "SELECT d.chat_id, d.article_id, c.type FROM deliveries d "
            "JOIN chats c ON c.id = d.chat_id "
            "WHERE d.article_id IN (SELECT value FROM json_each(?)) ORDER BY d.due_at, d.id",
            (json.dumps(article_ids),),
        ).fetchall()
    finally:
        db.close()
    teasers = {article_id: render_teaser(story) for article_id, story in stories.items()}
    chats = dict((chat_id, chat_type) for chat_id, _, chat_type in rows)
    return Outbox(
        name=name,
        article_ids=tuple(article_ids),
        tags=tuple(tags),
        messages=tuple((chat_id, teasers[article_id]) for chat_id, article_id, _ in rows),
        chats=tuple(chats.items()),
    )


def reset(path: Path, outbox: Outbox) -> None:
    """Only `outbox` pending, as if just pushed; every other delivery out of the way."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            """
            UPDATE deliveries SET
                status = CASE WHEN article_id IN (SELECT value FROM json_each(?1))
                    THEN 'pending' ELSE 'failed' END,
                attempts = 0, claimed_until = NULL, finished_at = NULL, last_error = NULL,
                held = 0, due_at = ?2
            """,
            (json.dumps(list(outbox.article_ids)), time.time() - 1),
        )
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
