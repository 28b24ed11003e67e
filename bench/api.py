"""The HTTP API's own cost, FastAPI handlers (bot/web/api.py) beside the Starlette ones they
replaced: one story pushed with POST /api/articles, one at a time, timed by the client from
request to answer, and two reads (GET /api/tags, GET /api/articles/{id}).

The Starlette side is tagwire as it was at `--baseline` (the last commit before FastAPI),
taken whole out of git into a temporary folder (`git archive`), so nothing of the old code is
kept in the tree. Each is what `tagwire run` runs, in a child process of its own (SQLite in a
temporary file, no followers, so the figure is the API and the ingest path, not a fan-out),
against one Bot API stand-in; the client (aiohttp, one keep-alive connection to each) runs
here. Every request goes to one bot and then the same to the other, so a busy machine slows
both alike; the first `--warmup` rounds are not counted. Target: FastAPI's median POST at most
10 % above Starlette's (the reads are shown beside it).

    python -m bench.api [--stories 1000] [--warmup 100] [--baseline 8b697e9]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import ROOT, TOKEN, Row, at_most, info, median, parser, percentile, report
from bench.procs import StandIn

INGEST_TOKEN = "bench-ingest-token-0123456789"  # noqa: S105 - a local benchmark's token
AUTH = {"Authorization": f"Bearer {INGEST_TOKEN}"}
# A median may be this much above the one compared against.
TOLERANCE = 1.10


# The last commit whose API was Starlette's own routes (bot/web/api.py before FastAPI).
STARLETTE_BASELINE = "8b697e9"

# What `tagwire run` does (bot/cli.py), without the command line around it, in whichever tree
# PYTHONPATH names.
_RUN = """
import asyncio, signal
from bot.app import build_application, serve
from bot.settings import Settings

async def run():
    application = build_application(Settings())
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await serve(application, stop)

asyncio.run(run())
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _checkout(revision: str, folder: Path) -> Path:
    """tagwire's tree at `revision`, extracted into `folder` (no work tree of git's touched)."""
    tree = folder / f"tagwire-{revision}"
    tree.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        raise SystemExit(
            f"bench.api needs git history with {revision} (the Starlette API): "
            + archive.stderr.decode(errors="replace").strip()
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return tree


async def _start_bot(
    tree: Path, api: str, database: Path, port: int, log: Path
) -> asyncio.subprocess.Process:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
    env.update(
        PYTHONPATH=str(tree),
        TAGWIRE_BOT_TOKEN=TOKEN,
        TAGWIRE_DATABASE=str(database),
        TAGWIRE_TELEGRAM_API_URL=api,
        TAGWIRE_HTTP_HOST="127.0.0.1",
        TAGWIRE_HTTP_PORT=str(port),
        TAGWIRE_INGEST_TOKEN=INGEST_TOKEN,
        # The limiter is measured, not hit.
        TAGWIRE_API_REQUESTS_PER_MINUTE="1000000",
        TAGWIRE_LOG_LEVEL="WARNING",
    )
    with log.open("ab") as output:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _RUN,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tree,
            env=env,
        )


async def _ready(
    session: aiohttp.ClientSession, base: str, bot: asyncio.subprocess.Process
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if bot.returncode is not None:
            raise RuntimeError(f"the bot exited ({bot.returncode})")
        with contextlib.suppress(aiohttp.ClientError):
            async with session.get(base + "/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.1)
    raise RuntimeError("the bot never answered /healthz")


def _story(number: int) -> dict[str, Any]:
    return {
        "url": f"https://news.example.com/bench-api/{number}",
        "title": f"Bench story {number}",
        "teaser": "Pushed over HTTP, one at a time.",
        "tags": ["Japan", "Economy"],
    }


async def _timed(
    session: aiohttp.ClientSession, method: str, url: str, expect: int, **kwargs: Any
) -> tuple[float, Any]:
    started = time.perf_counter()
    async with session.request(method, url, headers=AUTH, **kwargs) as response:
        body = await response.json()
        elapsed = time.perf_counter() - started
        if response.status != expect:
            raise RuntimeError(f"{method} {url}: {response.status} {body}")
    return elapsed * 1000, body


HANDLERS = ("starlette", "fastapi")


async def _measure(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    standin = await StandIn.start(
        "emulator", latency=0.0, limits=False, log=logs / "api-standin.log"
    )
    timings: dict[str, dict[str, list[float]]] = {
        handlers: {key: [] for key, _ in _ROWS} for handlers in HANDLERS
    }
    bots: list[asyncio.subprocess.Process] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as folder:
        trees = {"starlette": _checkout(args.baseline, Path(folder)), "fastapi": ROOT}
        try:
            bases = {}
            for handlers in HANDLERS:
                port = _free_port()
                bases[handlers] = f"http://127.0.0.1:{port}"
                database = Path(folder) / f"{handlers}.db"
                log = logs / f"api-bot-{handlers}.log"
                bots.append(await _start_bot(trees[handlers], standin.url, database, port, log))
            sessions = {
                handlers: aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
                for handlers in HANDLERS
            }
            try:
                for handlers, bot in zip(HANDLERS, bots, strict=True):
                    await _ready(sessions[handlers], bases[handlers], bot)
                for number in range(args.warmup + args.stories):
                    # Which goes first alternates too.
                    order = HANDLERS if number % 2 == 0 else HANDLERS[::-1]
                    for handlers in order:
                        measured = await _round(sessions[handlers], bases[handlers], number)
                        if number >= args.warmup:
                            for key, value in measured.items():
                                timings[handlers][key].append(value)
            finally:
                for session in sessions.values():
                    await session.close()
        finally:
            for bot in bots:
                if bot.returncode is None:
                    bot.terminate()
                    await asyncio.wait_for(bot.wait(), 30)
            await standin.stop()
    return timings


async def _round(session: aiohttp.ClientSession, base: str, number: int) -> dict[str, float]:
    post, body = await _timed(session, "POST", base + "/api/articles", 201, json=_story(number))
    story_id = body["results"][0]["id"]
    tags, _ = await _timed(session, "GET", base + "/api/tags?limit=10", 200)
    article, _ = await _timed(session, "GET", f"{base}/api/articles/{story_id}", 200)
    return {"post": post, "tags": tags, "article": article}


_ROWS = (
    ("post", "POST /api/articles, one story"),
    ("tags", "GET /api/tags"),
    ("article", "GET /api/articles/{id}"),
)


def _rows(timings: dict[str, dict[str, list[float]]]) -> list[Row]:
    """POST has the target (the issue's); the reads are shown for context."""
    rows: list[Row] = []
    for key, name in _ROWS:
        before = median(timings["starlette"][key])
        after = median(timings["fastapi"][key])
        rows.append(info(f"{name}: Starlette median", before, "ms"))
        ratio = f"{after / before - 1:+.0%} on Starlette's"
        if key == "post":
            rows.append(at_most(f"{name}: FastAPI median", after, before * TOLERANCE, "ms", ratio))
        else:
            rows.append(info(f"{name}: FastAPI median", after, "ms", ratio))
        for handlers in HANDLERS:
            p95 = percentile(timings[handlers][key], 0.95)
            rows.append(info(f"{name}: {handlers} p95", p95, "ms"))
    return rows


def main() -> None:
    arguments = parser("The HTTP API's latency, FastAPI beside Starlette, one request at a time.")
    arguments.add_argument("--stories", type=int, default=1000)
    arguments.add_argument("--warmup", type=int, default=100)
    arguments.add_argument("--scale", type=float, default=1.0, help="scales --stories")
    arguments.add_argument(
        "--baseline",
        default=STARLETTE_BASELINE,
        help="the git revision whose Starlette API is compared against",
    )
    args = arguments.parse_args()
    args.stories = max(5, round(args.stories * args.scale))
    args.warmup = min(args.warmup, args.stories)
    timings = asyncio.run(_measure(args))
    medians = {
        handlers: {key: median(values) for key, values in measured.items()}
        for handlers, measured in timings.items()
    }
    report(
        "api",
        "The HTTP API, FastAPI beside Starlette, one request at a time",
        _rows(timings),
        out=args.out,
        params={"stories": args.stories, "warmup": args.warmup, "baseline": args.baseline},
        details={"medians_ms": medians, "timings_ms": timings},
    )


if __name__ == "__main__":
    main()
