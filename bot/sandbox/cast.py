"""The simulated people and chats the sandbox page switches between."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.emulator import BotApiEmulator


@dataclass(frozen=True, slots=True)
class Member:
    user_id: int
    name: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class SandboxChat:
    """A chat with the bot: a reader's private chat (its id is the reader's) or a group."""

    id: int
    title: str
    kind: str
    members: tuple[Member, ...]

    def member(self, user_id: int) -> Member | None:
        return next((member for member in self.members if member.user_id == user_id), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            "members": [
                {"id": member.user_id, "name": member.name, "admin": member.admin}
                for member in self.members
            ],
        }


@dataclass(frozen=True, slots=True)
class Cast:
    chats: tuple[SandboxChat, ...]

    def chat(self, chat_id: int) -> SandboxChat | None:
        return next((chat for chat in self.chats if chat.id == chat_id), None)

    def name_of_chat(self, chat_id: int) -> str:
        chat = self.chat(chat_id)
        return chat.title if chat is not None else str(chat_id)

    def name_of_user(self, user_id: int) -> str | None:
        for chat in self.chats:
            member = chat.member(user_id)
            if member is not None:
                return member.name
        return None

    def install(self, emulator: BotApiEmulator) -> None:
        """Makes the emulator know every reader and group, as Telegram would."""
        for chat in self.chats:
            if chat.kind == "private":
                emulator.add_user(chat.id, first_name=chat.title, username=chat.title.lower())
        for chat in self.chats:
            if chat.kind == "group":
                emulator.add_group(
                    chat.id,
                    title=chat.title,
                    admins=[m.user_id for m in chat.members if m.admin],
                    members=[m.user_id for m in chat.members if not m.admin],
                )


ALICE = 1001
BOB = 1002
NEWSROOM = -4001


def default_cast() -> Cast:
    """Two readers, and a group where Alice is an admin and Bob is not."""
    return Cast(
        chats=(
            SandboxChat(ALICE, "Alice", "private", (Member(ALICE, "Alice"),)),
            SandboxChat(BOB, "Bob", "private", (Member(BOB, "Bob"),)),
            SandboxChat(
                NEWSROOM,
                "Newsroom",
                "group",
                (Member(ALICE, "Alice", admin=True), Member(BOB, "Bob")),
            ),
        )
    )
