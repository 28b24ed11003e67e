"""The SQLite schema as an ordered list of named migrations, each applied once in a transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass

import aiosqlite


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        "0001_core",
        (
            """
            CREATE TABLE chats (
                id INTEGER PRIMARY KEY,
                type TEXT NOT NULL,
                title TEXT,
                active INTEGER NOT NULL DEFAULT 1,
                inactive_reason TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE tags (
                id INTEGER PRIMARY KEY,
                key TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                story_count INTEGER NOT NULL DEFAULT 0,
                follower_count INTEGER NOT NULL DEFAULT 0,
                last_story_at REAL,
                created_at REAL NOT NULL
            )
            """,
            """
            CREATE TABLE subscriptions (
                chat_id INTEGER NOT NULL
                    REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
                tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
                created_at REAL NOT NULL,
                PRIMARY KEY (chat_id, tag_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX subscriptions_by_tag ON subscriptions (tag_id, chat_id)",
            # The follower count is read on every /tags and /follow; counting 1M rows each
            # time is not an option, so triggers keep it exact in the same transaction.
            """
            CREATE TRIGGER subscriptions_count_insert AFTER INSERT ON subscriptions BEGIN
                UPDATE tags SET follower_count = follower_count + 1 WHERE id = NEW.tag_id;
            END
            """,
            """
            CREATE TRIGGER subscriptions_count_delete AFTER DELETE ON subscriptions BEGIN
                UPDATE tags SET follower_count = follower_count - 1 WHERE id = OLD.tag_id;
            END
            """,
            """
            CREATE TABLE articles (
                id INTEGER PRIMARY KEY,
                url TEXT NOT NULL UNIQUE,
                title TEXT NOT NULL,
                teaser TEXT NOT NULL DEFAULT '',
                source TEXT,
                published_at REAL NOT NULL,
                created_at REAL NOT NULL
            )
            """,
            # Keyed by (tag, time) so that "newest stories of a tag" is one index range read.
            """
            CREATE TABLE article_tags (
                tag_id INTEGER NOT NULL REFERENCES tags(id),
                published_at REAL NOT NULL,
                article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                PRIMARY KEY (tag_id, published_at, article_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX article_tags_by_article ON article_tags (article_id, position)",
            """
            CREATE TABLE deliveries (
                id INTEGER PRIMARY KEY,
                article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
                chat_id INTEGER NOT NULL
                    REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
                status TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                due_at REAL NOT NULL,
                claimed_until REAL,
                last_error TEXT,
                created_at REAL NOT NULL,
                finished_at REAL,
                UNIQUE (article_id, chat_id)
            )
            """,
            "CREATE INDEX deliveries_due ON deliveries (due_at, id) WHERE status = 'pending'",
            "CREATE INDEX deliveries_by_chat ON deliveries (chat_id) WHERE status = 'pending'",
        ),
    ),
    Migration(
        "0002_operators",
        (
            # Feeds the bot polls. `tags` is a JSON array of tag names given to every story.
            """
            CREATE TABLE feeds (
                id INTEGER PRIMARY KEY,
                url TEXT NOT NULL UNIQUE,
                tags TEXT NOT NULL DEFAULT '[]',
                etag TEXT,
                last_modified TEXT,
                primed INTEGER NOT NULL DEFAULT 0,
                last_polled_at REAL,
                last_success_at REAL,
                last_error TEXT,
                last_error_at REAL,
                failures INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL
            )
            """,
            # Small settings the bot makes for itself, such as the generated webhook secret.
            """
            CREATE TABLE meta (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at REAL NOT NULL
            ) WITHOUT ROWID
            """,
        ),
    ),
    Migration(
        "0003_readers",
        (
            # Per-chat reader settings live on the chat row, so a claim reads them in one join.
            "ALTER TABLE chats ADD COLUMN language TEXT",
            "ALTER TABLE chats ADD COLUMN link_previews INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE chats ADD COLUMN combine_bursts INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE chats ADD COLUMN delivery_mode TEXT NOT NULL DEFAULT 'instant'",
            "ALTER TABLE chats ADD COLUMN digest_hour INTEGER NOT NULL DEFAULT 8",
            "ALTER TABLE chats ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC'",
            "ALTER TABLE chats ADD COLUMN quiet_start INTEGER",
            "ALTER TABLE chats ADD COLUMN quiet_end INTEGER",
            "ALTER TABLE chats ADD COLUMN username TEXT",
            # A forum topic follows tags of its own: subscriptions and deliveries gain the
            # topic (thread 0 is the chat itself), which changes their keys, so both are rebuilt.
            """
            CREATE TABLE subscriptions_new (
                chat_id INTEGER NOT NULL
                    REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
                thread_id INTEGER NOT NULL DEFAULT 0,
                tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
                created_at REAL NOT NULL,
                PRIMARY KEY (chat_id, thread_id, tag_id)
            ) WITHOUT ROWID
            """,
            """
            INSERT INTO subscriptions_new (chat_id, thread_id, tag_id, created_at)
            SELECT chat_id, 0, tag_id, created_at FROM subscriptions
            """,
            "DROP TABLE subscriptions",
            "ALTER TABLE subscriptions_new RENAME TO subscriptions",
            "CREATE INDEX subscriptions_by_tag ON subscriptions (tag_id, chat_id, thread_id)",
            """
            CREATE TRIGGER subscriptions_count_insert AFTER INSERT ON subscriptions BEGIN
                UPDATE tags SET follower_count = follower_count + 1 WHERE id = NEW.tag_id;
            END
            """,
            """
            CREATE TRIGGER subscriptions_count_delete AFTER DELETE ON subscriptions BEGIN
                UPDATE tags SET follower_count = follower_count - 1 WHERE id = OLD.tag_id;
            END
            """,
            """
            CREATE TABLE deliveries_new (
                id INTEGER PRIMARY KEY,
                article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
                chat_id INTEGER NOT NULL
                    REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
                thread_id INTEGER NOT NULL DEFAULT 0,
                status TEXT NOT NULL DEFAULT 'pending',
                attempts INTEGER NOT NULL DEFAULT 0,
                due_at REAL NOT NULL,
                claimed_until REAL,
                -- 1 once held back by quiet hours or a digest: it goes out in a digest.
                held INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                created_at REAL NOT NULL,
                finished_at REAL,
                UNIQUE (article_id, chat_id, thread_id)
            )
            """,
            """
            INSERT INTO deliveries_new (id, article_id, chat_id, thread_id, status, attempts,
                due_at, claimed_until, last_error, created_at, finished_at)
            SELECT id, article_id, chat_id, 0, status, attempts, due_at, claimed_until,
                last_error, created_at, finished_at
            FROM deliveries
            """,
            "DROP TABLE deliveries",
            "ALTER TABLE deliveries_new RENAME TO deliveries",
            "CREATE INDEX deliveries_due ON deliveries (due_at, id) WHERE status = 'pending'",
            "CREATE INDEX deliveries_by_chat ON deliveries (chat_id) WHERE status = 'pending'",
            """
            CREATE TABLE mutes (
                chat_id INTEGER NOT NULL
                    REFERENCES chats(id) ON DELETE CASCADE ON UPDATE CASCADE,
                word TEXT NOT NULL,
                created_at REAL NOT NULL,
                PRIMARY KEY (chat_id, word)
            ) WITHOUT ROWID
            """,
            # Full-text search over titles and teasers, kept in step with articles by triggers.
            """
            CREATE VIRTUAL TABLE articles_fts USING fts5 (
                title, teaser, content='articles', content_rowid='id',
                tokenize='unicode61 remove_diacritics 2'
            )
            """,
            """
            CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
                INSERT INTO articles_fts (rowid, title, teaser)
                VALUES (NEW.id, NEW.title, NEW.teaser);
            END
            """,
            """
            CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
                INSERT INTO articles_fts (articles_fts, rowid, title, teaser)
                VALUES ('delete', OLD.id, OLD.title, OLD.teaser);
            END
            """,
            """
            CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, teaser ON articles BEGIN
                INSERT INTO articles_fts (articles_fts, rowid, title, teaser)
                VALUES ('delete', OLD.id, OLD.title, OLD.teaser);
                INSERT INTO articles_fts (rowid, title, teaser)
                VALUES (NEW.id, NEW.title, NEW.teaser);
            END
            """,
            "INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')",
            # A search's words, so that its "More" button can fetch the next page later.
            """
            CREATE TABLE searches (
                id INTEGER PRIMARY KEY,
                chat_id INTEGER NOT NULL,
                query TEXT NOT NULL,
                created_at REAL NOT NULL
            )
            """,
        ),
    ),
    Migration(
        "0004_instances",
        (
            # Each `tagwire run` records itself every second or so: /stats lists them, and a
            # new leader knows when the previous one last sent.
            """
            CREATE TABLE instances (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL,
                started_at REAL NOT NULL,
                seen_at REAL NOT NULL
            )
            """,
        ),
    ),
    Migration(
        "0005_follow_words",
        (
            # Words inside a follow (storage/words.py): JSON arrays of folded words, NULL when
            # none, so that the fan-out of the follows without words stays one INSERT … SELECT
            # over this partial index, and those with words are found by the other one.
            "ALTER TABLE subscriptions ADD COLUMN only_words TEXT",
            "ALTER TABLE subscriptions ADD COLUMN skip_words TEXT",
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
    Migration(
        "0006_pictures",
        (
            # A story's picture: an http(s) URL, or the file_id of a photo sent with /post.
            "ALTER TABLE articles ADD COLUMN image TEXT",
            # How a chat wants pictures shown: 'photo', 'preview' or 'off' (PictureMode).
            "ALTER TABLE chats ADD COLUMN pictures TEXT NOT NULL DEFAULT 'photo'",
            # Telegram's id of the message that carried a sent delivery, for later edits.
            "ALTER TABLE deliveries ADD COLUMN message_id INTEGER",
        ),
    ),
    Migration(
        "0007_scheduled",
        (
            # A scheduled story: its articles row is written when it is pushed (its URL is
            # known from then on), but it has no article_tags rows, counts in no tag and has
            # no deliveries until it is released; searches leave out stories with a row here
            # that is not released. `tags` is the JSON array of [name, key] pairs as pushed.
            # A cancelled story keeps its row (cancelled_at), so that its URL stays known and
            # a feed listing it does not bring it back.
            """
            CREATE TABLE schedules (
                article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
                publish_at REAL NOT NULL,
                tags TEXT NOT NULL,
                notify INTEGER NOT NULL DEFAULT 1,
                created_at REAL NOT NULL,
                released_at REAL,
                cancelled_at REAL
            )
            """,
            """
            CREATE INDEX schedules_due ON schedules (publish_at, article_id)
            WHERE released_at IS NULL AND cancelled_at IS NULL
            """,
        ),
    ),
    Migration(
        "0008_alerts",
        (
            # A feed that failed TAGWIRE_FEED_PAUSE_AFTER polls in a row is paused (no longer
            # polled) from this moment until `tagwire feeds resume` or /resume.
            "ALTER TABLE feeds ADD COLUMN paused_at REAL",
            # The incidents the admins were told of and not yet told are over (bot/alerts):
            # a new leader reads them, so a failover announces nothing twice. `key` names the
            # incident ('feed:12', 'feed-paused:12', 'outbox', 'telegram'); the database's
            # own incident is never written here (it is about writes failing).
            """
            CREATE TABLE incidents (
                key TEXT PRIMARY KEY,
                started_at REAL NOT NULL,
                detail TEXT NOT NULL DEFAULT '',
                announced_at REAL NOT NULL
            )
            """,
        ),
    ),
    Migration(
        "0009_corrections",
        (
            # A story's version (each correction adds one) and the moment it was retracted
            # (NULL while it stands). A retracted story leaves its tags' lists and searches.
            "ALTER TABLE articles ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE articles ADD COLUMN retracted_at REAL",
            "CREATE INDEX articles_retracted ON articles (retracted_at) "
            "WHERE retracted_at IS NOT NULL",
            # Edits of delivered teasers: an outbox of its own beside `deliveries` (whose row
            # is one message sent once, keyed by story and chat, and read by the claims, the
            # report and the alerts), one row per delivered teaser: a second correction
            # renews the row (`revision`), a retraction turns it into a deletion (`action`).
            """
            CREATE TABLE edits (
                id INTEGER PRIMARY KEY,
                delivery_id INTEGER NOT NULL UNIQUE
                    REFERENCES deliveries(id) ON DELETE CASCADE,
                article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
                action TEXT NOT NULL,
                revision INTEGER NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending',
                outcome TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                due_at REAL NOT NULL,
                claimed_until REAL,
                created_at REAL NOT NULL,
                finished_at REAL
            )
            """,
            "CREATE INDEX edits_due ON edits (due_at, id) WHERE status = 'pending'",
            "CREATE INDEX edits_by_article ON edits (article_id)",
            # The other stories of a teaser's message (a digest's), found by its id.
            "CREATE INDEX deliveries_by_message ON deliveries (chat_id, message_id) "
            "WHERE message_id IS NOT NULL",
        ),
    ),
    Migration(
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


# Which migrations a database has seen (storage/backup.py checks a backup's against it too).
MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
)


def refuse_newer(done: set[str], known: set[str]) -> None:
    """A database some of whose migrations this version does not know was written by a newer
    tagwire: refuse it rather than run old code against a newer schema (either backend)."""
    unknown = done - known
    if unknown:
        raise RuntimeError(
            f"the database was written by a newer tagwire (migrations {sorted(unknown)}); "
            "upgrade tagwire before using it"
        )


async def apply_migrations(db: aiosqlite.Connection) -> list[str]:
    """Apply the migrations this database has not seen; returns the names applied."""
    await db.execute(MIGRATIONS_TABLE)
    async with db.execute("SELECT name FROM migrations") as cursor:
        done = {row[0] for row in await cursor.fetchall()}
    refuse_newer(done, {migration.name for migration in MIGRATIONS})
    applied = []
    for migration in MIGRATIONS:
        if migration.name in done:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            # Another process (a `tagwire push` started beside the bot) may have won the race.
            async with db.execute(
                "SELECT 1 FROM migrations WHERE name = ?", (migration.name,)
            ) as cursor:
                if await cursor.fetchone() is not None:
                    await db.execute("ROLLBACK")
                    continue
            for statement in migration.statements:
                await db.execute(statement)
            await db.execute(
                "INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                (migration.name, time.time()),
            )
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        await db.execute("COMMIT")
        applied.append(migration.name)
    return applied
