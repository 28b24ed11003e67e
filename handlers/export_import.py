"""/export (the chat's follows, muted words and settings as a file) and /import (that file sent
back: as the document's caption, or replying to it), for this chat or, from a private chat, a
channel the user administers (`/export @channel`, `/import @channel`).

An import shows what will change under Confirm / Cancel buttons; the preview replies to the
message with the file, so a tap reads the file again from there (nothing is kept in between)
and applies it in one transaction (Store.import_chat)."""

from __future__ import annotations

import re
import time

from telegram import Document, InputFile, Message, ReplyParameters, Update
from telegram.constants import ChatType, ParseMode
from telegram.error import TelegramError

from bot.context import TagwireContext
from bot.delivery.schedule import format_minutes
from bot.delivery.sender import post_message
from bot.texts.cut import cut_html
from bot.texts.replies import Html, bold, join_html, plain, render
from handlers.chat_file import (
    FILE_NAME,
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    FileProblem,
    export_file,
    read_setup,
)
from handlers.common import (
    admins_only,
    alert,
    command_argument,
    edit,
    language_of,
    may_change_subscriptions,
    reply,
    target_of,
)
from handlers.follow import describe_words
from handlers.keyboards import Action, View, import_keyboard, parse_button
from handlers.targets import ChannelRefused, ChatScope, channel_for, chat_scope, under_channel
from storage.models import ChatSettings, ChatSetup, DeliveryMode, Follow
from storage.words import FollowWords

# `/import` or `/import@bot` opening a caption, and what follows it.
CAPTION_COMMAND = re.compile(r"^/import(?:@([A-Za-z0-9_]+))?(?=\s|$)", re.IGNORECASE)
# Tag names listed in one line of a preview before "+N more".
_LISTED = 30


async def export_command(update: Update, context: TagwireContext) -> None:
    found = await chat_scope(update, context, command_argument(update))
    message = update.effective_message
    if found is None or message is None:
        return
    scope, _ = found
    language = await language_of(update, context)
    follows = await context.store.all_follows(scope.chat_id)
    prefs = (await context.store.chat_prefs([scope.chat_id])).get(scope.chat_id)
    muted = prefs.muted if prefs else ()
    settings = prefs.settings if prefs else ChatSettings()
    caption = render("export_caption", language, follows=len(follows), muted=len(muted))
    thread = message.message_thread_id if message.is_topic_message else None
    await context.bot.send_document(
        message.chat_id,
        InputFile(export_file(follows, muted, settings), filename=FILE_NAME),
        caption=cut_html(under_channel(caption, scope.channel, language), 1024),
        parse_mode=ParseMode.HTML,
        message_thread_id=thread,
        reply_parameters=(
            None
            if message.chat.type == ChatType.PRIVATE
            else ReplyParameters(message.message_id, allow_sending_without_reply=True)
        ),
    )


def _caption_argument(message: Message, bot_username: str | None) -> str | None:
    """What follows `/import` in a caption (`@channel`, or nothing); None when the caption
    is no /import for this bot."""
    caption = message.caption or ""
    match = CAPTION_COMMAND.match(caption)
    if match is None:
        return None
    if match[1] and (bot_username is None or match[1].casefold() != bot_username.casefold()):
        return None
    return caption[match.end() :].strip()


async def import_caption(update: Update, context: TagwireContext) -> None:
    """A document sent with `/import` as its caption."""
    message = update.effective_message
    if message is None or message.document is None:
        return
    argument = _caption_argument(message, context.bot.username)
    if argument is not None:
        await _preview(update, context, message, argument)


async def import_command(update: Update, context: TagwireContext) -> None:
    """`/import` replying to a document."""
    message = update.effective_message
    if message is None:
        return
    replied = message.reply_to_message
    if replied is None or replied.document is None:
        await reply(update, render("import_usage", await language_of(update, context)))
        return
    await _preview(update, context, replied, command_argument(update))


async def _download(context: TagwireContext, document: Document) -> bytes:
    """The file's bytes; FileProblem when it is too big to read."""
    if document.file_size is not None and document.file_size > MAX_FILE_BYTES:
        raise FileProblem("import_too_big", count=document.file_size, limit=MAX_FILE_BYTES // 1024)
    file = await context.bot.get_file(document.file_id)
    if file.file_size is not None and file.file_size > MAX_FILE_BYTES:
        raise FileProblem("import_too_big", count=file.file_size, limit=MAX_FILE_BYTES // 1024)
    return bytes(await file.download_as_bytearray())


def describe_problem(problem: FileProblem, language: str) -> Html:
    reason = render(
        problem.key,
        language,
        where=problem.where,
        value=problem.value,
        count=problem.count,
        limit=problem.limit,
        version=FORMAT_VERSION,
    )
    return render("import_problem", language, reason=reason)


async def _read(context: TagwireContext, document: Document, forum: bool) -> ChatSetup:
    data = await _download(context, document)
    return read_setup(data, forum=forum, max_tags=context.following.max_tags)


async def _preview(
    update: Update, context: TagwireContext, with_file: Message, argument: str
) -> None:
    message = update.effective_message
    chat = update.effective_chat
    document = with_file.document
    if message is None or chat is None or document is None:
        return
    found = await chat_scope(update, context, argument)
    if found is None:
        return
    scope, _ = found
    language = await language_of(update, context)
    if scope.channel is None and not await may_change_subscriptions(update, context):
        await reply(update, render("group_admins_only", language))
        return
    forum = scope.channel is None and bool(chat.is_forum)
    try:
        setup = await _read(context, document, forum)
    except FileProblem as problem:
        await reply(
            update, under_channel(describe_problem(problem, language), scope.channel, language)
        )
        return
    except TelegramError:
        await reply(update, render("import_download_failed", language))
        return
    changes = await _changes(context, scope.chat_id, setup, language)
    if not changes:
        await reply(
            update, under_channel(render("import_nothing", language), scope.channel, language)
        )
        return
    text = under_channel(
        render("import_preview", language, changes=Html("\n".join(changes))),
        scope.channel,
        language,
    )
    keyboard = import_keyboard(
        with_file.message_id,
        (plain("import_confirm", language), plain("import_cancel", language)),
        scope.chat_id if scope.channel else None,
    )
    values: dict[str, object] = {
        "chat_id": message.chat_id,
        "text": cut_html(text),
        "parse_mode": ParseMode.HTML.value,
        "link_preview_options": {"is_disabled": True},
        # The tap reads the file again from the message this answer replies to.
        "reply_parameters": {"message_id": with_file.message_id},
        "reply_markup": keyboard.to_dict(),
    }
    if message.is_topic_message and message.message_thread_id is not None:
        values["message_thread_id"] = message.message_thread_id
    await post_message(message.get_bot(), values, reply=True)


def _follow_name(thread_id: int, name: str, language: str) -> Html:
    if not thread_id:
        return bold(name)
    return render("import_in_topic", language, tag=bold(name), topic=thread_id)


def _listing(items: list[Html], language: str) -> Html:
    return join_html(items, budget=1200, language=language)


def _settings_changes(old: ChatSettings, new: ChatSettings, language: str) -> list[Html]:
    def onoff(value: bool) -> str:
        return plain("settings_on" if value else "settings_off", language)

    def quiet(settings: ChatSettings) -> str:
        if settings.quiet_start is None or settings.quiet_end is None:
            return plain("settings_off", language)
        return f"{format_minutes(settings.quiet_start)}–{format_minutes(settings.quiet_end)}"

    def chosen_language(settings: ChatSettings) -> str:
        if settings.language is None:
            return plain("import_language_auto", language)
        return plain("language_name", settings.language)

    def mode(value: DeliveryMode) -> str:
        return plain(f"settings_mode_{value.value}", language)

    pairs = (
        ("import_name_language", chosen_language(old), chosen_language(new)),
        ("import_name_delivery", mode(old.mode), mode(new.mode)),
        ("import_name_hour", f"{old.digest_hour:02d}:00", f"{new.digest_hour:02d}:00"),
        ("import_name_timezone", old.timezone, new.timezone),
        ("import_name_quiet", quiet(old), quiet(new)),
        ("import_name_previews", onoff(old.link_previews), onoff(new.link_previews)),
        ("import_name_bursts", onoff(old.combine_bursts), onoff(new.combine_bursts)),
        (
            "import_name_pictures",
            plain(f"settings_pictures_{old.pictures.value}", language),
            plain(f"settings_pictures_{new.pictures.value}", language),
        ),
    )
    return [
        render("import_setting", language, name=plain(name, language), old=before, new=after)
        for name, before, after in pairs
        if before != after
    ]


async def _changes(
    context: TagwireContext, chat_id: int, setup: ChatSetup, language: str
) -> list[Html]:
    """A line per kind of change the import makes; empty when it changes nothing."""
    current: dict[tuple[int, str], Follow] = {
        (thread, follow.tag.key): follow
        for thread, follow in await context.store.all_follows(chat_id)
    }
    wanted = {(follow.thread_id, follow.key): follow for follow in setup.follows}
    added = [
        _follow_name(t, f.name, language) for (t, k), f in wanted.items() if (t, k) not in current
    ]
    removed = [
        _follow_name(t, f.tag.name, language)
        for (t, k), f in current.items()
        if (t, k) not in wanted
    ]
    lines: list[Html] = []
    if added:
        lines.append(render("import_follow_added", language, tags=_listing(added, language)))
    if removed:
        lines.append(render("import_follow_removed", language, tags=_listing(removed, language)))
    worded = 0
    for (thread, key), follow in wanted.items():
        before = current[(thread, key)].words if (thread, key) in current else FollowWords()
        if follow.words != before and worded < _LISTED:
            worded += 1
            words = (
                describe_words(follow.words, language)
                if follow.words
                else render("import_words_none", language)
            )
            name = _follow_name(thread, follow.name, language)
            lines.append(render("import_follow_words", language, tag=name, words=words))
    prefs = (await context.store.chat_prefs([chat_id])).get(chat_id)
    muted = prefs.muted if prefs else ()
    settings = prefs.settings if prefs else ChatSettings()
    mute = [bold(word) for word in setup.muted if word not in muted]
    unmute = [bold(word) for word in muted if word not in setup.muted]
    if mute:
        lines.append(render("import_mute_added", language, words=_listing(mute, language)))
    if unmute:
        lines.append(render("import_mute_removed", language, words=_listing(unmute, language)))
    lines.extend(_settings_changes(settings, setup.settings, language))
    return lines


async def import_button(update: Update, context: TagwireContext) -> None:
    """Confirm or Cancel under an import's preview."""
    query = update.callback_query
    if query is None:
        return
    language = await language_of(update, context)
    data = parse_button(query.data if isinstance(query.data, str) else None)
    target = target_of(update)
    if data is None or data.view is not View.IMPORT or target is None:
        await query.answer(plain("button_expired", language), show_alert=True)
        return
    scope = ChatScope(target.chat_id)
    if data.channel_id is not None:
        try:
            channel = await channel_for(context, data.channel_id, update)
        except ChannelRefused as refused:
            await query.answer(
                alert(plain(refused.key, language, channel=refused.channel)), show_alert=True
            )
            return
        known = await context.store.get_chat(channel)
        label = f"@{known.username}" if known and known.username else str(channel)
        scope = ChatScope(channel, label)
    elif not await may_change_subscriptions(update, context):
        await query.answer(plain(admins_only(update.effective_chat), language), show_alert=True)
        return
    if data.action is Action.CANCEL_IMPORT:
        await query.answer()
        await edit(
            query, under_channel(render("import_cancelled", language), scope.channel, language)
        )
        return
    shown = query.message if isinstance(query.message, Message) else None
    with_file = shown.reply_to_message if shown is not None else None
    if (
        with_file is None
        or with_file.message_id != data.tag_id
        or with_file.document is None
        or data.action is not Action.CONFIRM_IMPORT
    ):
        await query.answer(alert(plain("import_expired", language)), show_alert=True)
        return
    forum = scope.channel is None and bool(update.effective_chat and update.effective_chat.is_forum)
    try:
        setup = await _read(context, with_file.document, forum)
    except FileProblem as problem:
        await query.answer()
        await edit(
            query, under_channel(describe_problem(problem, language), scope.channel, language)
        )
        return
    except TelegramError:
        await query.answer(alert(plain("import_download_failed", language)), show_alert=True)
        return
    await context.store.import_chat(scope.chat_id, setup, time.time())
    context.chats.forget(scope.chat_id)
    if context.chats.on_settings_changed is not None:
        context.chats.on_settings_changed(scope.chat_id)
    context.engine.forget_chat_settings(scope.chat_id)
    # The chat's own language may have changed with the import.
    language = await language_of(update, context)
    await query.answer(plain("settings_saved", language))
    done = render("import_done", language, follows=len(setup.follows), muted=len(setup.muted))
    await edit(query, under_channel(done, scope.channel, language))
