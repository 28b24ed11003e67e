"""/latest [tag] [n]: the newest stories of a tag, or across the chat's own tags."""

from __future__ import annotations

import re

from telegram import Update

from bot.context import TagwireContext
from bot.errors import InvalidTag, UnknownTag
from bot.texts.formatting import render_article_list
from bot.texts.plain import cut_at_word
from bot.texts.replies import Html, bold, join_html, plain, render
from handlers.common import Target, command_argument, language_of, reply, target_of
from handlers.keyboards import Action, suggestion_keyboard
from storage.models import Tag

DEFAULT_COUNT = 5
MAX_COUNT = 20
# Characters of what the user typed that an answer quotes back.
QUOTED_COUNT = 30
QUOTED_TAG = 60
_NUMBER_LIKE = re.compile(r"^[-+]?\d+(?:[.,]\d*)?$|^[-+]?\d*[.,]\d+$")


def split_count(argument: str) -> tuple[str, str | None]:
    """`Kuril Islands 3` → ("Kuril Islands", "3"); a last word that looks numeric is the count."""
    parts = argument.rsplit(maxsplit=1)
    if len(parts) == 2 and _NUMBER_LIKE.match(parts[1]):
        return parts[0], parts[1]
    if len(parts) == 1 and _NUMBER_LIKE.match(parts[0]):
        return "", parts[0]
    return argument, None


def parse_count(raw: str | None) -> int | None:
    if raw is None:
        return DEFAULT_COUNT
    try:
        count = int(raw)
    except ValueError:
        return None
    return count if 1 <= count <= MAX_COUNT else None


async def latest(update: Update, context: TagwireContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    language = await language_of(update, context)
    tag_text, raw_count = split_count(command_argument(update))
    count = parse_count(raw_count)
    if count is None:
        await reply(
            update,
            render(
                "latest_bad_count",
                language,
                raw=cut_at_word(raw_count or "", QUOTED_COUNT),
                max=MAX_COUNT,
            ),
        )
        return
    if not tag_text:
        target = target_of(update)
        assert target is not None
        await _latest_for_chat(update, context, target, count)
        return
    try:
        tag = await context.following.resolve(tag_text)
    except InvalidTag as exc:
        await reply(
            update,
            render(
                "invalid_tag",
                language,
                raw=cut_at_word(tag_text, QUOTED_TAG),
                reason=plain(exc.key, language),
            ),
        )
        return
    except UnknownTag as unknown:
        if await _was_bad_count(update, context, tag_text):
            return
        await _answer_unknown(update, context, unknown)
        return
    await send_latest(update, context, tag, count)


async def send_latest(update: Update, context: TagwireContext, tag: Tag, count: int) -> None:
    language = await language_of(update, context)
    articles = await context.store.latest_articles(tag.id, count)
    if not articles:
        await reply(update, render("latest_none_tag", language, tag=bold(tag.name)))
        return
    text = render_article_list(
        plain("latest_heading", language, tag=tag.name),
        articles,
        more_note=plain("latest_more", language, n="{n}"),
    )
    await reply(update, text)


async def _latest_for_chat(
    update: Update, context: TagwireContext, target: Target, count: int
) -> None:
    language = await language_of(update, context)
    if not await context.store.followed_tags(target.chat_id, target.thread_id):
        await reply(update, render("latest_no_tags", language))
        return
    articles = await context.store.latest_for_chat(target.chat_id, count, target.thread_id)
    if not articles:
        await reply(update, render("latest_none_chat", language))
        return
    text = render_article_list(
        plain("latest_heading_chat", language),
        articles,
        more_note=plain("latest_more", language, n="{n}"),
    )
    await reply(update, text)


async def _was_bad_count(update: Update, context: TagwireContext, tag_text: str) -> bool:
    """`/latest Japan abc`: when the words before the last name a tag, the last was a count."""
    parts = tag_text.rsplit(maxsplit=1)
    if len(parts) != 2:
        return False
    try:
        await context.following.resolve(parts[0])
    except (InvalidTag, UnknownTag):
        return False
    await reply(
        update,
        render(
            "latest_bad_count",
            await language_of(update, context),
            raw=cut_at_word(parts[1], QUOTED_COUNT),
            max=MAX_COUNT,
        ),
    )
    return True


async def _answer_unknown(update: Update, context: TagwireContext, unknown: UnknownTag) -> None:
    language = await language_of(update, context)
    if not unknown.suggestions:
        await reply(update, render("unknown_tag_no_suggestions", language, raw=unknown.tag))
        return
    names = join_html([bold(tag.name) for tag in unknown.suggestions], language=language)
    text = Html(
        render("unknown_tag", language, raw=unknown.tag)
        + "\n"
        + render("did_you_mean", language, tags=names)
    )
    await reply(update, text, reply_markup=suggestion_keyboard(unknown.suggestions, Action.LATEST))
