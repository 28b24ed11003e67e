"""Stories into PostgreSQL: a batch written with one statement per chunk of stories (the
stories, their tags, their tags' counts), then the fan-out to followers, in the transaction
PostgresStore.add_articles opens.

Every ingest takes a transaction advisory lock first, so that batches go in one after another
as in SQLite: ids follow the order of the input, and two batches sharing tags never deadlock.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Sequence

import asyncpg  # type: ignore[import-untyped]

from storage.models import IngestResult, IngestStatus, NewArticle
from storage.postgres_pool import Row
from storage.postgres_search import search_vector
from storage.sqlite_newsroom import tags_column
from storage.words import StoryText

# Transaction advisory lock taken by every ingest (see storage/postgres_migrations.py for the
# namespace of keys).
INGEST_LOCK = 0x7461677769726502
# Sent in the transaction of a fan-out that queued deliveries: `LISTEN tagwire_outbox` wakes a
# delivery engine at once instead of at its next poll.
OUTBOX_CHANNEL = "tagwire_outbox"
# Replies sent by an instance, `<instance name> <count>`: the leader's deliveries make room.
SENDS_CHANNEL = "tagwire_sends"


def _id_array(ids: Iterable[int]) -> str:
    """An array of ids as PostgreSQL writes it, e.g. {1,2,3}."""
    return "{" + ",".join(map(str, ids)) + "}"


# Stories, their tags and their tags' counts in one statement over arrays.
# A scheduled story (`publish_at` set) gets its articles row and its schedules row; its tags'
# rows and counts wait for its release (storage/postgres_newsroom.py).
_INSERT_STORIES = """
WITH stories AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[],
        $6::tsvector[], $7::text[], $9::text[], $10::float8[], $11::text[])
        WITH ORDINALITY
        AS u(url, title, teaser, source, published_at, search, tag_ids, image, publish_at,
            held_tags, n)
), inserted AS (
    INSERT INTO articles (url, title, teaser, source, published_at, created_at, search, image)
    SELECT url, title, teaser, source, published_at, $8, search, image FROM stories ORDER BY n
    RETURNING id, url, published_at
), held AS (
    INSERT INTO schedules (article_id, publish_at, tags, notify, created_at)
    SELECT i.id, s.publish_at, s.held_tags, $12, $8
    FROM inserted i JOIN stories s ON s.url = i.url
    WHERE s.publish_at IS NOT NULL
), linked AS (
    INSERT INTO article_tags (tag_id, published_at, article_id, position)
    SELECT t.tag_id, i.published_at, i.id, t.position - 1
    FROM inserted i JOIN stories s ON s.url = i.url AND s.publish_at IS NULL
    CROSS JOIN LATERAL unnest(s.tag_ids::bigint[]) WITH ORDINALITY AS t(tag_id, position)
    RETURNING tag_id, published_at
), counted AS (
    UPDATE tags t SET story_count = t.story_count + c.stories,
        last_story_at = GREATEST(COALESCE(t.last_story_at, 0), c.latest)
    FROM (
        SELECT tag_id, COUNT(*) AS stories, MAX(published_at) AS latest
        FROM linked GROUP BY tag_id
    ) c
    WHERE t.id = c.tag_id
)
SELECT id, url FROM inserted
"""
# Stories a statement: while the server writes one chunk, the next one's search vectors are
# worked out here (the two halves of the work overlap, on two cores).
_CHUNK = 1_000


class IngestBatch:
    """A batch of stories, written with one statement per chunk of stories (and one each to
    find the known ones and the tags)."""

    def __init__(self, articles: Sequence[NewArticle]) -> None:
        self.articles = articles
        # A URL twice in one batch is stored once; the second is its duplicate.
        self.unique: dict[str, NewArticle] = {}
        for article in articles:
            self.unique.setdefault(article.url, article)

    async def store(
        self, db: asyncpg.Connection, *, notify: bool, now: float
    ) -> list[IngestResult]:
        await db.execute("SELECT pg_advisory_xact_lock($1)", INGEST_LOCK)
        urls = list(self.unique)
        known = await db.fetch(
            "SELECT a.url, a.id FROM unnest($1::text[]) AS u(url) "
            "JOIN articles a ON md5(a.url) = md5(u.url) AND a.url = u.url",
            urls,
        )
        ids: dict[str, int] = {row[0]: row[1] for row in known}
        fresh = [self.unique[url] for url in urls if url not in ids]
        created: set[int] = set()
        recipients: Counter[int] = Counter()
        if fresh:
            # A scheduled story waits, in no tag's list and no outbox, until it is released.
            going = [article for article in fresh if article.publish_at is None]
            tag_ids = await self._tag_ids(db, going, now) if going else {}
            for row in await self._insert(db, fresh, tag_ids, now, notify=notify):
                ids[row[1]] = row[0]
                created.add(row[0])
            if notify and going:
                recipients = await self._fan_out(db, [(ids[a.url], a) for a in going], now)
            if len(going) < len(fresh):
                # The leader sleeps until the next scheduled story is due: wake it to look.
                await db.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
        results = []
        seen: set[str] = set()
        for article in self.articles:
            article_id = ids[article.url]
            new = article_id in created and article.url not in seen
            seen.add(article.url)
            results.append(
                IngestResult(
                    url=article.url,
                    article_id=article_id,
                    status=IngestStatus.CREATED if new else IngestStatus.DUPLICATE,
                    recipients=recipients.get(article_id, 0) if new else 0,
                    publish_at=(
                        article.publish_at.timestamp()
                        if new and article.publish_at is not None
                        else None
                    ),
                )
            )
        return results

    @staticmethod
    async def _insert(
        db: asyncpg.Connection,
        fresh: Sequence[NewArticle],
        tag_ids: dict[str, int],
        now: float,
        *,
        notify: bool,
    ) -> list[Row]:
        chunks = [fresh[start : start + _CHUNK] for start in range(0, len(fresh), _CHUNK)]
        vectors = [search_vector(a.title, a.teaser) for a in chunks[0]]
        inserted: list[Row] = []
        for index, chunk in enumerate(chunks):
            arrays = (
                [a.url for a in chunk],
                [a.title for a in chunk],
                [a.teaser for a in chunk],
                [a.source for a in chunk],
                [a.published_at.timestamp() for a in chunk],
                vectors,
                [
                    _id_array(tag_ids[key] for _, key in a.tags) if a.publish_at is None else "{}"
                    for a in chunk
                ],
            )
            statement: asyncio.Task[list[Row]] = asyncio.create_task(
                db.fetch(
                    _INSERT_STORIES,
                    *arrays,
                    now,
                    [a.image for a in chunk],
                    [None if a.publish_at is None else a.publish_at.timestamp() for a in chunk],
                    [None if a.publish_at is None else tags_column(a.tags) for a in chunk],
                    notify,
                )
            )
            try:
                if index + 1 < len(chunks):
                    # Let the statement go out, then work while the server does.
                    await asyncio.sleep(0)
                    vectors = [search_vector(a.title, a.teaser) for a in chunks[index + 1]]
            except BaseException:
                statement.cancel()
                raise
            inserted.extend(await statement)
        return inserted

    @staticmethod
    async def _tag_ids(
        db: asyncpg.Connection, fresh: Sequence[NewArticle], now: float
    ) -> dict[str, int]:
        """The id of every tag of `fresh`, creating the unknown ones. A tag first created by
        someone following it takes the spelling of its first story."""
        spellings: dict[str, str] = {}
        for article in fresh:
            for name, key in article.tags:
                spellings.setdefault(key, name)
        # Sorted, so that two transactions creating the same tags lock them in one order.
        keys = sorted(spellings)
        # Locked against the removal of an unused tag (an unfollow) until the stories are in:
        # one under way is waited for, and then the tag is created again.
        rows = await db.fetch(
            "SELECT key, id, name, story_count FROM tags WHERE key = ANY($1::text[]) "
            "ORDER BY key FOR KEY SHARE",
            keys,
        )
        tag_ids: dict[str, int] = {row[0]: row[1] for row in rows}
        respell = [
            (row[1], spellings[row[0]])
            for row in rows
            if row[3] == 0 and row[2] != spellings[row[0]]
        ]
        missing = [key for key in keys if key not in tag_ids]
        if missing:
            # Read before insert: an INSERT … ON CONFLICT would use up an id for every tag
            # that exists already.
            created = await db.fetch(
                """
                INSERT INTO tags (key, name, created_at)
                SELECT u.key, u.name, $3 FROM unnest($1::text[], $2::text[]) AS u(key, name)
                ON CONFLICT (key) DO NOTHING
                RETURNING key, id
                """,
                missing,
                [spellings[key] for key in missing],
                now,
            )
            tag_ids.update((row[0], row[1]) for row in created)
            if len(tag_ids) < len(keys):
                # Created meanwhile by a follow in another transaction.
                rows = await db.fetch(
                    "SELECT key, id FROM tags WHERE key = ANY($1::text[]) FOR KEY SHARE",
                    [key for key in keys if key not in tag_ids],
                )
                tag_ids.update((row[0], row[1]) for row in rows)
        if respell:
            await db.execute(
                "UPDATE tags t SET name = u.name "
                "FROM unnest($1::bigint[], $2::text[]) AS u(id, name) "
                "WHERE t.id = u.id AND t.story_count = 0",
                [tag_id for tag_id, _ in respell],
                [name for _, name in respell],
            )
        return tag_ids

    @staticmethod
    async def _fan_out(
        db: asyncpg.Connection, fresh: Sequence[tuple[int, NewArticle]], now: float
    ) -> Counter[int]:
        """One delivery per (story, following chat), however many of its tags the chat follows
        and whichever of those follows let it through (the UNIQUE key keeps it to one).

        The follows with words (a few) are read and checked here first, each story's text
        prepared once (storage/words.py); then one INSERT … SELECT queues the follows without
        words and those that passed, counted as it goes in."""
        article_ids = [article_id for article_id, _ in fresh]
        worded = await db.fetch(
            """
            SELECT at.article_id, s.chat_id, s.thread_id, s.only_words, s.skip_words
            FROM article_tags at
            JOIN subscriptions s ON s.tag_id = at.tag_id
            JOIN chats c ON c.id = s.chat_id
            WHERE c.active AND at.article_id = ANY($1::bigint[])
                AND (s.only_words IS NOT NULL OR s.skip_words IS NOT NULL)
            """,
            article_ids,
        )
        passing: set[tuple[int, int, int]] = set()
        if worded:
            texts = {i: StoryText(article.title, article.teaser) for i, article in fresh}
            passing = {
                (row[0], row[1], row[2])
                for row in worded
                if texts[row[0]].lets_through(row[3] or (), row[4] or ())
            }
        ordered = sorted(passing)
        rows = await db.fetch(
            """
            WITH queued AS (
                INSERT INTO deliveries (article_id, chat_id, thread_id, due_at, created_at)
                SELECT DISTINCT q.article_id, q.chat_id, q.thread_id, $1::float8, $1::float8
                FROM (
                    SELECT at.article_id, s.chat_id, s.thread_id
                    FROM article_tags at
                    JOIN subscriptions s ON s.tag_id = at.tag_id
                    JOIN chats c ON c.id = s.chat_id
                    WHERE c.active AND at.article_id = ANY($2::bigint[])
                        AND s.only_words IS NULL AND s.skip_words IS NULL
                    UNION ALL
                    SELECT * FROM unnest($3::bigint[], $4::bigint[], $5::bigint[])
                ) AS q (article_id, chat_id, thread_id)
                ORDER BY q.article_id
                RETURNING article_id
            )
            SELECT article_id, COUNT(*) FROM queued GROUP BY article_id
            """,
            now,
            article_ids,
            [key[0] for key in ordered],
            [key[1] for key in ordered],
            [key[2] for key in ordered],
        )
        counts = Counter({row[0]: int(row[1]) for row in rows})
        if counts:
            await db.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
        return counts
