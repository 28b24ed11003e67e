"""/mute, /unmute and /muted: words whose stories this chat (or a channel the user administers:
`/mute @channel Trump`) does not want."""

from __future__ import annotations

import time
import unicodedata

from telegram import Update

from bot.context import TagwireContext
from bot.texts.plain import clean_text, cut_at_word
from bot.texts.replies import Html, bold, join_html, render
from handlers.common import command_argument, language_of, may_change_subscriptions, reply
from handlers.targets import chat_scope, under_channel

MAX_MUTED_WORDS = 50
MAX_WORD_LENGTH = 64
# Rejected words quoted each on a line of their own; the rest are counted.
MAX_REJECTED_SHOWN = 5


def parse_words(text: str) -> tuple[list[str], list[str]]:
    """(words, rejected): comma-separated words or phrases, folded for whole-word matching."""
    words: list[str] = []
    rejected: list[str] = []
    for raw in text.replace("\n", ",").split(","):
        word = unicodedata.normalize("NFKC", clean_text(raw)).casefold()
        if not word:
            continue
        if len(word) > MAX_WORD_LENGTH or not any(ch.isalnum() for ch in word):
            rejected.append(cut_at_word(clean_text(raw), 40))
        elif word not in words:
            words.append(word)
    return words, rejected


def _listing(words: list[str], language: str) -> Html:
    return join_html([bold(word) for word in words], language=language)


async def mute(update: Update, context: TagwireContext) -> None:
    found = await chat_scope(update, context, command_argument(update))
    if found is None:
        return
    scope, argument = found
    language = await language_of(update, context)
    if not argument:
        await reply(update, render("mute_usage", language, limit=MAX_MUTED_WORDS))
        return
    if scope.channel is None and not await may_change_subscriptions(update, context):
        await reply(update, render("group_admins_only", language))
        return
    words, rejected = parse_words(argument)
    added = await context.store.mute(scope.chat_id, words, MAX_MUTED_WORDS, time.time())
    context.engine.forget_chat_settings(scope.chat_id)
    lines: list[Html] = []
    if added:
        lines.append(render("muted_added", language, words=_listing(added, language)))
    already_or_over = [word for word in words if word not in added]
    if already_or_over:
        muted_now = await _muted(context, scope.chat_id)
        already = [word for word in already_or_over if word in muted_now]
        over = [word for word in already_or_over if word not in muted_now]
        if already:
            lines.append(render("muted_already", language, words=_listing(already, language)))
        if over:
            lines.append(
                render(
                    "muted_limit", language, limit=MAX_MUTED_WORDS, words=_listing(over, language)
                )
            )
    for raw in rejected[:MAX_REJECTED_SHOWN]:
        lines.append(render("mute_invalid", language, raw=raw, limit=MAX_WORD_LENGTH))
    if len(rejected) > MAX_REJECTED_SHOWN:
        lines.append(render("more_count", language, count=len(rejected) - MAX_REJECTED_SHOWN))
    if not lines:
        # Only control characters or separators: nothing to mute and nothing to reject.
        lines.append(render("mute_usage", language, limit=MAX_MUTED_WORDS))
    await reply(update, under_channel(Html("\n\n".join(lines)), scope.channel, language))


async def unmute(update: Update, context: TagwireContext) -> None:
    found = await chat_scope(update, context, command_argument(update))
    if found is None:
        return
    scope, argument = found
    language = await language_of(update, context)
    if not argument:
        await reply(update, render("unmute_usage", language))
        return
    if scope.channel is None and not await may_change_subscriptions(update, context):
        await reply(update, render("group_admins_only", language))
        return
    words, _ = parse_words(argument)
    removed = await context.store.unmute(scope.chat_id, words)
    context.engine.forget_chat_settings(scope.chat_id)
    lines: list[Html] = []
    if removed:
        lines.append(render("unmuted", language, words=_listing(removed, language)))
    missing = [word for word in words if word not in removed]
    if missing:
        lines.append(render("not_muted", language, words=_listing(missing, language)))
    if not lines:
        lines.append(render("unmute_usage", language))
    await reply(update, under_channel(Html("\n\n".join(lines)), scope.channel, language))


async def _muted(context: TagwireContext, chat_id: int) -> list[str]:
    prefs = await context.store.chat_prefs([chat_id])
    return list(prefs[chat_id].muted) if chat_id in prefs else []


async def muted(update: Update, context: TagwireContext) -> None:
    found = await chat_scope(update, context, command_argument(update))
    if found is None:
        return
    scope, _ = found
    language = await language_of(update, context)
    words = await _muted(context, scope.chat_id)
    if not words:
        text = render("muted_none", language)
    else:
        text = render(
            "muted_list",
            language,
            count=len(words),
            limit=MAX_MUTED_WORDS,
            words=_listing(words, language),
        )
    await reply(update, under_channel(text, scope.channel, language))
