"""/tags: the most active tags of the last 30 days, with buttons to follow them."""

from __future__ import annotations

import time

from telegram import Update

from bot.context import TagwireContext
from bot.texts.replies import Html, bold, render
from handlers.common import language_of, reply
from handlers.keyboards import toggle_keyboard

TAGS_SHOWN = 20
ACTIVITY_WINDOW = 30 * 24 * 3600


async def tags(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    language = await language_of(update, context)
    popular = await context.store.popular_tags(TAGS_SHOWN, time.time() - ACTIVITY_WINDOW)
    if not popular:
        await reply(update, render("tags_none", language))
        return
    lines = [render("tags_heading", language)]
    for number, item in enumerate(popular, start=1):
        lines.append(
            render(
                "tags_line",
                language,
                number=number,
                tag=bold(item.tag.name),
                total=item.tag.story_count,
                recent=item.recent_stories,
                followers=item.tag.follower_count,
            )
        )
    lines.append(render("tags_footer", language))
    followed = {tag.id for tag in await context.store.followed_tags(chat.id)}
    keyboard = toggle_keyboard([(item.tag.id, item.tag.name) for item in popular], followed)
    await reply(update, Html("\n".join(lines)), reply_markup=keyboard)
