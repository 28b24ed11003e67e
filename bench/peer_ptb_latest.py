"""The peer of `bench.latest`: the same `/latest <tag>` as a plain python-telegram-bot bot, the
way most bots are written — `Application.builder()` with its default HTTPXRequest, long polling,
a CommandHandler that asks aiosqlite for the tag's newest stories and answers in HTML.

    python -m bench.peer_ptb_latest --api URL --database FILE

Prints {"ready": true} once it polls; SIGTERM stops it (run_polling's own signal handling).
"""

from __future__ import annotations

import argparse
import html
import json
import unicodedata

import aiosqlite
from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CommandHandler, ContextTypes

from bench.common import TOKEN

COUNT = 5
_TAG = "SELECT id, name FROM tags WHERE key = ?"
_LATEST = """
    SELECT a.url, a.title FROM article_tags at JOIN articles a ON a.id = at.article_id
    WHERE at.tag_id = ? ORDER BY at.published_at DESC, at.article_id DESC LIMIT ?
"""


def build(api: str, database: str) -> Application:  # type: ignore[type-arg]
    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        application.bot_data["db"] = await aiosqlite.connect(database)
        print(json.dumps({"ready": True}), flush=True)

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        await application.bot_data["db"].close()

    async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not context.args:
            return
        db: aiosqlite.Connection = context.bot_data["db"]
        key = unicodedata.normalize("NFKC", " ".join(context.args).casefold())
        async with db.execute(_TAG, (key,)) as cursor:
            tag = await cursor.fetchone()
        if tag is None:
            await message.reply_text("No such tag.")
            return
        async with db.execute(_LATEST, (tag[0], COUNT)) as cursor:
            rows = await cursor.fetchall()
        lines = [f"<b>Latest in {html.escape(tag[1])}</b>"]
        lines += [f'• <a href="{html.escape(url)}">{html.escape(title)}</a>' for url, title in rows]
        await message.reply_text(
            "\n".join(lines),
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        )

    application = (
        Application.builder()
        .token(TOKEN)
        .base_url(api)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.add_handler(CommandHandler("latest", latest))
    return application


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--api", required=True, help="the stand-in's base URL (…/bot)")
    arguments.add_argument("--database", required=True, help="the generated SQLite file")
    args = arguments.parse_args()
    build(args.api, args.database).run_polling(allowed_updates=["message"], close_loop=False)


if __name__ == "__main__":
    main()
