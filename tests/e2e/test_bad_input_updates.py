"""Updates the bot does not handle are ignored without a word or an error; buttons that went
stale (the tag unfollowed or gone, the search expired, the message deleted) get a polite answer
and leave nothing broken."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.web.webhook import SECRET_HEADER
from tests.support.harness import StartBot, buttons, push, updates_handled
from tests.support.sql import execute, query
from tests.support.updates import say as say_as
from tests.support.updates import tap as tap_as
from tests.support.webhook import webhook_options

READER = 1001
GROUP = -5001
CHANNEL = -1005002
ADMIN = 2001
SECRET = "ignored-updates-secret-0123456789"
REPLY_METHODS = {
    "sendmessage",
    "sendphoto",
    "editmessagetext",
    "editmessagereplymarkup",
    "answercallbackquery",
    "answerinlinequery",
    "sendchataction",
    "deletemessage",
    "leavechat",
}

USER = {"id": READER, "is_bot": False, "first_name": "Reader", "language_code": "en"}
PRIVATE = {"id": READER, "type": "private", "first_name": "Reader"}
GROUP_CHAT = {"id": GROUP, "type": "group", "title": "Desk"}
CHANNEL_CHAT = {"id": CHANNEL, "type": "channel", "title": "Wire"}
COMMAND = [{"type": "bot_command", "offset": 0, "length": 7}]


def message(chat: dict[str, Any], message_id: int, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"message_id": message_id, "date": 1_800_000_000, "chat": chat}
    if chat["type"] != "channel":
        base["from"] = USER
    return {**base, **fields}


def member(status: str, user: dict[str, Any]) -> dict[str, Any]:
    return {"status": status, "user": user}


def unhandled_updates() -> list[tuple[str, dict[str, Any]]]:
    """One of each kind tagwire does not act on, with commands where they could be mistaken."""
    other = {"id": 3003, "is_bot": False, "first_name": "Other"}
    return [
        (
            "edited_message",
            message(PRIVATE, 10, text="/follow Japan", entities=COMMAND, edit_date=1_800_000_100),
        ),
        ("channel_post", message(CHANNEL_CHAT, 11, text="/follow Japan", entities=COMMAND)),
        ("edited_channel_post", message(CHANNEL_CHAT, 11, text="/help", edit_date=1_800_000_001)),
        (
            "message",
            message(
                PRIVATE,
                12,
                sticker={
                    "file_id": "s",
                    "file_unique_id": "s",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                },
            ),
        ),
        (
            "message",
            message(
                PRIVATE,
                13,
                photo=[{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
                caption="/follow Japan",
                caption_entities=COMMAND,
            ),
        ),
        ("message", message(PRIVATE, 14, location={"latitude": 35.68, "longitude": 139.69})),
        ("message", message(PRIVATE, 15, dice={"emoji": "🎲", "value": 6})),
        (
            "message",
            message(PRIVATE, 16, contact={"phone_number": "+100", "first_name": "X"}),
        ),
        ("message", message(GROUP_CHAT, 17, text="just chatting, no command")),
        ("message", message(GROUP_CHAT, 18, new_chat_members=[other])),
        ("message", message(GROUP_CHAT, 19, left_chat_member=other)),
        ("message", message(GROUP_CHAT, 20, new_chat_title="Desk 2")),
        (
            "poll",
            {
                "id": "poll1",
                "question": "/follow?",
                "options": [
                    {"text": "a", "voter_count": 1, "persistent_id": "a"},
                    {"text": "b", "voter_count": 0, "persistent_id": "b"},
                ],
                "total_voter_count": 1,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": False,
                "members_only": False,
            },
        ),
        (
            "poll_answer",
            {"poll_id": "poll1", "user": USER, "option_ids": [0], "option_persistent_ids": ["a"]},
        ),
        (
            "chat_member",
            {
                "chat": GROUP_CHAT,
                "from": USER,
                "date": 1_800_000_000,
                "old_chat_member": member("left", other),
                "new_chat_member": member("member", other),
            },
        ),
        (
            "inline_query",
            {"id": "iq1", "from": USER, "query": "/follow Japan", "offset": ""},
        ),
        ("chosen_inline_result", {"result_id": "r", "from": USER, "query": "x"}),
        (
            "message_reaction",
            {
                "chat": PRIVATE,
                "message_id": 1,
                "user": USER,
                "date": 1_800_000_000,
                "old_reaction": [],
                "new_reaction": [{"type": "emoji", "emoji": "👍"}],
            },
        ),
        (
            "message_reaction_count",
            {
                "chat": GROUP_CHAT,
                "message_id": 1,
                "date": 1_800_000_000,
                "reactions": [{"type": {"type": "emoji", "emoji": "👍"}, "total_count": 2}],
            },
        ),
        (
            "chat_join_request",
            {"chat": GROUP_CHAT, "from": USER, "user_chat_id": READER, "date": 1_800_000_000},
        ),
        (
            "pre_checkout_query",
            {
                "id": "pc",
                "from": USER,
                "currency": "XTR",
                "total_amount": 1,
                "invoice_payload": "x",
            },
        ),
    ]


@pytest.fixture
async def webhook_bot(
    emulator: BotApiEmulator, start_bot: StartBot
) -> AsyncIterator[TagwireApplication]:
    emulator.add_user(READER)
    emulator.add_group(GROUP, title="Desk", admins=[ADMIN])
    emulator.add_channel(CHANNEL, title="Wire", admins=[ADMIN])
    async with start_bot(**webhook_options(), webhook_secret=SECRET) as application:
        yield application


async def test_updates_of_kinds_the_bot_does_not_handle_are_ignored_quietly(
    emulator: BotApiEmulator,
    webhook_bot: TagwireApplication,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Straight to the webhook, past Telegram's allowed_updates filter, as a forged or future
    update kind would come."""
    caplog.set_level(logging.WARNING)
    url = webhook_bot.bot_data.require_settings().webhook_url
    assert url is not None
    calls_before = len(emulator.calls)
    statuses = []
    async with httpx.AsyncClient(trust_env=False) as http:
        for number, (kind, body) in enumerate(unhandled_updates(), start=50_000):
            answer = await http.post(
                url, json={"update_id": number, kind: body}, headers={SECRET_HEADER: SECRET}
            )
            statuses.append((kind, answer.status_code))
    await updates_handled(emulator, webhook_bot)
    assert all(status == 200 for _, status in statuses), statuses
    replies = [
        call for call in emulator.calls[calls_before:] if call.method.lower() in REPLY_METHODS
    ]
    assert replies == [], [(call.method, call.params) for call in replies]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    # And the next real command is answered as usual.
    emulator.send_text(READER, READER, "/help")
    [answer] = await emulator.wait_for_messages(READER, 1)
    assert "What I can do" in answer["text"]


@pytest.fixture
async def before_start(emulator: BotApiEmulator, database: Path) -> None:
    emulator.add_user(READER)
    await push(database)


async def say(emulator: BotApiEmulator, text: str) -> dict[str, Any]:
    return await say_as(emulator, READER, READER, text)


async def tap(emulator: BotApiEmulator, message_id: int, data: str) -> str:
    answer = await tap_as(emulator, READER, READER, {"message_id": message_id}, data)
    return str(answer.get("text", ""))


def followed(database: Path | str) -> list[str]:
    rows = query(
        database,
        "SELECT t.name FROM subscriptions s JOIN tags t ON t.id = s.tag_id "
        "WHERE s.chat_id = ? ORDER BY t.name",
        READER,
    )
    return [str(row[0]) for row in rows]


async def test_stale_buttons_get_polite_answers_and_change_nothing_wrongly(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    database: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    await say(emulator, "/follow Japan, Russia")
    listing = await say(emulator, "/following")
    unfollow_japan = next(data for label, data in buttons(listing) if "Japan" in label)

    # Unfollowed by command since the list was shown: the old button says so, changes nothing.
    await say(emulator, "/unfollow Japan")
    answer = await tap(emulator, listing["message_id"], unfollow_japan)
    assert "do not follow Japan" in answer
    assert followed(database) == ["Russia"]

    # The tag is gone altogether (an operator cleaned the database): the button has expired.
    tags_panel = await say(emulator, "/tags")
    follow_button = next(data for label, data in buttons(tags_panel) if "Kuril" in label)
    tag_id = int(follow_button.split(":")[2])
    execute(
        database,
        ("DELETE FROM article_tags WHERE tag_id = ?", (tag_id,)),
        ("DELETE FROM tags WHERE id = ?", (tag_id,)),
    )
    answer = await tap(emulator, tags_panel["message_id"], follow_button)
    assert "no longer works" in answer
    assert followed(database) == ["Russia"]

    # A search whose saved query expired.
    results = await say(emulator, "/search Japan")
    more = next((data for _, data in buttons(results) if data.startswith("more:")), None)
    if more is not None:
        execute(database, ("DELETE FROM searches", ()))
        assert "no longer works" in await tap(emulator, results["message_id"], more)

    # A button under a message that was deleted meanwhile: the action happens, the answer is
    # polite, and the missing message to redraw is no error.
    russia_row = next(data for label, data in buttons(listing) if "Russia" in label)
    answer = await tap(emulator, 99_999, russia_row)
    assert "Stopped following Russia" in answer
    assert followed(database) == []
    await updates_handled(emulator, bot)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert "went wrong" not in " ".join(
        str(call.params.get("text", "")) for call in emulator.calls_of("answerCallbackQuery")
    )
    assert "What I can do" in (await say(emulator, "/help"))["text"]
