"""/latest's two reads on PostgreSQL with asyncpg's reset of a connection going back to the pool
(its default: a round trip of `RESET ALL; UNLISTEN *; …` after every read) and without it (what
storage/postgres_pool.py does), side by side in one run on one database: the two stores take
turns round by round, so whatever else the machine does falls on both alike.

    python -m bench.pool_reset --database postgresql://postgres@127.0.0.1:5432/tagwire_bench

The database is created (dropped first if it exists) and dropped at the end.
"""

from __future__ import annotations

import asyncio
import random
import resource
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from bench.common import info, median, parser, percentile, report
from storage.models import NewArticle
from storage.postgres import PostgresStore

TAGS = 200
STORIES = 5_000


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _open(dsn: str, reset: Callable[[Any], Awaitable[None]] | None) -> PostgresStore:
    """A store whose pool resets connections with `reset` (None: the store's own choice)."""
    original = asyncpg.create_pool

    async def create_pool(*args: Any, **kwargs: Any) -> Any:
        if reset is not None:
            kwargs["reset"] = reset
        return await original(*args, **kwargs)

    asyncpg.create_pool = create_pool
    try:
        return await PostgresStore.open(dsn, min_size=8, max_size=8)
    finally:
        asyncpg.create_pool = original


async def _asyncpg_default(connection: Any) -> None:
    await connection.execute(connection.get_reset_query())


async def _round(
    store: PostgresStore, keys: list[str], concurrency: int, calls: int
) -> tuple[list[float], float, float]:
    """`calls` /latest reads, `concurrency` at once: their latencies, CPU a call, calls a
    second."""
    latencies: list[float] = []
    turns = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with turns:
            began = time.perf_counter()
            key = random.choice(keys)
            tags = await store.find_tags([key])
            await store.latest_articles(tags[key].id, 5)
            latencies.append(time.perf_counter() - began)

    cpu, wall = _cpu(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    return latencies, (_cpu() - cpu) / calls, calls / (time.perf_counter() - wall)


async def _run(database: str, rounds: int, calls: int) -> dict[str, list[Any]]:
    parts = urlsplit(database)
    name = parts.path.lstrip("/")
    admin_dsn = urlunsplit(parts._replace(path="/postgres"))
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        kept = await _open(database, None)
        reset = await _open(database, _asyncpg_default)
        try:
            now = datetime.now(UTC)
            stories = [
                NewArticle(
                    url=f"https://bench.example.com/{number}",
                    title=f"Story {number}",
                    teaser="A teaser of a hundred characters or so. " * 2,
                    tags=((f"Tag{number % TAGS}", f"tag{number % TAGS}"),),
                    published_at=now - timedelta(minutes=number),
                )
                for number in range(STORIES)
            ]
            await kept.add_articles(stories, notify=False, now=time.time())
            keys = [f"tag{number}" for number in range(TAGS)]
            runs: dict[str, list[Any]] = {"asyncpg's reset": [], "no reset": []}
            for number in range(rounds):
                order = [("asyncpg's reset", reset), ("no reset", kept)]
                for label, store in order if number % 2 == 0 else reversed(order):
                    runs[label].append(await _round(store, keys, 8, calls))
            return runs
        finally:
            await kept.close()
            await reset.close()
    finally:
        admin = await asyncpg.connect(admin_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        finally:
            await admin.close()


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--database", required=True, help="postgresql://… (created, dropped)")
    arguments.add_argument("--rounds", type=int, default=8, help="rounds of each")
    arguments.add_argument("--calls", type=int, default=2_000, help="/latest reads a round")
    args = arguments.parse_args()
    runs = asyncio.run(_run(args.database, args.rounds, args.calls))
    rows = []
    for label, rounds in runs.items():
        latencies = sorted(value for latency, _, _ in rounds for value in latency)
        rows += [
            info(f"{label}: p50 of a /latest", percentile(latencies, 0.50) * 1000, "ms"),
            info(f"{label}: p99", percentile(latencies, 0.99) * 1000, "ms"),
            info(f"{label}: CPU a /latest", median([r[1] for r in rounds]) * 1000, "ms"),
            info(f"{label}: /latest a second", median([r[2] for r in rounds]), "/s"),
        ]
    report(
        "pool_reset",
        "asyncpg's pool reset against none, /latest's reads",
        rows,
        out=args.out,
        params={"rounds": args.rounds, "calls": args.calls},
        database="PostgreSQL",
    )


if __name__ == "__main__":
    main()
