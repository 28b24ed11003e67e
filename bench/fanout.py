"""Fan-out of one story of the top tag (50 000 followers at full scale) into the outbox: the
whole `add_articles(notify=True)` transaction as `tagwire push` runs it, whose fan-out is one
INSERT … SELECT. The deliveries of each run are removed before the next (not timed).
With `--database postgresql://…`, the same in PostgreSQL (bench/backends.py).

    python -m bench.fanout [--scale 1] [--repeat 5] [--database postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from bench.backends import add_database_argument, backend, ensure_postgres, remove, working_copy
from bench.common import at_most, info, median, parser, report
from bench.generate import ensure_database
from bot.tags import tag_key
from storage import open_store
from storage.base import Store
from storage.models import NewArticle
from storage.postgres import PostgresStore
from storage.sqlite import SqliteStore
from storage.url import DatabaseTarget


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


async def _runs(target: DatabaseTarget, tag: str, repeat: int) -> list[dict[str, Any]]:
    store = await open_store(target)
    runs = []
    try:
        for number in range(repeat):
            story = NewArticle(
                url=f"https://news.example.com/fanout/{number}",
                title="A story everyone follows",
                teaser="It reaches half of all chats.",
                tags=((tag, tag_key(tag)),),
                published_at=datetime.now(UTC),
                source="news.example.com",
            )
            started = time.perf_counter()
            (result,) = await store.add_articles([story], notify=True, now=time.time())
            elapsed = time.perf_counter() - started
            runs.append({"seconds": elapsed, "recipients": result.recipients})
            print(f"fan-out: {result.recipients} deliveries in {elapsed:.3f} s", flush=True)
            await _forget(store, result.article_id)
    finally:
        await store.close()
    return runs


async def _main(args: argparse.Namespace) -> None:
    database, _ = await asyncio.to_thread(ensure_database, args.cache, args.scale)
    chosen = await backend(args.database)
    if chosen.is_postgres:
        await ensure_postgres(chosen, database)
    copy = await working_copy(chosen, database, "fanout", args.out / "work")
    try:
        runs = await _runs(copy, str(database.top_tag["name"]), args.repeat)
    finally:
        await remove(copy)
    seconds = [run["seconds"] for run in runs]
    recipients = runs[0]["recipients"] if runs else 0
    report(
        "fanout",
        f"Fan-out of one story of the top tag (scale {args.scale:g}, {chosen.name})",
        [
            at_most(
                f"one story to {recipients} followers into the outbox (median of {len(runs)})",
                median(seconds),
                0.3,
                "s",
                "runs: " + ", ".join(f"{value:.3f}" for value in seconds),
            ),
            info(
                "deliveries queued a second",
                recipients / median(seconds) if seconds else None,
                "rows/s",
            ),
        ],
        out=args.out,
        params={
            "scale": args.scale,
            "repeat": args.repeat,
            "tag": database.top_tag,
            "database": chosen.label,
        },
        details={"runs": runs},
        database=chosen.name,
    )


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="of the generated database")
    arguments.add_argument("--repeat", type=int, default=5)
    add_database_argument(arguments)
    asyncio.run(_main(arguments.parse_args()))


if __name__ == "__main__":
    main()
