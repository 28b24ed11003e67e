"""`tagwire feeds add|list|remove|resume|export|import`: the feeds the running bot polls, kept in
the database; export and import as OPML 2.0 (bot/intake/opml.py)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, InvalidTag
from bot.intake.opml import (
    MAX_OPML_BYTES,
    OpmlError,
    OpmlFeeds,
    plan_import,
    read_opml,
    unwritable_tag,
    write_opml,
)
from bot.settings import Settings
from bot.tags import parse_tag
from storage.models import Feed

MAX_FEED_URL = 2048


def add_feeds_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feeds = commands.add_parser(
        "feeds",
        help="RSS/Atom feeds the bot polls (add, list, remove, resume, export, import)",
        description="`tagwire run` polls every feed each TAGWIRE_FEED_INTERVAL seconds. A "
        "new feed's first poll stores its backlog without notifying anyone; later entries "
        "reach the followers of their tags.",
    )
    actions = feeds.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    add = actions.add_parser(
        "add",
        help="add a feed, or change the tags of one",
        description="Each entry gets the feed's --tag tags and its own categories as tags.",
    )
    add.add_argument("url", help="the feed's URL (http or https)")
    add.add_argument(
        "--tag",
        dest="tags",
        action="append",
        default=[],
        metavar="TAG",
        help="a tag for every story of this feed; repeat for several",
    )
    actions.add_parser("list", help="the feeds, with their last success and last error")
    remove = actions.add_parser("remove", help="stop polling a feed (its stories stay)")
    remove.add_argument("url", help="the feed's URL, as `tagwire feeds list` shows it")
    resume = actions.add_parser(
        "resume",
        help="poll a paused feed again (one paused after TAGWIRE_FEED_PAUSE_AFTER failures)",
    )
    resume.add_argument("url", help="the feed's URL, as `tagwire feeds list` shows it")
    actions.add_parser(
        "export",
        help="write every feed as OPML 2.0 to standard output (tags as each one's category)",
    )
    opml_import = actions.add_parser(
        "import",
        help="add the feeds of an OPML file, or set their tags (a feed already there as the "
        "file says is left alone)",
        description="Tags come from each outline's category (comma-separated; a path such as "
        "/News/Japan gives News and Japan). Nested outlines are read; outlines without an "
        "xmlUrl are skipped and counted. A file with any problem imports nothing (exit 2).",
    )
    opml_import.add_argument("file", help="an OPML file, or - for standard input")


def run_feeds_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.feeds_command == "add":
        return _add(settings, args.url, args.tags)
    if args.feeds_command == "list":
        return asyncio.run(_list(settings))
    if args.feeds_command == "remove":
        return asyncio.run(_remove(settings, args.url.strip()))
    if args.feeds_command == "resume":
        return asyncio.run(_resume(settings, args.url.strip()))
    if args.feeds_command == "export":
        return asyncio.run(_export(settings))
    if args.feeds_command == "import":
        return _import(settings, args.file)
    raise AssertionError(f"unhandled feeds action {args.feeds_command}")


def check_feed_url(url: str) -> str | None:
    """Why `url` cannot be a feed's URL, or None when it can."""
    if not url:
        return "the URL is empty"
    if len(url) > MAX_FEED_URL:
        return f"the URL is longer than {MAX_FEED_URL} characters"
    if any(ch.isspace() for ch in url):
        return "the URL contains spaces"
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"}:
        return "the URL must start with http:// or https://"
    if not parts.hostname:
        return "the URL has no host"
    return None


def _add(settings: Settings, raw_url: str, raw_tags: list[str]) -> int:
    url = raw_url.strip()
    problem = check_feed_url(url)
    if problem is not None:
        print(f"tagwire: {problem}: {url}", file=sys.stderr)
        return EXIT_USAGE
    names: list[str] = []
    keys: set[str] = set()
    for raw in raw_tags:
        try:
            tag = parse_tag(raw)
        except InvalidTag as exc:
            print(f"tagwire: --tag {raw!r}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if tag.key not in keys:
            keys.add(tag.key)
            names.append(tag.name)
    return asyncio.run(_store_feed(settings, url, names))


async def _store_feed(settings: Settings, url: str, tags: list[str]) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        feed, created = await store.add_feed(url, tags, time.time())
    finally:
        await store.close()
    tag_text = ", ".join(feed.tags) or "only the entries' own categories"
    if created:
        print(
            f"added {feed.url} (tags: {tag_text}); the running bot reads it within "
            f"{settings.feed_interval:g} s, storing its backlog without notifying anyone"
        )
    else:
        print(f"updated {feed.url}: tags now {tag_text}")
    return EXIT_OK


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "never"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe_feed(feed: Feed) -> str:
    lines = [
        feed.url,
        f"  tags: {', '.join(feed.tags) or '(only the entries’ own categories)'}",
        f"  last success: {_when(feed.last_success_at)}",
    ]
    if feed.last_error is not None:
        lines.append(
            f"  last error: {feed.last_error} "
            f"({_when(feed.last_error_at)}, {feed.failures} in a row)"
        )
    elif not feed.primed:
        lines.append("  not polled yet")
    if feed.paused_at is not None:
        lines.append(
            f"  paused since {_when(feed.paused_at)}: not polled; tagwire feeds resume {feed.url}"
        )
    return "\n".join(lines)


async def _list(settings: Settings) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        feeds = await store.list_feeds()
    finally:
        await store.close()
    if not feeds:
        print("no feeds; add one with: tagwire feeds add URL --tag TAG")
        return EXIT_OK
    print("\n".join(describe_feed(feed) for feed in feeds))
    return EXIT_OK


async def _remove(settings: Settings, url: str) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        removed = await store.remove_feed(url)
    finally:
        await store.close()
    if not removed:
        print(f"tagwire: there is no feed {url} (see tagwire feeds list)", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"removed {url}; its stories stay")
    return EXIT_OK


async def _resume(settings: Settings, url: str) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        feed = await store.resume_feed(url)
    finally:
        await store.close()
    if feed is None:
        print(f"tagwire: there is no feed {url} (see tagwire feeds list)", file=sys.stderr)
        return EXIT_NOT_FOUND
    if feed.paused_at is None:
        print(f"{url} is not paused: the bot polls it")
        return EXIT_OK
    print(
        f"resumed {url}: the running bot polls it again within {settings.feed_interval:g} s "
        f"(paused since {_when(feed.paused_at)} after {feed.failures} failed polls in a row)"
    )
    return EXIT_OK


async def _export(settings: Settings) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        feeds = await store.list_feeds()
    finally:
        await store.close()
    for feed in feeds:
        for tag in feed.tags:
            problem = unwritable_tag(tag)
            if problem is not None:
                print(
                    f"tagwire: warning: {feed.url}: tag {tag!r} {problem}; it will not read back "
                    "as one tag",
                    file=sys.stderr,
                )
    document = write_opml(feeds, created=datetime.now(UTC))
    try:
        sys.stdout.buffer.write(document)
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        # The reader went away (`| head`): status 1, and Python's own flush at exit must not
        # complain with a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_NOT_FOUND
    return EXIT_OK


def _import(settings: Settings, source: str) -> int:
    try:
        if source == "-":
            data = sys.stdin.buffer.read(MAX_OPML_BYTES + 1)
        else:
            with open(source, "rb") as file:
                data = file.read(MAX_OPML_BYTES + 1)
    except OSError as exc:
        print(f"tagwire: cannot read {source}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        found = read_opml(data, check_url=check_feed_url)
    except OpmlError as exc:
        name = "standard input" if source == "-" else source
        print(f"tagwire: {name}: {exc}; nothing imported", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(_store_imported(settings, found))


async def _store_imported(settings: Settings, found: OpmlFeeds) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        plan = plan_import(await store.list_feeds(), found.feeds)
        for feed in (*plan.added, *plan.updated):
            await store.add_feed(feed.url, feed.tags, time.time())
    finally:
        await store.close()
    summary = (
        f"added {len(plan.added)}, updated {len(plan.updated)}, "
        f"unchanged {len(plan.unchanged)}, skipped {found.skipped} without an xmlUrl"
    )
    if plan.added:
        summary += (
            f"; the running bot reads new feeds within {settings.feed_interval:g} s, storing "
            "their backlog without notifying anyone"
        )
    print(summary)
    return EXIT_OK
