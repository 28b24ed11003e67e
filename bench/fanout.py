"""Fan-out of one story of the top tag (50 000 followers at full scale) into the outbox: the
whole `add_articles(notify=True)` transaction as `tagwire push` runs it, whose fan-out is one
INSERT … SELECT for the follows without words, and a check of each follow with words
(storage/words.py). The deliveries of each run are removed before the next (not timed).
With `--database postgresql://…`, the same in PostgreSQL (bench/backends.py).

`--filtering 0.10` (the default) gives 10 % of the top tag's followers words in their follow,
half `only`, half `except` (see _WORD_COUNTS and the pools below), and the runs alternate:
plain (nobody has words), then filtering (the words set, not timed), so both are measured in
the same conditions of one run and the table shows them side by side. `--filtering 0` runs the
plain fan-out alone.

    python -m bench.fanout [--scale 1] [--repeat 5] [--filtering 0.10] [--database postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.backends import add_database_argument, backend, ensure_postgres, remove, working_copy
from bench.common import Row, at_most, info, median, parser, report
from bench.generate import ensure_database
from bot.following import parse_words
from bot.tags import tag_key
from storage import open_store
from storage.base import Store
from storage.models import NewArticle
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from storage.url import DatabaseTarget

TARGET_SECONDS = 0.3

# The story every run fans out: it contains some of the words below and not others, so some
# filtering follows let it through and some stop it.
TITLE = "Earthquake of magnitude 6.1 shakes Tokyo; no tsunami warning"
TEASER = (
    "Trains stopped for an hour across the Kanto region while the Japan Meteorological Agency "
    "checked the quake; the Bank of Japan said markets would open as usual."
)

# How many words a reader gives a follow: most one to three (as the issue's own examples,
# `only earthquake, tsunami`), a few many more, up to the limit of 20.
_WORD_COUNTS = ((1, 40), (2, 25), (3, 15), (4, 8), (5, 5), (8, 4), (12, 2), (20, 1))
# What readers narrow a tag to (`only`) and leave out of it (`except`), most popular first:
# English, and some Russian and Japanese (words of a script without spaces are a substring
# search, storage/words.py), and a few of several words.
_ONLY_POOL = (
    "earthquake",
    "tsunami",
    "election",
    "typhoon",
    "economy",
    "tokyo",
    "nuclear",
    "yen",
    "toyota",
    "olympics",
    "inflation",
    "china",
    "korea",
    "osaka",
    "volcano",
    "nintendo",
    "sony",
    "trade",
    "rail",
    "robot",
    "bank of japan",
    "prime minister",
    "north korea",
    "startup",
    "tariff",
    "flood",
    "heatwave",
    "fukushima",
    "shinkansen",
    "taiwan",
    "semiconductor",
    "anime",
    "baseball",
    "sumo",
    "地震",
    "津波",
    "選挙",
    "経済",
    "землетрясение",
    "цунами",
    "выборы",
    "экономика",
)
_EXCEPT_POOL = (
    "baseball",
    "sumo",
    "celebrity",
    "gossip",
    "anime",
    "horoscope",
    "lottery",
    "football",
    "idol",
    "drama",
    "weather",
    "fashion",
    "recipe",
    "k-pop",
    "soccer",
    "golf",
    "tennis",
    "manga",
    "野球",
    "芸能",
    "спорт",
    "футбол",
)


def _pick(pool: Sequence[str], count: int, rng: random.Random) -> str:
    """`count` different words of `pool` as a reader types them, the first ones likelier
    (Zipf-like, s = 1)."""
    weights = [1 / rank for rank in range(1, len(pool) + 1)]
    chosen: dict[str, None] = {}
    while len(chosen) < min(count, len(pool)):
        chosen[rng.choices(pool, weights)[0]] = None
    return ", ".join(chosen)


def follow_words(
    followers: Sequence[tuple[int, int]], fraction: float, seed: int = 17
) -> list[tuple[int, int, list[str] | None, list[str] | None]]:
    """(chat, thread, only, skip) for `fraction` of `followers`: half with only words, half
    with except words, each with a number of words drawn from _WORD_COUNTS."""
    rng = random.Random(seed)
    chosen = sorted(rng.sample(sorted(followers), round(len(followers) * fraction)))
    counts, weights = zip(*_WORD_COUNTS, strict=True)
    words = []
    for number, (chat_id, thread_id) in enumerate(chosen):
        count = rng.choices(counts, weights)[0]
        typed = (
            f"only {_pick(_ONLY_POOL, count, rng)}"
            if number % 2 == 0
            else f"except {_pick(_EXCEPT_POOL, count, rng)}"
        )
        # As /follow reads and stores them (folded).
        parsed, problem = parse_words(typed)
        assert parsed is not None, problem
        words.append((chat_id, thread_id, list(parsed.only) or None, list(parsed.skip) or None))
    return words


async def _followers(store: Store, tag_id: int) -> list[tuple[int, int]]:
    if isinstance(store, SqliteStore):
        rows = await store._read_all(
            "SELECT chat_id, thread_id FROM subscriptions WHERE tag_id = ?", (tag_id,)
        )
        return [(row[0], row[1]) for row in rows]
    assert isinstance(store, PostgresStore)
    async with store._pool.acquire() as db:
        rows = await db.fetch(
            "SELECT chat_id, thread_id FROM subscriptions WHERE tag_id = $1", tag_id
        )
    return [(row[0], row[1]) for row in rows]


async def _set_words(
    store: Store, tag_id: int, words: Sequence[tuple[int, int, list[str] | None, list[str] | None]]
) -> None:
    """Give the follows their words, or take them away (both None); not timed."""
    if isinstance(store, SqliteStore):
        async with store._transaction() as db:
            await db.executemany(
                "UPDATE subscriptions SET only_words = ?, skip_words = ? "
                "WHERE chat_id = ? AND thread_id = ? AND tag_id = ?",
                [
                    (
                        None if only is None else json.dumps(only, ensure_ascii=False),
                        None if skip is None else json.dumps(skip, ensure_ascii=False),
                        chat_id,
                        thread_id,
                        tag_id,
                    )
                    for chat_id, thread_id, only, skip in words
                ],
            )
        return
    assert isinstance(store, PostgresStore)

    async def body(db: asyncpg.Connection) -> None:
        await db.executemany(
            "UPDATE subscriptions SET only_words = $1, skip_words = $2 "
            "WHERE chat_id = $3 AND thread_id = $4 AND tag_id = $5",
            [(only, skip, chat_id, thread_id, tag_id) for chat_id, thread_id, only, skip in words],
        )

    await store._write(body)
    # As for the deliveries below: what autovacuum does in a while, so that run after run
    # does not find more dead rows in the subscriptions' indexes.
    async with store._pool.acquire() as db:
        await db.execute("VACUUM ANALYZE subscriptions")


async def _forget(store: Store, article_id: int) -> None:
    """Remove the deliveries of a run (not timed)."""
    if isinstance(store, SqliteStore):
        async with store._transaction() as db:
            await db.execute("DELETE FROM deliveries WHERE article_id = ?", (article_id,))
        return
    assert isinstance(store, PostgresStore)

    async def body(db: asyncpg.Connection) -> None:
        await db.execute("DELETE FROM deliveries WHERE article_id = $1", article_id)

    await store._write(body)
    # What autovacuum does in a while: without it each run's unique index still holds the
    # previous runs' dead entries, and run after run took longer (0.39 → 0.86 s).
    async with store._pool.acquire() as db:
        await db.execute("VACUUM deliveries")


async def _one(store: Store, tag: str, number: int, kind: str) -> dict[str, Any]:
    story = NewArticle(
        url=f"https://news.example.com/fanout/{kind}/{number}",
        title=TITLE,
        teaser=TEASER,
        tags=((tag, tag_key(tag)),),
        published_at=datetime.now(UTC),
        source="news.example.com",
    )
    started, cpu = time.perf_counter(), time.process_time()
    (result,) = await store.add_articles([story], notify=True, now=time.time())
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"fan-out, {kind}: {result.recipients} deliveries in {elapsed:.3f} s", flush=True)
    await _forget(store, result.article_id)
    return {"seconds": elapsed, "cpu_seconds": cpu, "recipients": result.recipients}


async def _runs(
    target: DatabaseTarget, tag: dict[str, Any], repeat: int, filtering: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    """The plain runs and the filtering runs, alternating, and what the words were."""
    store = await open_store(target)
    plain: list[dict[str, Any]] = []
    filtered: list[dict[str, Any]] = []
    try:
        words = []
        if filtering > 0:
            words = follow_words(await _followers(store, tag["id"]), filtering)
        cleared = [(chat_id, thread_id, None, None) for chat_id, thread_id, _, _ in words]
        for number in range(repeat):
            plain.append(await _one(store, str(tag["name"]), number, "plain"))
            if words:
                await _set_words(store, tag["id"], words)
                filtered.append(await _one(store, str(tag["name"]), number, "filtering"))
                await _set_words(store, tag["id"], cleared)
    finally:
        await store.close()
    counts = [len(only or skip or ()) for _, _, only, skip in words]
    summary = {
        "fraction": filtering,
        "follows": len(words),
        "only": sum(1 for _, _, only, _ in words if only),
        "except": sum(1 for _, _, _, skip in words if skip),
        "words": sum(counts),
        "most_words": max(counts, default=0),
    }
    return plain, filtered, summary


def _rows(
    runs: list[dict[str, Any]],
    filtered: list[dict[str, Any]],
    words: dict[str, Any],
    *,
    share: float,
    postgres: bool,
) -> list[Row]:
    """The table: the plain runs and the filtering runs against the same target."""
    seconds = [run["seconds"] for run in runs]
    recipients = runs[0]["recipients"] if runs else 0
    rows: list[Row] = [
        at_most(
            f"plain: one story to {recipients} followers into the outbox (median of {len(runs)})",
            median(seconds),
            TARGET_SECONDS,
            "s",
            "runs: " + ", ".join(f"{value:.3f}" for value in seconds),
        ),
    ]
    if filtered:
        filtered_seconds = [run["seconds"] for run in filtered]
        percent = f"{share * 100:g} %"
        rows += [
            at_most(
                f"{percent} filtering: the same, {words['follows']} follows with words "
                f"(median of {len(filtered)})",
                median(filtered_seconds),
                TARGET_SECONDS,
                "s",
                "runs: " + ", ".join(f"{value:.3f}" for value in filtered_seconds),
            ),
            info(
                f"{percent} filtering: deliveries queued",
                filtered[0]["recipients"],
                "",
                f"{words['only']} only, {words['except']} except, {words['words']} words, "
                f"at most {words['most_words']} a follow",
            ),
            info(
                f"{percent} filtering ÷ plain",
                median(filtered_seconds) / median(seconds),
                "×",
            ),
        ]
        filtered_cpu = median([run["cpu_seconds"] for run in filtered])
        if postgres:
            # The server's work is not in this process: what is, is reading the follows with
            # words and checking them.
            rows.append(
                info(f"{percent} filtering: CPU of this process", filtered_cpu * 1000, "ms")
            )
        else:
            # Less sensitive than the wall clock to other work on the machine: SQLite works in
            # this process (its thread included).
            rows.append(
                info(
                    f"{percent} filtering ÷ plain, CPU",
                    filtered_cpu / median([run["cpu_seconds"] for run in runs]),
                    "×",
                )
            )
    rows.append(
        info(
            "plain: deliveries queued a second",
            recipients / median(seconds) if seconds else None,
            "rows/s",
        )
    )
    return rows


async def _main(args: argparse.Namespace) -> None:
    if not 0 <= args.filtering <= 1:
        raise SystemExit(f"--filtering takes a fraction between 0 and 1, not {args.filtering}")
    database, _ = await asyncio.to_thread(ensure_database, args.cache, args.scale)
    chosen = await backend(args.database)
    if chosen.is_postgres:
        await ensure_postgres(chosen, database)
    copy = await working_copy(chosen, database, "fanout", args.out / "work")
    top = database.top_tag
    try:
        runs, filtered, words = await _runs(copy, top, args.repeat, args.filtering)
    finally:
        await remove(copy)
    rows = _rows(runs, filtered, words, share=args.filtering, postgres=chosen.is_postgres)
    report(
        "fanout",
        f"Fan-out of one story of the top tag (scale {args.scale:g}, {chosen.name})",
        rows,
        out=args.out,
        params={
            "scale": args.scale,
            "repeat": args.repeat,
            "tag": top,
            "database": chosen.label,
            "filtering": words,
        },
        details={"runs": runs, "filtering_runs": filtered},
        database=chosen.name,
    )


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="of the generated database")
    arguments.add_argument("--repeat", type=int, default=5)
    arguments.add_argument(
        "--filtering",
        type=float,
        default=0.10,
        metavar="FRACTION",
        help="of the top tag's followers with words in their follow, measured beside the "
        "plain fan-out (default 0.10; 0: the plain fan-out alone)",
    )
    add_database_argument(arguments)
    asyncio.run(_main(arguments.parse_args()))


if __name__ == "__main__":
    main()
