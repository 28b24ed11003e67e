"""Bulk `tagwire push` of JSON Lines into the generated database (1M stories at full scale).

The command an operator runs, timed from outside: `tagwire push --no-notify FILE` of `--size`
fresh stories (an archive import: with notify, pushing 50 000 stories into a database whose
top tag has 50 000 followers would queue hundreds of millions of deliveries; fan-out has its
own benchmark). Then where the time goes, measured in-process on a sample: reading the JSON,
validating, and storing with and without the full-text index.

    python -m bench.push [--scale 1] [--size 50000] [--repeat 3]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, Row, at_least, info, median, parser, report
from bench.generate import ensure_database, story_records
from bench.outbox import working_copy
from bot.intake.ingest import BATCH_SIZE, read_records
from bot.intake.validation import validate_article
from storage.models import NewArticle
from storage.sqlite import SqliteStore


def _stories(path: Path, size: int, scale: float) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("w", encoding="utf-8") as output:
            for record in story_records(size, scale=scale, prefix=f"push{size}"):
                output.write(json.dumps(record) + "\n")
        partial.rename(path)
    return path


def _push(database: Path, stories: Path) -> tuple[float, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
    env["TAGWIRE_DATABASE"] = str(database)
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


async def _store(database: Path, articles: list[NewArticle], *, full_text: bool) -> float:
    store = await SqliteStore.open(database)
    try:
        if not full_text:
            await store._writer.execute("DROP TRIGGER articles_fts_insert")
        started = time.perf_counter()
        for start in range(0, len(articles), BATCH_SIZE):
            await store.add_articles(
                articles[start : start + BATCH_SIZE], notify=False, now=time.time()
            )
        return time.perf_counter() - started
    finally:
        await store.close()


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="of the generated database")
    arguments.add_argument("--size", type=int, default=50_000, help="stories pushed")
    arguments.add_argument("--repeat", type=int, default=3)
    args = arguments.parse_args()
    database, _ = ensure_database(args.cache, args.scale)
    work = args.out / "work"
    stories = _stories(work / f"push-{args.size}-scale{args.scale:g}.jsonl", args.size, args.scale)
    copy = work / "push.db"

    runs = []
    for _ in range(args.repeat):
        working_copy(database, copy)
        elapsed, summary = _push(copy, stories)
        runs.append({"seconds": elapsed, "rate": args.size / elapsed, "output": summary})
        print(f"push: {args.size / elapsed:.0f} stories/s ({summary})", flush=True)
    empty = work / "empty.jsonl"
    empty.write_text("")
    startup, _ = _push(copy, empty)

    # Where the time goes, one stage at a time, on a sample.
    sample = min(args.size, 20_000)
    with stories.open(encoding="utf-8") as lines:
        started = time.perf_counter()
        records = [record for _, record in zip(range(sample), read_records(lines), strict=False)]
        reading = time.perf_counter() - started
    started = time.perf_counter()
    articles = [validate_article(record.data) for record in records]
    validating = time.perf_counter() - started
    working_copy(database, copy)
    storing = asyncio.run(_store(copy, articles, full_text=True))
    working_copy(database, copy)
    storing_without_index = asyncio.run(_store(copy, articles, full_text=False))
    for suffix in ("", "-wal", "-shm"):
        copy.with_name(copy.name + suffix).unlink(missing_ok=True)

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
        info("storing, with the full-text index", per_story(storing), "µs/story"),
        info("storing, full-text trigger dropped", per_story(storing_without_index), "µs/story"),
        info(
            "the full-text index's share of storing",
            100 * (storing - storing_without_index) / storing,
            "%",
        ),
    ]
    report(
        "push",
        f"Bulk push into the generated database (scale {args.scale:g})",
        rows,
        out=args.out,
        params={"scale": args.scale, "size": args.size, "repeat": args.repeat, "sample": sample},
        details={"runs": runs, "startup_seconds": startup},
    )


if __name__ == "__main__":
    main()
