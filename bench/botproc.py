"""The bot under test, in a process of its own: the real `build_application` and `serve`, as
`tagwire run` runs them, against a stand-in. Prints one JSON line with what it measured on
itself: messages sent, CPU seconds and wall seconds over the sending window, peak RSS.

    python -m bench.botproc --api URL --database FILE|URL [--expect N] [--seconds S] ...

It measures from the first delivery it sees sent until it has sent `--expect` messages or
`--seconds` have passed; with neither it serves until SIGTERM (the /latest benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import signal
import sys
import time
from pathlib import Path
from typing import Any

from telegram.request import HTTPXRequest

from bench.common import TOKEN, peak_rss_mb
from bot.app import build_application, delivery_config, serve, tune_garbage_collector
from bot.settings import Settings

POLL = 0.02


def _settings(args: argparse.Namespace) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database": args.database,
        "telegram_api_url": args.api,
        "paid_broadcast": args.paid_broadcast,
        "outbox_poll_interval": 0.2,
        "log_level": "WARNING",
    }
    if args.rate is not None and args.rate <= 1000:
        values["rate_limit"] = args.rate
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    if args.rate is not None and args.rate > 1000:
        # Past Telegram's paid ceiling, which the setting rightly refuses: the no-limit run
        # measures what the send path can do, so the budget must not be what stops it.
        settings = settings.model_copy(update={"rate_limit": args.rate})
    return settings


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    settings = _settings(args)
    request = None
    if args.request == "httpx":
        in_flight = delivery_config(settings).max_in_flight
        request = HTTPXRequest(connection_pool_size=in_flight + 64, pool_timeout=10.0)
    application = build_application(settings, request=request)
    # As `tagwire run` does once the application is built.
    tune_garbage_collector()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(serve(application, stop))
    while not application.running:
        if task.done():
            task.result()
            raise RuntimeError("the bot stopped before it started")
        await asyncio.sleep(POLL)
    result: dict[str, Any] = {"request": args.request, "rate_limit": settings.effective_rate_limit}
    services = application.bot_data.services
    assert services is not None
    counters = services.engine.counters
    if args.expect is None and args.seconds is None:
        print(json.dumps({"ready": True}), flush=True)
        await stop.wait()
    else:
        start: tuple[float, float, int] | None = None
        deadline = time.monotonic() + args.timeout
        while not stop.is_set() and time.monotonic() < deadline:
            now, cpu = time.monotonic(), time.process_time()
            done = counters.sent + sum(counters.failed.values())
            if start is None and counters.sent:
                start = (now, cpu, counters.sent)
            if start is not None and (
                (args.expect is not None and done >= args.expect)
                or (args.seconds is not None and now - start[0] >= args.seconds)
            ):
                break
            await asyncio.sleep(POLL)
        end = (time.monotonic(), time.process_time(), counters.sent)
        if start is not None:
            sent = end[2] - start[2]
            result.update(
                sent_in_window=sent,
                wall_seconds=end[0] - start[0],
                cpu_seconds=end[1] - start[1],
                rate=sent / (end[0] - start[0]) if end[0] > start[0] else None,
                cpu_ms_per_message=1000 * (end[1] - start[1]) / sent if sent else None,
            )
    result.update(sent=counters.sent, failed=dict(counters.failed), peak_rss_mb=peak_rss_mb())
    stop.set()
    await task
    return result


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--api", required=True, help="the stand-in's base URL (…/bot)")
    arguments.add_argument("--database", required=True, help="a SQLite file or a postgresql:// URL")
    arguments.add_argument("--request", choices=("aiohttp", "httpx"), default="aiohttp")
    arguments.add_argument("--rate", type=float, help="TAGWIRE_RATE_LIMIT (above 1000: no cap)")
    arguments.add_argument("--paid-broadcast", action="store_true")
    arguments.add_argument("--expect", type=int, help="stop after this many messages")
    arguments.add_argument("--seconds", type=float, help="stop after this long sending")
    arguments.add_argument("--timeout", type=float, default=600.0)
    arguments.add_argument("--profile", type=Path, help="write cProfile statistics here")
    args = arguments.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.profile is None:
        print(json.dumps(asyncio.run(_run(args))), flush=True)
        return
    profile = cProfile.Profile()
    result = profile.runcall(asyncio.run, _run(args))
    profile.dump_stats(args.profile)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
