"""The SQLite implementation of the Store: one write connection, one read connection."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from storage.base import (
    INSTANCE_MEMORY,
    InvalidSearch,
    SearchTooSlow,
    StorageUnavailable,
    Store,
)
from storage.models import (
    Article,
    Chat,
    ChatPrefs,
    ChatSettings,
    ChatSetup,
    DeliveryMode,
    DeliveryStatus,
    DeliveryUpdate,
    Follow,
    FollowOutcome,
    FollowResult,
    IngestResult,
    IngestStatus,
    InstanceSeen,
    NewArticle,
    PendingDelivery,
    PictureMode,
    Stats,
    Tag,
    TagActivity,
)
from storage.sqlite_alerts import SqliteAlertsMixin
from storage.sqlite_connections import unavailable
from storage.sqlite_corrections import SqliteCorrectionsMixin
from storage.sqlite_newsroom import UNRELEASED_LEFT_OUT, SqliteNewsroomMixin, hold_stories
from storage.sqlite_operators import SqliteOperatorsMixin
from storage.words import FollowWords, StoryText

logger = logging.getLogger(__name__)

# SQLite's default limit on terms in one compound SELECT is 500.
_MAX_UNION_TERMS = 400
# Seven `?` a story within SQLite's limit on variables in one statement: 32 766 since 3.32,
# 999 before.
_ARTICLE_ROWS_PER_INSERT = 4_000 if sqlite3.sqlite_version_info >= (3, 32, 0) else 140

# A statement stopped by its progress handler (a search past its time limit).
_INTERRUPTED = 9
# A search checks its clock every this many steps of SQLite's virtual machine (well under a
# millisecond each time).
_SEARCH_PROGRESS_STEPS = 1_000

_TAG_COLUMNS = "t.id, t.name, t.key, t.story_count, t.follower_count"
# A tag nobody follows and no story has (the counters are kept exact in each transaction; the
# story rows are checked too, since they reference the tag).
_UNUSED = (
    "story_count = 0 AND follower_count = 0 "
    "AND NOT EXISTS (SELECT 1 FROM article_tags at WHERE at.tag_id = tags.id)"
)
# Each story's tag names come in the same row (a JSON array in the order the story lists them):
# one trip to the reader's thread per list of stories, where a second query for the tags took
# two, queued behind every other reader's.
_ARTICLE_COLUMNS = (
    "a.id, a.url, a.title, a.teaser, a.source, a.published_at, "
    "(SELECT json_group_array(name) FROM (SELECT t.name FROM article_tags at2 "
    "JOIN tags t ON t.id = at2.tag_id WHERE at2.article_id = a.id ORDER BY at2.position)), "
    "a.image"
)


def _json_list(values: Iterable[object]) -> str:
    return json.dumps(list(values))


def _words_column(words: Sequence[str]) -> str | None:
    """A follow's words as stored: a JSON array, NULL when there are none."""
    return json.dumps(list(words), ensure_ascii=False) if words else None


def _words(only: str | None, skip: str | None) -> FollowWords:
    return FollowWords(
        tuple(json.loads(only)) if only else (), tuple(json.loads(skip)) if skip else ()
    )


def _words_pair(only: str | None, skip: str | None) -> tuple[list[str], list[str]]:
    return (json.loads(only) if only else [], json.loads(skip) if skip else [])


def _tag(row: sqlite3.Row | tuple[Any, ...]) -> Tag:
    return Tag(id=row[0], name=row[1], key=row[2], story_count=row[3], follower_count=row[4])


def _timestamp(moment: datetime) -> float:
    return moment.timestamp()


class SqliteStore(
    SqliteOperatorsMixin, SqliteCorrectionsMixin, SqliteNewsroomMixin, SqliteAlertsMixin, Store
):
    # Chats

    async def register_chat(
        self,
        chat_id: int,
        chat_type: str,
        title: str | None,
        username: str | None = None,
        language: str | None = None,
    ) -> Chat:
        now = datetime.now(UTC).timestamp()
        async with self._transaction() as db:
            await db.execute(
                """
                INSERT INTO chats
                    (id, type, title, username, language, active, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, 1, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    type = excluded.type, title = excluded.title, username = excluded.username,
                    active = 1, inactive_reason = NULL, updated_at = excluded.updated_at
                """,
                (chat_id, chat_type, title, username, language, now, now),
            )
        return Chat(id=chat_id, type=chat_type, title=title, active=True, username=username)

    async def get_chat(self, chat_id: int) -> Chat | None:
        row = await self._read_one(
            "SELECT id, type, title, active, username FROM chats WHERE id = ?", (chat_id,)
        )
        if row is None:
            return None
        return Chat(id=row[0], type=row[1], title=row[2], active=bool(row[3]), username=row[4])

    async def channels(self) -> list[Chat]:
        rows = await self._read_all(
            "SELECT id, type, title, active, username FROM chats "
            "WHERE type = 'channel' AND active = 1 ORDER BY title, id"
        )
        return [
            Chat(id=row[0], type=row[1], title=row[2], active=bool(row[3]), username=row[4])
            for row in rows
        ]

    async def deactivate_chat(self, chat_id: int, reason: str, now: float) -> int:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE chats SET active = 0, inactive_reason = ?, updated_at = ? WHERE id = ?",
                (reason, now, chat_id),
            )
            cursor = await db.execute(
                """
                UPDATE deliveries
                SET status = ?, last_error = ?, finished_at = ?, claimed_until = NULL
                WHERE chat_id = ? AND status = 'pending'
                """,
                (DeliveryStatus.SKIPPED, reason, now, chat_id),
            )
            return cursor.rowcount

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        if old_chat_id == new_chat_id:
            return
        now = datetime.now(UTC).timestamp()
        async with self._transaction() as db:
            async with db.execute("SELECT 1 FROM chats WHERE id = ?", (new_chat_id,)) as cursor:
                new_exists = await cursor.fetchone() is not None
            if not new_exists:
                # ON UPDATE CASCADE carries subscriptions and deliveries along.
                await db.execute(
                    """
                    UPDATE chats SET id = ?, type = 'supergroup', active = 1,
                        inactive_reason = NULL, updated_at = ?
                    WHERE id = ?
                    """,
                    (new_chat_id, now, old_chat_id),
                )
                return
            await db.execute(
                """
                INSERT OR IGNORE INTO subscriptions
                    (chat_id, thread_id, tag_id, created_at, only_words, skip_words)
                SELECT ?, thread_id, tag_id, created_at, only_words, skip_words
                FROM subscriptions WHERE chat_id = ?
                """,
                (new_chat_id, old_chat_id),
            )
            await db.execute(
                """
                INSERT OR IGNORE INTO mutes (chat_id, word, created_at)
                SELECT ?, word, created_at FROM mutes WHERE chat_id = ?
                """,
                (new_chat_id, old_chat_id),
            )
            await db.execute(
                "UPDATE OR IGNORE deliveries SET chat_id = ? WHERE chat_id = ?",
                (new_chat_id, old_chat_id),
            )
            await db.execute(
                "UPDATE chats SET active = 1, inactive_reason = NULL, updated_at = ? WHERE id = ?",
                (now, new_chat_id),
            )
            await db.execute("DELETE FROM chats WHERE id = ?", (old_chat_id,))

    # Tags and subscriptions

    async def find_tags(self, keys: Sequence[str]) -> dict[str, Tag]:
        if not keys:
            return {}
        rows = await self._read_all(
            f"SELECT {_TAG_COLUMNS} FROM tags t WHERE t.key IN (SELECT value FROM json_each(?))",
            (_json_list(keys),),
        )
        return {row[2]: _tag(row) for row in rows}

    async def get_tags(self, tag_ids: Sequence[int]) -> dict[int, Tag]:
        if not tag_ids:
            return {}
        rows = await self._read_all(
            f"SELECT {_TAG_COLUMNS} FROM tags t WHERE t.id IN (SELECT value FROM json_each(?))",
            (_json_list(tag_ids),),
        )
        return {row[0]: _tag(row) for row in rows}

    async def tag_names_like(self, key: str, limit: int) -> list[Tag]:
        if not key:
            return []
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._read_all(
            f"""
            SELECT {_TAG_COLUMNS} FROM tags t
            WHERE t.story_count > 0 AND (
                substr(t.key, 1, 1) = substr(?1, 1, 1)
                OR t.key LIKE '%' || ?2 || '%' ESCAPE '\\'
            )
            ORDER BY t.story_count DESC
            LIMIT ?3
            """,
            (key, escaped, limit),
        )
        return [_tag(row) for row in rows]

    async def popular_tags(self, limit: int, since: float) -> list[TagActivity]:
        rows = await self._read_all(
            f"""
            SELECT {_TAG_COLUMNS},
                (SELECT COUNT(*) FROM article_tags at
                 WHERE at.tag_id = t.id AND at.published_at >= ?1) AS recent
            FROM tags t
            WHERE t.story_count > 0 OR t.follower_count > 0
            ORDER BY recent DESC, t.follower_count DESC, t.story_count DESC, t.name
            LIMIT ?2
            """,
            (since, limit),
        )
        return [TagActivity(tag=_tag(row), recent_stories=row[5]) for row in rows]

    async def follow(
        self,
        chat_id: int,
        tags: Sequence[tuple[str, str]],
        max_tags: int,
        now: float,
        thread_id: int = 0,
        words: FollowWords | None = None,
    ) -> list[FollowResult]:
        results: list[FollowResult] = []
        only = _words_column(words.only) if words is not None else None
        skip = _words_column(words.skip) if words is not None else None
        async with self._transaction() as db:
            async with db.execute(
                "SELECT COUNT(*) FROM subscriptions WHERE chat_id = ? AND thread_id = ?",
                (chat_id, thread_id),
            ) as cursor:
                row = await cursor.fetchone()
            count = row[0] if row else 0
            for name, key in tags:
                tag_row = await self._tag_with_subscription(db, chat_id, thread_id, key)
                if tag_row is None:
                    if count >= max_tags:
                        # Past the limit a new name creates nothing: it is only named back.
                        results.append(FollowResult(Tag(0, name, key, 0, 0), FollowOutcome.LIMIT))
                        continue
                    await self._create_tag(db, name, key, now)
                    tag_row = await self._tag_with_subscription(db, chat_id, thread_id, key)
                assert tag_row is not None
                tag = _tag(tag_row)
                if tag_row[5] is not None:
                    if words is not None:
                        await db.execute(
                            "UPDATE subscriptions SET only_words = ?, skip_words = ? "
                            "WHERE chat_id = ? AND thread_id = ? AND tag_id = ?",
                            (only, skip, chat_id, thread_id, tag.id),
                        )
                    results.append(FollowResult(tag, FollowOutcome.ALREADY))
                elif count >= max_tags:
                    results.append(FollowResult(tag, FollowOutcome.LIMIT))
                else:
                    await db.execute(
                        "INSERT INTO subscriptions (chat_id, thread_id, tag_id, created_at, "
                        "only_words, skip_words) VALUES (?, ?, ?, ?, ?, ?)",
                        (chat_id, thread_id, tag.id, now, only, skip),
                    )
                    count += 1
                    followed = Tag(
                        id=tag.id,
                        name=tag.name,
                        key=tag.key,
                        story_count=tag.story_count,
                        follower_count=tag.follower_count + 1,
                    )
                    results.append(FollowResult(followed, FollowOutcome.FOLLOWED))
        return results

    @staticmethod
    async def _tag_with_subscription(
        db: aiosqlite.Connection, chat_id: int, thread_id: int, key: str
    ) -> sqlite3.Row | None:
        async with db.execute(
            f"""
            SELECT {_TAG_COLUMNS}, s.chat_id FROM tags t
            LEFT JOIN subscriptions s
                ON s.tag_id = t.id AND s.chat_id = ? AND s.thread_id = ?
            WHERE t.key = ?
            """,
            (chat_id, thread_id, key),
        ) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
        return row

    @staticmethod
    async def _create_tag(db: aiosqlite.Connection, name: str, key: str, now: float) -> None:
        async with db.execute(
            "INSERT INTO tags (key, name, created_at) VALUES (?, ?, ?) RETURNING id",
            (key, name, now),
        ) as cursor:
            created = await cursor.fetchone()
        assert created is not None
        # The tag below it was the newest, kept by _remove_unused_tags only so that its id
        # would not be given again: now that a newer one exists, it goes if still unused.
        await db.execute(
            f"DELETE FROM tags WHERE id = (SELECT MAX(id) FROM tags WHERE id < ?) AND {_UNUSED}",
            (created[0],),
        )

    @staticmethod
    async def _remove_unused_tags(db: aiosqlite.Connection, tag_ids: Sequence[int]) -> None:
        """Remove the tags among `tag_ids` that have no story and no follower left, so that
        following and unfollowing new names never grows the database. SQLite gives a new
        row the highest id + 1, and old buttons carry tag ids: the newest tag stays (until
        a newer one is created, _create_tag), so that no id is ever given to a second tag."""
        await db.execute(
            f"""
            DELETE FROM tags
            WHERE id IN (SELECT value FROM json_each(?))
                AND id < (SELECT MAX(id) FROM tags) AND {_UNUSED}
            """,
            (_json_list(tag_ids),),
        )

    async def unfollow(self, chat_id: int, tag_ids: Sequence[int], thread_id: int = 0) -> list[Tag]:
        if not tag_ids:
            return []
        async with self._transaction() as db:
            async with db.execute(
                """
                DELETE FROM subscriptions
                WHERE chat_id = ? AND thread_id = ? AND tag_id IN (SELECT value FROM json_each(?))
                RETURNING tag_id
                """,
                (chat_id, thread_id, _json_list(tag_ids)),
            ) as cursor:
                removed = [row[0] for row in await cursor.fetchall()]
            if not removed:
                return []
            async with db.execute(
                f"SELECT {_TAG_COLUMNS} FROM tags t "
                "WHERE t.id IN (SELECT value FROM json_each(?)) ORDER BY t.name",
                (_json_list(removed),),
            ) as cursor:
                unfollowed = [_tag(row) for row in await cursor.fetchall()]
            await self._remove_unused_tags(db, removed)
            return unfollowed

    async def unfollow_all(self, chat_id: int, thread_id: int = 0) -> int:
        async with self._transaction() as db:
            async with db.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND thread_id = ? RETURNING tag_id",
                (chat_id, thread_id),
            ) as cursor:
                removed = [row[0] for row in await cursor.fetchall()]
            await self._remove_unused_tags(db, removed)
            return len(removed)

    async def followed_tags(self, chat_id: int, thread_id: int = 0) -> list[Tag]:
        rows = await self._read_all(
            f"""
            SELECT {_TAG_COLUMNS} FROM subscriptions s JOIN tags t ON t.id = s.tag_id
            WHERE s.chat_id = ? AND s.thread_id = ? ORDER BY t.key
            """,
            (chat_id, thread_id),
        )
        return [_tag(row) for row in rows]

    async def follows(self, chat_id: int, thread_id: int = 0) -> list[Follow]:
        rows = await self._read_all(
            f"""
            SELECT {_TAG_COLUMNS}, s.only_words, s.skip_words
            FROM subscriptions s JOIN tags t ON t.id = s.tag_id
            WHERE s.chat_id = ? AND s.thread_id = ? ORDER BY t.key
            """,
            (chat_id, thread_id),
        )
        return [Follow(_tag(row), _words(row[5], row[6])) for row in rows]

    async def set_follow_words(
        self, chat_id: int, tag_id: int, words: FollowWords, thread_id: int = 0
    ) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE subscriptions SET only_words = ?, skip_words = ? "
                "WHERE chat_id = ? AND thread_id = ? AND tag_id = ?",
                (_words_column(words.only), _words_column(words.skip), chat_id, thread_id, tag_id),
            )
            return cursor.rowcount > 0

    async def all_follows(self, chat_id: int) -> list[tuple[int, Follow]]:
        rows = await self._read_all(
            f"""
            SELECT {_TAG_COLUMNS}, s.only_words, s.skip_words, s.thread_id
            FROM subscriptions s JOIN tags t ON t.id = s.tag_id
            WHERE s.chat_id = ? ORDER BY s.thread_id, t.key
            """,
            (chat_id,),
        )
        return [(row[7], Follow(_tag(row), _words(row[5], row[6]))) for row in rows]

    async def import_chat(self, chat_id: int, setup: ChatSetup, now: float) -> None:
        async with self._transaction() as db:
            async with db.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? RETURNING tag_id", (chat_id,)
            ) as cursor:
                removed = [row[0] for row in await cursor.fetchall()]
            for follow in setup.follows:
                tag_row = await self._tag_with_subscription(
                    db, chat_id, follow.thread_id, follow.key
                )
                if tag_row is None:
                    await self._create_tag(db, follow.name, follow.key, now)
                    tag_row = await self._tag_with_subscription(
                        db, chat_id, follow.thread_id, follow.key
                    )
                assert tag_row is not None
                await db.execute(
                    "INSERT OR IGNORE INTO subscriptions (chat_id, thread_id, tag_id, created_at, "
                    "only_words, skip_words) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        chat_id,
                        follow.thread_id,
                        tag_row[0],
                        now,
                        _words_column(follow.words.only),
                        _words_column(follow.words.skip),
                    ),
                )
            await self._remove_unused_tags(db, removed)
            await db.execute("DELETE FROM mutes WHERE chat_id = ?", (chat_id,))
            await db.executemany(
                "INSERT INTO mutes (chat_id, word, created_at) VALUES (?, ?, ?)",
                [(chat_id, word, now) for word in setup.muted],
            )
            await self._write_settings(db, chat_id, setup.settings)

    # Stories

    async def add_articles(
        self, articles: Sequence[NewArticle], *, notify: bool, now: float
    ) -> list[IngestResult]:
        if not articles:
            return []
        async with self._transaction() as db:
            return await self._add_articles(db, articles, notify=notify, now=now)

    @staticmethod
    async def _add_articles(
        db: aiosqlite.Connection, articles: Sequence[NewArticle], *, notify: bool, now: float
    ) -> list[IngestResult]:
        async with db.execute(
            "SELECT url, id FROM articles WHERE url IN (SELECT value FROM json_each(?))",
            (_json_list(article.url for article in articles),),
        ) as cursor:
            known_ids: dict[str, int] = {row[0]: row[1] for row in await cursor.fetchall()}
        async with db.execute("SELECT COALESCE(MAX(id), 0) FROM articles") as cursor:
            row = await cursor.fetchone()
        # Inside this IMMEDIATE transaction nobody else inserts, so ids can be assigned here,
        # which lets the whole batch go in with executemany instead of a round trip a story.
        next_id = (row[0] if row else 0) + 1

        fresh: list[tuple[int, NewArticle]] = []
        outcomes: list[tuple[int, IngestStatus]] = []
        for article in articles:
            if article.url in known_ids:
                outcomes.append((known_ids[article.url], IngestStatus.DUPLICATE))
                continue
            known_ids[article.url] = next_id
            fresh.append((next_id, article))
            outcomes.append((next_id, IngestStatus.CREATED))
            next_id += 1

        recipients: Counter[int] = Counter()
        if fresh:
            rows = [
                (
                    article_id,
                    article.url,
                    article.title,
                    article.teaser,
                    article.source,
                    _timestamp(article.published_at),
                    now,
                    article.image,
                )
                for article_id, article in fresh
            ]
            # Many rows a statement, not executemany: SQLite 3.40's FTS5 writes its pending
            # index to disk at every statement that fires the full-text trigger, which made
            # one statement a story cost ~0.5 ms (see docs/performance.md).
            for start in range(0, len(rows), _ARTICLE_ROWS_PER_INSERT):
                chunk = rows[start : start + _ARTICLE_ROWS_PER_INSERT]
                await db.execute(
                    "INSERT INTO articles (id, url, title, teaser, source, published_at, "
                    "created_at, image) VALUES "
                    + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk)),
                    [value for row in chunk for value in row],
                )
            # A scheduled story waits, in no tag's list and no outbox, until it is released.
            held = [(i, article) for i, article in fresh if article.publish_at is not None]
            going = [(i, article) for i, article in fresh if article.publish_at is None]
            if held:
                await hold_stories(db, held, notify=notify, now=now)
            if going:
                await SqliteStore._link_stories(db, going, now)
                if notify:
                    recipients = await SqliteStore._fan_out(db, going, now)

        return [
            IngestResult(
                url=article.url,
                article_id=article_id,
                status=status,
                recipients=recipients.get(article_id, 0) if status is IngestStatus.CREATED else 0,
                publish_at=(
                    _timestamp(article.publish_at)
                    if status is IngestStatus.CREATED and article.publish_at is not None
                    else None
                ),
            )
            for article, (article_id, status) in zip(articles, outcomes, strict=True)
        ]

    @staticmethod
    async def _link_stories(
        db: aiosqlite.Connection, fresh: Sequence[tuple[int, NewArticle]], now: float
    ) -> None:
        """Put stored stories in their tags' lists (creating unknown tags) and count them: a
        new story at once, a scheduled one when it is released."""
        spellings: dict[str, str] = {}
        for _, article in fresh:
            for name, key in article.tags:
                spellings.setdefault(key, name)
        # A tag first created by someone following it takes the spelling of its first story.
        await db.executemany(
            """
            INSERT INTO tags (key, name, created_at) VALUES (?, ?, ?)
            ON CONFLICT (key) DO UPDATE SET name = excluded.name WHERE tags.story_count = 0
            """,
            [(key, name, now) for key, name in spellings.items()],
        )
        async with db.execute(
            "SELECT key, id FROM tags WHERE key IN (SELECT value FROM json_each(?))",
            (_json_list(spellings),),
        ) as cursor:
            tag_ids: dict[str, int] = {row[0]: row[1] for row in await cursor.fetchall()}
        links = []
        story_counts: Counter[int] = Counter()
        last_story: dict[int, float] = {}
        for article_id, article in fresh:
            published = _timestamp(article.published_at)
            for position, (_, key) in enumerate(article.tags):
                tag_id = tag_ids[key]
                links.append((tag_id, published, article_id, position))
                story_counts[tag_id] += 1
                last_story[tag_id] = max(last_story.get(tag_id, published), published)
        await db.executemany(
            "INSERT INTO article_tags (tag_id, published_at, article_id, position) "
            "VALUES (?, ?, ?, ?)",
            links,
        )
        await db.executemany(
            """
            UPDATE tags SET story_count = story_count + ?,
                last_story_at = MAX(COALESCE(last_story_at, 0), ?)
            WHERE id = ?
            """,
            [(count, last_story[tag_id], tag_id) for tag_id, count in story_counts.items()],
        )

    @staticmethod
    async def _fan_out(
        db: aiosqlite.Connection, fresh: Sequence[tuple[int, NewArticle]], now: float
    ) -> Counter[int]:
        """One delivery per (story, following chat), however many of its tags the chat follows
        and whichever of those follows let it through (the UNIQUE key keeps it to one).

        The follows without words go in with one INSERT … SELECT; those with words (a few)
        are read and checked here, each story's text prepared once (storage/words.py)."""
        ids = _json_list(article_id for article_id, _ in fresh)
        await db.execute(
            """
            INSERT OR IGNORE INTO deliveries (article_id, chat_id, thread_id, due_at, created_at)
            SELECT DISTINCT at.article_id, s.chat_id, s.thread_id, ?1, ?1
            FROM article_tags at
            JOIN subscriptions s ON s.tag_id = at.tag_id
            JOIN chats c ON c.id = s.chat_id
            WHERE c.active = 1 AND at.article_id IN (SELECT value FROM json_each(?2))
                AND s.only_words IS NULL AND s.skip_words IS NULL
            ORDER BY at.article_id
            """,
            (now, ids),
        )
        async with db.execute(
            """
            SELECT at.article_id, s.chat_id, s.thread_id, s.only_words, s.skip_words
            FROM article_tags at
            JOIN subscriptions s ON s.tag_id = at.tag_id
            JOIN chats c ON c.id = s.chat_id
            WHERE c.active = 1 AND at.article_id IN (SELECT value FROM json_each(?))
                AND (s.only_words IS NOT NULL OR s.skip_words IS NOT NULL)
            """,
            (ids,),
        ) as cursor:
            worded = await cursor.fetchall()
        if worded:
            texts = {i: StoryText(article.title, article.teaser) for i, article in fresh}
            # Follows with the same words (as stored) get the same answer for a story.
            answers: dict[tuple[int, str | None, str | None], bool] = {}
            passing = []
            for article_id, chat_id, thread_id, only, skip in worded:
                answer = answers.get((article_id, only, skip))
                if answer is None:
                    answer = texts[article_id].lets_through(*_words_pair(only, skip))
                    answers[(article_id, only, skip)] = answer
                if answer:
                    passing.append((article_id, chat_id, thread_id))
            passing.sort()
            await db.executemany(
                "INSERT OR IGNORE INTO deliveries "
                "(article_id, chat_id, thread_id, due_at, created_at) VALUES (?, ?, ?, ?, ?)",
                [(*key, now, now) for key in passing],
            )
        async with db.execute(
            """
            SELECT article_id, COUNT(*) FROM deliveries
            WHERE article_id IN (SELECT value FROM json_each(?)) GROUP BY article_id
            """,
            (ids,),
        ) as cursor:
            return Counter({row[0]: row[1] for row in await cursor.fetchall()})

    @staticmethod
    def _articles(rows: Sequence[sqlite3.Row]) -> list[Article]:
        return [
            Article(
                id=row[0],
                url=row[1],
                title=row[2],
                teaser=row[3],
                source=row[4],
                published_at=datetime.fromtimestamp(row[5], UTC),
                tags=tuple(json.loads(row[6])),
                image=row[7],
            )
            for row in rows
        ]

    async def latest_articles(self, tag_id: int, limit: int) -> list[Article]:
        rows = await self._read_all(
            f"""
            SELECT {_ARTICLE_COLUMNS} FROM article_tags at JOIN articles a ON a.id = at.article_id
            WHERE at.tag_id = ?
            ORDER BY at.published_at DESC, at.article_id DESC
            LIMIT ?
            """,
            (tag_id, limit),
        )
        return self._articles(rows)

    async def latest_for_chat(self, chat_id: int, limit: int, thread_id: int = 0) -> list[Article]:
        tag_rows = await self._read_all(
            "SELECT tag_id FROM subscriptions WHERE chat_id = ? AND thread_id = ? LIMIT ?",
            (chat_id, thread_id, _MAX_UNION_TERMS),
        )
        if not tag_rows:
            return []
        # SQLite has no LATERAL join: one small index read per followed tag, merged here,
        # costs the same whatever the number of stories each tag has.
        branch = (
            "SELECT * FROM (SELECT article_id, published_at FROM article_tags "
            "WHERE tag_id = ? ORDER BY published_at DESC, article_id DESC LIMIT ?)"
        )
        union = " UNION ".join(branch for _ in tag_rows)
        params: list[object] = []
        for row in tag_rows:
            params.extend((row[0], limit))
        params.append(limit)
        rows = await self._read_all(
            f"""
            SELECT {_ARTICLE_COLUMNS}
            FROM ({union}) newest JOIN articles a ON a.id = newest.article_id
            ORDER BY newest.published_at DESC, newest.article_id DESC
            LIMIT ?
            """,
            params,
        )
        return self._articles(rows)

    async def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]:
        if not article_ids:
            return {}
        rows = await self._read_all(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a "
            "WHERE a.id IN (SELECT value FROM json_each(?))",
            (_json_list(article_ids),),
        )
        return {article.id: article for article in self._articles(rows)}

    async def search(self, query: str, limit: int, offset: int = 0) -> list[Article]:
        try:
            rows = await self._search_rows(
                f"""
                SELECT {_ARTICLE_COLUMNS}
                FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
                WHERE articles_fts MATCH ? AND {UNRELEASED_LEFT_OUT} AND a.retracted_at IS NULL
                ORDER BY bm25(articles_fts, 2.0, 1.0), a.published_at DESC, a.id DESC
                LIMIT ? OFFSET ?
                """,
                (query, limit, offset),
            )
        except sqlite3.OperationalError as exc:
            message = str(exc)
            # Anything but the database itself failing is the query's fault.
            if not any(word in message for word in ("locked", "disk", "I/O", "readonly")):
                raise InvalidSearch(message) from None
            raise
        return self._articles(rows)

    async def _search_rows(self, sql: str, params: Sequence[object]) -> list[sqlite3.Row]:
        """`sql` on the search connection, stopped (SearchTooSlow) when it has not finished
        within `search_time_limit` of this call, the wait for the connection included."""
        allowed = self.search_time_limit
        deadline = time.monotonic() + allowed
        too_slow = SearchTooSlow(f"the search took more than {allowed:g} s")
        try:
            async with asyncio.timeout(allowed):
                await self._search_turn.acquire()
        except TimeoutError:
            raise too_slow from None
        try:
            if not self._search_clock_set:
                await self._searcher.set_progress_handler(
                    self._search_clock.stop, _SEARCH_PROGRESS_STEPS
                )
                self._search_clock_set = True
        except BaseException:
            self._search_turn.release()
            raise
        # (In memory, a statement queued on the one connection before the search runs under
        # its clock too: a test's database, small enough never to meet it.)
        self._search_clock.deadline = deadline
        running = asyncio.ensure_future(self._searcher.execute_fetchall(sql, params))
        running.add_done_callback(self._search_done)
        try:
            return list(await asyncio.shield(running))
        except asyncio.CancelledError:
            # The statement goes on in the connection's thread: stop it at its next check;
            # the next search gets its turn when it has stopped (_search_done).
            self._search_clock.deadline = 0.0
            raise
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == _INTERRUPTED:
                raise too_slow from None
            if unavailable(exc):
                raise StorageUnavailable(f"the database cannot be read: {exc}") from exc
            raise

    def _search_done(self, running: asyncio.Future[Iterable[sqlite3.Row]]) -> None:
        self._search_clock.deadline = None
        self._search_turn.release()
        if not running.cancelled():
            # Read, so that the error of a search whose caller went away is not reported.
            running.exception()

    async def save_search(self, chat_id: int, query: str, now: float) -> int:
        async with self._transaction() as db:
            # A day is long enough for a "More" button to be tapped.
            await db.execute("DELETE FROM searches WHERE created_at < ?", (now - 86_400,))
            async with db.execute(
                "INSERT INTO searches (chat_id, query, created_at) VALUES (?, ?, ?) RETURNING id",
                (chat_id, query, now),
            ) as cursor:
                row = await cursor.fetchone()
        assert row is not None
        return int(row[0])

    async def get_search(self, search_id: int) -> tuple[int, str] | None:
        row = await self._read_one("SELECT chat_id, query FROM searches WHERE id = ?", (search_id,))
        return None if row is None else (int(row[0]), str(row[1]))

    # Reader settings

    async def chat_prefs(self, chat_ids: Sequence[int]) -> dict[int, ChatPrefs]:
        if not chat_ids:
            return {}
        rows = await self._read_all(
            """
            SELECT id, type, language, link_previews, delivery_mode, digest_hour, timezone,
                quiet_start, quiet_end, combine_bursts, title, username, active,
                (SELECT json_group_array(word) FROM
                    (SELECT word FROM mutes m WHERE m.chat_id = chats.id ORDER BY word)),
                pictures
            FROM chats WHERE id IN (SELECT value FROM json_each(?))
            """,
            (_json_list(chat_ids),),
        )
        return {
            row[0]: ChatPrefs(
                chat_id=row[0],
                type=row[1],
                settings=ChatSettings(
                    language=row[2],
                    link_previews=bool(row[3]),
                    mode=DeliveryMode(row[4]),
                    digest_hour=row[5],
                    timezone=row[6],
                    quiet_start=row[7],
                    quiet_end=row[8],
                    combine_bursts=bool(row[9]),
                    pictures=PictureMode(row[14]),
                ),
                muted=tuple(json.loads(row[13])),
                title=row[10],
                username=row[11],
                active=bool(row[12]),
            )
            for row in rows
        }

    async def save_chat_settings(self, chat_id: int, settings: ChatSettings) -> None:
        async with self._transaction() as db:
            await self._write_settings(db, chat_id, settings)

    @staticmethod
    async def _write_settings(
        db: aiosqlite.Connection, chat_id: int, settings: ChatSettings
    ) -> None:
        await db.execute(
            """
            UPDATE chats SET language = ?, link_previews = ?, delivery_mode = ?,
                digest_hour = ?, timezone = ?, quiet_start = ?, quiet_end = ?,
                combine_bursts = ?, pictures = ?, updated_at = ?
            WHERE id = ?
            """,
            (
                settings.language,
                settings.link_previews,
                settings.mode,
                settings.digest_hour,
                settings.timezone,
                settings.quiet_start,
                settings.quiet_end,
                settings.combine_bursts,
                settings.pictures,
                datetime.now(UTC).timestamp(),
                chat_id,
            ),
        )
        # Stories held for the old schedule are due again, to be held (or sent) anew.
        await db.execute(
            """
            UPDATE deliveries SET due_at = ?, held = 0
            WHERE chat_id = ? AND status = 'pending' AND held = 1 AND claimed_until IS NULL
            """,
            (datetime.now(UTC).timestamp(), chat_id),
        )

    async def mute(
        self, chat_id: int, words: Sequence[str], max_words: int, now: float
    ) -> list[str]:
        added: list[str] = []
        async with self._transaction() as db:
            async with db.execute("SELECT word FROM mutes WHERE chat_id = ?", (chat_id,)) as cursor:
                existing = {row[0] for row in await cursor.fetchall()}
            for word in words:
                if word in existing or len(existing) >= max_words:
                    continue
                await db.execute(
                    "INSERT INTO mutes (chat_id, word, created_at) VALUES (?, ?, ?)",
                    (chat_id, word, now),
                )
                existing.add(word)
                added.append(word)
        return added

    async def unmute(self, chat_id: int, words: Sequence[str]) -> list[str]:
        if not words:
            return []
        async with (
            self._transaction() as db,
            db.execute(
                "DELETE FROM mutes WHERE chat_id = ? AND word IN (SELECT value FROM json_each(?)) "
                "RETURNING word",
                (chat_id, _json_list(words)),
            ) as cursor,
        ):
            return sorted(row[0] for row in await cursor.fetchall())

    # Delivery outbox

    async def release_claims(self) -> int:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE deliveries SET claimed_until = NULL "
                "WHERE status = 'pending' AND claimed_until IS NOT NULL"
            )
            return cursor.rowcount

    async def claim_due(
        self, now: float, limit: int, lease: float, exclude_chats: Sequence[int] = ()
    ) -> list[PendingDelivery]:
        async with self._transaction() as db:
            async with db.execute(
                """
                UPDATE deliveries SET claimed_until = ?1
                WHERE id IN (
                    SELECT id FROM deliveries
                    WHERE status = 'pending' AND due_at <= ?2
                        AND (claimed_until IS NULL OR claimed_until <= ?2)
                        AND chat_id NOT IN (SELECT value FROM json_each(?4))
                    ORDER BY due_at, id
                    LIMIT ?3
                )
                RETURNING id, article_id, chat_id, attempts, due_at, thread_id, held
                """,
                (now + lease, now, limit, _json_list(exclude_chats)),
            ) as cursor:
                claimed = list(await cursor.fetchall())
            if not claimed:
                return []
            async with db.execute(
                "SELECT id, type FROM chats WHERE id IN (SELECT value FROM json_each(?))",
                (_json_list({row[2] for row in claimed}),),
            ) as cursor:
                chat_types: dict[int, str] = {row[0]: row[1] for row in await cursor.fetchall()}
        deliveries = [
            PendingDelivery(
                id=row[0],
                article_id=row[1],
                chat_id=row[2],
                chat_type=chat_types.get(row[2], "private"),
                attempts=row[3],
                due_at=row[4],
                thread_id=row[5],
                held=bool(row[6]),
            )
            for row in claimed
        ]
        deliveries.sort(key=lambda delivery: (delivery.due_at, delivery.id))
        return deliveries

    async def release_deliveries(self, delivery_ids: Sequence[int]) -> None:
        if not delivery_ids:
            return
        async with self._transaction() as db:
            await db.execute(
                "UPDATE deliveries SET claimed_until = NULL "
                "WHERE id IN (SELECT value FROM json_each(?))",
                (_json_list(delivery_ids),),
            )

    async def update_deliveries(self, updates: Sequence[DeliveryUpdate]) -> None:
        if not updates:
            return
        async with self._transaction() as db:
            await db.executemany(
                """
                UPDATE deliveries SET status = ?, attempts = ?, due_at = ?,
                    last_error = COALESCE(?, last_error),
                    finished_at = ?, claimed_until = CASE WHEN ? THEN NULL ELSE claimed_until END,
                    held = MAX(held, ?), message_id = COALESCE(?, message_id),
                    digest_kind = COALESCE(?, digest_kind),
                    digest_language = COALESCE(?, digest_language)
                WHERE id = ? AND status = 'pending'
                """,
                [
                    (
                        update.status,
                        update.attempts,
                        update.due_at,
                        update.error,
                        update.finished_at,
                        update.release,
                        update.held,
                        update.message_id,
                        update.digest_kind,
                        update.digest_language,
                        update.id,
                    )
                    for update in updates
                ],
            )

    async def next_due_at(self) -> float | None:
        row = await self._read_one(
            "SELECT MIN(due_at) FROM deliveries WHERE status = 'pending' AND claimed_until IS NULL"
        )
        return None if row is None or row[0] is None else float(row[0])

    async def record_instance(self, name: str, role: str, *, started_at: float, now: float) -> None:
        async with self._transaction() as db:
            await db.execute(
                """
                INSERT INTO instances (name, role, started_at, seen_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (name) DO UPDATE SET role = excluded.role, seen_at = excluded.seen_at
                """,
                (name, role, started_at, now),
            )
            await db.execute("DELETE FROM instances WHERE seen_at < ?", (now - INSTANCE_MEMORY,))

    async def instances(self, since: float) -> list[InstanceSeen]:
        rows = await self._read_all(
            "SELECT name, role, started_at, seen_at FROM instances WHERE seen_at >= ? "
            "ORDER BY role = 'leader' DESC, name",
            (since,),
        )
        return [InstanceSeen(row[0], row[1], row[2], row[3]) for row in rows]

    async def prune_deliveries(self, finished_before: float, batch: int = 10_000) -> int:
        removed = 0
        while True:
            async with self._transaction() as db:
                cursor = await db.execute(
                    """
                    DELETE FROM deliveries WHERE id IN (
                        SELECT id FROM deliveries
                        WHERE status != 'pending' AND finished_at < ? LIMIT ?
                    )
                    """,
                    (finished_before, batch),
                )
                count = cursor.rowcount
            removed += count
            if count < batch:
                return removed

    async def stats(self) -> Stats:
        row = await self._read_one(
            """
            SELECT
                (SELECT COUNT(*) FROM chats WHERE active = 1),
                (SELECT COUNT(*) FROM chats WHERE active = 0),
                (SELECT COUNT(*) FROM subscriptions),
                (SELECT COUNT(*) FROM articles),
                (SELECT COUNT(*) FROM deliveries WHERE status = 'pending'),
                (SELECT COUNT(*) FROM deliveries WHERE status = 'failed'),
                (SELECT COUNT(*) FROM deliveries WHERE status = 'sent'),
                (SELECT finished_at - created_at FROM deliveries
                 WHERE status = 'sent' ORDER BY finished_at DESC LIMIT 1)
            """
        )
        assert row is not None
        return Stats(
            chats_active=row[0],
            chats_inactive=row[1],
            subscriptions=row[2],
            stories=row[3],
            deliveries_pending=row[4],
            deliveries_failed=row[5],
            deliveries_sent=row[6],
            last_delivery_delay=row[7],
        )
