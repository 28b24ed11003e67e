"""What the command throttle counts: updates the bot answers, not a group's conversation."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot, Update

from handlers.chats import counts_against_throttle

BOT = "tagwire_bot"


def update(text: str | None, chat_type: str = "supergroup", **extra: Any) -> Update:
    chat = {"id": 1 if chat_type == "private" else -1001, "type": chat_type, "title": "G"}
    message: dict[str, Any] = {
        "message_id": 1,
        "date": 0,
        "chat": chat,
        "from": {"id": 1, "is_bot": False, "first_name": "A"},
        **extra,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split(maxsplit=1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return Update.de_json({"update_id": 1, "message": message}, Bot("1:" + "A" * 35))


@pytest.mark.parametrize(
    ("text", "chat_type", "counted"),
    [
        ("hello everyone", "supergroup", False),
        ("hello everyone", "group", False),
        ("/follow Japan", "supergroup", True),
        (f"/follow@{BOT} Japan", "supergroup", True),
        (f"/FOLLOW@{BOT.upper()} Japan", "supergroup", True),
        ("/follow@other_bot Japan", "supergroup", False),
        ("/nosuchcommand", "supergroup", False),
        (f"/nosuchcommand@{BOT}", "supergroup", True),
        ("hello", "private", True),
        ("/nosuchcommand", "private", True),
        (None, "private", False),
        (None, "supergroup", False),
    ],
)
def test_only_what_the_bot_answers_counts(text: str | None, chat_type: str, counted: bool) -> None:
    commands = {"follow", "help"}
    assert counts_against_throttle(update(text, chat_type), BOT, commands) is counted


def test_a_tap_counts() -> None:
    tap = Update.de_json(
        {
            "update_id": 2,
            "callback_query": {
                "id": "1",
                "from": {"id": 1, "is_bot": False, "first_name": "A"},
                "chat_instance": "1",
                "data": "x",
            },
        },
        Bot("1:" + "A" * 35),
    )
    assert counts_against_throttle(tap, BOT, {"follow"})


@pytest.mark.parametrize(
    ("caption", "chat_type", "counted"),
    [
        ("/import", "supergroup", True),
        (f"/import@{BOT}", "supergroup", True),
        ("our export", "supergroup", False),
        ("/import", "private", True),
    ],
)
def test_a_documents_caption_counts_as_its_command(
    caption: str, chat_type: str, counted: bool
) -> None:
    document = {"file_id": "f", "file_unique_id": "u", "file_name": "tagwire-export.json"}
    sent = update(None, chat_type, document=document, caption=caption)
    assert counts_against_throttle(sent, BOT, {"import"}) is counted
