"""Talking to the running bot through the Bot API emulator: a user's message and the bot's
answer, a tapped button and its callback answer, the teasers a chat received, and an update
as Telegram posts it to a webhook."""

from __future__ import annotations

from typing import Any

from bot.emulator import BotApiEmulator

# A teaser ends with its "Read more" link, in the chat's language.
TEASER_LABELS = ("Read more", "Читать дальше")


async def say(
    emulator: BotApiEmulator,
    chat_id: int,
    user_id: int,
    text: str,
    timeout: float = 10.0,  # noqa: ASYNC109 - the emulator's wait takes it
) -> dict[str, Any]:
    """Send `text` as a user and return the bot's next message in that chat."""
    before = len(emulator.sent_messages(chat_id))
    emulator.send_text(chat_id, user_id, text)
    messages = await emulator.wait_for_messages(chat_id, before + 1, timeout=timeout)
    return messages[before]


async def tap(
    emulator: BotApiEmulator, chat_id: int, user_id: int, message: dict[str, Any], data: str
) -> dict[str, Any]:
    """Tap a button and return the callback answer the bot gave."""
    answers = len(emulator.calls_of("answerCallbackQuery"))
    emulator.press_button(chat_id, user_id, message["message_id"], data)
    await emulator.wait_for(lambda: len(emulator.calls_of("answerCallbackQuery")) > answers)
    return emulator.calls_of("answerCallbackQuery")[answers].params


async def follow(emulator: BotApiEmulator, chat_id: int, user_id: int, tags: str) -> None:
    """`/follow tags`, waiting for the bot's answer."""
    await say(emulator, chat_id, user_id, f"/follow {tags}")


def teasers(emulator: BotApiEmulator, chat_id: int) -> list[dict[str, Any]]:
    """The stories the chat was sent, as teasers (one message each: a text, or a photo with
    the teaser as its caption), oldest first."""
    return [
        message
        for message in emulator.sent_messages(chat_id)
        if any(label in teaser_text(message) for label in TEASER_LABELS)
    ]


def teaser_text(message: dict[str, Any]) -> str:
    """A message's text, or a photo's caption."""
    return str(message.get("text", message.get("caption", "")))


def update_for(chat_id: int, text: str, update_id: int) -> dict[str, Any]:
    """A private chat's command as Telegram posts it to the webhook."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Reader"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_800_000_000,
            "chat": {"id": chat_id, "type": "private", "first_name": "Reader"},
            "from": user,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }
