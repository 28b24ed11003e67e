"""`tagwire edit URL --title … --teaser … [--image …] [--tag …]` and `tagwire retract URL
[--yes]`: a correction of a story already out (its delivered teasers are edited in place by the
running bot), and its withdrawal (its teasers deleted, or past 48 hours replaced by a note)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.errors import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, InvalidArticle
from bot.intake.corrections import Corrections, parse_changes
from bot.settings import Settings


def add_corrections_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    edit = commands.add_parser(
        "edit",
        help="correct a story: store the new version and edit its delivered teasers",
        description="Stores the fields given (the others stay) and queues an edit of every "
        "teaser already delivered for the story; the running bot sends them at its limits "
        "(a photo's caption is edited, its picture stays). Teasers still pending go out with "
        "the new text. A digest is edited as a whole. Exit status 1 when no story "
        "has the URL.",
    )
    edit.add_argument("url", help="the story's URL (or its id)")
    edit.add_argument("--title")
    edit.add_argument("--teaser")
    edit.add_argument("--image", help="a new picture URL; an empty string removes it")
    edit.add_argument("--source")
    edit.add_argument(
        "--tag",
        action="append",
        dest="tags",
        metavar="TAG",
        help="the story's tags (repeat for each; replaces them all)",
    )
    retract = commands.add_parser(
        "retract",
        help="withdraw a story: cancel its pending deliveries, delete its teasers",
        description="Irreversible. The story leaves /latest, /search, the tag counts and the "
        "API; its pending deliveries are cancelled; the running bot deletes its delivered "
        "teasers, or edits those older than 48 hours (Telegram refuses to delete them) into a "
        "short withdrawn note. Asks for confirmation on a terminal; --yes confirms beforehand.",
    )
    retract.add_argument("url", help="the story's URL (or its id)")
    retract.add_argument("--yes", action="store_true", help="retract without asking")


def run_corrections_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "edit":
        raw: dict[str, Any] = {
            name: getattr(args, name)
            for name in ("title", "teaser", "image", "source", "tags")
            if getattr(args, name) is not None
        }
        return asyncio.run(_edit(settings, args.url.strip(), raw))
    return asyncio.run(_retract(settings, args.url.strip(), confirmed=args.yes))


async def _edit(settings: Settings, reference: str, raw: dict[str, Any]) -> int:
    try:
        changes = parse_changes(raw)
    except InvalidArticle as exc:
        field = "--tag" if exc.field.startswith("tags") else f"--{exc.field}"
        if exc.field == "record":
            field = "tagwire edit"
        print(f"tagwire: {field}: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        corrections = Corrections(store)
        article_id = await corrections.find(reference)
        correction = None if article_id is None else await corrections.correct(article_id, changes)
    finally:
        await store.close()
    if correction is None:
        print(f"tagwire: no story has the URL {reference}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if correction.retracted:
        print(f"tagwire: {reference} was retracted: it cannot be corrected", file=sys.stderr)
        return EXIT_NOT_FOUND
    if not correction.changed:
        print(f"nothing changed: {reference} already reads so")
        return EXIT_OK
    print(
        f"corrected {correction.article.url}; {correction.edits_queued} delivered teasers "
        "queued to be edited (tagwire story URL follows them)"
    )
    return EXIT_OK


async def _retract(settings: Settings, reference: str, *, confirmed: bool) -> int:
    from storage import open_store

    store = await open_store(settings.database_target)
    try:
        corrections = Corrections(store)
        article_id = await corrections.find(reference)
        article = None
        if article_id is not None:
            article = (await store.get_articles([article_id])).get(article_id)
        if article_id is None or article is None:
            print(f"tagwire: no story has the URL {reference}", file=sys.stderr)
            return EXIT_NOT_FOUND
        if await store.retracted_at(article_id) is not None:
            print(f"tagwire: {article.url} was retracted already", file=sys.stderr)
            return EXIT_NOT_FOUND
        if not confirmed:
            if not sys.stdin.isatty():
                print(
                    f"tagwire: retracting {article.url} cannot be undone; add --yes to confirm "
                    "(not asking: the input is not a terminal)",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            print(
                f"Retract “{article.title}” ({article.url})?\n"
                "It leaves /latest, /search and the API, its pending deliveries are cancelled, "
                "and its delivered teasers are deleted (older than 48 hours: replaced by a "
                "short withdrawn note). This cannot be undone."
            )
            answer = await asyncio.to_thread(input, "Retract it? [y/N] ")
            if answer.strip().lower() not in {"y", "yes"}:
                print("not retracted")
                return EXIT_USAGE
        retraction = await corrections.retract(article_id)
    finally:
        await store.close()
    if retraction is None:
        print(f"tagwire: no story has the URL {reference}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if retraction.already:
        print(f"tagwire: {article.url} was retracted already", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(
        f"retracted {article.url}: {retraction.cancelled} pending deliveries cancelled, "
        f"{retraction.deletes_queued} delivered teasers queued to be deleted by the running bot"
    )
    return EXIT_OK
