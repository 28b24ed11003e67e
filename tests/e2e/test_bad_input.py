"""Every command argument, and button data the bot never issued, with nasty strings: each gets
a clear answer in valid Telegram HTML, nothing partial is stored, later messages still work."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator, parse_html
from bot.tags import tag_key
from bot.texts.plain import clean_text, utf16_len
from storage.models import ChatSettings
from tests.support.harness import push
from tests.support.nasty import NASTY_STRINGS
from tests.support.updates import say

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
def bot_options() -> dict[str, Any]:
    # The throttle is tested on its own; here every message must get through.
    return {"user_commands_per_minute": 10_000}


@pytest.fixture
async def before_start(emulator: BotApiEmulator, database: Path) -> None:
    emulator.add_user(READER)
    await push(database)


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
        reply = await say(emulator, READER, READER, text)
        assert reply["text"].strip(), text
        assert "went wrong" not in reply["text"], text
        sent = emulator.calls_of("sendMessage")[-1].params["text"]
        assert utf16_len(sent) <= 4096
        parse_html(sent)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    healthy = await say(emulator, READER, READER, "/help")
    assert "What I can do" in healthy["text"]


@dataclass(frozen=True)
class Stored:
    """What a reader's commands can change: the tags followed, the muted words, the settings."""

    follows: frozenset[str]
    muted: frozenset[str]
    settings: ChatSettings


async def stored(bot: TagwireApplication) -> Stored:
    store = bot.bot_data.require().store
    follows = frozenset(tag.key for tag in await store.followed_tags(READER))
    prefs = (await store.chat_prefs([READER])).get(READER)
    return Stored(
        follows=follows,
        muted=frozenset(prefs.muted if prefs else ()),
        settings=prefs.settings if prefs else ChatSettings(),
    )


def whole_tags(argument: str) -> set[str]:
    """The keys of the argument's comma-separated parts, each whole: what a tag may be."""
    keys = set()
    for part in re.split(r"[,\n]", argument):
        visible = "".join(
            ch
            for ch in part
            if ch == "\u200d" or unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co"}
        )
        name = " ".join(unicodedata.normalize("NFKC", visible).split()).lstrip("#").strip()
        keys.add(tag_key(name))
    return keys


def whole_words(argument: str) -> set[str]:
    """The argument's comma-separated parts, each whole, folded: what a muted word may be."""
    parts = argument.replace("\n", ",").split(",")
    return {unicodedata.normalize("NFKC", clean_text(part)).casefold() for part in parts}


@pytest.mark.parametrize("command", ["/follow", "/unfollow", "/mute", "/unmute"])
async def test_bad_arguments_store_whole_items_or_nothing(
    emulator: BotApiEmulator, bot: TagwireApplication, command: str
) -> None:
    # A mix of valid and invalid parts keeps the valid ones whole and drops the others: a part
    # too long is refused, never cut to fit; an argument with nothing valid changes nothing.
    words = command.endswith("mute")
    await say(emulator, READER, READER, "/start")
    if command.startswith("/un"):
        # Something to take away: every nasty string, followed or muted as it can be.
        for nasty in NASTY_STRINGS:
            await say(emulator, READER, READER, telegram_safe(f"/{command[3:]} {nasty}")[:4096])
    for nasty in NASTY_STRINGS:
        before = await stored(bot)
        argument = telegram_safe(nasty)[:4000]
        await say(emulator, READER, READER, f"{command} {argument}")
        after = await stored(bot)
        if words:
            changed, whole = after.muted ^ before.muted, whole_words(argument)
            assert (after.follows, after.settings) == (before.follows, before.settings)
        else:
            changed, whole = after.follows ^ before.follows, whole_tags(argument)
            assert (after.muted, after.settings) == (before.muted, before.settings)
        assert changed <= whole, (argument, changed - whole)


async def test_bad_settings_arguments_change_nothing_or_the_whole_setting(
    emulator: BotApiEmulator, bot: TagwireApplication
) -> None:
    await say(emulator, READER, READER, "/start")
    for command in ("/timezone", "/quiet"):
        for nasty in [*NASTY_STRINGS, "23:00", "23:00-", "25:00-07:00", "23:00-07:61", "+14:30"]:
            before = await stored(bot)
            reply = await say(emulator, READER, READER, telegram_safe(f"{command} {nasty}"))
            after = await stored(bot)
            assert (after.follows, after.muted) == (before.follows, before.muted)
            # Quiet hours have both ends or neither.
            assert (after.settings.quiet_start is None) == (after.settings.quiet_end is None)
            if after.settings != before.settings:
                # A change is the one the answer names.
                if command == "/timezone":
                    assert after.settings.timezone in reply["text"], (nasty, reply["text"])
                else:
                    assert "quiet" in reply["text"].lower(), (nasty, reply["text"])


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(command=st.sampled_from(COMMANDS), argument=st.text(max_size=300))
async def test_random_arguments_never_break_the_bot(
    emulator: BotApiEmulator, bot: TagwireApplication, command: str, argument: str
) -> None:
    reply = await say(emulator, READER, READER, telegram_safe(f"{command} {argument}"))
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
    panel = await say(emulator, READER, READER, "/settings")
    answers = len(emulator.calls_of("answerCallbackQuery"))
    emulator.press_button(READER, READER, panel["message_id"], data)
    await emulator.wait_for(lambda: len(emulator.calls_of("answerCallbackQuery")) > answers)
    answer = emulator.calls_of("answerCallbackQuery")[answers].params
    assert answer.get("text")
    assert "went wrong" not in answer["text"]
    assert emulator.messages_in(READER)[panel["message_id"]]["text"] == panel["text"]
