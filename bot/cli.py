"""The `tagwire` command: run the bot, push stories, show counts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from bot.intake.feeds_cli import add_feeds_parser, run_feeds_command
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
    commands.add_parser("run", help="run the bot (long polling or webhook) and deliver stories")
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
    sandbox = commands.add_parser(
        "sandbox",
        help="try the bot without Telegram: a local Bot API and a chat page in the browser",
        description="Runs the bot against a local stand-in for the Bot API (no token, no "
        "network) with the example stories loaded, and serves a page that plays the readers "
        "and the operator.",
    )
    sandbox.add_argument(
        "--port", type=int, default=8088, help="the page's port on 127.0.0.1 (default 8088)"
    )
    sandbox.add_argument(
        "--database", type=Path, help="a SQLite file to keep (default: a temporary one)"
    )
    sandbox.add_argument(
        "--stories",
        type=Path,
        help="stories to load first (default: examples/japan.jsonl of this checkout)",
    )
    backup = commands.add_parser(
        "backup",
        help="a consistent copy of the live database (safe while the bot runs)",
    )
    backup.add_argument("file", type=Path, help="where to write the copy")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    restore = commands.add_parser(
        "restore",
        help="check a backup and put it in place of the database (stop the bot first)",
        description="Checks that FILE is an intact tagwire database this version can use, "
        "keeps the current database beside it as <database>.before-restore-<time>, then copies "
        "FILE over the database.",
    )
    restore.add_argument("file", type=Path, help="a file made by `tagwire backup`")
    add_feeds_parser(commands)
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
        if args.command == "feeds":
            return run_feeds_command(settings, args)
        if args.command == "sandbox":
            return _sandbox(settings, args.port, args.database, args.stories)
        if args.command == "backup":
            return _backup(settings, args.file, force=args.force)
        if args.command == "restore":
            return _restore(settings, args.file)
    except (SettingsError, StorageUnavailable) as exc:
        print(f"tagwire: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command}")


def _backup(settings: Settings, file: Path, *, force: bool) -> int:
    from storage.backup import backup_database

    if file.exists() and not force:
        print(f"tagwire: {file} exists; pass --force to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    if file.resolve() == settings.database.resolve():
        print("tagwire: the backup cannot be the database itself", file=sys.stderr)
        return EXIT_USAGE
    if file.exists():
        file.unlink()
    summary = backup_database(settings.database, file)
    print(
        f"backed up {settings.database} to {file}: {summary.stories} stories, "
        f"{summary.chats} chats, {summary.subscriptions} subscriptions"
    )
    return EXIT_OK


def _restore(settings: Settings, file: Path) -> int:
    from storage.backup import InvalidBackup, restore_database

    if file.resolve() == settings.database.resolve():
        print("tagwire: that file is the database itself", file=sys.stderr)
        return EXIT_USAGE
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    previous = settings.database.with_name(f"{settings.database.name}.before-restore-{stamp}")
    try:
        summary = restore_database(file, settings.database, previous)
    except InvalidBackup as exc:
        print(f"tagwire: not restored: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    kept = f"; the previous database is kept as {previous}" if previous.exists() else ""
    print(
        f"restored {settings.database} from {file}: {summary.stories} stories, "
        f"{summary.chats} chats, {summary.subscriptions} subscriptions{kept}"
    )
    return EXIT_OK


def _run(settings: Settings) -> int:
    from bot.app import StartupError, build_application, serve, tune_garbage_collector

    token = settings.require_token()
    configure_logging(settings.log_level, secrets=[token, *settings.secret_values()])
    application = build_application(settings)
    tune_garbage_collector()

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
    from bot.intake.ingest import BATCH_SIZE, Ingestor, IngestStopped, read_records
    from storage import open_store

    store = await open_store(settings.database)
    try:
        try:
            # An import (--no-notify) commits every 5000 stories rather than 1000: each commit
            # rewrites the index pages it touched, and bench.push got a third more stories/s.
            batch_size = BATCH_SIZE if notify else 5 * BATCH_SIZE
            report = await Ingestor(store).ingest(
                read_records(stream), notify=notify, batch_size=batch_size
            )
        except UnicodeDecodeError as exc:
            print(f"tagwire: the input is not UTF-8 text ({exc.reason})", file=sys.stderr)
            return EXIT_USAGE
        except IngestStopped as stopped:
            for rejection in stopped.report.rejections:
                print(
                    f"{rejection.position}: {rejection.field}: {rejection.reason}", file=sys.stderr
                )
            print(
                f"tagwire: stopped at {stopped.position}: {stopped}. Stored before that: "
                f"added {stopped.report.created}, duplicates {stopped.report.duplicates}; "
                "nothing from there on. Push the same input again once the database takes "
                "writes: stories already stored count as duplicates.",
                file=sys.stderr,
            )
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


def _sandbox(settings: Settings, port: int, database: Path | None, stories: Path | None) -> int:
    from bot.sandbox.runner import SandboxError, example_stories, run_sandbox

    if not 0 <= port <= 65535:
        print(f"tagwire: --port {port} is not a port number", file=sys.stderr)
        return EXIT_USAGE
    if stories is None and example_stories().is_file():
        stories = example_stories()
    try:
        run_sandbox(settings, port=port, database=database, stories=stories)
    except SandboxError as exc:
        print(f"tagwire: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


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
