"""The `tagwire` command: run the bot, push stories, show counts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TypeVar

from bot.errors import EXIT_OK, EXIT_REJECTED, EXIT_USAGE
from bot.intake.corrections_cli import add_corrections_parsers, run_corrections_command
from bot.intake.feeds_cli import add_feeds_parser, run_feeds_command
from bot.intake.stories_cli import add_stories_parsers, run_stories_command
from bot.leadership import INSTANCES_WINDOW
from bot.logs import configure_logging
from bot.progress import TerminalBar
from bot.settings import Settings, SettingsError, load_settings
from storage import StorageUnavailable

_Item = TypeVar("_Item")


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
        '"published_at"?, "publish_at"?, "source"?, "image"?} ("image": the picture\'s '
        "http(s) URL; a publish_at ahead holds the story until then). "
        "A URL already stored is a duplicate and notifies "
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
        description="Checks that FILE is an intact tagwire database this version can use (its "
        "whole schema exactly tagwire's), keeps the current database beside it as "
        "<database>.before-restore-<time> (one too damaged to read is moved to "
        "<database>.damaged-<time>), then copies FILE over the database.",
    )
    restore.add_argument("file", type=Path, help="a file made by `tagwire backup`")
    migrate_db = commands.add_parser(
        "migrate-db",
        help="copy the whole database from SQLite to PostgreSQL or back (stop the bot first)",
        description="Copies chats and their settings, subscriptions, mutes, tags, stories, "
        "deliveries, feeds and meta from SOURCE to TARGET (each a SQLite file or a "
        "postgresql:// URL, as TAGWIRE_DATABASE takes), keeping every id, then checks the "
        "counts of every table. TARGET gets tagwire's schema first and must hold no rows "
        "unless --force. An interrupted copy leaves TARGET as it was. Exit status 0 when "
        "copied and checked, 1 when refused or the copy did not check out, 2 when a database "
        "cannot be used.",
    )
    migrate_db.add_argument("--from", dest="source", required=True, metavar="SOURCE")
    migrate_db.add_argument("--to", dest="target", required=True, metavar="TARGET")
    migrate_db.add_argument(
        "--force", action="store_true", help="replace whatever TARGET holds (it says what)"
    )
    add_feeds_parser(commands)
    add_stories_parsers(commands)
    add_corrections_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "migrate-db":
            return _migrate_db(args.source, args.target, force=args.force)
        settings = load_settings()
        if args.command == "run":
            return _run(settings)
        if args.command == "push":
            return _push(settings, args.file, notify=not args.no_notify)
        if args.command == "stats":
            return _stats(settings)
        if args.command == "feeds":
            return run_feeds_command(settings, args)
        if args.command in {"stories", "story"}:
            return run_stories_command(settings, args)
        if args.command in {"edit", "retract"}:
            return run_corrections_command(settings, args)
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
    from storage.backup import backup_database, postgres_backup_advice

    if settings.database_target.is_postgres:
        print(f"tagwire: {postgres_backup_advice(settings.database_target, file)}", file=sys.stderr)
        return EXIT_USAGE
    database = settings.database_target.require_path()
    if file.is_dir():
        print(
            f"tagwire: {file} is a directory; give the copy a file name, "
            f"e.g. {file / 'tagwire-backup.db'}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if file.exists() and not force:
        print(f"tagwire: {file} exists; pass --force to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    if file.exists() and not file.is_file():
        print(f"tagwire: {file} is not a regular file; not overwriting it", file=sys.stderr)
        return EXIT_USAGE
    if file.resolve() == database.resolve():
        print("tagwire: the backup cannot be the database itself", file=sys.stderr)
        return EXIT_USAGE
    created = not file.exists()
    try:
        if not created:
            file.unlink()
        with TerminalBar(" pages") as bar:
            summary = backup_database(database, file, bar.reach if bar.shown else None)
    except OSError as exc:
        print(f"tagwire: cannot write the backup to {file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except StorageUnavailable:
        if created:
            # Nothing half-written is left behind to be mistaken for a backup.
            with contextlib.suppress(OSError):
                file.unlink(missing_ok=True)
        raise
    print(
        f"backed up {database} to {file}: {summary.stories} stories, "
        f"{summary.chats} chats, {summary.subscriptions} subscriptions"
    )
    return EXIT_OK


def _migrate_db(source: str, target: str, *, force: bool) -> int:
    from storage import InvalidDatabaseUrl, parse_database
    from storage.transfer import BarProgress, TargetNotEmpty, TransferError, transfer

    ends = []
    for option, value in (("--from", source), ("--to", target)):
        try:
            ends.append(parse_database(value))
        except InvalidDatabaseUrl as exc:
            print(f"tagwire: {option}: {exc}", file=sys.stderr)
            return EXIT_USAGE
    # A progress bar only for someone watching; the same summary either way.
    bar = TerminalBar(" rows")
    progress = BarProgress(print, bar=bar if bar.shown else None)
    try:
        report = asyncio.run(transfer(ends[0], ends[1], force=force, progress=progress))
    except TargetNotEmpty as exc:
        print(f"tagwire: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except TransferError as exc:
        print(f"tagwire: not copied: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    except KeyboardInterrupt:
        print("tagwire: interrupted; the target was left as it was", file=sys.stderr)
        return 130
    print(report.table())
    print(report.summary())
    return EXIT_OK


def _restore(settings: Settings, file: Path) -> int:
    from storage.backup import InvalidBackup, postgres_restore_advice, restore_database

    if settings.database_target.is_postgres:
        print(
            f"tagwire: {postgres_restore_advice(settings.database_target, file)}", file=sys.stderr
        )
        return EXIT_USAGE
    database = settings.database_target.require_path()
    if file.resolve() == database.resolve():
        print("tagwire: that file is the database itself", file=sys.stderr)
        return EXIT_USAGE
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    previous = database.with_name(f"{database.name}.before-restore-{stamp}")
    damaged = database.with_name(f"{database.name}.damaged-{stamp}")
    try:
        summary = restore_database(file, database, previous, set_aside=damaged)
    except InvalidBackup as exc:
        print(f"tagwire: not restored: {exc}", file=sys.stderr)
        return EXIT_REJECTED
    if damaged.exists():
        print(f"the database could not be read, and is set aside as {damaged}")
    kept = f"; the previous database is kept as {previous}" if previous.exists() else ""
    print(
        f"restored {database} from {file}: {summary.stories} stories, "
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

    store = await open_store(settings.database_target)
    try:
        try:
            # An import (--no-notify) commits every 5000 stories rather than 1000: each commit
            # rewrites the index pages it touched, and bench.push got a third more stories/s.
            batch_size = BATCH_SIZE if notify else 5 * BATCH_SIZE
            # Records typed by hand need no bar.
            with TerminalBar(" records", enabled=not stream.isatty()) as bar:
                report = await Ingestor(store).ingest(
                    _counted(read_records(stream), bar), notify=notify, batch_size=batch_size
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
    if report.scheduled:
        summary += f"; {report.scheduled} scheduled for later (tagwire stories --scheduled)"
    if report.corrected:
        summary += f"; {report.corrected} corrected (their teasers are edited by the bot)"
    print(summary)
    return EXIT_REJECTED if report.rejected else EXIT_OK


def _counted(items: Iterable[_Item], bar: TerminalBar) -> Iterator[_Item]:
    """`items`, each counted on `bar` as it is taken."""
    if not bar.shown:
        yield from items
        return
    bar.start()
    for item in items:
        bar.advance()
        yield item


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
        store = await open_store(settings.database_target)
        try:
            stats = await store.stats()
            seen = await store.instances(since=time.time() - INSTANCES_WINDOW)
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
        listed = ", ".join(f"{instance.name} ({instance.role})" for instance in seen)
        rows.append(("instances (1 min)", listed or "none running"))
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)

    print(asyncio.run(collect()))
    return EXIT_OK


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        raise SystemExit(main())
