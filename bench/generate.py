"""A realistic database to benchmark against: 100 000 chats, 1 000 000 subscriptions over
10 000 tags with Zipf-like popularity (the top tag followed by half the chats), 1 000 000
stories with 1-5 tags each. `--scale 0.01` makes everything a hundred times smaller.

The schema comes from the product's own migrations; the rows go in with plain sqlite3 bulk
inserts (this is a fixture builder, not the product path). The file is cached under
bench/results/ beside a JSON note of how it was made, and rebuilt only when that changes.

With `--database postgresql://…` the same rows are then copied into that PostgreSQL database
as `tagwire migrate-db` copies them (bench/backends.py), for the benchmarks' PostgreSQL runs.

    python -m bench.generate [--scale 1.0] [--force] [--database postgresql://…]
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Row, exactly, info, parser, report
from bot.tags import tag_key
from storage.migrations import MIGRATIONS
from storage.sqlite import SqliteStore

# Bump when the rows the generator writes change, so cached databases are rebuilt.
GENERATOR_VERSION = 1
SEED = 20261129
CHATS = 100_000
TAGS = 10_000
SUBSCRIPTIONS = 1_000_000
STORIES = 1_000_000
TOP_TAG_SHARE = 0.5
GROUP_SHARE = 0.05
# Stories are spread over three years ending here, a story every ~95 s at full scale.
LAST_STORY_AT = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
SPAN = 3 * 365 * 86_400
PRIVATE_BASE = 100_000_000
SUPERGROUP_BASE = -1_001_000_000_000
GROUP_BASE = -500_000_000

_SYLLABLES = (
    "ka",
    "ri",
    "mo",
    "ta",
    "na",
    "se",
    "lu",
    "vi",
    "do",
    "pe",
    "ra",
    "to",
    "mi",
    "ko",
    "shi",
    "an",
    "el",
    "or",
    "un",
    "is",
    "ba",
    "de",
    "fu",
    "go",
    "ha",
    "je",
    "ki",
    "lo",
    "ma",
    "ne",
    "po",
    "qu",
    "ru",
    "sa",
    "te",
    "ul",
    "ve",
    "wa",
    "xi",
    "yo",
    "za",
    "ber",
    "cal",
    "dor",
    "fen",
    "gar",
    "hol",
)


@dataclass(frozen=True, slots=True)
class Database:
    path: Path
    scale: float
    meta: dict[str, Any]

    @property
    def top_tag(self) -> dict[str, Any]:
        return dict(self.meta["top_tag"])


def sizes(scale: float) -> dict[str, int]:
    return {
        "chats": max(100, round(CHATS * scale)),
        "tags": max(20, round(TAGS * scale)),
        "subscriptions": max(1000, round(SUBSCRIPTIONS * scale)),
        "stories": max(1000, round(STORIES * scale)),
    }


def zipf_exponent(tags: int, top: int, total: int) -> float:
    """The exponent s for which sum(round(top / r**s)) over the tag ranks is about `total`."""
    low, high = 0.0, 4.0
    for _ in range(60):
        middle = (low + high) / 2
        if sum(max(1, round(top / rank**middle)) for rank in range(1, tags + 1)) > total:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _words(rng: random.Random, count: int) -> list[str]:
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < count:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Vocabulary:
    """Deterministic pseudo-words for tag names, titles and teasers."""

    def __init__(self, seed: int, tags: int) -> None:
        self._rng = random.Random(seed)
        self.words = _words(self._rng, 4000)
        names: list[str] = []
        keys: set[str] = set()
        for word in _words(self._rng, tags * 2):
            name = word.capitalize()
            if self._rng.random() < 0.2:
                name = f"{name} {self._rng.choice(self.words).capitalize()}"
            if tag_key(name) not in keys:
                keys.add(tag_key(name))
                names.append(name)
            if len(names) == tags:
                break
        self.tag_names = names

    def title(self, rng: random.Random) -> str:
        return " ".join(rng.choices(self.words, k=rng.randint(5, 10))).capitalize()

    def teaser(self, rng: random.Random) -> str:
        return " ".join(rng.choices(self.words, k=rng.randint(20, 35))).capitalize() + "…"


class TagPicker:
    """Tags for a story: 1-5 distinct ones, popular tags chosen more often (same Zipf law)."""

    def __init__(self, tags: int, exponent: float) -> None:
        weights = [1 / rank**exponent for rank in range(1, tags + 1)]
        total = 0.0
        self._cumulative = []
        for weight in weights:
            total += weight
            self._cumulative.append(total)
        self._ranks = list(range(tags))

    def pick(self, rng: random.Random) -> list[int]:
        count = rng.randint(1, 5)
        chosen: list[int] = []
        while len(chosen) < count:
            (rank,) = rng.choices(self._ranks, cum_weights=self._cumulative)
            if rank not in chosen:
                chosen.append(rank)
        return chosen


def story_records(
    count: int, *, scale: float, prefix: str, seed: int = SEED + 1
) -> Iterator[dict[str, Any]]:
    """Fresh stories as `tagwire push` reads them (JSON Lines records), over the same tags."""
    numbers = sizes(scale)
    vocabulary = Vocabulary(SEED, numbers["tags"])
    exponent = zipf_exponent(
        numbers["tags"], round(numbers["chats"] * TOP_TAG_SHARE), numbers["subscriptions"]
    )
    picker = TagPicker(numbers["tags"], exponent)
    rng = random.Random(seed)
    for number in range(count):
        yield {
            "url": f"https://news.example.com/{prefix}/{number}",
            "title": vocabulary.title(rng),
            "teaser": vocabulary.teaser(rng),
            "tags": [vocabulary.tag_names[rank] for rank in picker.pick(rng)],
            "published_at": datetime.fromtimestamp(LAST_STORY_AT + 60 + number, UTC).isoformat(),
            "source": "news.example.com",
        }


async def _create_schema(path: Path) -> None:
    store = await SqliteStore.open(path)
    await store.close()


def _chat_ids(count: int, rng: random.Random) -> list[tuple[int, str]]:
    chats: list[tuple[int, str]] = []
    for number in range(count):
        roll = rng.random()
        if roll < GROUP_SHARE * 0.8:
            chats.append((SUPERGROUP_BASE - number, "supergroup"))
        elif roll < GROUP_SHARE:
            chats.append((GROUP_BASE - number, "group"))
        else:
            chats.append((PRIVATE_BASE + number, "private"))
    return chats


def _fill(path: Path, scale: float) -> dict[str, Any]:
    numbers = sizes(scale)
    rng = random.Random(SEED)
    vocabulary = Vocabulary(SEED, numbers["tags"])
    top = round(numbers["chats"] * TOP_TAG_SHARE)
    exponent = zipf_exponent(numbers["tags"], top, numbers["subscriptions"])
    timings: dict[str, float] = {}
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA cache_size = -400000")
        db.execute("PRAGMA temp_store = MEMORY")
        triggers = dict(
            db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND name IN ('subscriptions_count_insert', 'articles_fts_insert')"
            ).fetchall()
        )
        # Counters and the full-text index are filled in bulk below, then the triggers that
        # keep them up to date row by row are put back exactly as the migrations made them.
        for name in triggers:
            db.execute(f"DROP TRIGGER {name}")
        db.execute("BEGIN")

        started = time.perf_counter()
        chats = _chat_ids(numbers["chats"], rng)
        now = LAST_STORY_AT
        db.executemany(
            "INSERT INTO chats (id, type, title, active, created_at, updated_at) "
            "VALUES (?, ?, ?, 1, ?, ?)",
            (
                (chat_id, kind, None if kind == "private" else f"Group {-chat_id}", now, now)
                for chat_id, kind in chats
            ),
        )
        db.executemany(
            "INSERT INTO tags (id, key, name, created_at) VALUES (?, ?, ?, ?)",
            (
                (rank + 1, tag_key(name), name, now)
                for rank, name in enumerate(vocabulary.tag_names)
            ),
        )
        timings["chats and tags"] = time.perf_counter() - started

        started = time.perf_counter()
        chat_ids = [chat_id for chat_id, _ in chats]
        followers = [max(1, round(top / rank**exponent)) for rank in range(1, numbers["tags"] + 1)]
        pairs: list[tuple[int, int]] = []
        for rank, count in enumerate(followers):
            pairs.extend((chat_id, rank + 1) for chat_id in rng.sample(chat_ids, count))
        pairs.sort()
        db.executemany(
            "INSERT INTO subscriptions (chat_id, thread_id, tag_id, created_at) "
            "VALUES (?, 0, ?, ?)",
            ((chat_id, tag_id, now) for chat_id, tag_id in pairs),
        )
        db.executemany(
            "UPDATE tags SET follower_count = ? WHERE id = ?",
            ((count, rank + 1) for rank, count in enumerate(followers)),
        )
        timings["subscriptions"] = time.perf_counter() - started

        started = time.perf_counter()
        picker = TagPicker(numbers["tags"], exponent)
        stories = numbers["stories"]
        step = SPAN / stories
        links: list[tuple[int, float, int, int]] = []

        def articles() -> Iterator[tuple[int, str, str, str, str, float, float]]:
            for number in range(stories):
                article_id = number + 1
                published = LAST_STORY_AT - SPAN + number * step + rng.random() * step
                for position, rank in enumerate(picker.pick(rng)):
                    links.append((rank + 1, published, article_id, position))
                yield (
                    article_id,
                    f"https://news.example.com/archive/{article_id}",
                    vocabulary.title(rng),
                    vocabulary.teaser(rng),
                    "news.example.com",
                    published,
                    published,
                )

        db.executemany(
            "INSERT INTO articles (id, url, title, teaser, source, published_at, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            articles(),
        )
        timings["stories"] = time.perf_counter() - started

        started = time.perf_counter()
        links.sort()
        db.executemany(
            "INSERT INTO article_tags (tag_id, published_at, article_id, position) "
            "VALUES (?, ?, ?, ?)",
            links,
        )
        db.execute(
            """
            UPDATE tags SET
                story_count = (SELECT COUNT(*) FROM article_tags at WHERE at.tag_id = tags.id),
                last_story_at = (SELECT MAX(published_at) FROM article_tags at
                                 WHERE at.tag_id = tags.id)
            """
        )
        timings["story tags"] = time.perf_counter() - started

        started = time.perf_counter()
        db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
        timings["full-text index"] = time.perf_counter() - started
        for sql in triggers.values():
            db.execute(sql)
        db.execute("COMMIT")
    except BaseException:
        db.close()
        raise
    db.execute("PRAGMA journal_mode = WAL")
    top_row = db.execute(
        "SELECT id, name, key, follower_count, story_count FROM tags ORDER BY follower_count DESC "
        "LIMIT 1"
    ).fetchone()
    counts = db.execute(
        "SELECT (SELECT COUNT(*) FROM chats), (SELECT COUNT(*) FROM tags), "
        "(SELECT COUNT(*) FROM subscriptions), (SELECT COUNT(*) FROM articles), "
        "(SELECT COUNT(*) FROM article_tags)"
    ).fetchone()
    db.close()
    return {
        "generator": GENERATOR_VERSION,
        "scale": scale,
        "seed": SEED,
        "migrations": [migration.name for migration in MIGRATIONS],
        "zipf_exponent": exponent,
        "counts": dict(
            zip(("chats", "tags", "subscriptions", "stories", "story_tags"), counts, strict=True)
        ),
        "top_tag": dict(zip(("id", "name", "key", "followers", "stories"), top_row, strict=True)),
        "timings": timings,
    }


def database_path(out: Path, scale: float) -> Path:
    return out / f"tagwire-scale{scale:g}.db"


def _wanted_meta(scale: float) -> dict[str, Any]:
    return {
        "generator": GENERATOR_VERSION,
        "scale": scale,
        "seed": SEED,
        "migrations": [migration.name for migration in MIGRATIONS],
    }


def ensure_database(out: Path, scale: float, *, force: bool = False) -> tuple[Database, bool]:
    """The cached database for `scale`, built first when missing or stale; True when built."""
    path = database_path(out, scale)
    meta_path = path.with_suffix(".json")
    if not force and path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(key) == value for key, value in _wanted_meta(scale).items()):
            return Database(path, scale, meta), False
    out.mkdir(parents=True, exist_ok=True)
    for stale in (
        path,
        meta_path,
        path.with_name(path.name + "-wal"),
        path.with_name(path.name + "-shm"),
    ):
        stale.unlink(missing_ok=True)
    building = path.with_name(path.name + ".building")
    building.unlink(missing_ok=True)
    started = time.perf_counter()
    asyncio.run(_create_schema(building))
    meta = _fill(building, scale)
    meta["build_seconds"] = time.perf_counter() - started
    building.rename(path)
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    return Database(path, scale, meta), True


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="1.0 is the full size")
    arguments.add_argument("--force", action="store_true", help="rebuild even when cached")
    arguments.add_argument(
        "--database",
        help="postgresql://… : copy the generated database into this PostgreSQL database too",
    )
    args = arguments.parse_args()
    database, built = ensure_database(args.cache, args.scale, force=args.force)
    numbers = sizes(args.scale)
    counts = database.meta["counts"]
    top = database.top_tag
    rows: list[Row] = [
        exactly("chats", counts["chats"], numbers["chats"], ""),
        exactly("tags", counts["tags"], numbers["tags"], ""),
        info(
            "subscriptions",
            counts["subscriptions"],
            "",
            f"aimed at {numbers['subscriptions']}, Zipf s = {database.meta['zipf_exponent']:.3f}",
        ),
        exactly("stories", counts["stories"], numbers["stories"], ""),
        info("story tags (1-5 a story)", counts["story_tags"], ""),
        info("followers of the top tag", top["followers"], "chats", f"#{top['name']}"),
        info(
            "build time",
            database.meta["build_seconds"],
            "s",
            "built now" if built else "cached; --force rebuilds",
        ),
        info("database size", database.path.stat().st_size / 1e6, "MB"),
    ]
    title, name, details = "Generated database", None, dict(database.meta)
    if args.database is not None:
        postgres, copied = asyncio.run(_into_postgres(args.database, database))
        name = postgres.name
        title += f" in {name}"
        details["postgresql"] = copied
        rows += [
            info(
                "copied into PostgreSQL (storage/transfer.py, as tagwire migrate-db)",
                copied["seconds"] if copied["copied"] else None,
                "s",
                "copied now" if copied["copied"] else "there already",
            ),
            info(
                "rows copied a second",
                copied["rows"] / copied["seconds"] if copied["copied"] else None,
                "rows/s",
            ),
            info("PostgreSQL database size", copied["size_mb"], "MB"),
        ]
    report(
        "generate",
        title,
        rows,
        out=args.out,
        params={"scale": args.scale, "path": str(database.path), "database": args.database},
        details=details,
        database=name,
    )


async def _into_postgres(url: str, database: Database) -> tuple[Any, dict[str, Any]]:
    from bench.backends import backend, ensure_postgres

    chosen = await backend(url)
    return chosen, await ensure_postgres(chosen, database)


if __name__ == "__main__":
    main()
