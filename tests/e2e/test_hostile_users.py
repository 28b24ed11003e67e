"""Hostile or unlucky users against the running bot: idle connections, huge replies, group
chatter, huge numbers, forged X-Forwarded-For, many channels and forged buttons (issue 12)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import bot.web.server as server_module
from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator, parse_html
from bot.following import FollowingService
from bot.texts.plain import utf16_len
from bot.web.server import ConnectionLimits
from storage.models import Tag
from tests.support.harness import ROOT, TOKEN, bot_settings, push, running_bot

pytestmark = pytest.mark.e2e

READER = 1001
MEMBER = 1002
STRANGER = 1003
ADMIN = 2001
GROUP = -1004440001
PUBLIC_CHANNEL = -1007770001
SECRET_CHANNEL = -1007770002
SECRET_TITLE = "Secret plans of the newsroom"
API_TOKEN = "hostile-ingest-token-0123456789"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
THROTTLED = "a lot of commands"
EXPIRED = "This button no longer works"
WENT_WRONG = "went wrong"

# Every command, the operators' too (READER is an operator in the reply-size test).
COMMANDS = (
    "/start",
    "/help",
    "/follow",
    "/unfollow",
    "/following",
    "/latest",
    "/tags",
    "/search",
    "/settings",
    "/mute",
    "/unmute",
    "/muted",
    "/timezone",
    "/quiet",
    "/channels",
    "/post",
    "/stats",
    "/feeds",
)


@pytest.fixture
async def emulator() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator(token=TOKEN) as api:
        yield api


def story(number: int, *tags: str) -> dict[str, Any]:
    return {
        "url": f"https://news.example.com/hostile/{number}",
        "title": f"Hostile story {number}",
        "teaser": "A teaser.",
        "tags": list(tags or ("Japan",)),
    }


async def say(
    emulator: BotApiEmulator, chat_id: int, user_id: int, text: str, within: float = 10.0
) -> dict[str, Any]:
    """`text` from `user_id` in `chat_id`, and the bot's next message there (waiting up to
    `within` seconds)."""
    before = len(emulator.sent_messages(chat_id))
    emulator.send_text(chat_id, user_id, text)
    return (await emulator.wait_for_messages(chat_id, before + 1, within))[before]


async def tap(emulator: BotApiEmulator, chat_id: int, user_id: int, data: str) -> dict[str, Any]:
    """A tap with `data` on a message of the bot in `chat_id`; the answerCallbackQuery params."""
    answers = len(emulator.calls_of("answerCallbackQuery"))
    emulator.press_button(chat_id, user_id, 77, data)
    await emulator.wait_for(lambda: len(emulator.calls_of("answerCallbackQuery")) > answers)
    params: dict[str, Any] = emulator.calls_of("answerCallbackQuery")[answers].params
    return params


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.ERROR or record.exc_info
    ]


# 8. Idle connections, half-sent requests, more connections than the server should hold


@asynccontextmanager
async def open_connections(
    host: str, port: int, count: int, first_bytes: list[bytes], *, stop_when_stuck: bool = False
) -> AsyncIterator[list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]:
    """`count` connections to host:port (loopback only), the i-th sending
    first_bytes[i % len(first_bytes)] and then nothing; all closed on the way out.
    `stop_when_stuck`: stop opening when the server takes more than 2 s to accept one."""
    assert host in {"127.0.0.1", "::1"}
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for index in range(count):
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), 2.0 if stop_when_stuck else 30.0
                )
            except TimeoutError:
                if stop_when_stuck:
                    break
                raise
            opened.append((reader, writer))
            data = first_bytes[index % len(first_bytes)]
            if data:
                writer.write(data)
                await writer.drain()
        yield opened
    finally:
        for _, writer in opened:
            writer.close()
        for _, writer in opened:
            with suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)


async def closed_by_server(reader: asyncio.StreamReader) -> None:
    """Returns once the server has closed the connection (whatever it sent first)."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass


def is_closed(reader: asyncio.StreamReader) -> bool:
    return reader.at_eof() or reader.exception() is not None


def api_url(application: TagwireApplication) -> str:
    assert application.bot_data.http_url is not None
    return application.bot_data.http_url


def address(application: TagwireApplication) -> tuple[str, int]:
    assert application.bot_data.http_url is not None
    parts = urlsplit(application.bot_data.http_url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


async def test_idle_and_half_sent_connections_are_closed_and_health_still_answers(
    emulator: BotApiEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(
        server_module,
        "DEFAULT_LIMITS",
        ConnectionLimits(head_timeout=1.0, body_timeout=1.0, max_connections=2000),
    )
    settings_ = bot_settings(emulator, tmp_path / "bot.db", ingest_token=API_TOKEN, http_port=0)
    async with running_bot(settings_) as application:
        host, port = address(application)
        half_body = (
            b"POST /api/articles HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {API_TOKEN}\r\nContent-Length: 5000\r\n\r\n".encode()
            + b'{"url": "https://x'
        )
        shapes = [b"", b"GET /hea", b"GET /healthz HTTP/1.1\r\nHost: x\r\n", half_body]
        started = time.monotonic()
        async with open_connections(host, port, 300, shapes) as connections:
            async with httpx.AsyncClient(base_url=api_url(application)) as http:
                health = await http.get("/healthz", timeout=10)
            assert health.status_code == 200
            await asyncio.wait_for(
                asyncio.gather(*(closed_by_server(reader) for reader, _ in connections)), 20
            )
        # Closed for being idle, not at once: the limit is a second here.
        assert time.monotonic() - started >= 1.0
    assert errors_logged(caplog) == []


async def test_past_the_connection_cap_the_oldest_idle_connections_make_room(
    emulator: BotApiEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cap = 50
    monkeypatch.setattr(
        server_module,
        "DEFAULT_LIMITS",
        ConnectionLimits(head_timeout=60.0, body_timeout=60.0, max_connections=cap),
    )
    settings_ = bot_settings(emulator, tmp_path / "bot.db", ingest_token=API_TOKEN, http_port=0)
    async with running_bot(settings_) as application:
        host, port = address(application)
        async with open_connections(host, port, 300, [b"", b"GET /"]) as connections:
            async with httpx.AsyncClient(base_url=api_url(application)) as http:
                health = await http.get("/healthz", timeout=10)
                assert health.status_code == 200
            deadline = time.monotonic() + 10
            while sum(not is_closed(r) for r, _ in connections) > cap:
                assert time.monotonic() < deadline, "the server kept more than its cap"
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            still_open = [not is_closed(reader) for reader, _ in connections]
            assert sum(still_open) <= cap
            # The oldest made room; the newest are served.
            assert all(still_open[-10:])
            assert not any(still_open[:200])


FD_SERVER = """
import asyncio, resource, sys, logging
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from bot.web.server import ConnectionLimits, LocalServer

async def hello(request):
    return PlainTextResponse("ok")

async def main():
    soft = int(sys.argv[1])
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    limits = None
    if sys.argv[2] == "uncapped":
        limits = ConnectionLimits(head_timeout=60.0, max_connections=100_000)
    server = LocalServer(Starlette(routes=[Route("/", hello)]), limits=limits)
    await server.start()
    print(server.port, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    await server.stop()

asyncio.run(main())
"""


@pytest.mark.parametrize("mode", ["default", "uncapped"])
async def test_a_flood_of_idle_connections_never_exhausts_file_descriptors_or_floods_the_log(
    tmp_path: Path, mode: str
) -> None:
    """A server whose file limit is 128, facing 400 idle connections: with its default limits
    it keeps answering and never runs out of descriptors; with the cap lifted it does run
    out, and says so once instead of in a loop."""
    script = tmp_path / "fd_server.py"
    script.write_text(FD_SERVER)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        "128",
        mode,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            _, failure = await process.communicate()
            pytest.fail(failure.decode(errors="replace")[-3000:])
        port = int(line)
        async with open_connections("127.0.0.1", port, 400, [b"", b"GET /"], stop_when_stuck=True):
            await asyncio.sleep(3)
            if mode == "default":
                async with httpx.AsyncClient() as http:
                    answer = await http.get(f"http://127.0.0.1:{port}/", timeout=10)
                assert answer.text == "ok"
        _, stderr = await asyncio.wait_for(process.communicate(b"\n"), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log = stderr.decode(errors="replace")
    accept_lines = [line for line in log.splitlines() if "accept" in line]
    if mode == "default":
        assert accept_lines == [], log[:2000]
    else:
        assert 1 <= len(accept_lines) <= 2, log[:2000]
        assert "Traceback" not in log
    assert process.returncode == 0, log[:2000]


# 14. Every reply within 4096 UTF-16 units, as valid Telegram HTML, whatever the argument


@pytest.fixture
async def reader_bot(emulator: BotApiEmulator, tmp_path: Path) -> AsyncIterator[TagwireApplication]:
    emulator.add_user(READER)
    database = tmp_path / "bot.db"
    await push(database)
    settings_ = bot_settings(
        emulator, database, user_commands_per_minute=10_000, admin_ids=frozenset({READER})
    )
    async with running_bot(settings_) as application:
        yield application


def within_telegram_input(text: str) -> str:
    """What a Telegram client can send: UTF-8 text of at most 4096 UTF-16 units."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    while utf16_len(text) > 4096:
        text = text[: -max(1, (utf16_len(text) - 4096) // 2)]
    return text


_WORDISH = st.text(st.characters(codec="utf-8"), min_size=1, max_size=90)
LONG_ARGUMENTS = st.one_of(
    st.text(max_size=4096),
    st.lists(_WORDISH, max_size=400).map(", ".join),
    st.lists(
        st.sampled_from(["!!!", "x" * 70, "日本" * 40, "😀" * 30, "<b>", "&amp;"]), max_size=300
    ).map(", ".join),
    st.integers(min_value=1, max_value=4090).map(lambda n: "9" * n),
    st.tuples(st.sampled_from(["@japandaily ", "@nosuchchannel ", "Japan ", ""]), st.text()).map(
        "".join
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(command=st.sampled_from(COMMANDS), argument=LONG_ARGUMENTS)
@example(command="/mute", argument=", ".join(["!" * 25] * 150))
@example(command="/mute", argument=", ".join(f"{'x' * 65}{i}" for i in range(60)))
@example(command="/unmute", argument=", ".join(f"w{i}" * 3 for i in range(500)))
@example(command="/latest", argument="Japan " + "9" * 4080)
@example(command="/latest", argument="9" * 4090)
@example(command="/follow", argument=", ".join(f"brandnew{i}" for i in range(300)))
@example(command="/timezone", argument="X" * 4000)
@example(command="/search", argument="(" * 4000)
@example(command="/post", argument="https://x.example/" + "a" * 4000)
async def test_every_reply_to_any_command_fits_telegram_and_is_valid_html(
    emulator: BotApiEmulator, reader_bot: TagwireApplication, command: str, argument: str
) -> None:
    text = within_telegram_input(f"{command} {argument}")
    calls = len(emulator.calls)
    reply = await say(emulator, READER, READER, text, within=20)
    assert reply["text"].strip()
    assert WENT_WRONG not in reply["text"], text[:200]
    # Every text the bot sent or edited meanwhile: accepted, within the limit, valid HTML.
    for call in emulator.calls[calls:]:
        if call.method.lower() not in {"sendmessage", "editmessagetext"}:
            continue
        assert call.status == 200, call.response
        sent = call.params["text"]
        assert utf16_len(sent) <= 4096, (text[:200], utf16_len(sent))
        parse_html(sent)


# 15. The command throttle counts what the bot handles, not what a group says


async def test_group_chatter_does_not_use_up_a_members_commands(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    emulator.add_group(GROUP, title="Chatty", admins=[ADMIN], members=[MEMBER])
    settings_ = bot_settings(emulator, tmp_path / "bot.db", user_commands_per_minute=5)
    async with running_bot(settings_):
        for number in range(12):
            emulator.send_text(GROUP, MEMBER, f"just chatting, message {number}")
            emulator.send_text(GROUP, MEMBER, f"/start@some_other_bot {number}")
        emulator.send_text(GROUP, MEMBER, "/unknowncommand")
        answer = await say(emulator, GROUP, MEMBER, "/help")
        assert "What I can do" in answer["text"]
        for _ in range(4):
            assert "What I can do" in (await say(emulator, GROUP, MEMBER, "/help"))["text"]
        assert not [t for t in emulator.reply_texts(GROUP) if THROTTLED in t]
        # Commands still count: past five a minute the member is told once.
        throttled = await say(emulator, GROUP, MEMBER, "/help")
        assert THROTTLED in throttled["text"]


# 16. Numbers longer than Python will convert (4300 digits)

HUGE_NUMBER = "1" + "0" * 5000


def push_command(database: Path, source: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
    env["TAGWIRE_DATABASE"] = str(database)
    return subprocess.run(
        [sys.executable, "-m", "bot", "push", str(source)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def test_push_with_a_huge_number_on_line_2_keeps_lines_1_and_3(tmp_path: Path) -> None:
    source = tmp_path / "stories.jsonl"
    huge = json.dumps(story(2))[:-1] + f', "views": {HUGE_NUMBER}}}'
    source.write_text("\n".join([json.dumps(story(1)), huge, json.dumps(story(3))]) + "\n")
    result = push_command(tmp_path / "t.db", source)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1
    assert "added 2, duplicates 0, rejected 1" in result.stdout
    line = next(line for line in result.stderr.splitlines() if line.startswith("line 2:"))
    assert "4300 digits" in line
    assert len(result.stderr.splitlines()) == 1


def test_push_of_an_array_with_a_huge_number_says_so_in_one_line(tmp_path: Path) -> None:
    source = tmp_path / "stories.json"
    source.write_text(f'[{json.dumps(story(1))},\n {{"n": -{HUGE_NUMBER}}}]')
    result = push_command(tmp_path / "t.db", source)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1
    assert result.stderr.startswith("line 2: json:")
    assert "4300 digits" in result.stderr


async def test_the_api_answers_400_to_a_huge_number_and_logs_no_traceback(
    emulator: BotApiEmulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings_ = bot_settings(emulator, tmp_path / "bot.db", ingest_token=API_TOKEN, http_port=0)
    async with (
        running_bot(settings_) as application,
        httpx.AsyncClient(base_url=api_url(application)) as http,
    ):
        for body in (
            json.dumps(story(1))[:-1] + f', "views": {HUGE_NUMBER}}}',
            f"[{json.dumps(story(2))}, {HUGE_NUMBER}]",
            f'{{"url": "https://x.example/1", "title": "T", "tags": ["Japan"], '
            f'"published_at": -{HUGE_NUMBER}}}',
        ):
            answer = await http.post(
                "/api/articles",
                content=body,
                headers={**AUTH, "Content-Type": "application/json"},
            )
            assert answer.status_code == 400, answer.text
            assert "4300 digits" in answer.json()["error"]
        good = await http.post("/api/articles", json=story(3), headers=AUTH)
        assert good.status_code == 201
    assert errors_logged(caplog) == []


# 17. X-Forwarded-For is believed only from a proxy the operator named


async def wrong_token_guesses(
    application: TagwireApplication, forwarded_for: list[str]
) -> list[int]:
    statuses = []
    async with httpx.AsyncClient(base_url=api_url(application)) as http:
        for address_ in forwarded_for:
            answer = await http.get(
                "/api/tags",
                headers={"Authorization": "Bearer not-the-token", "X-Forwarded-For": address_},
            )
            statuses.append(answer.status_code)
    return statuses


async def test_forwarded_for_from_an_untrusted_client_does_not_dodge_the_limit(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings_ = bot_settings(
        emulator,
        tmp_path / "bot.db",
        ingest_token=API_TOKEN,
        http_port=0,
        api_requests_per_minute=5,
    )
    async with running_bot(settings_) as application:
        statuses = await wrong_token_guesses(application, [f"203.0.113.{n}" for n in range(12)])
    assert statuses == [403] * 5 + [429] * 7


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    settings_ = bot_settings(
        emulator,
        tmp_path / "bot.db",
        ingest_token=API_TOKEN,
        http_port=0,
        api_requests_per_minute=5,
        trusted_proxies=["127.0.0.1"],
    )
    async with running_bot(settings_) as application:
        spread = await wrong_token_guesses(application, [f"203.0.113.{n}" for n in range(12)])
        one = await wrong_token_guesses(application, ["198.51.100.7"] * 7)
    assert spread == [403] * 12
    assert one == [403] * 5 + [429] * 2


# 19, 20. Channels: all of a user's, and forged buttons


async def test_channels_finds_a_channel_past_the_twentieth_with_bounded_concurrency(
    emulator: BotApiEmulator, tmp_path: Path
) -> None:
    emulator.add_user(ADMIN, first_name="Admin")
    for number in range(1, 61):
        admins = [ADMIN] if number == 60 else [STRANGER]
        emulator.add_channel(-1007770100 - number, title=f"Channel {number:02d}", admins=admins)
    settings_ = bot_settings(emulator, tmp_path / "bot.db")
    async with running_bot(settings_) as application:
        for number in range(1, 61):
            emulator.set_bot_status(-1007770100 - number, STRANGER, "administrator")
        store = application.bot_data.require().store
        deadline = time.monotonic() + 10
        while len(await store.channels()) < 60:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        emulator.latency = 0.02
        spans: list[tuple[float, float]] = []

        def record(kind: str, payload: dict[str, Any]) -> None:
            if kind == "call" and payload["method"].lower() in {"getchat", "getchatmember"}:
                spans.append((payload["at"], time.monotonic()))

        unsubscribe = emulator.subscribe(record)
        try:
            picker = await say(emulator, ADMIN, ADMIN, "/channels", within=30)
        finally:
            unsubscribe()
    labels = [button["text"] for row in picker["reply_markup"]["inline_keyboard"] for button in row]
    assert labels == ["Channel 60"]
    at_once = max(sum(1 for s, e in spans if s <= moment < e) for moment, _ in spans)
    assert 1 < at_once <= 8, at_once
    # One look at the user's own membership per channel, the full check only where it holds.
    assert len(spans) <= 60 + 3


@pytest.fixture
async def channel_bot(
    emulator: BotApiEmulator, tmp_path: Path
) -> AsyncIterator[TagwireApplication]:
    emulator.add_user(READER)
    emulator.add_user(STRANGER, first_name="Stranger")
    emulator.add_user(ADMIN, first_name="Admin")
    emulator.add_channel(PUBLIC_CHANNEL, title="Japan Daily", username="japandaily", admins=[ADMIN])
    emulator.add_channel(SECRET_CHANNEL, title=SECRET_TITLE, admins=[ADMIN])
    database = tmp_path / "bot.db"
    await push(database)
    settings_ = bot_settings(emulator, database, user_commands_per_minute=10_000)
    async with running_bot(settings_) as application:
        # The bot knows both channels, as after being made their admin.
        for channel in (PUBLIC_CHANNEL, SECRET_CHANNEL):
            emulator.set_bot_status(channel, ADMIN, "administrator")
        store = application.bot_data.require().store
        deadline = time.monotonic() + 10
        while len(await store.channels()) < 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        yield application


@pytest.mark.parametrize(
    "data",
    [
        "cfg:mode:daily:-9999999999999999999",
        "cfg:lang:ru:-9223372036854775808",
        "cfg:quiet:off:-99999999999999999999",
        "cfg:preview:on:-0",
        "t:follow:1@-9999999999999999999",
        "ch:-9999999999999999999",
    ],
)
async def test_forged_buttons_with_huge_chat_ids_have_expired(
    emulator: BotApiEmulator,
    channel_bot: TagwireApplication,
    data: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = await tap(emulator, READER, READER, data)
    assert EXPIRED in answer["text"]
    assert answer.get("show_alert") is True
    assert errors_logged(caplog) == []


async def test_forged_buttons_tapped_in_a_channel_by_a_non_admin_change_nothing(
    emulator: BotApiEmulator, channel_bot: TagwireApplication
) -> None:
    store = channel_bot.bot_data.require().store
    japan = (await store.find_tags(["japan"]))["japan"]
    for data in ("cfg:mode:daily", "cfg:lang:ru", f"t:follow:{japan.id}", f"f:follow:{japan.id}"):
        answer = await tap(emulator, PUBLIC_CHANNEL, STRANGER, data)
        assert answer.get("show_alert") is True, data
        assert "administrators" in answer["text"] or "admins" in answer["text"], answer
    prefs = await store.chat_prefs([PUBLIC_CHANNEL])
    if PUBLIC_CHANNEL in prefs:
        assert prefs[PUBLIC_CHANNEL].settings.mode.value == "instant"
        assert prefs[PUBLIC_CHANNEL].settings.language in {None, "en"}
    assert await store.followed_tags(PUBLIC_CHANNEL) == []
    # The channel's own admin may.
    answer = await tap(emulator, PUBLIC_CHANNEL, ADMIN, f"t:follow:{japan.id}")
    assert "Following Japan" in answer["text"]
    assert [tag.name for tag in await store.followed_tags(PUBLIC_CHANNEL)] == ["Japan"]


async def test_forged_channel_buttons_never_show_a_private_channels_title_to_a_stranger(
    emulator: BotApiEmulator, channel_bot: TagwireApplication
) -> None:
    store = channel_bot.bot_data.require().store
    japan = (await store.find_tags(["japan"]))["japan"]
    for data in (
        f"ch:{SECRET_CHANNEL}",
        f"cfg:mode:daily:{SECRET_CHANNEL}",
        f"t:follow:{japan.id}@{SECRET_CHANNEL}",
        f"f:unfollow:{japan.id}@{SECRET_CHANNEL}",
    ):
        answer = await tap(emulator, STRANGER, STRANGER, data)
        assert answer.get("show_alert") is True, data
        assert SECRET_TITLE not in answer["text"], data
        assert "Secret" not in answer["text"], data
    # Its admin sees it by name.
    mine = await tap(emulator, ADMIN, ADMIN, f"ch:{SECRET_CHANNEL}")
    assert mine.get("show_alert") is not True
    panel = await say(emulator, ADMIN, ADMIN, "/channels")
    assert SECRET_TITLE in [
        button["text"] for row in panel["reply_markup"]["inline_keyboard"] for button in row
    ]


# 21. Suggestions are searched only for the new tags the answer shows


async def test_following_many_new_tags_searches_suggestions_for_three(
    emulator: BotApiEmulator, reader_bot: TagwireApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    searches: list[str] = []
    original = FollowingService.suggest

    async def counted(self: FollowingService, key: str) -> list[Tag]:
        searches.append(key)
        return await original(self, key)

    monkeypatch.setattr(FollowingService, "suggest", counted)
    names = ", ".join(f"Japanx{number}" for number in range(100))
    answer = await say(emulator, READER, READER, f"/follow {names}")
    assert "Now following" in answer["text"]
    assert "Did you mean" in answer["text"]
    assert len(searches) == 3


async def test_a_refusal_naming_a_long_channel_title_fits_in_an_alert(
    emulator: BotApiEmulator, channel_bot: TagwireApplication
) -> None:
    long_channel = -1007770003
    russian_admin = 2002
    emulator.add_user(russian_admin, first_name="Админ", language_code="ru")
    emulator.add_channel(long_channel, title="Ж" * 120 + " 😀" * 4, admins=[ADMIN, russian_admin])
    # The bot is only a member there: its admins are told to make it one, naming the channel.
    emulator.set_bot_status(long_channel, ADMIN, "member")
    for user in (ADMIN, russian_admin):
        answer = await tap(emulator, user, user, f"ch:{long_channel}")
        call = emulator.calls_of("answerCallbackQuery")[-1]
        assert call.status == 200, call.response
        assert answer.get("show_alert") is True
        assert "ЖЖЖ" in answer["text"]
        assert len(answer["text"]) <= 200
