"""/search <words>: full-text search over titles and teasers, ten at a time with paging."""

from __future__ import annotations

import re
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TagwireContext
from bot.search import SearchTooCostly, to_full_text_query
from bot.texts.formatting import render_article_list
from bot.texts.plain import cut_at_word
from bot.texts.replies import plain, render
from handlers.common import command_argument, edit, language_of, reply
from storage.base import InvalidSearch, SearchTooSlow

PAGE_SIZE = 10
# "More" pages through the first 200 results; a button carrying a later offset is forged (a
# far offset costs the store as much as reading every result before it).
MAX_RESULTS = 200
_LAST_OFFSET = MAX_RESULTS - PAGE_SIZE
_MORE = re.compile(r"^more:([1-9][0-9]{0,17}):([0-9]{1,6})$")


def _page_keyboard(
    search_id: int, offset: int, has_more: bool, language: str
) -> InlineKeyboardMarkup | None:
    buttons = []
    if offset > 0:
        previous = max(0, offset - PAGE_SIZE)
        buttons.append(
            InlineKeyboardButton(
                plain("search_back", language), callback_data=f"more:{search_id}:{previous}"
            )
        )
    if has_more and offset + PAGE_SIZE <= _LAST_OFFSET:
        buttons.append(
            InlineKeyboardButton(
                plain("search_more", language),
                callback_data=f"more:{search_id}:{offset + PAGE_SIZE}",
            )
        )
    return InlineKeyboardMarkup([buttons]) if buttons else None


async def _page(
    context: TagwireContext, query: str, offset: int, language: str
) -> tuple[str, bool] | None:
    """The text of one page of results and whether more follow; None when nothing matches."""
    articles = await context.store.search(to_full_text_query(query), PAGE_SIZE + 1, offset)
    if not articles:
        return None
    heading = plain("search_heading", language, query=cut_at_word(query, 60))
    if offset:
        heading += " " + plain("search_page", language, first=offset + 1)
    text = render_article_list(
        heading, articles[:PAGE_SIZE], more_note=plain("latest_more", language, n="{n}")
    )
    has_more = len(articles) > PAGE_SIZE
    if has_more and offset + PAGE_SIZE > _LAST_OFFSET:
        text += "\n\n" + render("search_results_cap", language, max=MAX_RESULTS)
    return text, has_more


async def search(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    language = await language_of(update, context)
    query = command_argument(update)
    if not query:
        await reply(update, render("search_usage", language))
        return
    try:
        page = await _page(context, query, 0, language)
    except SearchTooCostly as exc:
        await reply(update, render(exc.key, language, **exc.values))
        return
    except InvalidSearch as exc:
        await reply(update, render("search_invalid", language, reason=str(exc)[:200]))
        return
    except SearchTooSlow:
        await reply(update, render("search_too_slow", language))
        return
    if page is None:
        await reply(update, render("search_none", language, query=cut_at_word(query, 60)))
        return
    text, has_more = page
    search_id = await context.store.save_search(chat.id, query, time.time())
    await reply(update, text, reply_markup=_page_keyboard(search_id, 0, has_more, language))


async def search_page(update: Update, context: TagwireContext) -> None:
    """A tap on More (or Back): the message shows the next (or previous) ten results."""
    callback = update.callback_query
    chat = update.effective_chat
    if callback is None or chat is None:
        return
    language = await language_of(update, context)
    match = _MORE.match(callback.data if isinstance(callback.data, str) else "")
    saved = await context.store.get_search(int(match[1])) if match else None
    if match is None or saved is None or saved[0] != chat.id:
        await callback.answer(plain("button_expired", language), show_alert=True)
        return
    offset = int(match[2])
    if offset > _LAST_OFFSET:
        await callback.answer(
            plain("search_results_cap", language, max=MAX_RESULTS), show_alert=True
        )
        return
    try:
        page = await _page(context, saved[1], offset, language)
    except InvalidSearch:
        page = None
    except SearchTooSlow:
        await callback.answer(plain("search_too_slow", language), show_alert=True)
        return
    if page is None:
        await callback.answer(plain("search_no_more", language))
        return
    await callback.answer()
    text, has_more = page
    await edit(
        callback, text, reply_markup=_page_keyboard(int(match[1]), offset, has_more, language)
    )
