"""Fan-out of one story of the top tag (50 000 followers at full scale) into the outbox: the
whole `add_articles(notify=True)` transaction as `tagwire push` runs it, whose fan-out is one
INSERT … SELECT. The deliveries of each run are removed before the next (not timed).

    python -m bench.fanout [--scale 1] [--repeat 5]
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import at_most, info, median, parser, report
from bench.generate import ensure_database
from bench.outbox import working_copy
from bot.tags import tag_key
from storage.models import NewArticle
from storage.sqlite import SqliteStore


async def _runs(path: Path, tag: str, repeat: int) -> list[dict[str, Any]]:
    store = await SqliteStore.open(path)
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
            async with store._transaction() as db:
                await db.execute(
                    "DELETE FROM deliveries WHERE article_id = ?", (result.article_id,)
                )
    finally:
        await store.close()
    return runs


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="of the generated database")
    arguments.add_argument("--repeat", type=int, default=5)
    args = arguments.parse_args()
    database, _ = ensure_database(args.cache, args.scale)
    copy = working_copy(database, args.out / "work" / "fanout.db")
    runs = asyncio.run(_runs(copy, str(database.top_tag["name"]), args.repeat))
    for suffix in ("", "-wal", "-shm"):
        copy.with_name(copy.name + suffix).unlink(missing_ok=True)
    seconds = [run["seconds"] for run in runs]
    recipients = runs[0]["recipients"] if runs else 0
    report(
        "fanout",
        f"Fan-out of one story of the top tag (scale {args.scale:g})",
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
        params={"scale": args.scale, "repeat": args.repeat, "tag": database.top_tag},
        details={"runs": runs},
    )


if __name__ == "__main__":
    main()
