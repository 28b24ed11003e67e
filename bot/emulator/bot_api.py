"""`BotApiEmulator`, the class tests, benchmarks and the sandbox start: the method families
put together, and the table of Bot API methods the server answers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.emulator.chats import ChatMethods
from bot.emulator.files import FileMethods
from bot.emulator.profile import ProfileMethods
from bot.emulator.server import HttpServer
from bot.emulator.users import UserActions


class BotApiEmulator(HttpServer, FileMethods, UserActions, ChatMethods, ProfileMethods):
    """A Telegram Bot API server on 127.0.0.1 that a real python-telegram-bot client can use.

    Point the client at `base_url` (python-telegram-bot appends the token). Everything the bot
    does is recorded in `calls`; everything users do is injected with `send_text`,
    `press_button` and `add_update`.

    Each base class is one concern over the shared `EmulatorState` (see the package's
    docstring); this class only adds the table from Bot API method names to their handlers.
    """

    def __init__(
        self,
        *,
        token: str,
        bot_id: int = 7000000001,
        bot_username: str = "tagwire_test_bot",
        bot_first_name: str = "Tagwire",
        latency: float = 0.0,
        reject_bare_ampersand: bool = True,
    ) -> None:
        super().__init__(
            token=token,
            bot_id=bot_id,
            bot_username=bot_username,
            bot_first_name=bot_first_name,
            latency=latency,
            reject_bare_ampersand=reject_bare_ampersand,
        )
        self._methods = {
            "getme": self._get_me,
            "logout": self._true,
            "close": self._true,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "getfile": self._get_file,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setmydescription": self._set_my_description,
            "getmydescription": self._get_my_description,
            "setmyshortdescription": self._set_my_short_description,
            "getmyshortdescription": self._get_my_short_description,
            "setmyname": self._set_my_name,
            "getmyname": self._get_my_name,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "getchatmembercount": self._get_chat_member_count,
            "sendchataction": self._send_chat_action,
            "leavechat": self._leave_chat,
        }


@contextlib.asynccontextmanager
async def running_emulator(token: str, **options: Any) -> AsyncIterator[BotApiEmulator]:
    """`async with running_emulator(token) as emulator:` starts and stops an emulator."""
    emulator = BotApiEmulator(token=token, **options)
    async with emulator:
        yield emulator
