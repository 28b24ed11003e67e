"""The Bot API methods about chats and their members: getChat, getChatMember,
getChatAdministrators, getChatMemberCount and leaveChat, and the ChatMember JSON they share
with my_chat_member updates."""

from __future__ import annotations

from bot.emulator.answers import ApiError, JSONDict
from bot.emulator.params import req_int
from bot.emulator.state import Chat, EmulatorState


class ChatMethods(EmulatorState):
    """What the bot can learn about a chat, and leaving it."""

    async def _get_chat(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=False)
        info = chat.as_chat()
        info.update(
            {
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": chat.type == "private",
                    "limited_gifts": chat.type == "private",
                    "unique_gifts": chat.type == "private",
                    "premium_subscription": chat.type == "private",
                    "gifts_from_channels": chat.type == "private",
                },
            }
        )
        if chat.type != "private":
            info["permissions"] = {
                "can_send_messages": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_invite_users": True,
            }
        return info

    def _user_or_placeholder(self, user_id: int) -> JSONDict:
        if user_id == self.bot_id:
            return self.bot_user
        user = self._users.get(user_id)
        if user is None:
            return {"id": user_id, "is_bot": False, "first_name": "User"}
        return dict(user)

    def _status_of(self, chat: Chat, user_id: int) -> str:
        if chat.type == "private":
            return "member" if user_id in (chat.id, self.bot_id) else "left"
        if user_id == chat.owner:
            return "creator"
        if user_id in chat.admins:
            return "administrator"
        if user_id in chat.members or user_id == self.bot_id:
            return "member"
        return "left"

    def _member_dict(self, chat: Chat, user_id: int, status: str) -> JSONDict:
        member: JSONDict = {"status": status, "user": self._user_or_placeholder(user_id)}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            is_channel = chat.type == "channel"
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": not is_channel,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": True,
                    "can_edit_stories": True,
                    "can_delete_stories": True,
                }
            )
            if is_channel:
                member["can_post_messages"] = True
                member["can_edit_messages"] = True
            else:
                member["can_pin_messages"] = True
            if chat.type == "supergroup":
                member["can_manage_topics"] = chat.is_forum
        elif status == "kicked":
            member["until_date"] = 0
        elif status == "restricted":
            member.update(
                {
                    "is_member": True,
                    "until_date": 0,
                    **{
                        permission: False
                        for permission in (
                            "can_send_messages",
                            "can_send_audios",
                            "can_send_documents",
                            "can_send_photos",
                            "can_send_videos",
                            "can_send_video_notes",
                            "can_send_voice_notes",
                            "can_send_polls",
                            "can_send_other_messages",
                            "can_add_web_page_previews",
                            "can_change_info",
                            "can_invite_users",
                            "can_pin_messages",
                            "can_manage_topics",
                        )
                    },
                }
            )
        return member

    async def _get_chat_member(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=False)
        user_id = req_int(params, "user_id", "Bad Request: user_id is empty")
        if user_id <= 0:
            raise ApiError(400, "Bad Request: invalid user_id specified")
        return self._member_dict(chat, user_id, self._status_of(chat, user_id))

    async def _get_chat_administrators(self, params: JSONDict) -> list[JSONDict]:
        chat = self._chat_for(params, sending=False)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        admins: list[JSONDict] = []
        if chat.owner is not None:
            admins.append(self._member_dict(chat, chat.owner, "creator"))
        for user_id in sorted(chat.admins - {chat.owner}):
            admins.append(self._member_dict(chat, user_id, "administrator"))
        return admins

    async def _get_chat_member_count(self, params: JSONDict) -> int:
        chat = self._chat_for(params, sending=False)
        if chat.type == "private":
            return 2
        everyone = {*chat.admins, *chat.members, self.bot_id}
        if chat.owner is not None:
            everyone.add(chat.owner)
        return len(everyone)

    async def _leave_chat(self, params: JSONDict) -> bool:
        chat = self._chat_for(params, sending=False)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: chat member status can't be changed in private chats")
        self._kicked.add(chat.id)
        return True
