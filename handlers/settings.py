"""/settings (one message whose buttons edit it in place), /timezone and /quiet, for this chat
or, from a private chat, for a channel the user administers (`/settings @channel`)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TagwireContext
from bot.delivery.schedule import (
    MINUTES_A_DAY,
    ScheduleError,
    format_minutes,
    parse_quiet_hours,
    parse_timezone,
    zone,
)
from bot.texts.plain import cut_at_word
from bot.texts.replies import DEFAULT_LANGUAGE, LANGUAGES, Html, plain, render
from handlers.common import (
    admins_only,
    alert,
    command_argument,
    edit,
    language_of,
    may_change_subscriptions,
    reply,
)
from handlers.targets import (
    ChannelRefused,
    ChatScope,
    channel_for,
    chat_label,
    chat_scope,
    under_channel,
)
from storage.models import ChatSettings, DeliveryMode, PictureMode

SELECTED = "✓ "
# Characters of a bad argument an answer quotes back.
QUOTED = 60
# Quiet hours offered as buttons, in minutes after midnight; /quiet sets any other range.
QUIET_PRESETS = ((22 * 60, 7 * 60), (23 * 60, 7 * 60), (0, 8 * 60))
# The channel's id ends the data of a button that changes a channel's settings.
_SETTING = re.compile(
    r"^cfg:(mode|hour|quiet|preview|burst|picture|lang):([a-z0-9-]{1,12})"
    r"(?::(-[1-9][0-9]{0,17}))?$"
)


def _quiet_label(settings: ChatSettings, language: str) -> str:
    if settings.quiet_start is None or settings.quiet_end is None:
        return plain("settings_off", language)
    return f"{format_minutes(settings.quiet_start)}–{format_minutes(settings.quiet_end)}"


def _mode_label(settings: ChatSettings, language: str) -> str:
    if settings.mode is DeliveryMode.DAILY:
        return plain("settings_mode_daily_at", language, hour=f"{settings.digest_hour:02d}:00")
    return plain(f"settings_mode_{settings.mode.value}", language)


def describe_settings(
    settings: ChatSettings, language: str, target: ChatScope | None = None
) -> tuple[Html, InlineKeyboardMarkup]:
    if target is not None and target.channel is not None:
        heading = render("settings_heading_channel", language, channel=target.channel)
        suffix = f":{target.chat_id}"
        # Nobody writes in a channel, so its stories come in the default language until set.
        chat_language = settings.language or DEFAULT_LANGUAGE
    else:
        heading, suffix = render("settings_heading", language), ""
        chat_language = settings.language or language
    text = render(
        "settings_text",
        language,
        heading=heading,
        mode=_mode_label(settings, language),
        quiet=_quiet_label(settings, language),
        timezone=settings.timezone,
        previews=plain("settings_on" if settings.link_previews else "settings_off", language),
        bursts=plain("settings_on" if settings.combine_bursts else "settings_off", language),
        pictures=plain(f"settings_pictures_{settings.pictures.value}", language),
        language_name=plain("language_name", chat_language),
    )

    def button(label: str, data: str, selected: bool = False) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            (SELECTED if selected else "") + label, callback_data=data + suffix
        )

    rows = [
        [
            button(
                plain(f"settings_mode_{mode.value}", language),
                f"cfg:mode:{mode.value}",
                settings.mode is mode,
            )
            for mode in DeliveryMode
        ]
    ]
    if settings.mode is DeliveryMode.DAILY:
        earlier, later = (settings.digest_hour - 1) % 24, (settings.digest_hour + 1) % 24
        rows.append(
            [
                button(f"◀ {earlier:02d}:00", f"cfg:hour:{earlier}"),
                button(f"{later:02d}:00 ▶", f"cfg:hour:{later}"),
            ]
        )
    quiet_now = (settings.quiet_start, settings.quiet_end)
    rows.append(
        [button(plain("settings_quiet_off", language), "cfg:quiet:off", quiet_now == (None, None))]
        + [
            button(
                f"{start // 60:02d}–{end // 60:02d}",
                f"cfg:quiet:{start}-{end}",
                quiet_now == (start, end),
            )
            for start, end in QUIET_PRESETS
        ]
    )
    rows.append(
        [
            button(
                plain(
                    "settings_previews_on" if settings.link_previews else "settings_previews_off",
                    language,
                ),
                f"cfg:preview:{'off' if settings.link_previews else 'on'}",
            ),
            button(
                plain(
                    "settings_bursts_on" if settings.combine_bursts else "settings_bursts_off",
                    language,
                ),
                f"cfg:burst:{'off' if settings.combine_bursts else 'on'}",
            ),
        ]
    )
    rows.append(
        [
            button(
                plain(f"settings_pictures_{mode.value}", language),
                f"cfg:picture:{mode.value}",
                settings.pictures is mode,
            )
            for mode in PictureMode
        ]
    )
    rows.append(
        [
            button(
                plain("language_name", code),
                f"cfg:lang:{code}",
                chat_language == code,
            )
            for code in LANGUAGES
        ]
    )
    return text, InlineKeyboardMarkup(rows)


def apply_setting(settings: ChatSettings, field: str, value: str) -> ChatSettings | None:
    """The settings after a tap, or None for a value no button of ours carries."""
    if field == "mode":
        try:
            return replace(settings, mode=DeliveryMode(value))
        except ValueError:
            return None
    if field == "hour":
        return (
            replace(settings, digest_hour=int(value))
            if value.isdigit() and int(value) < 24
            else None
        )
    if field == "quiet":
        if value == "off":
            return replace(settings, quiet_start=None, quiet_end=None)
        start, _, end = value.partition("-")
        if start.isdigit() and end.isdigit():
            first, last = int(start), int(end)
            if first < MINUTES_A_DAY and last < MINUTES_A_DAY and first != last:
                return replace(settings, quiet_start=first, quiet_end=last)
        return None
    if field == "preview" and value in {"on", "off"}:
        return replace(settings, link_previews=value == "on")
    if field == "burst" and value in {"on", "off"}:
        return replace(settings, combine_bursts=value == "on")
    if field == "picture":
        try:
            return replace(settings, pictures=PictureMode(value))
        except ValueError:
            return None
    if field == "lang" and value in LANGUAGES:
        return replace(settings, language=value)
    return None


async def settings_command(update: Update, context: TagwireContext) -> None:
    found = await chat_scope(update, context, command_argument(update))
    if found is None:
        return
    target, _ = found
    language = await language_of(update, context)
    settings = await context.chats.settings(target.chat_id)
    text, keyboard = describe_settings(settings, language, target)
    await reply(update, text, reply_markup=keyboard)


async def _button_target(
    query: CallbackQuery, update: Update, context: TagwireContext, channel_id: str | None
) -> ChatScope | None:
    """The chat a settings button changes, if the user who tapped it may change it."""
    language = await language_of(update, context)
    chat = update.effective_chat
    if channel_id is None:
        if chat is None:
            return None
        if not await may_change_subscriptions(update, context):
            await query.answer(plain(admins_only(chat), language), show_alert=True)
            return None
        return ChatScope(chat.id)
    known = await context.store.get_chat(int(channel_id))
    label = chat_label(known.username, known.title, channel_id) if known else channel_id
    try:
        # Asked again at every tap: the user may have stopped administering the channel.
        channel = await channel_for(context, int(channel_id), update)
    except ChannelRefused as refused:
        # Telegram no longer tells the bot the channel's @name; the one it had is clearer.
        # Never its title: whoever tapped may never have administered it.
        public = f"@{known.username}" if known and known.username else channel_id
        name = public if refused.channel == channel_id else refused.channel
        await query.answer(alert(plain(refused.key, language, channel=name)), show_alert=True)
        return None
    return ChatScope(channel, label)


async def settings_button(update: Update, context: TagwireContext) -> None:
    query = update.callback_query
    if query is None:
        return
    language = await language_of(update, context)
    match = _SETTING.match(query.data if isinstance(query.data, str) else "")
    if match is None:
        await query.answer(plain("button_expired", language), show_alert=True)
        return
    target = await _button_target(query, update, context, match[3])
    if target is None:
        return
    field, value = match[1], match[2]
    changed = await context.chats.change_settings(
        target.chat_id, lambda current: apply_setting(current, field, value)
    )
    if changed is None:
        await query.answer(plain("button_expired", language), show_alert=True)
        return
    # A chat's own language button changes the language of this very answer.
    language = await language_of(update, context)
    await query.answer(plain("settings_saved", language))
    text, keyboard = describe_settings(changed, language, target)
    await edit(query, text, reply_markup=keyboard)


async def timezone_command(update: Update, context: TagwireContext) -> None:
    found = await chat_scope(update, context, command_argument(update))
    if found is None:
        return
    target, argument = found
    language = await language_of(update, context)
    current = await context.chats.settings(target.chat_id)
    if not argument:
        text = render("timezone_usage", language, timezone=current.timezone)
        await reply(update, under_channel(text, target.channel, language))
        return
    if target.channel is None and not await may_change_subscriptions(update, context):
        await reply(update, render("group_admins_only", language))
        return
    try:
        name = parse_timezone(argument)
    except ScheduleError as exc:
        await reply(
            update,
            render(
                "timezone_invalid",
                language,
                raw=cut_at_word(argument, QUOTED),
                reason=plain(exc.key, language),
            ),
        )
        return
    await context.chats.change_settings(
        target.chat_id, lambda stored: replace(stored, timezone=name)
    )
    local = datetime.now(UTC).astimezone(zone(name)).strftime("%H:%M")
    text = render("timezone_set", language, timezone=name, time=local)
    await reply(update, under_channel(text, target.channel, language))


async def quiet_command(update: Update, context: TagwireContext) -> None:
    found = await chat_scope(update, context, command_argument(update))
    if found is None:
        return
    target, argument = found
    language = await language_of(update, context)
    current = await context.chats.settings(target.chat_id)
    if not argument:
        text = render("quiet_usage", language, quiet=_quiet_label(current, language))
        await reply(update, under_channel(text, target.channel, language))
        return
    if target.channel is None and not await may_change_subscriptions(update, context):
        await reply(update, render("group_admins_only", language))
        return
    try:
        hours = parse_quiet_hours(argument)
    except ScheduleError as exc:
        await reply(
            update,
            render(
                "quiet_invalid",
                language,
                raw=cut_at_word(argument, QUOTED),
                reason=plain(exc.key, language),
            ),
        )
        return
    start, end = hours if hours else (None, None)
    changed = await context.chats.change_settings(
        target.chat_id, lambda stored: replace(stored, quiet_start=start, quiet_end=end)
    )
    assert changed is not None
    if hours is None:
        text = render("quiet_off", language)
    else:
        text = render(
            "quiet_set", language, quiet=_quiet_label(changed, language), timezone=changed.timezone
        )
    await reply(update, under_channel(text, target.channel, language))
