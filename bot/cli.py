"""The `tagwire` command: run the bot, push stories, show counts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from storage import StorageUnavailable

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagwire",
        description="A Telegram bot that delivers tagged news. Settings come from TAGWIRE_* "
        "environment variables and a .env file (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="run the bot (long polling) and deliver stories")
    push = commands.add_parser(
        "push",
        help="add stories from a JSON object, a JSON array or JSON Lines",
        description='Each record: {"url", "title", "teaser"?, "tags": [...], '
        '"published_at"?, "source"?}. A URL already stored is a duplicate and notifies '
        "nobody. Exit status 1 when any record was rejected; valid records are kept.",
    )
    push.add_argument("file", nargs="?", default="-", help="a file, or - for standard input")
    push.add_argument(
        "--no-notify",
        action="store_true",
        help="store without notifying anyone (to import an archive)",
    )
    commands.add_parser("stats", help="counts of chats, subscriptions, stories and deliveries")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command == "run":
            return _run(settings)
        if args.command == "push":
            return _push(settings, args.file, notify=not args.no_notify)
        if args.command == "stats":
            return _stats(settings)
    except (SettingsError, StorageUnavailable) as exc:
        print(f"tagwire: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")


def _run(settings: Settings) -> int:
    from bot.app import StartupError, build_application, serve

    token = settings.require_token()
    configure_logging(settings.log_level, secrets=[token])
    application = build_application(settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(application, stop)

    try:
        asyncio.run(run())
    except StartupError as exc:
        print(f"tagwire: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _push(settings: Settings, file: str, *, notify: bool) -> int:
    configure_logging("WARNING")
    if file == "-":
        return asyncio.run(_push_stream(settings, sys.stdin, notify=notify))
    path = Path(file)
    try:
        stream = path.open(encoding="utf-8", errors="strict")
    except OSError as exc:
        print(f"tagwire: cannot read {file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    with stream:
        return asyncio.run(_push_stream(settings, stream, notify=notify))


async def _push_stream(settings: Settings, stream: IO[str], *, notify: bool) -> int:
    from bot.ingest import Ingestor, read_records
    from storage import open_store

    store = await open_store(settings.database)
    try:
        try:
            report = await Ingestor(store).ingest(read_records(stream), notify=notify)
        except UnicodeDecodeError as exc:
            print(f"tagwire: the input is not UTF-8 text ({exc.reason})", file=sys.stderr)
            return EXIT_USAGE
    finally:
        await store.close()
    for rejection in report.rejections:
        print(f"{rejection.position}: {rejection.field}: {rejection.reason}", file=sys.stderr)
    summary = f"added {report.created}, duplicates {report.duplicates}, rejected {report.rejected}"
    if notify:
        summary += f"; {report.recipients} deliveries queued"
    else:
        summary += "; nobody notified (--no-notify)"
    print(summary)
    return EXIT_REJECTED if report.rejected else EXIT_OK


def _stats(settings: Settings) -> int:
    from storage import open_store

    async def collect() -> str:
        store = await open_store(settings.database)
        try:
            stats = await store.stats()
        finally:
            await store.close()
        delay = (
            f"{stats.last_delivery_delay:.1f} s"
            if stats.last_delivery_delay is not None
            else "none yet"
        )
        rows = [
            ("chats active", str(stats.chats_active)),
            ("chats inactive", str(stats.chats_inactive)),
            ("subscriptions", str(stats.subscriptions)),
            ("stories", str(stats.stories)),
            ("deliveries pending", str(stats.deliveries_pending)),
            ("deliveries failed", str(stats.deliveries_failed)),
            ("deliveries sent", str(stats.deliveries_sent)),
            ("last delivery delay", delay),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    print(asyncio.run(collect()))
    return EXIT_OK


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        raise SystemExit(main())
