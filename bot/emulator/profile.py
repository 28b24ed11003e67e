"""The Bot API methods about the bot itself: getMe, logOut and close, its command menus
(set/get/deleteMyCommands by scope and language) and its profile texts (name, description,
short description)."""

from __future__ import annotations

import json
import re

from bot.emulator.answers import ApiError, JSONDict
from bot.emulator.params import opt_str
from bot.emulator.state import EmulatorState

_SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_COMMAND_SHAPE = re.compile(r"[a-z0-9_]{1,32}")


class ProfileMethods(EmulatorState):
    """The bot's identity, commands and descriptions, kept per scope and language."""

    async def _true(self, params: JSONDict) -> bool:
        return True

    async def _get_me(self, params: JSONDict) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _scope_key(self, params: JSONDict) -> tuple[str, str, str]:
        scope = params.get("scope")
        if scope is None:
            scope = {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        language = opt_str(params, "language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise ApiError(400, "Bad Request: invalid language code specified")
        full = json.dumps({"scope": scope, "language": language}, sort_keys=True)
        return str(scope["type"]), language, full

    async def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        cleaned: list[JSONDict] = []
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_SHAPE.fullmatch(name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise ApiError(400, "Bad Request: command description is empty")
            cleaned.append({"command": name, "description": description})
        scope_type, language, full = self._scope_key(params)
        if cleaned:
            self.commands[(scope_type, language)] = cleaned
            self._full_commands[full] = cleaned
        else:
            self.commands.pop((scope_type, language), None)
            self._full_commands.pop(full, None)
        return True

    async def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return list(self._full_commands.get(self._scope_key(params)[2], []))

    async def _delete_my_commands(self, params: JSONDict) -> bool:
        scope_type, language, full = self._scope_key(params)
        self.commands.pop((scope_type, language), None)
        self._full_commands.pop(full, None)
        return True

    def _set_profile_text(
        self, params: JSONDict, field_name: str, store: dict[str, str], limit: int
    ) -> bool:
        value = opt_str(params, field_name) or ""
        if len(value) > limit:
            raise ApiError(400, f"Bad Request: {field_name.replace('_', ' ')} is too long")
        language = opt_str(params, "language_code") or ""
        if value:
            store[language] = value
        else:
            store.pop(language, None)
        return True

    async def _set_my_description(self, params: JSONDict) -> bool:
        return self._set_profile_text(params, "description", self.descriptions, 512)

    async def _get_my_description(self, params: JSONDict) -> JSONDict:
        language = opt_str(params, "language_code") or ""
        return {"description": self.descriptions.get(language, self.descriptions.get("", ""))}

    async def _set_my_short_description(self, params: JSONDict) -> bool:
        return self._set_profile_text(params, "short_description", self.short_descriptions, 120)

    async def _get_my_short_description(self, params: JSONDict) -> JSONDict:
        language = opt_str(params, "language_code") or ""
        text = self.short_descriptions.get(language, self.short_descriptions.get("", ""))
        return {"short_description": text}

    async def _set_my_name(self, params: JSONDict) -> bool:
        return self._set_profile_text(params, "name", self.names, 64)

    async def _get_my_name(self, params: JSONDict) -> JSONDict:
        language = opt_str(params, "language_code") or ""
        return {"name": self.names.get(language, self.names.get("", self.bot_first_name))}
