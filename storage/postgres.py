"""The PostgreSQL implementation of the Store, on an asyncpg connection pool.

It answers exactly as SqliteStore does (tests/storage runs one contract against both). Each
method is one transaction on a connection of the pool; reads are single statements. What
PostgreSQL changes underneath:

- several processes may write at once: outbox claims take rows `FOR UPDATE SKIP LOCKED`, a
  follow or a mute locks its chat's row, and ingest takes a transaction advisory lock so that
  batches go in one after another, as in SQLite;
- a server that restarts or a connection that drops is StorageUnavailable (one line saying
  why) for the operation that met it, and the pool opens new connections by itself
  (storage/postgres_pool.py);
- stories go in with one statement per chunk of a batch, the fan-out to followers is one
  INSERT … SELECT in the story's transaction, and a fan-out that queued deliveries sends
  `NOTIFY tagwire_outbox` with it, for engines that LISTEN (storage/postgres_ingest.py);
- /search reads FTS5's query language and finds what FTS5 finds, on a tsvector column with a
  GIN index (storage/postgres_search.py); the schema is storage/postgres_migrations.py.

The pool is the store's own; a process that needs a session of its own (a LISTEN, or the
delivery lease of storage/leases.py) opens a separate connection with `dsn`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]

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
    InstanceSeen,
    NewArticle,
    PendingDelivery,
    PictureMode,
    Stats,
    Tag,
    TagActivity,
)
from storage.postgres_alerts import PostgresAlertsMixin
from storage.postgres_corrections import PostgresCorrectionsMixin
from storage.postgres_ingest import OUTBOX_CHANNEL, SENDS_CHANNEL, IngestBatch
from storage.postgres_listen import OutboxWatcher
from storage.postgres_migrations import apply_migrations
from storage.postgres_newsroom import PostgresNewsroomMixin
from storage.postgres_operators import PostgresOperatorsMixin
from storage.postgres_pool import (
    POOL_MAX_SIZE,
    POOL_MIN_SIZE,
    PostgresConnections,
    Row,
    close_pool,
    create_pool,
    one_line,
    unavailable,
)
from storage.postgres_search import RANK_WEIGHTS, to_tsquery_text
from storage.sqlite_newsroom import UNRELEASED_LEFT_OUT
from storage.url import redact_url
from storage.words import FollowWords

__all__ = ["OUTBOX_CHANNEL", "PostgresStore"]

# SQLite's latest_for_chat merges at most this many followed tags; the same here.
_MAX_FOLLOWED_MERGED = 400
# Searches take at most this share of the pool's connections at once, so that however many
# readers search, the other reads always find a connection.
_SEARCH_SHARE_OF_POOL = 3

_TAG_COLUMNS = "t.id, t.name, t.key, t.story_count, t.follower_count"
# Each story's tag names come in the same row, in the order the story lists them.
_ARTICLE_COLUMNS = (
    "a.id, a.url, a.title, a.teaser, a.source, a.published_at, "
    "ARRAY(SELECT t.name FROM article_tags at2 JOIN tags t ON t.id = at2.tag_id "
    "WHERE at2.article_id = a.id ORDER BY at2.position), a.image"
)
# SQLite compares text byte by byte (BINARY); so does the "C" collation, whatever the
# database's own.
_C = 'COLLATE "C"'


def _tag(row: Row) -> Tag:
    return Tag(id=row[0], name=row[1], key=row[2], story_count=row[3], follower_count=row[4])


def _count(status: str) -> int:
    """The row count of a command status such as `UPDATE 3` or `INSERT 0 5`."""
    return int(status.rsplit(" ", 1)[-1])


def _limit(value: int) -> int | None:
    # SQLite takes a negative LIMIT as none, PostgreSQL wants NULL.
    return None if value < 0 else value


class PostgresStore(
    PostgresOperatorsMixin,
    PostgresCorrectionsMixin,
    PostgresNewsroomMixin,
    PostgresAlertsMixin,
    PostgresConnections,
    Store,
):
    # Several instances of the bot, and the operators' commands, use one database at once.
    shared = True

    def __init__(self, pool: asyncpg.Pool, dsn: str) -> None:
        super().__init__(pool, dsn)
        self._watcher: OutboxWatcher | None = None
        self._search_turns = asyncio.Semaphore(max(1, pool.get_max_size() // _SEARCH_SHARE_OF_POOL))

    @classmethod
    async def open(
        cls, dsn: str, *, min_size: int = POOL_MIN_SIZE, max_size: int = POOL_MAX_SIZE
    ) -> PostgresStore:
        """Connect, apply the migrations this database has not seen, and return the store;
        StorageUnavailable (one line, no password) when the server cannot be used."""
        pool = await create_pool(dsn, min_size=min_size, max_size=max_size)
        try:
            async with pool.acquire() as db:
                await apply_migrations(db)
        except BaseException as exc:
            await close_pool(pool)
            if unavailable(exc):
                raise StorageUnavailable(
                    f"cannot prepare the PostgreSQL database {redact_url(dsn)}: {one_line(exc)}"
                ) from None
            raise
        return cls(pool, dsn)

    async def close(self) -> None:
        await self.watch_outbox(None)
        await super().close()

    async def watch_outbox(
        self,
        wake: Callable[[], None] | None,
        sent_elsewhere: Callable[[str, int], None] | None = None,
    ) -> None:
        """Call `wake` whenever any process queues deliveries, and `sent_elsewhere` whenever an
        instance reports its sends (LISTEN on a connection of its own, see
        storage/postgres_listen.py); None stops."""
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None
        if wake is not None:
            self._watcher = OutboxWatcher(self.dsn, wake, sent_elsewhere)

    async def report_sends(self, instance: str, count: int) -> None:
        await self._read(
            "fetchval", "SELECT pg_notify($1, $2)", SENDS_CHANNEL, f"{instance} {count}"
        )

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

        async def body(db: asyncpg.Connection) -> None:
            await db.execute(
                """
                INSERT INTO chats
                    (id, type, title, username, language, active, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, TRUE, $6, $6)
                ON CONFLICT (id) DO UPDATE SET
                    type = EXCLUDED.type, title = EXCLUDED.title, username = EXCLUDED.username,
                    active = TRUE, inactive_reason = NULL, updated_at = EXCLUDED.updated_at
                """,
                chat_id,
                chat_type,
                title,
                username,
                language,
                now,
            )

        await self._write(body)
        return Chat(id=chat_id, type=chat_type, title=title, active=True, username=username)

    async def get_chat(self, chat_id: int) -> Chat | None:
        row = await self._fetchrow(
            "SELECT id, type, title, active, username FROM chats WHERE id = $1", chat_id
        )
        if row is None:
            return None
        return Chat(id=row[0], type=row[1], title=row[2], active=row[3], username=row[4])

    async def channels(self) -> list[Chat]:
        rows = await self._fetch(
            "SELECT id, type, title, active, username FROM chats "
            f"WHERE type = 'channel' AND active ORDER BY title {_C} NULLS FIRST, id"
        )
        return [
            Chat(id=row[0], type=row[1], title=row[2], active=row[3], username=row[4])
            for row in rows
        ]

    async def deactivate_chat(self, chat_id: int, reason: str, now: float) -> int:
        async def body(db: asyncpg.Connection) -> int:
            await db.execute(
                "UPDATE chats SET active = FALSE, inactive_reason = $1, updated_at = $2 "
                "WHERE id = $3",
                reason,
                now,
                chat_id,
            )
            status = await db.execute(
                """
                UPDATE deliveries
                SET status = $1, last_error = $2, finished_at = $3, claimed_until = NULL
                WHERE chat_id = $4 AND status = 'pending'
                """,
                DeliveryStatus.SKIPPED.value,
                reason,
                now,
                chat_id,
            )
            return _count(status)

        return await self._write(body)

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        if old_chat_id == new_chat_id:
            return
        now = datetime.now(UTC).timestamp()

        async def body(db: asyncpg.Connection) -> None:
            new_exists = await db.fetchval("SELECT 1 FROM chats WHERE id = $1", new_chat_id)
            if new_exists is None:
                # ON UPDATE CASCADE carries subscriptions, mutes and deliveries along.
                await db.execute(
                    """
                    UPDATE chats SET id = $1, type = 'supergroup', active = TRUE,
                        inactive_reason = NULL, updated_at = $2
                    WHERE id = $3
                    """,
                    new_chat_id,
                    now,
                    old_chat_id,
                )
                return
            await db.execute(
                """
                INSERT INTO subscriptions
                    (chat_id, thread_id, tag_id, created_at, only_words, skip_words)
                SELECT $1, thread_id, tag_id, created_at, only_words, skip_words
                FROM subscriptions WHERE chat_id = $2
                ON CONFLICT DO NOTHING
                """,
                new_chat_id,
                old_chat_id,
            )
            await db.execute(
                """
                INSERT INTO mutes (chat_id, word, created_at)
                SELECT $1, word, created_at FROM mutes WHERE chat_id = $2
                ON CONFLICT DO NOTHING
                """,
                new_chat_id,
                old_chat_id,
            )
            # SQLite's UPDATE OR IGNORE: a story the new chat has already stays with it.
            await db.execute(
                """
                UPDATE deliveries d SET chat_id = $1
                WHERE d.chat_id = $2 AND NOT EXISTS (
                    SELECT 1 FROM deliveries o
                    WHERE o.article_id = d.article_id AND o.chat_id = $1
                        AND o.thread_id = d.thread_id
                )
                """,
                new_chat_id,
                old_chat_id,
            )
            await db.execute(
                "UPDATE chats SET active = TRUE, inactive_reason = NULL, updated_at = $1 "
                "WHERE id = $2",
                now,
                new_chat_id,
            )
            await db.execute("DELETE FROM chats WHERE id = $1", old_chat_id)

        await self._write(body)

    # Tags and subscriptions

    async def find_tags(self, keys: Sequence[str]) -> dict[str, Tag]:
        if not keys:
            return {}
        rows = await self._fetch(
            f"SELECT {_TAG_COLUMNS} FROM tags t WHERE t.key = ANY($1::text[])", list(keys)
        )
        return {row[2]: _tag(row) for row in rows}

    async def get_tags(self, tag_ids: Sequence[int]) -> dict[int, Tag]:
        if not tag_ids:
            return {}
        rows = await self._fetch(
            f"SELECT {_TAG_COLUMNS} FROM tags t WHERE t.id = ANY($1::bigint[])", list(tag_ids)
        )
        return {row[0]: _tag(row) for row in rows}

    async def tag_names_like(self, key: str, limit: int) -> list[Tag]:
        if not key:
            return []
        escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = await self._fetch(
            f"""
            SELECT {_TAG_COLUMNS} FROM tags t
            WHERE t.story_count > 0 AND (
                substr(t.key, 1, 1) = substr($1, 1, 1)
                OR t.key LIKE '%' || $2 || '%' ESCAPE '\\'
            )
            ORDER BY t.story_count DESC, t.id
            LIMIT $3
            """,
            key,
            escaped,
            _limit(limit),
        )
        return [_tag(row) for row in rows]

    async def popular_tags(self, limit: int, since: float) -> list[TagActivity]:
        rows = await self._fetch(
            f"""
            SELECT {_TAG_COLUMNS},
                (SELECT COUNT(*) FROM article_tags at
                 WHERE at.tag_id = t.id AND at.published_at >= $1) AS recent
            FROM tags t
            WHERE t.story_count > 0 OR t.follower_count > 0
            ORDER BY recent DESC, t.follower_count DESC, t.story_count DESC, t.name {_C}
            LIMIT $2
            """,
            since,
            _limit(limit),
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
        only = (list(words.only) or None) if words is not None else None
        skip = (list(words.skip) or None) if words is not None else None

        async def body(db: asyncpg.Connection) -> list[FollowResult]:
            # One follow of a chat at a time, so that two at once cannot pass the limit.
            await db.execute("SELECT 1 FROM chats WHERE id = $1 FOR UPDATE", chat_id)
            count: int = await db.fetchval(
                "SELECT COUNT(*) FROM subscriptions WHERE chat_id = $1 AND thread_id = $2",
                chat_id,
                thread_id,
            )
            results: list[FollowResult] = []
            for name, key in tags:
                tag_row = await self._tag_with_subscription(db, chat_id, thread_id, key)
                if tag_row is None:
                    if count >= max_tags:
                        # Past the limit a new name creates nothing: it is only named back.
                        results.append(FollowResult(Tag(0, name, key, 0, 0), FollowOutcome.LIMIT))
                        continue
                    await db.execute(
                        "INSERT INTO tags (key, name, created_at) VALUES ($1, $2, $3) "
                        "ON CONFLICT (key) DO NOTHING",
                        key,
                        name,
                        now,
                    )
                    tag_row = await self._tag_with_subscription(db, chat_id, thread_id, key)
                assert tag_row is not None
                tag = _tag(tag_row)
                if tag_row[5] is not None:
                    if words is not None:
                        await db.execute(
                            "UPDATE subscriptions SET only_words = $4, skip_words = $5 "
                            "WHERE chat_id = $1 AND thread_id = $2 AND tag_id = $3",
                            chat_id,
                            thread_id,
                            tag.id,
                            only,
                            skip,
                        )
                    results.append(FollowResult(tag, FollowOutcome.ALREADY))
                elif count >= max_tags:
                    results.append(FollowResult(tag, FollowOutcome.LIMIT))
                else:
                    await db.execute(
                        "INSERT INTO subscriptions (chat_id, thread_id, tag_id, created_at, "
                        "only_words, skip_words) VALUES ($1, $2, $3, $4, $5, $6)",
                        chat_id,
                        thread_id,
                        tag.id,
                        now,
                        only,
                        skip,
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

        return await self._write(body)

    @staticmethod
    async def _tag_with_subscription(
        db: asyncpg.Connection, chat_id: int, thread_id: int, key: str
    ) -> Row | None:
        # Locked against a removal (_remove_unused_tags) until this transaction ends: one
        # under way is waited for, and then the tag is not found, to be created again.
        return await db.fetchrow(
            f"""
            SELECT {_TAG_COLUMNS}, s.chat_id FROM tags t
            LEFT JOIN subscriptions s
                ON s.tag_id = t.id AND s.chat_id = $1 AND s.thread_id = $2
            WHERE t.key = $3
            FOR KEY SHARE OF t
            """,
            chat_id,
            thread_id,
            key,
        )

    async def unfollow(self, chat_id: int, tag_ids: Sequence[int], thread_id: int = 0) -> list[Tag]:
        if not tag_ids:
            return []

        async def body(db: asyncpg.Connection) -> list[Tag]:
            await self._lock_removable_tags(
                db, "SELECT id FROM tags WHERE id = ANY($1::bigint[])", sorted(set(tag_ids))
            )
            removed = await db.fetch(
                """
                DELETE FROM subscriptions
                WHERE chat_id = $1 AND thread_id = $2 AND tag_id = ANY($3::bigint[])
                RETURNING tag_id
                """,
                chat_id,
                thread_id,
                list(tag_ids),
            )
            if not removed:
                return []
            rows = await db.fetch(
                f"SELECT {_TAG_COLUMNS} FROM tags t WHERE t.id = ANY($1::bigint[]) "
                f"ORDER BY t.name {_C}",
                [row[0] for row in removed],
            )
            await self._remove_unused_tags(db, [row[0] for row in removed])
            return [_tag(row) for row in rows]

        return await self._write(body)

    async def unfollow_all(self, chat_id: int, thread_id: int = 0) -> int:
        async def body(db: asyncpg.Connection) -> int:
            await self._lock_removable_tags(
                db,
                "SELECT tag_id FROM subscriptions WHERE chat_id = $1 AND thread_id = $2",
                chat_id,
                thread_id,
            )
            removed = await db.fetch(
                "DELETE FROM subscriptions WHERE chat_id = $1 AND thread_id = $2 RETURNING tag_id",
                chat_id,
                thread_id,
            )
            await self._remove_unused_tags(db, [row[0] for row in removed])
            return len(removed)

        return await self._write(body)

    @staticmethod
    async def _lock_removable_tags(db: asyncpg.Connection, ids_sql: str, *args: object) -> None:
        """Lock, in one order, the tags among those `ids_sql` selects that an unfollow may
        leave unused (those without stories: a story is never taken away), before anything
        else: a follow or a story taking one of them meanwhile waits (storage/
        postgres_ingest.py locks the tags it uses), rather than locking it first and then
        waiting on this transaction's update of its follower count, a deadlock."""
        await db.execute(
            f"SELECT 1 FROM tags WHERE id IN ({ids_sql}) AND story_count = 0 "
            "ORDER BY id FOR UPDATE",
            *args,
        )

    @staticmethod
    async def _remove_unused_tags(db: asyncpg.Connection, tag_ids: Sequence[int]) -> None:
        """Remove the tags among `tag_ids` that have no story and no follower left, so that
        following and unfollowing new names never grows the database. (Ids come from a
        sequence: none is ever given again, as SQLite needs the newest tag kept for.)

        The counters are columns of the row, so a follow or a story that takes the tag
        meanwhile (their transactions update it) makes this statement wait, then see it in
        use and keep it."""
        if not tag_ids:
            return
        await db.execute(
            """
            DELETE FROM tags t
            WHERE t.id = ANY($1::bigint[]) AND t.story_count = 0 AND t.follower_count = 0
                AND NOT EXISTS (SELECT 1 FROM article_tags at WHERE at.tag_id = t.id)
            """,
            sorted(set(tag_ids)),
        )

    async def followed_tags(self, chat_id: int, thread_id: int = 0) -> list[Tag]:
        rows = await self._fetch(
            f"""
            SELECT {_TAG_COLUMNS} FROM subscriptions s JOIN tags t ON t.id = s.tag_id
            WHERE s.chat_id = $1 AND s.thread_id = $2 ORDER BY t.key {_C}
            """,
            chat_id,
            thread_id,
        )
        return [_tag(row) for row in rows]

    async def follows(self, chat_id: int, thread_id: int = 0) -> list[Follow]:
        rows = await self._fetch(
            f"""
            SELECT {_TAG_COLUMNS}, s.only_words, s.skip_words
            FROM subscriptions s JOIN tags t ON t.id = s.tag_id
            WHERE s.chat_id = $1 AND s.thread_id = $2 ORDER BY t.key {_C}
            """,
            chat_id,
            thread_id,
        )
        return [
            Follow(_tag(row), FollowWords(tuple(row[5] or ()), tuple(row[6] or ()))) for row in rows
        ]

    async def set_follow_words(
        self, chat_id: int, tag_id: int, words: FollowWords, thread_id: int = 0
    ) -> bool:
        async def body(db: asyncpg.Connection) -> bool:
            status = await db.execute(
                "UPDATE subscriptions SET only_words = $4, skip_words = $5 "
                "WHERE chat_id = $1 AND thread_id = $2 AND tag_id = $3",
                chat_id,
                thread_id,
                tag_id,
                list(words.only) or None,
                list(words.skip) or None,
            )
            return _count(status) > 0

        return await self._write(body)

    async def all_follows(self, chat_id: int) -> list[tuple[int, Follow]]:
        rows = await self._fetch(
            f"""
            SELECT {_TAG_COLUMNS}, s.only_words, s.skip_words, s.thread_id
            FROM subscriptions s JOIN tags t ON t.id = s.tag_id
            WHERE s.chat_id = $1 ORDER BY s.thread_id, t.key {_C}
            """,
            chat_id,
        )
        return [
            (row[7], Follow(_tag(row), FollowWords(tuple(row[5] or ()), tuple(row[6] or ()))))
            for row in rows
        ]

    async def import_chat(self, chat_id: int, setup: ChatSetup, now: float) -> None:
        async def body(db: asyncpg.Connection) -> None:
            # One change of a chat's follows at a time (as follow() and mute() take it).
            await db.execute("SELECT 1 FROM chats WHERE id = $1 FOR UPDATE", chat_id)
            await self._lock_removable_tags(
                db, "SELECT tag_id FROM subscriptions WHERE chat_id = $1", chat_id
            )
            removed = await db.fetch(
                "DELETE FROM subscriptions WHERE chat_id = $1 RETURNING tag_id", chat_id
            )
            for follow in setup.follows:
                await db.execute(
                    "INSERT INTO tags (key, name, created_at) VALUES ($1, $2, $3) "
                    "ON CONFLICT (key) DO NOTHING",
                    follow.key,
                    follow.name,
                    now,
                )
                tag_row = await self._tag_with_subscription(
                    db, chat_id, follow.thread_id, follow.key
                )
                assert tag_row is not None
                await db.execute(
                    "INSERT INTO subscriptions (chat_id, thread_id, tag_id, created_at, "
                    "only_words, skip_words) VALUES ($1, $2, $3, $4, $5, $6) "
                    "ON CONFLICT DO NOTHING",
                    chat_id,
                    follow.thread_id,
                    tag_row[0],
                    now,
                    list(follow.words.only) or None,
                    list(follow.words.skip) or None,
                )
            await self._remove_unused_tags(db, [row[0] for row in removed])
            await db.execute("DELETE FROM mutes WHERE chat_id = $1", chat_id)
            await db.executemany(
                "INSERT INTO mutes (chat_id, word, created_at) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                [(chat_id, word, now) for word in setup.muted],
            )
            await self._write_settings(db, chat_id, setup.settings)

        await self._write(body)

    # Stories

    async def add_articles(
        self, articles: Sequence[NewArticle], *, notify: bool, now: float
    ) -> list[IngestResult]:
        if not articles:
            return []
        batch = IngestBatch(articles)

        async def body(db: asyncpg.Connection) -> list[IngestResult]:
            return await batch.store(db, notify=notify, now=now)

        return await self._write(body)

    async def latest_articles(self, tag_id: int, limit: int) -> list[Article]:
        rows = await self._fetch(
            f"""
            SELECT {_ARTICLE_COLUMNS}
            FROM article_tags at JOIN articles a ON a.id = at.article_id
            WHERE at.tag_id = $1
            ORDER BY at.published_at DESC, at.article_id DESC
            LIMIT $2
            """,
            tag_id,
            _limit(limit),
        )
        return _articles(rows)

    async def latest_for_chat(self, chat_id: int, limit: int, thread_id: int = 0) -> list[Article]:
        # One small index read per followed tag (a LATERAL join), merged: the same cost
        # whatever the number of stories each tag has.
        rows = await self._fetch(
            f"""
            WITH followed AS (
                SELECT tag_id FROM subscriptions WHERE chat_id = $1 AND thread_id = $2 LIMIT $4
            ), newest AS (
                SELECT DISTINCT n.article_id, n.published_at
                FROM followed f CROSS JOIN LATERAL (
                    SELECT article_id, published_at FROM article_tags
                    WHERE tag_id = f.tag_id
                    ORDER BY published_at DESC, article_id DESC
                    LIMIT $3
                ) n
            )
            SELECT {_ARTICLE_COLUMNS}
            FROM newest JOIN articles a ON a.id = newest.article_id
            ORDER BY newest.published_at DESC, newest.article_id DESC
            LIMIT $3
            """,
            chat_id,
            thread_id,
            _limit(limit),
            _MAX_FOLLOWED_MERGED,
        )
        return _articles(rows)

    async def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]:
        if not article_ids:
            return {}
        rows = await self._fetch(
            f"SELECT {_ARTICLE_COLUMNS} FROM articles a WHERE a.id = ANY($1::bigint[])",
            list(article_ids),
        )
        return {article.id: article for article in _articles(rows)}

    async def search(self, query: str, limit: int, offset: int = 0) -> list[Article]:
        tsquery = to_tsquery_text(query)
        if tsquery is None:
            return []
        allowed = self.search_time_limit
        deadline = time.monotonic() + allowed
        too_slow = SearchTooSlow(f"the search took more than {allowed:g} s")
        try:
            async with asyncio.timeout(allowed):
                await self._search_turns.acquire()
        except TimeoutError:
            raise too_slow from None
        try:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise too_slow
            rows = await self._read(
                "fetch",
                f"""
                SELECT {_ARTICLE_COLUMNS}
                FROM articles a
                WHERE a.search @@ $1::tsquery AND {UNRELEASED_LEFT_OUT}
                    AND a.retracted_at IS NULL
                ORDER BY ts_rank($4::real[], a.search, $1::tsquery, 1) DESC,
                    a.published_at DESC, a.id DESC
                LIMIT $2 OFFSET $3
                """,
                tsquery,
                _limit(limit),
                max(offset, 0),
                RANK_WEIGHTS,
                time_limit=remaining,
            )
        except asyncpg.exceptions.QueryCanceledError:
            raise too_slow from None
        except (asyncpg.exceptions.PostgresSyntaxError, asyncpg.exceptions.DataError) as exc:
            # The tsquery is built here from parsed words: what PostgreSQL still refuses in it
            # is the query's fault, never the database's.
            raise InvalidSearch(one_line(exc)[:200]) from None
        finally:
            self._search_turns.release()
        return _articles(rows)

    async def save_search(self, chat_id: int, query: str, now: float) -> int:
        async def body(db: asyncpg.Connection) -> int:
            # A day is long enough for a "More" button to be tapped.
            await db.execute("DELETE FROM searches WHERE created_at < $1", now - 86_400)
            search_id: int = await db.fetchval(
                "INSERT INTO searches (chat_id, query, created_at) VALUES ($1, $2, $3) "
                "RETURNING id",
                chat_id,
                query,
                now,
            )
            return search_id

        return await self._write(body)

    async def get_search(self, search_id: int) -> tuple[int, str] | None:
        row = await self._fetchrow("SELECT chat_id, query FROM searches WHERE id = $1", search_id)
        return None if row is None else (int(row[0]), str(row[1]))

    # Reader settings

    async def chat_prefs(self, chat_ids: Sequence[int]) -> dict[int, ChatPrefs]:
        if not chat_ids:
            return {}
        rows = await self._fetch(
            f"""
            SELECT id, type, language, link_previews, delivery_mode, digest_hour, timezone,
                quiet_start, quiet_end, combine_bursts, title, username, active,
                ARRAY(SELECT word FROM mutes m WHERE m.chat_id = chats.id ORDER BY word {_C}),
                pictures
            FROM chats WHERE id = ANY($1::bigint[])
            """,
            list(chat_ids),
        )
        return {
            row[0]: ChatPrefs(
                chat_id=row[0],
                type=row[1],
                settings=ChatSettings(
                    language=row[2],
                    link_previews=row[3],
                    mode=DeliveryMode(row[4]),
                    digest_hour=row[5],
                    timezone=row[6],
                    quiet_start=row[7],
                    quiet_end=row[8],
                    combine_bursts=row[9],
                    pictures=PictureMode(row[14]),
                ),
                muted=tuple(row[13]),
                title=row[10],
                username=row[11],
                active=row[12],
            )
            for row in rows
        }

    async def save_chat_settings(self, chat_id: int, settings: ChatSettings) -> None:
        async def body(db: asyncpg.Connection) -> None:
            await self._write_settings(db, chat_id, settings)

        await self._write(body)

    @staticmethod
    async def _write_settings(db: asyncpg.Connection, chat_id: int, settings: ChatSettings) -> None:
        now = datetime.now(UTC).timestamp()
        await db.execute(
            """
            UPDATE chats SET language = $1, link_previews = $2, delivery_mode = $3,
                digest_hour = $4, timezone = $5, quiet_start = $6, quiet_end = $7,
                combine_bursts = $8, updated_at = $9, pictures = $11
            WHERE id = $10
            """,
            settings.language,
            bool(settings.link_previews),
            str(settings.mode),
            settings.digest_hour,
            settings.timezone,
            settings.quiet_start,
            settings.quiet_end,
            bool(settings.combine_bursts),
            now,
            chat_id,
            str(settings.pictures),
        )
        # Stories held for the old schedule are due again, to be held (or sent) anew.
        await db.execute(
            """
            UPDATE deliveries SET due_at = $1, held = FALSE
            WHERE chat_id = $2 AND status = 'pending' AND held AND claimed_until IS NULL
            """,
            now,
            chat_id,
        )

    async def mute(
        self, chat_id: int, words: Sequence[str], max_words: int, now: float
    ) -> list[str]:
        async def body(db: asyncpg.Connection) -> list[str]:
            # One change of a chat's words at a time, so that two cannot pass the limit.
            await db.execute("SELECT 1 FROM chats WHERE id = $1 FOR UPDATE", chat_id)
            rows = await db.fetch("SELECT word FROM mutes WHERE chat_id = $1", chat_id)
            existing = {row[0] for row in rows}
            added: list[str] = []
            for word in words:
                if word in existing or len(existing) >= max_words:
                    continue
                await db.execute(
                    "INSERT INTO mutes (chat_id, word, created_at) VALUES ($1, $2, $3)",
                    chat_id,
                    word,
                    now,
                )
                existing.add(word)
                added.append(word)
            return added

        return await self._write(body)

    async def unmute(self, chat_id: int, words: Sequence[str]) -> list[str]:
        if not words:
            return []

        async def body(db: asyncpg.Connection) -> list[str]:
            rows = await db.fetch(
                "DELETE FROM mutes WHERE chat_id = $1 AND word = ANY($2::text[]) RETURNING word",
                chat_id,
                list(words),
            )
            return sorted(row[0] for row in rows)

        return await self._write(body)

    # Delivery outbox

    async def release_claims(self) -> int:
        async def body(db: asyncpg.Connection) -> int:
            return _count(
                await db.execute(
                    "UPDATE deliveries SET claimed_until = NULL "
                    "WHERE status = 'pending' AND claimed_until IS NOT NULL"
                )
            )

        return await self._write(body)

    async def claim_due(
        self, now: float, limit: int, lease: float, exclude_chats: Sequence[int] = ()
    ) -> list[PendingDelivery]:
        async def body(db: asyncpg.Connection) -> list[Row]:
            # Rows another worker is claiming right now are passed over, not waited for.
            rows: list[Row] = await db.fetch(
                """
                WITH due AS (
                    SELECT id FROM deliveries
                    WHERE status = 'pending' AND due_at <= $2
                        AND (claimed_until IS NULL OR claimed_until <= $2)
                        AND NOT (chat_id = ANY($4::bigint[]))
                    ORDER BY due_at, id
                    LIMIT $3
                    FOR UPDATE SKIP LOCKED
                )
                UPDATE deliveries d SET claimed_until = $1
                FROM due WHERE d.id = due.id
                RETURNING d.id, d.article_id, d.chat_id, d.attempts, d.due_at, d.thread_id,
                    d.held, (SELECT c.type FROM chats c WHERE c.id = d.chat_id)
                """,
                now + lease,
                now,
                _limit(limit),
                list(exclude_chats),
            )
            return rows

        claimed = await self._write(body)
        deliveries = [
            PendingDelivery(
                id=row[0],
                article_id=row[1],
                chat_id=row[2],
                chat_type=row[7] or "private",
                attempts=row[3],
                due_at=row[4],
                thread_id=row[5],
                held=row[6],
            )
            for row in claimed
        ]
        deliveries.sort(key=lambda delivery: (delivery.due_at, delivery.id))
        return deliveries

    async def release_deliveries(self, delivery_ids: Sequence[int]) -> None:
        if not delivery_ids:
            return

        async def body(db: asyncpg.Connection) -> None:
            await db.execute(
                "UPDATE deliveries SET claimed_until = NULL WHERE id = ANY($1::bigint[])",
                list(delivery_ids),
            )

        await self._write(body)

    async def update_deliveries(self, updates: Sequence[DeliveryUpdate]) -> None:
        if not updates:
            return

        async def body(db: asyncpg.Connection) -> None:
            await db.executemany(
                """
                UPDATE deliveries SET status = $1, attempts = $2, due_at = $3,
                    last_error = COALESCE($4, last_error), finished_at = $5,
                    claimed_until = CASE WHEN $6 THEN NULL ELSE claimed_until END,
                    held = held OR $7, message_id = COALESCE($9, message_id),
                    digest_kind = COALESCE($10, digest_kind),
                    digest_language = COALESCE($11, digest_language)
                WHERE id = $8 AND status = 'pending'
                """,
                [
                    (
                        str(update.status),
                        update.attempts,
                        update.due_at,
                        update.error,
                        update.finished_at,
                        bool(update.release),
                        bool(update.held),
                        update.id,
                        update.message_id,
                        update.digest_kind,
                        update.digest_language,
                    )
                    for update in updates
                ],
            )

        await self._write(body)

    async def next_due_at(self) -> float | None:
        row = await self._fetchrow(
            "SELECT MIN(due_at) FROM deliveries WHERE status = 'pending' AND claimed_until IS NULL"
        )
        return None if row is None or row[0] is None else float(row[0])

    async def record_instance(self, name: str, role: str, *, started_at: float, now: float) -> None:
        async def body(db: asyncpg.Connection) -> None:
            await db.execute(
                """
                INSERT INTO instances (name, role, started_at, seen_at) VALUES ($1, $2, $3, $4)
                ON CONFLICT (name) DO UPDATE SET role = excluded.role, seen_at = excluded.seen_at
                """,
                name,
                role,
                started_at,
                now,
            )
            await db.execute("DELETE FROM instances WHERE seen_at < $1", now - INSTANCE_MEMORY)

        await self._write(body)

    async def instances(self, since: float) -> list[InstanceSeen]:
        rows = await self._fetch(
            "SELECT name, role, started_at, seen_at FROM instances WHERE seen_at >= $1 "
            f"ORDER BY role = 'leader' DESC, name {_C}",
            since,
        )
        return [InstanceSeen(row[0], row[1], row[2], row[3]) for row in rows]

    async def prune_deliveries(self, finished_before: float, batch: int = 10_000) -> int:
        removed = 0
        while True:

            async def body(db: asyncpg.Connection) -> int:
                return _count(
                    await db.execute(
                        """
                        DELETE FROM deliveries WHERE id IN (
                            SELECT id FROM deliveries
                            WHERE status != 'pending' AND finished_at < $1 LIMIT $2
                        )
                        """,
                        finished_before,
                        batch,
                    )
                )

            count = await self._write(body)
            removed += count
            if count < batch:
                return removed

    async def stats(self) -> Stats:
        row = await self._fetchrow(
            """
            SELECT
                (SELECT COUNT(*) FROM chats WHERE active),
                (SELECT COUNT(*) FROM chats WHERE NOT active),
                (SELECT COUNT(*) FROM subscriptions),
                (SELECT COUNT(*) FROM articles),
                (SELECT COUNT(*) FROM deliveries WHERE status = 'pending'),
                (SELECT COUNT(*) FROM deliveries WHERE status = 'failed'),
                (SELECT COUNT(*) FROM deliveries WHERE status = 'sent'),
                (SELECT finished_at - created_at FROM deliveries
                 WHERE status = 'sent' ORDER BY finished_at DESC NULLS LAST LIMIT 1)
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


def _articles(rows: Sequence[Row]) -> list[Article]:
    return [
        Article(
            id=row[0],
            url=row[1],
            title=row[2],
            teaser=row[3],
            source=row[4],
            published_at=datetime.fromtimestamp(row[5], UTC),
            tags=tuple(row[6]),
            image=row[7],
        )
        for row in rows
    ]
