"""Inline keyboards and the callback data their buttons carry (at most 64 bytes each)."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from storage.models import Follow, Tag

FOLLOWED_MARK = "✓ "
UNFOLLOW_MARK = "✕ "
WORDS_MARK = "✎ "
CLEAR_WORDS_MARK = "⌫ "
_PER_ROW = 2
# Telegram refuses an inline keyboard of more than 100 buttons.
MAX_BUTTONS = 100


class View(enum.StrEnum):
    """Which message a button sits in, so a tap can redraw that message."""

    TAGS = "t"  # /tags and /follow without a tag: toggles
    FOLLOWING = "f"  # /following and /unfollow without a tag: unfollow buttons
    SUGGESTION = "s"  # suggestions under an answer: one-off actions
    IMPORT = "i"  # /import's preview: confirm or cancel (tag_id: the file's message)


class Action(enum.StrEnum):
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    LATEST = "latest"
    # The words inside a follow: how to change them, or clear them.
    WORDS = "words"
    CLEAR_WORDS = "clear"
    # An /import's preview: apply the file, or leave everything as it is.
    CONFIRM_IMPORT = "import"
    CANCEL_IMPORT = "cancel"


@dataclass(frozen=True, slots=True)
class ButtonData:
    view: View
    action: Action
    tag_id: int
    # The channel the button acts on, when not the chat it sits in.
    channel_id: int | None = None

    def encode(self) -> str:
        suffix = f"@{self.channel_id}" if self.channel_id is not None else ""
        return f"{self.view}:{self.action}:{self.tag_id}{suffix}"


_DATA = re.compile(
    r"^([tfsi]):(follow|unfollow|latest|words|clear|import|cancel):([1-9][0-9]{0,17})"
    r"(?:@(-[1-9][0-9]{0,17}))?$"
)


def parse_button(data: str | None) -> ButtonData | None:
    """The button's meaning, or None for data this bot never issued."""
    match = _DATA.fullmatch(data or "")
    if match is None:
        return None
    channel = int(match[4]) if match[4] else None
    return ButtonData(View(match[1]), Action(match[2]), int(match[3]), channel)


def _rows(buttons: Sequence[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + _PER_ROW]) for i in range(0, len(buttons), _PER_ROW)]


def toggle_keyboard(
    tags: Sequence[tuple[int, str]], followed: set[int], channel_id: int | None = None
) -> InlineKeyboardMarkup:
    """One button per (tag id, name): follows it, or unfollows it when marked ✓."""
    buttons = []
    for tag_id, name in tags:
        if tag_id in followed:
            data = ButtonData(View.TAGS, Action.UNFOLLOW, tag_id, channel_id)
            label = FOLLOWED_MARK + name
        else:
            data = ButtonData(View.TAGS, Action.FOLLOW, tag_id, channel_id)
            label = name
        buttons.append(InlineKeyboardButton(label, callback_data=data.encode()))
    return InlineKeyboardMarkup(_rows(buttons))


def toggle_keyboard_tags(keyboard: InlineKeyboardMarkup | None) -> list[tuple[int, str]]:
    """The (tag id, name) pairs of a toggle keyboard, read back from the message itself."""
    tags = []
    for row in keyboard.inline_keyboard if keyboard else ():
        for button in row:
            data = parse_button(
                button.callback_data if isinstance(button.callback_data, str) else None
            )
            if data is not None and data.view is View.TAGS:
                tags.append((data.tag_id, button.text.removeprefix(FOLLOWED_MARK)))
    return tags


def unfollow_keyboard(tags: Sequence[Tag], channel_id: int | None = None) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            UNFOLLOW_MARK + tag.name,
            callback_data=ButtonData(View.FOLLOWING, Action.UNFOLLOW, tag.id, channel_id).encode(),
        )
        for tag in tags
    ]
    return InlineKeyboardMarkup(_rows(buttons))


def following_keyboard(
    follows: Sequence[Follow], channel_id: int | None = None
) -> InlineKeyboardMarkup:
    """A row per follow: unfollow it, change its words, and clear them when it has some.

    Unfollow buttons come first for every follow; word buttons are left out past Telegram's
    limit on buttons (a chat following close to 100 tags)."""
    budget = MAX_BUTTONS - len(follows)
    rows: list[list[InlineKeyboardButton]] = []
    for follow in follows:
        tag = follow.tag
        row = [
            InlineKeyboardButton(
                UNFOLLOW_MARK + tag.name,
                callback_data=ButtonData(
                    View.FOLLOWING, Action.UNFOLLOW, tag.id, channel_id
                ).encode(),
            )
        ]
        actions = [(WORDS_MARK, Action.WORDS)]
        if follow.words:
            actions.append((CLEAR_WORDS_MARK, Action.CLEAR_WORDS))
        for mark, action in actions:
            if budget <= 0:
                break
            budget -= 1
            data = ButtonData(View.FOLLOWING, action, tag.id, channel_id)
            row.append(InlineKeyboardButton(mark + tag.name, callback_data=data.encode()))
        rows.append(row)
    return InlineKeyboardMarkup(rows)


def suggestion_keyboard(tags: Sequence[Tag], action: Action) -> InlineKeyboardMarkup | None:
    if not tags:
        return None
    buttons = [
        InlineKeyboardButton(
            tag.name, callback_data=ButtonData(View.SUGGESTION, action, tag.id).encode()
        )
        for tag in tags
    ]
    return InlineKeyboardMarkup(_rows(buttons))


def import_keyboard(
    message_id: int, language_labels: tuple[str, str], channel_id: int | None = None
) -> InlineKeyboardMarkup:
    """Confirm / Cancel under an /import's preview; `message_id`: the message with the file."""
    confirm, cancel = language_labels
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    confirm,
                    callback_data=ButtonData(
                        View.IMPORT, Action.CONFIRM_IMPORT, message_id, channel_id
                    ).encode(),
                ),
                InlineKeyboardButton(
                    cancel,
                    callback_data=ButtonData(
                        View.IMPORT, Action.CANCEL_IMPORT, message_id, channel_id
                    ).encode(),
                ),
            ]
        ]
    )
