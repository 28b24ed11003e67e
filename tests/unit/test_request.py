"""AiohttpRequest and the lean PtbSender against the Bot API emulator: the same answers and the
same python-telegram-bot errors as Bot.send_message over python-telegram-bot's own HTTPXRequest."""

from __future__ import annotations

import asyncio
import socket
import warnings
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.delivery.ratelimit import ReplyAccounting, SendBudget
from bot.delivery.request import AiohttpRequest
from bot.delivery.sender import (
    Failure,
    FailureKind,
    PtbSender,
    classify,
    post_message,
    retry_after_seconds,
)
from bot.emulator import BotApiEmulator
from tests.support.harness import TOKEN

READER = 5001


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[ExtBot[None]]:
    emulator.add_user(READER)
    request = AiohttpRequest(connection_pool_size=8, read_timeout=2.0, pool_timeout=1.0)
    async with ExtBot(TOKEN, base_url=emulator.base_url, request=request) as client:
        yield client


async def test_message_arrives_with_its_html_and_keyboard(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Open", callback_data="open:1")]])
    message = await bot.send_message(
        READER, "<b>Tokyo</b> &amp; Osaka", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    assert message.text == "Tokyo & Osaka"
    (sent,) = emulator.sent_messages(READER)
    assert sent["entities"][0]["type"] == "bold"
    assert sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "open:1"


async def test_photo_upload_goes_as_multipart(bot: ExtBot[None], emulator: BotApiEmulator) -> None:
    await bot.send_photo(READER, photo=b"\x89PNG fake image bytes", caption="<i>map</i>")
    (call,) = emulator.calls_of("sendPhoto")
    assert call.status == 200
    assert call.params["photo"]["file_size"] == len(b"\x89PNG fake image bytes")


async def test_flood_answer_is_retry_after_with_its_delay(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    emulator.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(READER, "hello")
    assert retry_after_seconds(caught.value) == 7


async def test_blocked_user_is_forbidden(bot: ExtBot[None], emulator: BotApiEmulator) -> None:
    emulator.block(READER)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(READER, "hello")


async def test_migrated_group_names_the_new_chat(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    emulator.add_group(-4001, title="Old")
    emulator.migrate(-4001, -1004001)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-4001, "hello")
    assert caught.value.new_chat_id == -1004001


async def test_rejected_message_is_bad_request(bot: ExtBot[None], emulator: BotApiEmulator) -> None:
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(READER, "<b>unclosed", parse_mode=ParseMode.HTML)


async def test_gateway_error_is_a_network_error(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    emulator.fail_next("sendMessage", status=502)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(READER, "hello")
    assert not isinstance(caught.value, BadRequest | TimedOut)
    assert "Bad Gateway" in caught.value.message


async def test_dropped_connection_is_a_network_error(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    emulator.fail_next("sendMessage", status=0)
    with pytest.raises(NetworkError) as caught:
        await bot.send_message(READER, "hello")
    assert caught.value.message.startswith("aiohttp.")
    # The pool recovers: the next message goes through.
    await bot.send_message(READER, "again")
    assert len(emulator.sent_messages(READER)) == 1


async def test_offline_telegram_is_a_network_error(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    emulator.set_offline(True)
    with pytest.raises(NetworkError):
        await bot.send_message(READER, "hello")
    emulator.set_offline(False)
    await bot.send_message(READER, "back")
    assert len(emulator.sent_messages(READER)) == 1


async def test_nobody_listening_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AiohttpRequest(connect_timeout=2.0) as request:
        with pytest.raises(NetworkError) as caught:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    assert not isinstance(caught.value, TimedOut)


async def test_slow_answer_is_timed_out(emulator: BotApiEmulator) -> None:
    emulator.add_user(READER)
    emulator.latency = 1.0
    request = AiohttpRequest(read_timeout=0.2)
    async with request:
        bot = ExtBot(TOKEN, base_url=emulator.base_url, request=request)
        with pytest.raises(TimedOut):
            await bot.send_message(READER, "hello")
        # A longer timeout for one call, as python-telegram-bot passes for long polling.
        await bot.send_message(READER, "patient", read_timeout=3.0)
    assert [m["text"] for m in emulator.sent_messages(READER)][-1] == "patient"


async def test_full_pool_times_out_without_sending(emulator: BotApiEmulator) -> None:
    emulator.add_user(READER)
    emulator.latency = 0.5
    request = AiohttpRequest(connection_pool_size=1, pool_timeout=0.05, connect_timeout=0.05)
    async with request:
        bot = ExtBot(TOKEN, base_url=emulator.base_url, request=request)
        first = asyncio.create_task(bot.send_message(READER, "first"))
        # The first request holds the only connection while the emulator answers it.
        await emulator.wait_for(lambda: emulator.answering == 1)
        with pytest.raises(TimedOut):
            await bot.send_message(READER, "second")
        await first
    assert [m["text"] for m in emulator.sent_messages(READER)] == ["first"]


async def test_proxy_from_the_environment_is_used(
    emulator: BotApiEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with AiohttpRequest(connect_timeout=2.0) as request:
        with pytest.raises(NetworkError):
            await request.post(f"{emulator.api_url}/getMe")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    async with AiohttpRequest() as request:
        me = await request.post(f"{emulator.api_url}/getMe")
    assert isinstance(me, dict)
    assert me["is_bot"] is True


async def test_request_must_be_initialized() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/bot/getMe", "POST")
    await request.initialize()
    await request.initialize()
    await request.shutdown()
    await request.shutdown()
    assert request.read_timeout == 5.0


# The lean sender: Bot.send_message's parameters and errors, without its Message parsing.


def _params(emulator: BotApiEmulator) -> list[dict[str, Any]]:
    return [call.params for call in emulator.calls_of("sendMessage")]


@pytest.mark.parametrize("paid_broadcast", [False, True])
@pytest.mark.parametrize(("link_preview", "thread_id"), [(True, None), (False, 42)])
async def test_sender_sends_what_bot_send_message_sends(
    emulator: BotApiEmulator, link_preview: bool, thread_id: int | None, paid_broadcast: bool
) -> None:
    emulator.add_group(-1005001, title="Forum", is_forum=True)
    request = HTTPXRequest()
    async with ExtBot(TOKEN, base_url=emulator.base_url, request=request) as reference:
        await reference.send_message(
            -1005001,
            "<b>Story</b>",
            message_thread_id=thread_id,
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=not link_preview),
            allow_paid_broadcast=True if paid_broadcast else None,
        )
    async with ExtBot(TOKEN, base_url=emulator.base_url, request=AiohttpRequest()) as bot:
        await PtbSender(bot, paid_broadcast=paid_broadcast).send_message(
            -1005001, "<b>Story</b>", link_preview=link_preview, thread_id=thread_id
        )
    expected, lean = _params(emulator)
    assert lean == expected
    assert ("allow_paid_broadcast" in lean) is paid_broadcast
    first, second = emulator.sent_messages(-1005001)
    assert {k: v for k, v in first.items() if k not in {"message_id", "date"}} == {
        k: v for k, v in second.items() if k not in {"message_id", "date"}
    }


async def test_sender_errors_classify_as_before(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    sender = PtbSender(bot)
    emulator.fail_next("sendMessage", status=429, retry_after=3)
    emulator.add_group(-4002, title="Old")
    emulator.migrate(-4002, -1004002)
    emulator.add_user(5002)
    emulator.block(5002)
    outcomes = []
    for chat_id in (READER, -4002, 5002, 6666):
        try:
            await sender.send_message(chat_id, "hello")
        except Exception as exc:
            outcomes.append(classify(exc))
    assert [outcome.kind for outcome in outcomes] == [
        FailureKind.RATE_LIMITED,
        FailureKind.MIGRATED,
        FailureKind.CHAT_GONE,
        FailureKind.CHAT_GONE,
    ]
    assert outcomes[0].retry_after == 3
    assert outcomes[1].new_chat_id == -1004002


async def test_the_lean_sender_asks_for_previews_and_nothing_paid_by_default(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    await PtbSender(bot).send_message(READER, "<b>Story</b>")
    (params,) = _params(emulator)
    assert params == {
        "chat_id": READER,
        "text": "<b>Story</b>",
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": False},
    }


async def test_a_reply_passes_the_rate_limiter_and_a_delivery_does_not(
    emulator: BotApiEmulator,
) -> None:
    emulator.add_user(READER)
    budget = SendBudget(rate=1)
    async with ExtBot(
        TOKEN,
        base_url=emulator.base_url,
        request=AiohttpRequest(),
        rate_limiter=ReplyAccounting(budget),
    ) as client:
        await post_message(client, {"chat_id": READER, "text": "delivery"})
        # Deliveries are counted by the engine, not here.
        assert budget.next_slot == 0.0
        emulator.fail_next("sendMessage", status=429, retry_after=1)
        await post_message(client, {"chat_id": READER, "text": "reply"}, reply=True)
        # The reply took a send slot, and went again after Telegram's pause.
        assert budget.next_slot > 0.0
    # A plain Bot has no rate limiter: the reply goes straight out.
    async with telegram.Bot(TOKEN, base_url=emulator.base_url) as plain:
        await post_message(plain, {"chat_id": READER, "text": "plain"}, reply=True)
    assert emulator.reply_texts(READER) == ["delivery", "reply", "plain"]
    assert [call.status for call in emulator.calls_of("sendMessage")] == [200, 429, 200, 200]


async def test_a_revoked_token_is_an_outage_to_wait_out_not_a_chat_gone(
    bot: ExtBot[None], emulator: BotApiEmulator
) -> None:
    # The token was revoked while the bot ran: Telegram answers 401 to everything.
    emulator.token = "987654321:AAnotTheBotsTokenAnyMoreAAAAAAAAAAA"
    with pytest.raises(InvalidToken) as refused:
        await PtbSender(bot).send_message(READER, "hello")
    assert classify(refused.value) == Failure(
        FailureKind.TRANSIENT, "the bot token was rejected by Telegram"
    )


# python-telegram-bot drops Telegram's "Bad Request: " and capitalises what is left.
@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            RetryAfter(3),
            Failure(
                FailureKind.RATE_LIMITED,
                "Flood control exceeded. Retry in 0:00:03",
                retry_after=3.0,
            ),
        ),
        (
            ChatMigrated(-1004002),
            Failure(
                FailureKind.MIGRATED,
                "Group migrated to supergroup. New chat id: -1004002",
                new_chat_id=-1004002,
            ),
        ),
        (
            Forbidden("Forbidden: bot was blocked by the user"),
            Failure(FailureKind.CHAT_GONE, "Forbidden: bot was blocked by the user"),
        ),
        *[
            (BadRequest(f"Bad Request: {message}"), Failure(FailureKind.CHAT_GONE, shown))
            for message, shown in (
                ("chat not found", "Chat not found"),
                ("user not found", "User not found"),
                ("PEER_ID_INVALID", "Peer_id_invalid"),
                ("group chat was deleted", "Group chat was deleted"),
            )
        ],
        (
            BadRequest("Bad Request: can't parse entities"),
            Failure(FailureKind.REJECTED, "Can't parse entities"),
        ),
        (
            InvalidToken("Unauthorized"),
            Failure(FailureKind.TRANSIENT, "the bot token was rejected by Telegram"),
        ),
        (NetworkError("Bad Gateway"), Failure(FailureKind.TRANSIENT, "Bad Gateway")),
        (TimedOut(), Failure(FailureKind.TRANSIENT, "Timed out")),
        (TelegramError(""), Failure(FailureKind.TRANSIENT, "TelegramError")),
        (OSError("connection reset"), Failure(FailureKind.TRANSIENT, "OSError: connection reset")),
    ],
)
def test_every_answer_is_classified_with_its_description(
    error: Exception, expected: Failure
) -> None:
    assert classify(error) == expected


def test_retry_after_is_read_in_seconds_in_either_form(monkeypatch: pytest.MonkeyPatch) -> None:
    assert retry_after_seconds(RetryAfter(timedelta(seconds=2.5))) == 2.5
    # Without PTB_TIMEDELTA python-telegram-bot gives whole seconds, and warns when they are
    # read; the sender reads them without a warning (warnings are errors here).
    monkeypatch.delenv("PTB_TIMEDELTA")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        legacy = RetryAfter(3)
    seconds = retry_after_seconds(legacy)
    assert (seconds, type(seconds)) == (3.0, float)
