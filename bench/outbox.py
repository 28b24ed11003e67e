"""Outboxes to deliver, made in a working copy of the generated database (SQLite or
PostgreSQL, bench/backends.py) through the Store (the product's own fan-out), and put back to
"all pending" before each run."""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.backends import execute, fetch
from bench.generate import Database, Vocabulary
from bot.tags import tag_key
from bot.texts.formatting import render_teaser
from storage import open_store
from storage.models import NewArticle
from storage.url import DatabaseTarget


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


async def tag_near(
    target: DatabaseTarget, followers: int, *, exclude: tuple[str, ...] = ()
) -> tuple[str, int]:
    """The tag whose follower count is closest to `followers`."""
    if target.is_postgres:
        rows = await fetch(
            target,
            "SELECT name, follower_count FROM tags WHERE NOT (name = ANY(?::text[])) "
            "ORDER BY abs(follower_count - ?), id LIMIT 1",
            list(exclude),
            followers,
        )
    else:
        rows = await fetch(
            target,
            "SELECT name, follower_count FROM tags "
            "WHERE name NOT IN (SELECT value FROM json_each(?)) "
            "ORDER BY abs(follower_count - ?), id LIMIT 1",
            json.dumps(list(exclude)),
            followers,
        )
    return str(rows[0][0]), int(rows[0][1])


async def make_outbox(target: DatabaseTarget, name: str, plan: list[tuple[str, int]]) -> Outbox:
    """Push `count` fresh stories for each (tag, count) with notify, as `tagwire push` does."""
    vocabulary = Vocabulary(1, 10)
    rng = random.Random(name)
    now = time.time()
    store = await open_store(target)
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
    query = (
        "SELECT d.chat_id, d.article_id, c.type FROM deliveries d "
        "JOIN chats c ON c.id = d.chat_id WHERE {} ORDER BY d.due_at, d.id"
    )
    if target.is_postgres:
        rows = await fetch(target, query.format("d.article_id = ANY(?::bigint[])"), article_ids)
    else:
        rows = await fetch(
            target,
            query.format("d.article_id IN (SELECT value FROM json_each(?))"),
            json.dumps(article_ids),
        )
    teasers = {article_id: render_teaser(story) for article_id, story in stories.items()}
    chats = dict((chat_id, chat_type) for chat_id, _, chat_type in rows)
    return Outbox(
        name=name,
        article_ids=tuple(article_ids),
        tags=tuple(tags),
        messages=tuple((chat_id, teasers[article_id]) for chat_id, article_id, _ in rows),
        chats=tuple(chats.items()),
    )


async def reset(target: DatabaseTarget, outbox: Outbox) -> None:
    """Only `outbox` pending, as if just pushed; every other delivery out of the way."""
    update = """
        UPDATE deliveries SET
            status = CASE WHEN {} THEN 'pending' ELSE 'failed' END,
            attempts = 0, claimed_until = NULL, finished_at = NULL, last_error = NULL,
            held = {}, due_at = ?
        """
    if target.is_postgres:
        statement = update.format("article_id = ANY(?::bigint[])", "FALSE")
        ids: object = list(outbox.article_ids)
    else:
        statement = update.format("article_id IN (SELECT value FROM json_each(?))", "0")
        ids = json.dumps(list(outbox.article_ids))
    await execute(target, [(statement, (ids, time.time() - 1))])
