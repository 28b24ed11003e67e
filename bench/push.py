"""Bulk `tagwire push` of JSON Lines into the generated database (1M stories at full scale).

The command an operator runs, timed from outside: `tagwire push --no-notify FILE` of `--size`
fresh stories (an archive import: with notify, pushing 50 000 stories into a database whose
top tag has 50 000 followers would queue hundreds of millions of deliveries; fan-out has its
own benchmark). Then where the time goes, measured in-process on a sample: reading the JSON,
validating, and storing with and without the full-text index (PostgreSQL: storing, and the
share of it that works out the search vectors in Python).

    python -m bench.push [--scale 1] [--size 50000] [--repeat 3] [--database postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.backends import (
    Backend,
    add_database_argument,
    backend,
    ensure_postgres,
    remove,
    working_copy,
)
from bench.common import ROOT, Row, at_least, info, median, parser, report
from bench.generate import Database, ensure_database, story_records
from bot.intake.ingest import BATCH_SIZE, read_records
from bot.intake.validation import validate_article
from storage import open_store
from storage.models import NewArticle
from storage.postgres_search import search_vector
from storage.sqlite import SqliteStore
from storage.url import DatabaseTarget


def _stories(path: Path, size: int, scale: float) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as output:
            for record in story_records(size, scale=scale, prefix=f"push{size}"):
                output.write(json.dumps(record) + "\n")
        partial.rename(path)
    return path


def _push(database: DatabaseTarget, stories: Path) -> tuple[float, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
    env["TAGWIRE_DATABASE"] = database.dsn or str(database.require_path())
    env["PYTHONPATH"] = str(ROOT)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "push", "--no-notify", str(stories)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"tagwire push failed: {done.stderr.strip()}")
    return elapsed, done.stdout.strip()


async def _store(database: DatabaseTarget, articles: list[NewArticle], *, full_text: bool) -> float:
    store = await open_store(database)
    try:
        if not full_text:
            assert isinstance(store, SqliteStore)
            await store._writer.execute("DROP TRIGGER articles_fts_insert")
        started = time.perf_counter()
        for start in range(0, len(articles), BATCH_SIZE):
            await store.add_articles(
                articles[start : start + BATCH_SIZE], notify=False, now=time.time()
            )
        return time.perf_counter() - started
    finally:
        await store.close()


async def _stored(
    chosen: Backend, database: Database, folder: Path, articles: list[NewArticle], full_text: bool
) -> float:
    copy = await working_copy(chosen, database, "push-stages", folder)
    try:
        return await _store(copy, articles, full_text=full_text)
    finally:
        await remove(copy)


async def _main(args: argparse.Namespace) -> None:
    database, _ = await asyncio.to_thread(ensure_database, args.cache, args.scale)
    chosen = await backend(args.database)
    if chosen.is_postgres:
        await ensure_postgres(chosen, database)
    work = args.out / "work"
    stories = _stories(work / f"push-{args.size}-scale{args.scale:g}.jsonl", args.size, args.scale)

    runs = []
    for _ in range(args.repeat):
        copy = await working_copy(chosen, database, "push", work)
        try:
            elapsed, summary = await asyncio.to_thread(_push, copy, stories)
        finally:
            await remove(copy)
        runs.append({"seconds": elapsed, "rate": args.size / elapsed, "output": summary})
        print(f"push: {args.size / elapsed:.0f} stories/s ({summary})", flush=True)
    empty = work / "empty.jsonl"
    empty.write_text("")
    copy = await working_copy(chosen, database, "push", work)
    try:
        startup, _ = await asyncio.to_thread(_push, copy, empty)
    finally:
        await remove(copy)

    # Where the time goes, one stage at a time, on a sample.
    sample = min(args.size, 20_000)
    with stories.open(encoding="utf-8") as lines:
        started = time.perf_counter()
        records = [record for _, record in zip(range(sample), read_records(lines), strict=False)]
        reading = time.perf_counter() - started
    started = time.perf_counter()
    articles = [validate_article(record.data) for record in records]
    validating = time.perf_counter() - started
    storing = await _stored(chosen, database, work, articles, True)

    def per_story(seconds: float) -> float:
        return 1e6 * seconds / sample

    rates = [run["rate"] for run in runs]
    rows: list[Row] = [
        at_least(
            f"bulk `tagwire push --no-notify` of {args.size} stories (median of {len(runs)})",
            median(rates),
            20_000,
            "stories/s",
            "runs: " + ", ".join(f"{rate:.0f}" for rate in rates),
        ),
        info("of which starting the command (an empty push)", startup, "s"),
        info("reading JSON Lines", per_story(reading), "µs/story"),
        info("validating (bot.intake.validation)", per_story(validating), "µs/story"),
    ]
    if chosen.is_postgres:
        started = time.perf_counter()
        for article in articles:
            search_vector(article.title, article.teaser)
        vectors = time.perf_counter() - started
        rows += [
            info("storing (PostgresStore.add_articles)", per_story(storing), "µs/story"),
            info(
                "search vectors worked out in Python (storage/postgres_search.py)",
                per_story(vectors),
                "µs/story",
                "overlapped with the server's work on the previous chunk",
            ),
        ]
    else:
        without_index = await _stored(chosen, database, work, articles, False)
        rows += [
            info("storing, with the full-text index", per_story(storing), "µs/story"),
            info("storing, full-text trigger dropped", per_story(without_index), "µs/story"),
            info(
                "the full-text index's share of storing",
                100 * (storing - without_index) / storing,
                "%",
            ),
        ]
    report(
        "push",
        f"Bulk push into the generated database (scale {args.scale:g}, {chosen.name})",
        rows,
        out=args.out,
        params={
            "scale": args.scale,
            "size": args.size,
            "repeat": args.repeat,
            "sample": sample,
            "database": chosen.label,
        },
        details={"runs": runs, "startup_seconds": startup},
        database=chosen.name,
    )


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="of the generated database")
    arguments.add_argument("--size", type=int, default=50_000, help="stories pushed")
    arguments.add_argument("--repeat", type=int, default=3)
    add_database_argument(arguments)
    asyncio.run(_main(arguments.parse_args()))


if __name__ == "__main__":
    main()
