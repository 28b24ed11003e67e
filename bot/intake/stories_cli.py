"""`tagwire stories --scheduled | --cancel URL` and `tagwire story URL`: the stories held for
later, and what became of one story's deliveries."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

from bot.errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE
from bot.settings import Settings
from bot.texts.replies import plain
from bot.texts.report import describe_schedule, report_lines, scheduled_line, when

# Listed by `tagwire stories --scheduled`; more are counted.
MAX_LISTED = 1000


def add_stories_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stories = commands.add_parser(
        "stories",
        help="scheduled stories: list them, or cancel one",
        description="A story pushed with a publish_at ahead (or a published_at more than a "
        "minute ahead) is held until then: in no list, search or outbox. The running bot "
        "sends it to its followers at its time.",
    )
    action = stories.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--scheduled", action="store_true", help="list the held stories, the soonest first"
    )
    action.add_argument(
        "--cancel",
        metavar="URL",
        help="cancel a held story for good: it never goes out, and its URL stays known "
        "(a push of it is a duplicate); needs --yes",
    )
    stories.add_argument("--yes", action="store_true", help="confirm --cancel")
    story = commands.add_parser(
        "story",
        help="what became of a story: chats, sent, pending, skipped, failed, how fast",
        description="The report of one story's deliveries, from the outbox (finished "
        "deliveries are pruned after 7 days). Exit status 1 when no story has the URL.",
    )
    story.add_argument("url", help="the story's URL, as it was pushed")


def run_stories_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "story":
        return asyncio.run(_report(settings, args.url.strip()))
    if args.cancel is not None:
        return asyncio.run(_cancel(settings, args.cancel.strip(), confirmed=args.yes))
    return asyncio.run(_list(settings))


async def _list(settings: Settings) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        held = await store.scheduled_stories(MAX_LISTED + 1)
    finally:
        await store.close()
    if not held:
        print("no scheduled stories; push one with a publish_at ahead (ISO 8601 with a time zone)")
        return EXIT_OK
    print("\n".join(scheduled_line(schedule) for schedule in held[:MAX_LISTED]))
    if len(held) > MAX_LISTED:
        print(f"…and more: the first {MAX_LISTED} are listed")
    return EXIT_OK


async def _cancel(settings: Settings, url: str, *, confirmed: bool) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        article_id = await store.article_id_for_url(url)
        schedule = None if article_id is None else await store.get_schedule(article_id)
        if schedule is None:
            print(
                f"tagwire: no scheduled story has the URL {url} (tagwire stories --scheduled "
                "lists them)",
                file=sys.stderr,
            )
            return EXIT_NOT_FOUND
        if not schedule.held:
            print(f"tagwire: {url}: {describe_schedule(schedule, 'en', plain)}", file=sys.stderr)
            return EXIT_NOT_FOUND
        if not confirmed:
            print(
                f"tagwire: cancelling is for good: “{schedule.article.title}” ({url}) would "
                "never go out, and its URL stays known (a push of it is a duplicate). Add "
                "--yes to cancel it.",
                file=sys.stderr,
            )
            return EXIT_USAGE
        after = await store.cancel_scheduled(url, time.time())
    finally:
        await store.close()
    if after is None or after.cancelled_at is None:
        # Released meanwhile, at its time.
        state = "" if after is None else describe_schedule(after, "en", plain)
        print(f"tagwire: {url} was not cancelled: {state}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"cancelled {url} (it was scheduled for {when(after.publish_at)})")
    return EXIT_OK


async def _report(settings: Settings, url: str) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        article_id = await store.article_id_for_url(url)
        report = None if article_id is None else await store.story_report(article_id)
    finally:
        await store.close()
    if report is None:
        print(f"tagwire: no story has the URL {url}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print("\n".join(report_lines(report)))
    return EXIT_OK
