"""`tagwire feeds add|list|remove`: the feeds the running bot polls, kept in the database."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.errors import InvalidTag
from bot.settings import Settings
from bot.tags import parse_tag
from storage.models import Feed

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
MAX_FEED_URL = 2048


def add_feeds_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feeds = commands.add_parser(
        "feeds",
        help="RSS/Atom feeds the bot polls (add, list, remove)",
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


def run_feeds_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.feeds_command == "add":
        return _add(settings, args.url, args.tags)
    if args.feeds_command == "list":
        return asyncio.run(_list(settings))
    if args.feeds_command == "remove":
        return asyncio.run(_remove(settings, args.url.strip()))
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
