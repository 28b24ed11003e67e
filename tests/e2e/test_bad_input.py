"""Every command argument, and button data the bot never issued, with nasty strings: each gets
a clear answer in valid Telegram HTML, nothing partial is stored, later messages still work."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator, parse_html
from bot.texts.plain import utf16_len
from tests.support.harness import bot_settings, push, running_bot
from tests.support.nasty import NASTY_STRINGS

pytestmark = pytest.mark.e2e

READER = 1001
COMMANDS = (
    "/follow",
    "/unfollow",
    "/following",
    "/latest",
    "/tags",
    "/search",
    "/settings",
    "/timezone",
    "/quiet",
    "/mute",
    "/unmute",
    "/muted",
    "/start",
    "/help",
    "/channels",
)


def telegram_safe(text: str) -> str:
    # What a Telegram client can send: no lone surrogates (they cannot be encoded in UTF-8).
    return text.encode("utf-8", "replace").decode("utf-8")


@pytest.fixture
async def bot(emulator: BotApiEmulator, tmp_path: Path) -> AsyncIterator[TagwireApplication]:
    emulator.add_user(READER)
    database = tmp_path / "bot.db"
    await push(database)
    # The throttle is tested on its own; here every message must get through.
    settings_ = bot_settings(emulator, database, user_commands_per_minute=10_000)
    async with running_bot(settings_) as application:
        yield application


async def exchange(emulator: BotApiEmulator, text: str) -> dict[str, Any]:
    before = len(emulator.sent_messages(READER))
    emulator.send_text(READER, READER, text)
    return (await emulator.wait_for_messages(READER, before + 1))[before]


@pytest.mark.parametrize("command", COMMANDS)
async def test_every_nasty_argument_gets_a_clear_answer(
    emulator: BotApiEmulator,
    bot: TagwireApplication,
    command: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    for nasty in NASTY_STRINGS:
        text = telegram_safe(f"{command} {nasty}")[:4096]
        reply = await exchange(emulator, text)
        assert reply["text"].strip(), text
        assert "went wrong" not in reply["text"], text
        sent = emulator.calls_of("sendMessage")[-1].params["text"]
        assert utf16_len(sent) <= 4096
        parse_html(sent)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    healthy = await exchange(emulator, "/help")
    assert "What I can do" in healthy["text"]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(command=st.sampled_from(COMMANDS), argument=st.text(max_size=300))
async def test_random_arguments_never_break_the_bot(
    emulator: BotApiEmulator, bot: TagwireApplication, command: str, argument: str
) -> None:
    reply = await exchange(emulator, telegram_safe(f"{command} {argument}"))
    assert reply["text"].strip()
    assert "went wrong" not in reply["text"]


@pytest.mark.parametrize(
    "data",
    [
        "",
        "t:follow:",
        "t:follow:1@",
        "t:follow:1@-1",
        "f:unfollow:99999999999999999999",
        "cfg:mode:weekly",
        "cfg:hour:25",
        "cfg:quiet:1440-0",
        "cfg:lang:de",
        "cfg:lang:ru:-100123",
        "cfg:lang:ru:-99999999999999999999",
        "cfg:lang:ru:5",
        "more:1:0",
        "more:abc:0",
        "ch:-100123",
        "ch:5",
        "s:latest:1; DROP TABLE tags",
        "😀" * 16,
    ],
)
async def test_forged_button_data_gets_a_polite_answer(
    emulator: BotApiEmulator, bot: TagwireApplication, data: str
) -> None:
    panel = await exchange(emulator, "/settings")
    answers = len(emulator.calls_of("answerCallbackQuery"))
    emulator.press_button(READER, READER, panel["message_id"], data)
    await emulator.wait_for(lambda: len(emulator.calls_of("answerCallbackQuery")) > answers)
    answer = emulator.calls_of("answerCallbackQuery")[answers].params
    assert answer.get("text")
    assert "went wrong" not in answer["text"]
    assert emulator.messages_in(READER)[panel["message_id"]]["text"] == panel["text"]
