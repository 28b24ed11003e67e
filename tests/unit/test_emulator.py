"""The Bot API emulator, driven by a real python-telegram-bot client and by raw HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import telegram
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)

from bot.emulator import BotApiEmulator, LocalServer, parse_html, utf16_length

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
ANN = 4201
BOB = 4202
CARL = 4203
GROUP = -4000000001
SUPERGROUP = -1001234567890
CHANNEL = -1009876543210


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    emulator = BotApiEmulator(token=TOKEN)
    async with emulator:
        emulator.add_user(ANN, first_name="Ann", username="ann")
        emulator.add_user(BOB, first_name="Bob")
        yield emulator


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(TOKEN, base_url=emulator.base_url) as bot:
        yield bot


@pytest.fixture
async def http(emulator: BotApiEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        yield client


@pytest.fixture
def timedelta_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without it python-telegram-bot warns while building RetryAfter, and warnings are errors.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


# ------------------------------------------------------------------------------- basics


async def test_get_me(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    me = await bot.get_me()
    assert me.id == emulator.bot_id
    assert me.is_bot
    assert me.username == "tagwire_test_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False
    assert [call.method for call in emulator.calls] == ["getMe", "getMe"]


async def test_wrong_token_and_unknown_method(emulator: BotApiEmulator) -> None:
    async with httpx.AsyncClient(trust_env=False) as client:
        wrong = await client.post(f"{emulator.base_url}42:nope/getMe")
        unknown = await client.post(f"{emulator.api_url}/sendTeleportation")
        lower = await client.get(f"{emulator.api_url}/getme")
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert unknown.status_code == 404
    assert unknown.json()["description"] == "Not Found: method not found"
    assert lower.json()["result"]["id"] == emulator.bot_id


async def test_invalid_token_raises_for_the_client(emulator: BotApiEmulator) -> None:
    bot = telegram.Bot("42:wrong-token-wrong-token-wrong", base_url=emulator.base_url)
    with pytest.raises(InvalidToken):
        await bot.initialize()
    await bot.shutdown()


async def test_parameters_decode_from_form_json_and_query(
    emulator: BotApiEmulator, http: httpx.AsyncClient
) -> None:
    form = await http.post("/sendMessage", data={"chat_id": str(ANN), "text": "123"})
    as_json = await http.post("/sendMessage", json={"chat_id": ANN, "text": "true"})
    query = await http.get("/sendMessage", params={"chat_id": "@ann", "text": "hi"})
    multipart = await http.post(
        "/sendMessage", data={"chat_id": str(ANN), "text": "multi"}, files={"x": ("a.txt", b"x")}
    )
    assert form.json()["result"]["text"] == "123"
    assert as_json.json()["result"]["text"] == "true"
    assert query.json()["result"]["chat"]["id"] == ANN
    assert multipart.json()["result"]["text"] == "multi"
    assert emulator.calls_of("sendmessage")[0].params == {"chat_id": ANN, "text": "123"}
    assert emulator.reply_texts(ANN) == ["123", "true", "hi", "multi"]


# ------------------------------------------------------------------------------- sendMessage


async def test_send_message_returns_parsed_entities(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    html = (
        '🗞 <b>Quake</b> hits <a href="https://example.com/news?a=1&amp;b=2">Japan</a> #japan &lt;3'
    )
    message = await bot.send_message(ANN, html, parse_mode="HTML")

    assert message.text == "🗞 Quake hits Japan #japan <3"
    assert message.message_id == 1
    assert message.chat.id == ANN
    assert message.chat.type == "private"
    assert message.from_user is not None
    assert message.from_user.id == emulator.bot_id
    kinds = [(e.type, e.offset, e.length) for e in message.entities]
    # The newspaper emoji is two UTF-16 code units, so "Quake" starts at 3.
    assert kinds == [("bold", 3, 5), ("text_link", 14, 5), ("hashtag", 20, 6)]
    assert message.entities[1].url == "https://example.com/news?a=1&b=2"
    assert message.parse_entities(["hashtag"]) == {message.entities[2]: "#japan"}

    second = await bot.send_message(ANN, "again")
    assert second.message_id == 2
    assert isinstance(second.date, dtm.datetime)
    assert [m["text"] for m in emulator.sent_messages(ANN)] == [message.text, "again"]
    assert set(emulator.messages_in(ANN)) == {1, 2}


async def test_send_message_keeps_markup_thread_and_preview(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    emulator.add_group(SUPERGROUP, title="News", supergroup=True, is_forum=True)
    markup = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("Unfollow", callback_data="unfollow:japan")]]
    )
    message = await bot.send_message(
        SUPERGROUP,
        "Story",
        reply_markup=markup,
        message_thread_id=7,
        link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
        allow_paid_broadcast=True,
    )
    assert message.reply_markup == markup
    assert message.message_thread_id == 7
    assert message.is_topic_message
    assert message.link_preview_options == telegram.LinkPreviewOptions(is_disabled=True)
    assert message.chat.type == "supergroup"
    assert emulator.calls_of("sendMessage")[0].params["allow_paid_broadcast"] is True


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("<script>alert(1)</script>", 'unsupported start tag "script" at byte offset 0'),
        ("Tom & Jerry <3", "at byte offset 4"),
        ("I <3 tags", 'unsupported start tag "3"'),
        ("<b>unclosed", "can't find end tag corresponding to start tag b"),
        ("<b>bold</i>", "unmatched end tag"),
        ("</b>", "unexpected end tag at byte offset 0"),
        ('<span class="x">s</span>', 'tag "span" must have class "tg-spoiler"'),
    ],
)
async def test_invalid_html_is_rejected(bot: telegram.Bot, text: str, fragment: str) -> None:
    with pytest.raises(BadRequest, match=r"^Can't parse entities: ") as raised:
        await bot.send_message(ANN, text, parse_mode="HTML")
    assert fragment in raised.value.message.lower()


async def test_text_limits_count_utf16_code_units(bot: telegram.Bot) -> None:
    # 2049 emoji are 2049 Python characters but 4098 UTF-16 code units.
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ANN, "😀" * 2049)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(ANN, "<b>" + "x" * 4097 + "</b>", parse_mode="HTML")
    # Tags do not count: only the text left after parsing does.
    fits = await bot.send_message(ANN, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    assert len(fits.text) == 4096
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(ANN, "<b> </b>", parse_mode="HTML")


async def test_unknown_chats(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "who?")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(GROUP, "no such group")
    emulator.delete_chat(ANN)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(ANN, "gone")


# ------------------------------------------------------------------------------- faults


async def test_block_and_kick_answer_forbidden(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    emulator.block(ANN)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(ANN, "hello?")
    emulator.unblock(ANN)
    assert (await bot.send_message(ANN, "hello")).text == "hello"

    emulator.add_group(GROUP, title="Readers", members=[ANN])
    emulator.kick(GROUP)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(GROUP, "hi all")
    blocked = emulator.calls_of("sendMessage")[0]
    assert blocked.status == 403
    assert blocked.response == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }


async def test_fail_next_429_gives_retry_after(
    bot: telegram.Bot, emulator: BotApiEmulator, timedelta_retry_after: None
) -> None:
    emulator.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(ANN, "first")
    assert raised.value.retry_after == dtm.timedelta(seconds=7)
    assert emulator.calls[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    assert (await bot.send_message(ANN, "second")).text == "second"


async def test_fail_next_only_for_one_chat_and_count(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    emulator.fail_next(
        "sendMessage", status=400, description="Bad Request: nope", chat_id=BOB, count=2
    )
    assert (await bot.send_message(ANN, "fine")).text == "fine"
    for _ in range(2):
        with pytest.raises(BadRequest, match="Nope"):
            await bot.send_message(BOB, "x")
    assert (await bot.send_message(BOB, "now fine")).text == "now fine"


async def test_migrate_answers_chat_migrated(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    emulator.add_group(GROUP, title="Old", members=[ANN])
    emulator.migrate(GROUP, SUPERGROUP)
    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(GROUP, "hello")
    assert raised.value.new_chat_id == SUPERGROUP
    assert emulator.calls[-1].response["parameters"] == {"migrate_to_chat_id": SUPERGROUP}
    moved = await bot.send_message(SUPERGROUP, "hello again")
    assert moved.chat.type == "supergroup"
    assert moved.chat.title == "Old"


async def test_bad_gateway_and_offline_are_network_errors(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    emulator.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(ANN, "x")
    assert emulator.calls[-1].response == {
        "ok": False,
        "error_code": 502,
        "description": "Bad Gateway",
    }

    emulator.set_offline(True)
    with pytest.raises(NetworkError):
        await bot.send_message(ANN, "x")
    with pytest.raises(NetworkError):
        await bot.get_me()
    assert emulator.calls[-1].status == 0
    emulator.set_offline(False)
    assert (await bot.send_message(ANN, "back")).text == "back"


async def test_random_faults_are_seeded(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    emulator.set_random_faults(p502=1.0, seed=1)
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(ANN, "x")
    emulator.set_random_faults(preset=1.0, seed=1)
    with pytest.raises(NetworkError):
        await bot.send_message(ANN, "x")
    emulator.set_random_faults()
    assert (await bot.send_message(ANN, "calm")).text == "calm"


async def test_enforce_limits(
    bot: telegram.Bot, emulator: BotApiEmulator, timedelta_retry_after: None
) -> None:
    emulator.enforce_limits()
    await bot.send_message(ANN, "one")
    with pytest.raises(RetryAfter) as raised:
        await bot.send_message(ANN, "two")
    assert raised.value.retry_after == dtm.timedelta(seconds=1)
    # Other chats have their own interval; only accepted messages count.
    await bot.send_message(BOB, "one")
    assert emulator.reply_texts(ANN) == ["one"]

    emulator.enforce_limits(per_second=None, per_chat_interval=None, group_per_minute=2)
    emulator.add_group(GROUP, title="Busy")
    await bot.send_message(GROUP, "a")
    await bot.send_message(GROUP, "b")
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP, "c")


async def test_a_held_call_waits_until_released_and_is_then_handled_or_dropped(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    held = emulator.hold("sendMessage", chat_id=ANN)
    first = asyncio.create_task(bot.send_message(ANN, "held"))
    await emulator.wait_for(lambda: held.arrived)
    # Other chats and other calls go by; the held one is not handled yet.
    assert (await bot.send_message(BOB, "free")).text == "free"
    assert not first.done()
    assert emulator.reply_texts(ANN) == []
    held.release()
    assert (await first).text == "held"

    dropped = emulator.hold("sendMessage")
    second = asyncio.create_task(bot.send_message(ANN, "never"))
    await emulator.wait_for(lambda: dropped.arrived)
    dropped.release(drop=True)
    with pytest.raises(NetworkError):
        await second
    assert emulator.reply_texts(ANN) == ["held"]
    assert emulator.calls_of("sendMessage")[-1].status == 0


async def test_stop_drops_a_held_call_instead_of_waiting_for_it() -> None:
    emulator = BotApiEmulator(token=TOKEN)
    await emulator.start()
    emulator.add_user(ANN)
    held = emulator.hold("sendMessage")
    async with telegram.Bot(TOKEN, base_url=emulator.base_url) as client:
        call = asyncio.create_task(client.send_message(ANN, "x"))
        await emulator.wait_for(lambda: held.arrived)
        await asyncio.wait_for(emulator.stop(), timeout=5)
        with pytest.raises(NetworkError):
            await call
    assert emulator.sent_messages() == []


async def test_enforce_limits_lets_a_message_arrive_early_by_the_jitter(
    bot: telegram.Bot, emulator: BotApiEmulator, timedelta_retry_after: None
) -> None:
    emulator.enforce_limits(
        per_second=None, per_chat_interval=0.3, group_per_minute=None, jitter=0.1
    )
    await bot.send_message(ANN, "one")
    first = time.monotonic()
    with pytest.raises(RetryAfter):
        await bot.send_message(ANN, "too soon")
    await asyncio.sleep(max(0.0, first + 0.22 - time.monotonic()))
    await bot.send_message(ANN, "early by less than the jitter")
    assert emulator.reply_texts(ANN) == ["one", "early by less than the jitter"]
    with pytest.raises(ValueError, match="jitter"):
        emulator.enforce_limits(jitter=-1)


async def test_latency_delays_answers_but_not_polls(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    emulator.latency = 0.4
    started = time.monotonic()
    await bot.send_message(ANN, "slow")
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    await bot.get_updates(timeout=0)
    assert time.monotonic() - started < 0.3


# ------------------------------------------------------------------------------- updates


async def test_get_updates_returns_a_follow_command(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    sent = emulator.send_text(ANN, ANN, "/follow@tagwire_test_bot Japan")
    assert sent["update_id"] == 1

    updates = await bot.get_updates(timeout=5)

    assert [u.update_id for u in updates] == [1]
    message = updates[0].message
    assert message is not None
    assert message.text == "/follow@tagwire_test_bot Japan"
    assert message.chat.id == ANN
    assert message.chat.type == "private"
    assert message.from_user is not None
    assert message.from_user.username == "ann"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [("bot_command", 0, 24)]

    group_update = emulator.send_text(GROUP, BOB, "/follow Japan")
    parsed = telegram.Update.de_json(group_update, bot)
    assert parsed.message is not None
    assert parsed.message.chat.type == "group"
    assert parsed.message.parse_entities() == {parsed.message.entities[0]: "/follow"}

    # The offset confirms the first update, so only the group's update is left.
    later = await bot.get_updates(offset=2, timeout=0)
    assert [u.update_id for u in later] == [2]


async def test_get_updates_waits_for_its_timeout(
    emulator: BotApiEmulator, http: httpx.AsyncClient
) -> None:
    started = time.monotonic()
    answer = await http.post("/getUpdates", data={"timeout": "0.3"})
    elapsed = time.monotonic() - started
    assert answer.json() == {"ok": True, "result": []}
    assert 0.28 <= elapsed < 2


async def test_get_updates_wakes_when_an_update_arrives(
    emulator: BotApiEmulator, http: httpx.AsyncClient
) -> None:
    poll = asyncio.create_task(http.post("/getUpdates", data={"timeout": "10"}))
    await emulator.wait_for(lambda: emulator.polling, timeout=2)
    started = time.monotonic()
    emulator.send_text(ANN, ANN, "/start")
    answer = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - started < 1
    assert [u["message"]["text"] for u in answer.json()["result"]] == ["/start"]


async def test_a_newer_get_updates_ends_the_older_one(
    emulator: BotApiEmulator, http: httpx.AsyncClient
) -> None:
    first = asyncio.create_task(http.post("/getUpdates", data={"timeout": "10"}))
    await emulator.wait_for(lambda: emulator.polling, timeout=2)
    second = await http.post("/getUpdates", data={"timeout": "0"})
    assert second.json() == {"ok": True, "result": []}
    older = await asyncio.wait_for(first, 2)
    assert older.status_code == 409
    assert older.json()["description"].startswith("Conflict: terminated by other getUpdates")


async def test_raw_updates_and_allowed_updates(
    emulator: BotApiEmulator, http: httpx.AsyncClient
) -> None:
    chat = {"id": 1, "type": "channel", "title": "C"}
    emulator.add_update({"channel_post": {"message_id": 1, "date": 0, "chat": chat}})
    # Reactions must be asked for before they happen, as on Telegram.
    emulator.add_update({"update_id": 50, "message_reaction": {}})
    answer = (await http.post("/getUpdates")).json()["result"]
    assert [u["update_id"] for u in answer] == [1]

    await http.post("/getUpdates", json={"offset": 2, "allowed_updates": ["message_reaction"]})
    emulator.add_update({"message_reaction": {}})
    emulator.send_text(ANN, ANN, "not wanted now")
    answer = (await http.post("/getUpdates")).json()["result"]
    assert [(u["update_id"], "message_reaction" in u) for u in answer] == [(51, True)]


async def test_stop_returns_while_a_poll_is_pending(emulator: BotApiEmulator) -> None:
    async with httpx.AsyncClient(base_url=emulator.api_url, trust_env=False) as client:
        poll = asyncio.create_task(client.post("/getUpdates", data={"timeout": "30"}))
        await emulator.wait_for(lambda: emulator.polling, timeout=2)
        started = time.monotonic()
        await emulator.stop()
        assert time.monotonic() - started < 1.5
        answer = await asyncio.wait_for(poll, 2)
    assert answer.json() == {"ok": True, "result": []}
    assert not emulator.running


# ------------------------------------------------------------------------------- editing, buttons


async def test_edit_message_text(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    sent = await bot.send_message(ANN, "draft")
    edited = await bot.edit_message_text("<i>final</i>", ANN, sent.message_id, parse_mode="HTML")
    assert isinstance(edited, telegram.Message)
    assert edited.text == "final"
    assert edited.edit_date is not None
    current = emulator.messages_in(ANN)[sent.message_id]
    assert current["text"] == "final"
    assert current["entities"] == [{"type": "italic", "offset": 0, "length": 5}]
    # What was sent stays recorded as it was sent.
    assert emulator.sent_messages(ANN)[0]["text"] == "draft"

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("<i>final</i>", ANN, sent.message_id, parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", ANN, 999)

    assert await bot.delete_message(ANN, sent.message_id)
    assert emulator.messages_in(ANN) == {}
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(ANN, sent.message_id)


async def test_press_button_and_answer_callback_query(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    markup = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("Follow Japan", callback_data="follow:japan")]]
    )
    sent = await bot.send_message(ANN, "Follow?", reply_markup=markup)
    emulator.press_button(ANN, ANN, sent.message_id, "follow:japan")

    (update,) = await bot.get_updates(timeout=1)
    query = update.callback_query
    assert query is not None
    assert query.data == "follow:japan"
    assert query.from_user.id == ANN
    assert isinstance(query.message, telegram.Message)
    assert query.message.reply_markup == markup

    assert await query.answer("Following Japan")
    assert emulator.callback_answers[query.id]["text"] == "Following Japan"
    with pytest.raises(BadRequest, match="Query is too old"):
        await query.answer()

    new_markup = telegram.InlineKeyboardMarkup(
        [[telegram.InlineKeyboardButton("Unfollow", callback_data="unfollow:japan")]]
    )
    await bot.edit_message_reply_markup(ANN, sent.message_id, reply_markup=new_markup)
    assert emulator.messages_in(ANN)[sent.message_id]["reply_markup"] == new_markup.to_dict()


# ------------------------------------------------------------------------------- chats and members


async def test_get_chat_member_statuses(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    emulator.add_group(
        SUPERGROUP, title="Desk", supergroup=True, owner=CARL, admins=[ANN], members=[BOB]
    )

    admin = await bot.get_chat_member(SUPERGROUP, ANN)
    member = await bot.get_chat_member(SUPERGROUP, BOB)
    owner = await bot.get_chat_member(SUPERGROUP, CARL)
    stranger = await bot.get_chat_member(SUPERGROUP, 4299)
    itself = await bot.get_chat_member(SUPERGROUP, emulator.bot_id)

    assert isinstance(admin, telegram.ChatMemberAdministrator)
    assert admin.user.first_name == "Ann"
    assert admin.can_delete_messages
    assert isinstance(member, telegram.ChatMemberMember)
    assert isinstance(owner, telegram.ChatMemberOwner)
    assert isinstance(stranger, telegram.ChatMemberLeft)
    assert isinstance(itself, telegram.ChatMemberMember)

    admins = await bot.get_chat_administrators(SUPERGROUP)
    assert [type(a) for a in admins] == [telegram.ChatMemberOwner, telegram.ChatMemberAdministrator]
    assert await bot.get_chat_member_count(SUPERGROUP) == 4

    emulator.send_text(GROUP, CARL, "hello")
    assert isinstance(await bot.get_chat_member(GROUP, CARL), telegram.ChatMemberMember)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat_member(-4000000999, ANN)


async def test_get_chat(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    emulator.add_channel(CHANNEL, title="Wire", username="tagwire_news")
    channel = await bot.get_chat("@tagwire_news")
    assert isinstance(channel, telegram.ChatFullInfo)
    assert (channel.id, channel.type, channel.title) == (CHANNEL, "channel", "Wire")

    private = await bot.get_chat(ANN)
    assert (private.type, private.first_name, private.username) == ("private", "Ann", "ann")

    post = await bot.send_message("@tagwire_news", "breaking")
    assert post.sender_chat is not None
    assert post.sender_chat.id == CHANNEL
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat("@nobody_here")


async def test_commands_and_descriptions(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    await bot.set_my_commands([("follow", "Follow a tag"), ("list", "Your tags")])
    await bot.set_my_commands(
        [("follow", "Suivre un tag")],
        scope=telegram.BotCommandScopeAllPrivateChats(),
        language_code="fr",
    )
    assert emulator.commands[("default", "")] == [
        {"command": "follow", "description": "Follow a tag"},
        {"command": "list", "description": "Your tags"},
    ]
    assert emulator.commands[("all_private_chats", "fr")][0]["description"] == "Suivre un tag"
    assert [c.command for c in await bot.get_my_commands()] == ["follow", "list"]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Bad Command", "x")])
    assert await bot.delete_my_commands()
    assert ("default", "") not in emulator.commands

    assert await bot.set_my_description("Tagged news, fast.")
    assert await bot.set_my_short_description("News by tag")
    assert (await bot.get_my_description()).description == "Tagged news, fast."
    assert emulator.short_descriptions == {"": "News by tag"}
    assert await bot.send_chat_action(ANN, "typing")


# ------------------------------------------------------------------------------- webhook


async def test_webhook_delivers_with_secret_and_blocks_polling(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    answers = [500]  # the first delivery fails and must be retried

    async def hook(request: Request) -> Response:
        received.append(
            (
                request.headers.get("x-telegram-bot-api-secret-token"),
                json.loads(await request.body()),
            )
        )
        return Response(status_code=answers.pop(0) if answers else 200)

    receiver = LocalServer(Starlette(routes=[Route("/hook", hook, methods=["POST"])]))
    await receiver.start()
    try:
        assert await bot.set_webhook(f"{receiver.url}/hook", secret_token="s3cret")
        assert emulator.webhook == f"{receiver.url}/hook"
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()

        update = emulator.send_text(ANN, ANN, "/list")
        await emulator.wait_for(lambda: len(emulator.webhook_deliveries) == 2, timeout=5)

        assert emulator.webhook_deliveries == [
            (update["update_id"], 500),
            (update["update_id"], 200),
        ]
        assert received[-1] == ("s3cret", update)
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0
        assert info.last_error_message is not None

        assert await bot.delete_webhook()
        emulator.send_text(ANN, ANN, "/help")
        assert [u.message.text for u in await bot.get_updates() if u.message] == ["/help"]
    finally:
        await receiver.stop()


# ------------------------------------------------------------------------------- records


async def test_subscribe_and_wait_for(bot: telegram.Bot, emulator: BotApiEmulator) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    unsubscribe = emulator.subscribe(lambda kind, payload: events.append((kind, payload)))
    emulator.send_text(ANN, ANN, "hi")
    await bot.send_message(ANN, "hello")
    unsubscribe()
    await bot.send_message(ANN, "unseen")

    assert [kind for kind, _ in events] == ["update", "call"]
    assert events[1][1]["method"] == "sendMessage"
    assert events[1][1]["status"] == 200

    messages = await emulator.wait_for_messages(ANN, 2, timeout=1)
    assert [m["text"] for m in messages] == ["hello", "unseen"]
    with pytest.raises(TimeoutError, match="sendMessage"):
        await emulator.wait_for(lambda: False, timeout=0.05)


# ------------------------------------------------------------------------------- parsing


def test_parse_html_entities_and_utf16_offsets() -> None:
    text, entities = parse_html(
        "<b>bold <i>both</i></b> 😀 <code>x</code> "
        '<pre><code class="language-python">print()</code></pre> '
        '<tg-spoiler>s</tg-spoiler> <a href="example.org">site</a> &#33;&#x3F;&quot;'
    )
    assert text == 'bold both 😀 x print() s site !?"'
    assert entities == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "italic", "offset": 5, "length": 4},
        {"type": "code", "offset": 13, "length": 1},
        {"type": "pre", "offset": 15, "length": 7, "language": "python"},
        {"type": "spoiler", "offset": 23, "length": 1},
        {"type": "text_link", "offset": 25, "length": 4, "url": "http://example.org/"},
    ]
    assert utf16_length("😀a") == 3


def test_parse_html_can_keep_bare_ampersands_like_telegram() -> None:
    assert parse_html("Tom & Jerry", reject_bare_ampersand=False)[0] == "Tom & Jerry"
    with pytest.raises(ValueError, match="byte offset 4"):
        parse_html("Tom & Jerry")


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_escaped_text_parses_back_to_itself(text: str) -> None:
    parsed, entities = parse_html(html.escape(text))
    assert parsed == text
    assert entities == []
    bold_text, bold = parse_html(f"<b>{html.escape(text)}</b>")
    assert bold_text == text
    assert bold == ([{"type": "bold", "offset": 0, "length": utf16_length(text)}] if text else [])


async def test_send_photo_upload_and_channel_posts(
    bot: telegram.Bot, emulator: BotApiEmulator
) -> None:
    emulator.add_channel(CHANNEL, title="Wire", username="tagwire_news")
    photo = await bot.send_photo(
        CHANNEL, b"\x89PNG not really", caption="<b>Pic</b>", parse_mode="HTML"
    )
    assert photo.caption == "Pic"
    assert photo.photo[-1].width == 1280
    assert photo.caption_entities[0].type == "bold"
    assert emulator.reply_texts(CHANNEL) == ["Pic"]

    update = telegram.Update.de_json(emulator.send_text(CHANNEL, ANN, "#breaking"), bot)
    assert update.channel_post is not None
    assert update.channel_post.sender_chat is not None
    assert update.channel_post.sender_chat.id == CHANNEL


async def test_markdown_v2(bot: telegram.Bot) -> None:
    message = await bot.send_message(
        ANN, r"*bold* _it_ [link](https://t.me/x) 1\.5", parse_mode="MarkdownV2"
    )
    assert message.text == "bold it link 1.5"
    assert [e.type for e in message.entities] == ["bold", "italic", "text_link"]
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(ANN, "1.5", parse_mode="MarkdownV2")
