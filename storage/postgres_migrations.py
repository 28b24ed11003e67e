"""The PostgreSQL schema: the same named migrations as SQLite's (storage/migrations.py), each
in PostgreSQL's dialect, recorded in a `migrations` table and applied once in a transaction.

Starters racing (two instances, or `tagwire push` beside the bot) take a session advisory lock
first, so one migrates while the other waits and then finds nothing left to do.

What differs from SQLite, on purpose:
- times stay Unix seconds (DOUBLE PRECISION, like SQLite's REAL), flags are BOOLEAN;
- a URL is unique by its md5: a btree entry holds at most ~2.7 kB, and a URL may have 2048
  characters of up to four bytes each;
- full-text search is a `search` tsvector column beside the title and teaser with a GIN index,
  written by the store from the words as FTS5 reads them (storage/postgres_search.py), where
  SQLite has an FTS5 table kept by triggers;
- a rebuilt table (SQLite cannot change a primary key) is an ALTER TABLE here.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg  # type: ignore[import-untyped]

from storage.migrations import refuse_newer
from storage.postgres_search import search_vector

# Advisory locks share one bigint namespace per database: tagwire's keys are "tagwire" in
# ASCII followed by one byte: 00 the delivery lease (storage/leases.py), 01 migrations (a
# session lock, here), 02 ingest (a transaction lock, storage/postgres.py).
MIGRATION_LOCK = 0x7461677769726501

# Articles re-indexed per statement when a migration builds the search column.
_BACKFILL_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class PostgresMigration:
    name: str
    statements: tuple[str, ...]
    # Work that SQL alone cannot do, run after the statements in the same transaction.
    then: Callable[[asyncpg.Connection], Awaitable[None]] | None = None


async def _index_existing_articles(db: asyncpg.Connection) -> None:
    """Fill the search column of the articles stored before it existed."""
    last = 0
    while True:
        rows = await db.fetch(
            "SELECT id, title, teaser FROM articles WHERE id > $1 ORDER BY id LIMIT $2",
            last,
            _BACKFILL_BATCH,
        )
        if not rows:
            return
        await db.execute(
            "UPDATE articles a SET search = u.search "
            "FROM unnest($1::bigint[], $2::tsvector[]) AS u(id, search) WHERE a.id = u.id",
            [row[0] for row in rows],
            [search_vector(row[1], row[2]) for row in rows],
        )
        last = rows[-1][0]


_FOLLOWER_COUNT = """
CREATE FUNCTION tagwire_count_followers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tags SET follower_count = follower_count + 1 WHERE id = NEW.tag_id;
        RETURN NEW;
    END IF;
    UPDATE tags SET follower_count = follower_count - 1 WHERE id = OLD.tag_id;
    RETURN OLD;
END
$$
"""

# article_tags and deliveries take thousands of rows a statement (a batch of stories, a
# fan-out to every follower); a FOREIGN KEY would check each row on its own (it tripled the
# time of a fan-out to 50 000 chats). Their rows are written only by the store, from the
# chats, tags and articles the same transaction just read or wrote, so these triggers on the
# parents keep what SQLite's foreign keys do: a chat's deliveries follow its new id or go with
# it, a story's tags and deliveries go with the story, and a tag with stories cannot be deleted.
_REFERENCES = (
    """
    CREATE FUNCTION tagwire_chat_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            DELETE FROM deliveries WHERE chat_id = OLD.id;
            RETURN OLD;
        END IF;
        UPDATE deliveries SET chat_id = NEW.id WHERE chat_id = OLD.id;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER chats_moved AFTER UPDATE OF id ON chats
    FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION tagwire_chat_changed()
    """,
    """
    CREATE TRIGGER chats_deleted AFTER DELETE ON chats
    FOR EACH ROW EXECUTE FUNCTION tagwire_chat_changed()
    """,
    """
    CREATE FUNCTION tagwire_article_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM article_tags WHERE article_id = OLD.id;
        DELETE FROM deliveries WHERE article_id = OLD.id;
        RETURN OLD;
    END
    $$
    """,
    """
    CREATE TRIGGER articles_deleted AFTER DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION tagwire_article_deleted()
    """,
    """
    CREATE FUNCTION tagwire_tag_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM article_tags WHERE tag_id = OLD.id) THEN
            RAISE EXCEPTION 'tag % has stories', OLD.id USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN OLD;
    END
    $$
    """,
    """
    CREATE TRIGGER tags_deleted BEFORE DELETE ON tags
    FOR EACH ROW EXECUTE FUNCTION tagwire_tag_deleted()
    """,
)

MIGRATIONS: tuple[PostgresMigration, ...] = (
    PostgresMigration(
        "0001_core",
        (
            """
            CREATE TABLE chats (
                id BIGINT PRIMARY KEY,
                type TEXT NOT NULL,
                title TEXT,
                active BOOLEAN NOT NULL DEFAULT TRUE,
                inactive_reason TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE tags (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                story_count BIGINT NOT NULL DEFAULT 0,
                follower_count BIGINT NOT NULL DEFAULT 0,
                last_story_at DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE subscriptions (
                chat_id BIGINT NOT NULL
                    REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
                tag_id BIGINT NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (chat_id, tag_id)
            )
            """,
            "CREATE INDEX subscriptions_by_tag ON subscriptions (tag_id, chat_id)",
            # The follower count is read on every /tags and /follow: a trigger keeps it exact
            # in the same transaction, as in SQLite.
            _FOLLOWER_COUNT,
            """
            CREATE TRIGGER subscriptions_count AFTER INSERT OR DELETE ON subscriptions
            FOR EACH ROW EXECUTE FUNCTION tagwire_count_followers()
            """,
            """
            CREATE TABLE articles (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                url TEXT NOT NULL,
                title TEXT NOT NULL,
                teaser TEXT NOT NULL DEFAULT '',
                source TEXT,
                published_at DOUBLE PRECISION NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX articles_url ON articles (md5(url))",
            # Keyed by (tag, time) so that "newest stories of a tag" is one index range read.
            # Its references (and those of deliveries) are kept by the triggers below: see
            # _REFERENCES.
            """
            CREATE TABLE article_tags (
                tag_id BIGINT NOT NULL,
                published_at DOUBLE PRECISION NOT NULL,
                article_id BIGINT NOT NULL,
                position INTEGER NOT NULL,
                PRIMARY KEY (tag_id, published_at, article_id)
            )
            """,
            "CREATE INDEX article_tags_by_article ON article_tags (article_id, position)",
            """
            CREATE TABLE deliveries (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                article_id BIGINT NOT NULL,
                chat_id BIGINT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                due_at DOUBLE PRECISION NOT NULL,
                claimed_until DOUBLE PRECISION,
                last_error TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                finished_at DOUBLE PRECISION,
                CONSTRAINT deliveries_once UNIQUE (article_id, chat_id)
            )
            """,
            "CREATE INDEX deliveries_due ON deliveries (due_at, id) WHERE status = 'pending'",
            "CREATE INDEX deliveries_by_chat ON deliveries (chat_id) WHERE status = 'pending'",
            *_REFERENCES,
        ),
    ),
    PostgresMigration(
        "0002_operators",
        (
            # Feeds the bot polls. `tags` is a JSON array of tag names given to every story.
            """
            CREATE TABLE feeds (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                url TEXT NOT NULL,
                tags TEXT NOT NULL DEFAULT '[]',
                etag TEXT,
                last_modified TEXT,
                primed BOOLEAN NOT NULL DEFAULT FALSE,
                last_polled_at DOUBLE PRECISION,
                last_success_at DOUBLE PRECISION,
                last_error TEXT,
                last_error_at DOUBLE PRECISION,
                failures INTEGER NOT NULL DEFAULT 0,
                created_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE UNIQUE INDEX feeds_url ON feeds (md5(url))",
            # Small settings the bot makes for itself, such as the generated webhook secret.
            """
            CREATE TABLE meta (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
        ),
    ),
    PostgresMigration(
        "0003_readers",
        (
            # Per-chat reader settings live on the chat row, so a claim reads them in one join.
            """
            ALTER TABLE chats
                ADD COLUMN language TEXT,
                ADD COLUMN link_previews BOOLEAN NOT NULL DEFAULT TRUE,
                ADD COLUMN combine_bursts BOOLEAN NOT NULL DEFAULT FALSE,
                ADD COLUMN delivery_mode TEXT NOT NULL DEFAULT 'instant',
                ADD COLUMN digest_hour INTEGER NOT NULL DEFAULT 8,
                ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC',
                ADD COLUMN quiet_start INTEGER,
                ADD COLUMN quiet_end INTEGER,
                ADD COLUMN username TEXT
            """,
            # A forum topic follows tags of its own (thread 0 is the chat itself), which
            # changes the keys of subscriptions and deliveries.
            """
            ALTER TABLE subscriptions
                ADD COLUMN thread_id BIGINT NOT NULL DEFAULT 0,
                DROP CONSTRAINT subscriptions_pkey,
                ADD PRIMARY KEY (chat_id, thread_id, tag_id)
            """,
            "DROP INDEX subscriptions_by_tag",
            "CREATE INDEX subscriptions_by_tag ON subscriptions (tag_id, chat_id, thread_id)",
            """
            ALTER TABLE deliveries
                ADD COLUMN thread_id BIGINT NOT NULL DEFAULT 0,
                -- TRUE once held back by quiet hours or a digest: it goes out in a digest.
                ADD COLUMN held BOOLEAN NOT NULL DEFAULT FALSE,
                DROP CONSTRAINT deliveries_once,
                ADD CONSTRAINT deliveries_once UNIQUE (article_id, chat_id, thread_id)
            """,
            """
            CREATE TABLE mutes (
                chat_id BIGINT NOT NULL
                    REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
                word TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (chat_id, word)
            )
            """,
            # Full-text search over titles and teasers (see storage/postgres_search.py).
            "ALTER TABLE articles ADD COLUMN search tsvector NOT NULL DEFAULT ''::tsvector",
            "CREATE INDEX articles_search ON articles USING gin (search)",
            # A search's words, so that its "More" button can fetch the next page later.
            """
            CREATE TABLE searches (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                chat_id BIGINT NOT NULL,
                query TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            )
            """,
        ),
        then=_index_existing_articles,
    ),
    PostgresMigration(
        "0004_instances",
        (
            # Each `tagwire run` records itself every second or so: /stats lists them, and a
            # new leader knows when the previous one last sent.
            """
            CREATE TABLE instances (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                started_at DOUBLE PRECISION NOT NULL,
                seen_at DOUBLE PRECISION NOT NULL
            )
            """,
        ),
    ),
    PostgresMigration(
        "0005_follow_words",
        (
            # Words inside a follow (storage/words.py), folded; NULL when none, as in SQLite:
            # the follows without words fan out by one partial index, those with words by
            # the other.
            "ALTER TABLE subscriptions ADD COLUMN only_words TEXT[], ADD COLUMN skip_words TEXT[]",
            """
            CREATE INDEX subscriptions_plain_by_tag ON subscriptions (tag_id, chat_id, thread_id)
            WHERE only_words IS NULL AND skip_words IS NULL
            """,
            """
            CREATE INDEX subscriptions_worded_by_tag ON subscriptions (tag_id)
            WHERE only_words IS NOT NULL OR skip_words IS NOT NULL
            """,
        ),
    ),
    PostgresMigration(
        "0006_pictures",
        (
            # A story's picture: an http(s) URL, or the file_id of a photo sent with /post.
            "ALTER TABLE articles ADD COLUMN image TEXT",
            # How a chat wants pictures shown: 'photo', 'preview' or 'off' (PictureMode).
            "ALTER TABLE chats ADD COLUMN pictures TEXT NOT NULL DEFAULT 'photo'",
            # Telegram's id of the message that carried a sent delivery, for later edits.
            "ALTER TABLE deliveries ADD COLUMN message_id BIGINT",
        ),
    ),
    PostgresMigration(
        "0007_scheduled",
        (
            # A scheduled story, as in SQLite: its articles row (with its search column) is
            # written when it is pushed; its article_tags rows, tag counts and deliveries when
            # it is released. Searches leave out stories with a row here not released. `tags`
            # is JSON text ([name, key] pairs), as in SQLite, so migrate-db copies it as is.
            """
            CREATE TABLE schedules (
                article_id BIGINT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
                publish_at DOUBLE PRECISION NOT NULL,
                tags TEXT NOT NULL,
                notify BOOLEAN NOT NULL DEFAULT TRUE,
                created_at DOUBLE PRECISION NOT NULL,
                released_at DOUBLE PRECISION,
                cancelled_at DOUBLE PRECISION
            )
            """,
            """
            CREATE INDEX schedules_due ON schedules (publish_at, article_id)
            WHERE released_at IS NULL AND cancelled_at IS NULL
            """,
        ),
    ),
    PostgresMigration(
        "0008_alerts",
        (
            # A feed that failed TAGWIRE_FEED_PAUSE_AFTER polls in a row is paused (no longer
            # polled) from this moment until `tagwire feeds resume` or /resume.
            "ALTER TABLE feeds ADD COLUMN paused_at DOUBLE PRECISION",
            # The incidents the admins were told of and not yet told are over (bot/alerts):
            # a new leader reads them, so a failover announces nothing twice. `key` names the
            # incident ('feed:12', 'feed-paused:12', 'outbox', 'telegram'); the database's
            # own incident is never written here (it is about writes failing).
            """
            CREATE TABLE incidents (
                key TEXT PRIMARY KEY,
                started_at DOUBLE PRECISION NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                announced_at DOUBLE PRECISION NOT NULL
            )
            """,
        ),
    ),
    PostgresMigration(
        "0009_corrections",
        (
            # A story's version (each correction adds one) and the moment it was retracted
            # (NULL while it stands). A retracted story leaves its tags' lists and searches.
            "ALTER TABLE articles ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE articles ADD COLUMN retracted_at DOUBLE PRECISION",
            "CREATE INDEX articles_retracted ON articles (retracted_at) "
            "WHERE retracted_at IS NOT NULL",
            # Edits of delivered teasers: an outbox of its own beside `deliveries` (whose row
            # is one message sent once, keyed by story and chat, and read by the claims, the
            # report and the alerts), one row per delivered teaser: a second correction
            # renews the row (`revision`), a retraction turns it into a deletion (`action`).
            """
            CREATE TABLE edits (
                id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                delivery_id BIGINT NOT NULL UNIQUE
                    REFERENCES deliveries(id) ON DELETE CASCADE,
                article_id BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
                action TEXT NOT NULL,
                revision INTEGER NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending',
                outcome TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                due_at DOUBLE PRECISION NOT NULL,
                claimed_until DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL,
                finished_at DOUBLE PRECISION
            )
            """,
            "CREATE INDEX edits_due ON edits (due_at, id) WHERE status = 'pending'",
            "CREATE INDEX edits_by_article ON edits (article_id)",
            # The other stories of a teaser's message (a digest's), found by its id.
            "CREATE INDEX deliveries_by_message ON deliveries (chat_id, message_id) "
            "WHERE message_id IS NOT NULL",
        ),
    ),
    PostgresMigration(
        "0010_combined_messages",
        (
            # How a combined message's heading was made, on each of its deliveries (which share
            # its message_id): 'burst', 'hourly', 'daily' or 'quiet', and its language. A
            # correction renders the message again from its stories' current versions.
            "ALTER TABLE deliveries ADD COLUMN digest_kind TEXT",
            "ALTER TABLE deliveries ADD COLUMN digest_language TEXT",
        ),
    ),
)


async def apply_migrations(db: asyncpg.Connection) -> list[str]:
    """Apply the migrations this database has not seen; returns the names applied.

    Holds the migration lock meanwhile, so that concurrent starters apply each one once."""
    await db.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        return await _apply(db)
    finally:
        if not db.is_closed():
            await db.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def _apply(db: asyncpg.Connection) -> list[str]:
    await db.execute(
        "CREATE TABLE IF NOT EXISTS migrations "
        "(name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
    )
    done = {row[0] for row in await db.fetch("SELECT name FROM migrations")}
    refuse_newer(done, {migration.name for migration in MIGRATIONS})
    applied = []
    for migration in MIGRATIONS:
        if migration.name in done:
            continue
        async with db.transaction():
            for statement in migration.statements:
                await db.execute(statement)
            if migration.then is not None:
                await migration.then(db)
            await db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES ($1, $2)",
                migration.name,
                time.time(),
            )
        applied.append(migration.name)
    return applied
