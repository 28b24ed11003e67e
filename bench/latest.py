"""/latest <tag>: at the storage layer, and through the whole bot.

1. Storage: what the command asks of the Store (resolve the tag, then its newest stories) for
   `--queries` random tags of the generated database, one after another; p99 per pass.
2. Whole bot: the real bot (bench.botproc) long-polling the emulator in another process (no
   added latency, no flood limits); `--users` readers send `/latest <tag>` at the same moment;
   each one's latency runs from the update being queued to the emulator receiving the reply.

    python -m bench.latest [--scale 1] [--queries 10000] [--users 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.common import at_most, info, median, parser, percentile, report
from bench.generate import ensure_database
from bench.outbox import working_copy
from bench.procs import Served, StandIn
from storage.sqlite import SqliteStore

COUNT = 5  # what /latest shows without a number


async def _storage_pass(path: Path, keys: list[str]) -> list[float]:
    store = await SqliteStore.open(path)
    timings = []
    try:
        for key in keys:
            started = time.perf_counter()
            tag = (await store.find_tags([key]))[key]
            await store.latest_articles(tag.id, COUNT)
            timings.append(time.perf_counter() - started)
    finally:
        await store.close()
    return timings


async def _through_the_bot(
    args: argparse.Namespace, path: Path, names: list[str], users: list[int]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    standin = await StandIn.start(
        "emulator", latency=0.0, limits=False, log=logs / "latest-api.log"
    )
    rounds = []
    bot_result: dict[str, Any] = {}
    try:
        bot = await Served.start(
            ["--api", standin.url, "--database", str(path)], log=logs / "latest-bot.log"
        )
        try:
            deadline = time.monotonic() + 30
            while not (await standin.command("polling"))["polling"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("the bot never polled for updates")
                await asyncio.sleep(0.05)
            rng = random.Random(7)
            for number in range(args.rounds):
                askers = users[number * args.users : (number + 1) * args.users]
                asked = [[user, f"/latest {rng.choice(names)}"] for user in askers]
                await standin.command("ask", messages=asked)
                deadline = time.monotonic() + 60
                while True:
                    replies = (await standin.command("stats"))["replies"]
                    latencies = [replies[str(u)] for u in askers if str(u) in replies]
                    if len(latencies) == len(askers):
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError("not every reader got an answer within 60 s")
                    await asyncio.sleep(0.02)
                rounds.append(
                    {
                        "p50_ms": 1000 * percentile(latencies, 0.5),
                        "p99_ms": 1000 * percentile(latencies, 0.99),
                        "max_ms": 1000 * max(latencies),
                    }
                )
                print(f"/latest round {number + 1}: {rounds[-1]}", flush=True)
                await asyncio.sleep(1.0)
        finally:
            bot_result = await bot.stop()
    finally:
        await standin.stop()
    return rounds, bot_result


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="of the generated database")
    arguments.add_argument("--queries", type=int, default=10_000, help="storage: random tags")
    arguments.add_argument("--passes", type=int, default=3, help="storage: passes over them")
    arguments.add_argument("--users", type=int, default=200, help="bot: readers at once")
    arguments.add_argument("--rounds", type=int, default=5, help="bot: times they ask")
    args = arguments.parse_args()
    database, _ = ensure_database(args.cache, args.scale)
    copy = working_copy(database, args.out / "work" / "latest.db")
    db = sqlite3.connect(copy)
    try:
        tags = db.execute("SELECT key, name FROM tags WHERE story_count > 0").fetchall()
        users = [
            row[0]
            for row in db.execute(
                "SELECT id FROM chats WHERE type = 'private' ORDER BY random() LIMIT ?",
                (args.users * args.rounds,),
            )
        ]
    finally:
        db.close()
    rng = random.Random(11)
    keys = [rng.choice(tags)[0] for _ in range(args.queries)]
    passes = []
    for number in range(args.passes):
        timings = asyncio.run(_storage_pass(copy, keys))
        passes.append(
            {
                "p50_ms": 1000 * percentile(timings, 0.5),
                "p99_ms": 1000 * percentile(timings, 0.99),
                "max_ms": 1000 * max(timings),
            }
        )
        print(f"storage pass {number + 1}: {passes[-1]}", flush=True)
    rounds, bot = asyncio.run(_through_the_bot(args, copy, [name for _, name in tags], users))
    for suffix in ("", "-wal", "-shm"):
        copy.with_name(copy.name + suffix).unlink(missing_ok=True)
    report(
        "latest",
        f"/latest <tag> (scale {args.scale:g})",
        [
            at_most(
                f"storage: p99 over {args.queries} random tags (median of {len(passes)} passes)",
                median([p["p99_ms"] for p in passes]),
                2,
                "ms",
                "p50 " + ", ".join(f"{p['p50_ms']:.2f}" for p in passes) + " ms",
            ),
            at_most(
                f"whole bot: p99 of {args.users} readers at once (median of {len(rounds)})",
                median([r["p99_ms"] for r in rounds]),
                100,
                "ms",
                "rounds: " + ", ".join(f"{r['p99_ms']:.0f}" for r in rounds) + " ms",
            ),
            info(
                "whole bot: p50 of the same",
                median([r["p50_ms"] for r in rounds]),
                "ms",
            ),
            info("whole bot: peak RSS", bot.get("peak_rss_mb"), "MB"),
        ],
        out=args.out,
        params={
            "scale": args.scale,
            "queries": args.queries,
            "passes": args.passes,
            "users": args.users,
            "rounds": args.rounds,
        },
        details={"storage": passes, "bot": rounds, "bot_process": bot},
    )


if __name__ == "__main__":
    main()
