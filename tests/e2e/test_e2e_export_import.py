"""/export and /import end to end: the real bot against the Bot API emulator, which takes the
document the bot uploads (sendDocument), gives it back (getFile and the file download) and
carries a user's document with `/import` as its caption, or a reply `/import` to one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from handlers.chat_file import MAX_FILE_BYTES
from storage.base import Store
from storage.models import ChatSettings, DeliveryMode
from storage.words import FollowWords
from tests.support.harness import buttons
from tests.support.updates import say, tap

READER = 1001
FRESH = 1002
RUSSIAN = 1003
ADMIN = 2001
MEMBER = 2002
GROUP = -1007770001
FORUM = -1007770002
CHANNEL = -1007770003


@pytest.fixture
def before_start(emulator: BotApiEmulator) -> None:
    emulator.add_user(READER, first_name="Reader")
    emulator.add_user(FRESH, first_name="Fresh")
    emulator.add_user(RUSSIAN, first_name="Иван", language_code="ru")
    emulator.add_group(GROUP, title="Desk", supergroup=True, admins=[ADMIN], members=[MEMBER])
    emulator.add_group(FORUM, title="Forum", supergroup=True, is_forum=True, admins=[ADMIN])
    emulator.add_channel(CHANNEL, title="Desk News", username="desknews", admins=[ADMIN])


def store_of(bot: TagwireApplication) -> Store:
    return bot.bot_data.require().store


async def send_file(
    emulator: BotApiEmulator,
    chat_id: int,
    user_id: int,
    data: bytes,
    caption: str | None = "/import",
) -> dict[str, Any]:
    """A user sends `data` as a document; the bot's next message in that chat."""
    before = len(emulator.sent_messages(chat_id))
    emulator.send_document(chat_id, user_id, data, caption=caption)
    messages = await emulator.wait_for_messages(chat_id, before + 1)
    return messages[before]


async def export(
    emulator: BotApiEmulator, chat_id: int, user_id: int, command: str = "/export"
) -> tuple[dict[str, Any], bytes]:
    message = await say(emulator, chat_id, user_id, command)
    assert "document" in message, message
    data = emulator.file_bytes(message["document"]["file_id"])
    assert data is not None
    return message, data


async def press(
    emulator: BotApiEmulator, chat_id: int, user_id: int, preview: dict[str, Any], index: int
) -> tuple[dict[str, Any], str]:
    """Tap the preview's button `index` (0: confirm, 1: cancel); the callback answer and the
    preview's text once redrawn."""
    data = buttons(preview)[index][1]
    answer = await tap(emulator, chat_id, user_id, preview, data)
    message_id = preview["message_id"]
    await emulator.wait_for(
        lambda: emulator.messages_in(chat_id)[message_id].get("text") != preview["text"]
    )
    return answer, str(emulator.messages_in(chat_id)[message_id]["text"])


async def snapshot(store: Store, chat_id: int) -> tuple[Any, ...]:
    follows = [(thread, f.tag.name, f.words) for thread, f in await store.all_follows(chat_id)]
    prefs = (await store.chat_prefs([chat_id])).get(chat_id)
    return (follows, prefs.muted if prefs else (), prefs.settings if prefs else ChatSettings())


async def test_export_then_import_into_a_fresh_chat_restores_everything(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, READER, READER, "/follow Japan only earthquake, tsunami except drill")
    await say(emulator, READER, READER, "/follow Sports")
    await say(emulator, READER, READER, "/mute golf, Трамп")
    await say(emulator, READER, READER, "/timezone Europe/Moscow")
    await say(emulator, READER, READER, "/quiet 23:00-07:00")
    settings = await say(emulator, READER, READER, "/settings")
    await tap(emulator, READER, READER, settings, "cfg:mode:daily")
    await tap(emulator, READER, READER, settings, "cfg:preview:off")
    store = store_of(bot)
    original = await snapshot(store, READER)
    assert original[2].mode is DeliveryMode.DAILY
    assert original[2].quiet_start == 23 * 60

    message, data = await export(emulator, READER, READER)
    assert message["document"]["file_name"] == "tagwire-export.json"
    assert "Follows: 2, muted words: 2," in message["caption"]
    exported = json.loads(data)
    assert exported["tagwire"] == 1
    assert exported["follows"][0] == {
        "tag": "Japan",
        "only": ["earthquake", "tsunami"],
        "except": ["drill"],
    }
    assert exported["settings"]["quiet_hours"] == "23:00-07:00"

    await say(emulator, FRESH, FRESH, "/follow Weather")
    preview = await send_file(emulator, FRESH, FRESH, data)
    text = preview["text"]
    assert "Importing this file will:" in text
    assert "follow Japan, Sports" in text
    assert "stop following Weather" in text
    assert "Japan: only with earthquake, tsunami; except drill" in text
    assert "mute golf, трамп" in text
    assert "delivery: Instant → Daily" in text
    assert "quiet hours: off → 23:00–07:00" in text
    assert "link previews: on → off" in text
    assert "time zone: UTC → Europe/Moscow" in text
    assert [label for label, _ in buttons(preview)] == ["✅ Import", "✖ Cancel"]
    # Nothing changes before the tap.
    assert [f.tag.name for _, f in await store.all_follows(FRESH)] == ["Weather"]

    answer, done = await press(emulator, FRESH, FRESH, preview, 0)
    assert answer["text"] == "Saved"
    assert "Imported. Follows: 2, muted words: 2," in done
    assert await snapshot(store, FRESH) == original
    # The same file again: nothing left to change.
    again = await send_file(emulator, FRESH, FRESH, data)
    assert "nothing to change" in again["text"]
    assert not buttons(again)


async def test_a_reply_to_the_file_imports_too_and_cancel_changes_nothing(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, READER, READER, "/follow Japan except baseball")
    _, data = await export(emulator, READER, READER)
    store = store_of(bot)
    before = len(emulator.sent_messages(FRESH))
    upload = emulator.send_document(FRESH, FRESH, data, caption=None)
    emulator.send_text(FRESH, FRESH, "/import", reply_to_message_id=upload["message"]["message_id"])
    preview = (await emulator.wait_for_messages(FRESH, before + 1))[before]
    assert "follow Japan" in preview["text"]
    _answer, cancelled = await press(emulator, FRESH, FRESH, preview, 1)
    assert "Import cancelled: nothing was changed." in cancelled
    assert await store.all_follows(FRESH) == []

    # A second preview of the same file, confirmed this time.
    before = len(emulator.sent_messages(FRESH))
    emulator.send_text(FRESH, FRESH, "/import", reply_to_message_id=upload["message"]["message_id"])
    preview = (await emulator.wait_for_messages(FRESH, before + 1))[before]
    assert buttons(preview)
    await press(emulator, FRESH, FRESH, preview, 0)
    follows = await store.all_follows(FRESH)
    assert [(f.tag.name, f.words) for _, f in follows] == [
        ("Japan", FollowWords(skip=("baseball",)))
    ]
    # /import alone explains itself.
    usage = await say(emulator, FRESH, FRESH, "/import")
    assert "as its caption" in usage["text"]


def file_of(**parts: Any) -> bytes:
    document: dict[str, Any] = {"tagwire": 1, "follows": [{"tag": "Japan"}], "muted": []}
    document.update(parts)
    return json.dumps(document).encode()


BAD_FILES = [
    (b"\xff\xfe not json", "it is not a JSON file"),
    (b"[1, 2, 3]", "it is not a tagwire export"),
    (json.dumps({"tagwire": 2}).encode(), "it is of version 2, and I read version 1"),
    (b" " * (MAX_FILE_BYTES + 1), "it is larger than 64 KB"),
    (file_of(settings={"delivery": "weekly"}), "settings.delivery has a value"),
    (file_of(settings={"digest_hour": 25}), "settings.digest_hour has a value"),
    (file_of(settings={"timezone": "Mars/Olympus"}), "settings.timezone has a value"),
    (file_of(settings={"quiet_hours": "sometimes"}), "settings.quiet_hours has a value"),
    (file_of(settings={"language": "de"}), "settings.language has a value"),
    (file_of(settings={"link_previews": "yes"}), "settings.link_previews has a value"),
    (file_of(settings={"colour": "blue"}), "settings.colour is not something I know"),
    (
        file_of(follows=[{"tag": f"Tag {n}"} for n in range(101)]),
        "it follows more than 100 tags in one place",
    ),
    (
        file_of(follows=[{"tag": "Japan", "only": [f"w{n}" for n in range(21)]}]),
        "follows[1] (Japan) has 21 words, and a follow has at most 20",
    ),
    (file_of(follows=[{"tag": "!!!"}]), "follows[1].tag has a value"),
    (file_of(follows=[{"tag": "Japan", "topic": 5}]), "names a forum topic"),
    (file_of(muted=["golf", 7]), "muted has a value"),
    (file_of(muted=[f"word{n}" for n in range(51)]), "it mutes 51 words"),
]


async def test_a_bad_file_of_each_kind_is_explained_and_changes_nothing(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, READER, READER, "/follow Sports")
    await say(emulator, READER, READER, "/mute golf")
    store = store_of(bot)
    before = await snapshot(store, READER)
    for data, reason in BAD_FILES:
        answer = await send_file(emulator, READER, READER, data)
        assert reason in answer["text"], (reason, answer["text"])
        assert "Nothing was changed." in answer["text"]
        assert not buttons(answer)
    assert await snapshot(store, READER) == before
    # In Russian, too.
    russian = await send_file(emulator, RUSSIAN, RUSSIAN, b"not json")
    assert "Не могу импортировать этот файл: это не JSON-файл" in russian["text"]


async def test_in_a_group_only_admins_import_and_a_forum_keeps_its_topics(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    data = file_of(follows=[{"tag": "Japan"}, {"tag": "Sports", "topic": 7}])
    refused = await send_file(emulator, FORUM, MEMBER, data)
    assert "admins" in refused["text"]
    preview = await send_file(emulator, FORUM, ADMIN, data)
    assert "Sports (topic 7)" in preview["text"]
    # A member's tap is refused; the admin's applies the file.
    answer = await tap(emulator, FORUM, MEMBER, preview, buttons(preview)[0][1])
    assert answer["show_alert"] is True
    assert await store_of(bot).all_follows(FORUM) == []
    await press(emulator, FORUM, ADMIN, preview, 0)
    follows = await store_of(bot).all_follows(FORUM)
    assert [(thread, f.tag.name) for thread, f in follows] == [(0, "Japan"), (7, "Sports")]
    # The export of the group names the topic.
    _, exported = await export(emulator, FORUM, ADMIN)
    assert json.loads(exported)["follows"][1] == {"tag": "Sports", "topic": 7}
    # A plain group has no topics to put it in.
    no_topics = await send_file(emulator, GROUP, ADMIN, data)
    assert "names a forum topic, and this chat has no topics" in no_topics["text"]


async def test_a_channel_is_exported_and_imported_from_a_private_chat(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, ADMIN, ADMIN, "/follow @desknews Japan only earthquake")
    message, data = await export(emulator, ADMIN, ADMIN, "/export @desknews")
    assert message["caption"].startswith("Channel @desknews:")
    assert json.loads(data)["follows"] == [{"tag": "Japan", "only": ["earthquake"]}]
    changed = data.replace(b'"Japan"', b'"Sports"')
    refused = await send_file(emulator, MEMBER, MEMBER, changed, "/import @desknews")
    assert "Only the administrators of @desknews" in refused["text"]
    preview = await send_file(emulator, ADMIN, ADMIN, changed, "/import @desknews")
    assert preview["text"].startswith("Channel @desknews:")
    assert "follow Sports" in preview["text"]
    assert "stop following Japan" in preview["text"]
    await press(emulator, ADMIN, ADMIN, preview, 0)
    follows = await store_of(bot).all_follows(CHANNEL)
    assert [(f.tag.name, f.words) for _, f in follows] == [
        ("Sports", FollowWords(only=("earthquake",)))
    ]
    # The private chat itself is untouched.
    assert await store_of(bot).all_follows(ADMIN) == []
