"""`tagwire sandbox` without a browser: the command, the page's API and its event stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.emulator import BotApiEmulator
from bot.sandbox import SANDBOX_TOKEN, Sandbox
from bot.sandbox.cast import ALICE, BOB, NEWSROOM, default_cast
from bot.sandbox.feed import Feed
from tests.support.commands import environment, run_tagwire
from tests.support.harness import EXAMPLES, ROOT
from tests.support.sandbox import running_sandbox, sandbox_settings

Event = dict[str, Any]


class EventStream:
    """The page's server-sent events, read in the background as a browser would."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.events: list[Event] = []
        self._client = client
        self._url = url
        self._task: asyncio.Task[None] | None = None
        self._opened = asyncio.Event()

    async def __aenter__(self) -> EventStream:
        self._task = asyncio.create_task(self._read())
        await asyncio.wait_for(self._opened.wait(), 10)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _read(self) -> None:
        async with self._client.stream("GET", f"{self._url}/events") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    self.events.append(json.loads(line.removeprefix("data: ")))
                    self._opened.set()

    async def wait_for(self, predicate: Callable[[Event], bool], seconds: float = 10) -> Event:
        async with asyncio.timeout(seconds):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                await asyncio.sleep(0.01)


def bot_message(chat_id: int, contains: str) -> Callable[[Event], bool]:
    def matches(event: Event) -> bool:
        message = event.get("message") or {}
        return (
            event["type"] == "message"
            and message.get("from_bot")
            and message["chat_id"] == chat_id
            and contains in message["text"]
        )

    return matches


@pytest.fixture
async def sandbox(tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with running_sandbox(tmp_path) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        yield http


async def post(client: httpx.AsyncClient, sandbox: Sandbox, path: str, body: Any) -> httpx.Response:
    return await client.post(f"{sandbox.url}{path}", json=body)


# ------------------------------------------------------------------ the command


def sandbox_env() -> dict[str, str]:
    # A real bot's settings, which the sandbox must override: Telegram's URL, a database it must
    # not touch, a webhook and the HTTP API.
    return environment(
        TAGWIRE_TELEGRAM_API_URL="https://api.telegram.org/bot",
        TAGWIRE_DATABASE="must-not-be-created.db",
        TAGWIRE_WEBHOOK_URL="https://bot.example.com/telegram",
        TAGWIRE_INGEST_TOKEN="0123456789abcdef0123456789abcdef",
    )


class Command:
    """`tagwire sandbox` in a child process: its URL, what it printed and its log."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.log = cwd / "sandbox.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "sandbox", *args],
                cwd=cwd,
                env=sandbox_env(),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        self.output = ""

    async def url(self) -> str:
        """Reads the banner up to its last line and returns the page's URL from it."""
        stdout = self.process.stdout
        assert stdout is not None
        while "Ctrl-C stops it" not in self.output:
            line = await asyncio.wait_for(asyncio.to_thread(stdout.readline), 30)
            if not line:
                raise AssertionError(f"no banner: {self.output!r}; log: {self.log.read_text()}")
            self.output += line
        match = re.search(r"open (http://127\.0\.0\.1:\d+) ", self.output)
        assert match is not None, self.output
        return match[1]

    async def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        assert self.process.stdout is not None
        self.output += await asyncio.to_thread(self.process.stdout.read)
        self.process.stdout.close()
        return await asyncio.to_thread(self.process.wait, 30)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_the_command_serves_the_page_and_stops_cleanly_on_a_signal(
    tmp_path: Path, client: httpx.AsyncClient, signum: int
) -> None:
    command = Command(tmp_path, "--port", "0")
    try:
        url = await command.url()
        page = await client.get(url)
        script = await client.get(f"{url}/static/app.js")
        style = await client.get(f"{url}/static/style.css")
    finally:
        code = await command.stop(signum)
    log = command.log.read_text()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>tagwire sandbox</title>" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert script.status_code == 200
    assert "EventSource" in script.text
    assert style.status_code == 200
    assert code == 0, log
    assert "Traceback" not in log
    assert "10 stories loaded" in command.output
    assert "(temporary)" in command.output
    assert command.output.rstrip().endswith("tagwire sandbox: stopped")
    assert SANDBOX_TOKEN not in command.output + log
    assert not (tmp_path / "must-not-be-created.db").exists()


async def test_the_command_keeps_a_database_it_is_given(tmp_path: Path) -> None:
    database = tmp_path / "kept.db"
    command = Command(
        tmp_path, "--port", "0", "--database", str(database), "--stories", str(EXAMPLES)
    )
    try:
        await command.url()
    finally:
        code = await command.stop(signal.SIGTERM)
    assert code == 0, command.log.read_text()
    assert f"database {database}\n" in command.output
    stats = await asyncio.to_thread(
        run_tagwire,
        "stats",
        cwd=tmp_path,
        env={**sandbox_env(), "TAGWIRE_DATABASE": str(database)},
        timeout=30,
        check=True,
    )
    assert re.search(r"stories\s+10\b", stats.stdout)
    assert re.search(r"deliveries pending\s+0\b", stats.stdout)


async def test_a_busy_port_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await asyncio.to_thread(
            run_tagwire, "sandbox", "--port", str(port), cwd=tmp_path, env=sandbox_env()
        )
    assert result.returncode == 2
    assert f"cannot serve the page on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_demo_runs_the_sandbox() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: .*\n\t.*tagwire sandbox", makefile, re.MULTILINE)


def test_the_static_files_are_package_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"bot.sandbox" = ["static/*"]' in pyproject
    static = ROOT / "bot" / "sandbox" / "static"
    assert {path.name for path in static.iterdir()} >= {"index.html", "app.js", "style.css"}


def test_the_page_never_parses_text_as_html() -> None:
    script = (ROOT / "bot" / "sandbox" / "static" / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


# ------------------------------------------------------------------ the page's API


async def test_a_page_gets_a_snapshot_first_then_the_bot_s_replies(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    async with EventStream(client, sandbox.url) as stream:
        snapshot = stream.events[0]
        assert snapshot["type"] == "snapshot"
        assert [chat["title"] for chat in snapshot["chats"]] == ["Alice", "Bob", "Newsroom"]
        assert "follow" in [command["command"] for command in snapshot["commands"]]
        assert "setMyCommands" in [entry["method"] for entry in snapshot["log"]]

        answer = await post(
            client, sandbox, "/api/send", {"chat_id": ALICE, "user_id": ALICE, "text": "/start"}
        )
        assert answer.status_code == 200
        assert answer.json()["ok"]
        await stream.wait_for(lambda e: e["type"] == "message" and e["message"]["text"] == "/start")
        reply = await stream.wait_for(bot_message(ALICE, "Welcome to tagwire"))
        assert reply["message"]["entities"]
        log = await stream.wait_for(lambda e: e["type"] == "log" and e["method"] == "sendMessage")
        assert log["chat"] == "Alice"
        assert log["status"] == 200


async def test_a_late_page_sees_the_history_in_its_snapshot(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    sandbox.emulator.send_text(BOB, BOB, "/help")
    await sandbox.emulator.wait_for_messages(BOB, 1)
    async with EventStream(client, sandbox.url) as stream:
        history = stream.events[0]["messages"][str(BOB)]
    assert [m["text"] for m in history if not m["from_bot"]] == ["/help"]
    assert any("/follow" in m["text"] for m in history if m["from_bot"])


async def test_a_button_press_answers_with_a_toast_and_edits_in_place(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    emulator = sandbox.emulator
    emulator.send_text(ALICE, ALICE, "/follow Japan")
    emulator.send_text(ALICE, ALICE, "/following")
    messages = await emulator.wait_for_messages(ALICE, 2)
    listing = messages[1]
    data = listing["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    async with EventStream(client, sandbox.url) as stream:
        answer = await post(
            client,
            sandbox,
            "/api/press",
            {"chat_id": ALICE, "user_id": ALICE, "message_id": listing["message_id"], "data": data},
        )
        assert answer.json() == {"ok": True}
        toast = await stream.wait_for(lambda e: e["type"] == "toast")
        edit = await stream.wait_for(lambda e: e["type"] == "edit")
    assert toast == {
        "type": "toast",
        "chat_id": ALICE,
        "user_id": ALICE,
        "text": "Stopped following Japan",
        "alert": False,
    }
    assert edit["message"]["message_id"] == listing["message_id"]
    assert edit["message"]["edited"] is True
    assert "You do not follow any tags yet" in edit["message"]["text"]


async def test_a_pushed_story_reports_each_record_and_reaches_followers(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    sandbox.emulator.send_text(ALICE, ALICE, "/follow Japan")
    await sandbox.emulator.wait_for_messages(ALICE, 1)
    story = {
        "url": "https://news.example.com/sandbox/one",
        "title": "A story <b>with</b> markup & more",
        "teaser": "",
        "tags": "Japan, Kuril Islands",
    }
    async with EventStream(client, sandbox.url) as stream:
        first = await post(client, sandbox, "/api/push", story)
        teaser = await stream.wait_for(bot_message(ALICE, "A story <b>with</b> markup & more"))
        again = await post(client, sandbox, "/api/push", story)
        bad = await post(client, sandbox, "/api/push", {**story, "url": "ftp://x", "tags": ""})
        note = await stream.wait_for(lambda e: e["type"] == "log" and e["method"] == "push")
    assert first.json()["results"] == [
        {
            "position": "record 1",
            "status": "created",
            "url": story["url"],
            "recipients": 1,
            "detail": "1 delivery queued",
        }
    ]
    assert again.json()["results"][0]["status"] == "duplicate"
    rejected = bad.json()["results"][0]
    assert rejected["status"] == "rejected"
    assert rejected["field"] == "url"
    assert rejected["reason"]
    links = [e["url"] for e in teaser["message"]["entities"] if e["type"] == "text_link"]
    assert links == [story["url"]]
    hashtags = [e for e in teaser["message"]["entities"] if e["type"] == "hashtag"]
    assert len(hashtags) == 2
    assert note["source"] == "operator"
    assert note["outcome"] == "created: 1 delivery queued"


async def test_forced_429_is_retried_and_a_blocked_reader_meets_403(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    emulator = sandbox.emulator
    for reader in (ALICE, BOB):
        emulator.send_text(reader, reader, "/follow Japan")
        await emulator.wait_for_messages(reader, 1)
    async with EventStream(client, sandbox.url) as stream:
        assert (await post(client, sandbox, "/api/faults/next-429", {})).json()["ok"]
        block = await post(client, sandbox, "/api/faults/block", {"chat_id": BOB, "on": True})
        assert block.json()["ok"]
        faults = await stream.wait_for(lambda e: e["type"] == "faults")
        assert faults["unreachable"] == [BOB]
        story = {"url": "https://news.example.com/x", "title": "Fault", "tags": ["Japan"]}
        await post(client, sandbox, "/api/push", story)
        limited = await stream.wait_for(lambda e: e["type"] == "log" and e["status"] == 429)
        blocked = await stream.wait_for(lambda e: e["type"] == "log" and e["status"] == 403)
        await stream.wait_for(bot_message(ALICE, "Fault"), seconds=15)
    assert "retry after 3" in limited["outcome"]
    assert blocked["chat"] == "Bob"
    assert blocked["outcome"] == "403 Forbidden: bot was blocked by the user"
    assert emulator.sent_messages(BOB)[1:] == []


async def test_flood_limits_switch_on_and_off(sandbox: Sandbox, client: httpx.AsyncClient) -> None:
    async with EventStream(client, sandbox.url) as stream:
        await post(client, sandbox, "/api/faults/flood", {"on": True})
        on = await stream.wait_for(lambda e: e["type"] == "faults" and e["flood_limits"])
        assert sandbox.emulator.limits_enforced
        await post(client, sandbox, "/api/faults/flood", {"on": False})
        await stream.wait_for(lambda e: e["type"] == "faults" and not e["flood_limits"])
    assert on["unreachable"] == []
    assert not sandbox.emulator.limits_enforced


async def test_writing_to_the_bot_unblocks_it_as_on_telegram(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    await post(client, sandbox, "/api/faults/block", {"chat_id": ALICE, "on": True})
    assert sandbox.emulator.is_blocked(ALICE)
    async with EventStream(client, sandbox.url) as stream:
        assert stream.events[0]["faults"]["unreachable"] == [ALICE]
        await post(client, sandbox, "/api/send", {"chat_id": ALICE, "user_id": ALICE, "text": "hi"})
        await stream.wait_for(lambda e: e["type"] == "faults" and e["unreachable"] == [])


async def test_removing_the_bot_from_the_group_kicks_it(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    await post(client, sandbox, "/api/faults/block", {"chat_id": NEWSROOM, "on": True})
    assert sandbox.emulator.is_kicked(NEWSROOM)
    await post(client, sandbox, "/api/faults/block", {"chat_id": NEWSROOM, "on": False})
    assert not sandbox.emulator.is_kicked(NEWSROOM)


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("/api/send", {"chat_id": 5, "user_id": 5, "text": "/start"}, "one of the sandbox's"),
        ("/api/send", {"chat_id": ALICE, "user_id": BOB, "text": "/start"}, "member of Alice"),
        ("/api/send", {"chat_id": ALICE, "user_id": ALICE, "text": "  "}, "type a message"),
        ("/api/send", {"chat_id": ALICE, "user_id": ALICE, "text": "x" * 4097}, "at most 4096"),
        ("/api/press", {"chat_id": ALICE, "user_id": ALICE, "message_id": 1}, "callback data"),
        ("/api/press", {"chat_id": ALICE, "user_id": ALICE, "message_id": 0, "data": "x"}, "id"),
        ("/api/faults/flood", {"on": "yes"}, "true or false"),
        ("/api/faults/block", {"chat_id": ALICE}, "true or false"),
        ("/api/send", ["not", "an", "object"], "JSON object"),
    ],
)
async def test_impossible_actions_are_refused_with_a_reason(
    sandbox: Sandbox, client: httpx.AsyncClient, path: str, body: Any, error: str
) -> None:
    answer = await post(client, sandbox, path, body)
    assert answer.status_code == 400
    assert answer.json()["ok"] is False
    assert error in answer.json()["error"]
    assert sandbox.emulator.pending_updates() == []


async def test_actions_take_json_only_and_only_from_loopback_hosts(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    form = await client.post(
        f"{sandbox.url}/api/send", data={"chat_id": str(ALICE), "user_id": str(ALICE)}
    )
    assert form.status_code == 415
    rebound = await client.get(sandbox.url, headers={"Host": "evil.example.com"})
    assert rebound.status_code == 400
    assert (await client.get(sandbox.url, headers={"Host": "localhost:1"})).status_code == 200


async def test_stopping_ends_open_event_streams(tmp_path: Path, client: httpx.AsyncClient) -> None:
    sandbox = Sandbox(sandbox_settings(), port=0, database=tmp_path / "sandbox.db")
    await sandbox.start()
    try:
        async with client.stream("GET", f"{sandbox.url}/events") as response:
            lines = response.aiter_lines()
            assert await anext(lines) == "retry: 1000"
            await asyncio.wait_for(sandbox.stop(), 10)
            rest = [line async for line in lines]
    finally:
        await sandbox.stop()
    assert any(line.startswith("data: ") for line in rest)


async def test_a_story_file_that_cannot_be_read_stops_the_start(tmp_path: Path) -> None:
    from bot.sandbox.runner import SandboxError

    sandbox = Sandbox(
        sandbox_settings(),
        port=0,
        database=tmp_path / "sandbox.db",
        stories=tmp_path / "missing.jsonl",
    )
    with pytest.raises(SandboxError, match="cannot read the stories"):
        await sandbox.start()
    assert not sandbox.emulator.running


# ------------------------------------------------------------------ the feed alone


async def test_the_feed_logs_failed_sends_with_telegram_s_description(
    emulator: BotApiEmulator, client: httpx.AsyncClient
) -> None:
    cast = default_cast()
    cast.install(emulator)
    feed = Feed(emulator, cast)
    feed.attach()
    try:
        subscription = feed.subscribe()
        emulator.fail_next("sendMessage", status=429, retry_after=7)
        emulator.block(BOB)
        for chat_id in (ALICE, BOB):
            await client.post(
                f"{emulator.api_url}/sendMessage",
                json={"chat_id": chat_id, "text": "<b>Hi</b> &amp; bye", "parse_mode": "HTML"},
            )
        events = []
        while not subscription.queue.empty():
            events.append(subscription.queue.get_nowait())
    finally:
        feed.detach()
        feed.close()
    logs = [event for event in events if event and event["type"] == "log"]
    assert [(e["chat"], e["status"], e["outcome"], e["summary"]) for e in logs] == [
        ("Alice", 429, "429 Too Many Requests: retry after 7", "Hi & bye"),
        ("Bob", 403, "403 Forbidden: bot was blocked by the user", "Hi & bye"),
    ]
    assert not [event for event in events if event and event["type"] == "message"]


async def test_emulator_reports_its_fault_switches(emulator: BotApiEmulator) -> None:
    emulator.add_user(ALICE)
    emulator.add_group(NEWSROOM, admins=[ALICE])
    assert not emulator.is_blocked(ALICE)
    assert not emulator.is_kicked(NEWSROOM)
    emulator.block(ALICE)
    emulator.kick(NEWSROOM)
    assert emulator.is_blocked(ALICE)
    assert emulator.is_kicked(NEWSROOM)
    assert not emulator.limits_enforced
    emulator.enforce_limits()
    assert emulator.limits_enforced
    emulator.enforce_limits(per_second=None, per_chat_interval=None, group_per_minute=None)
    assert not emulator.limits_enforced


async def test_a_lone_surrogate_is_refused_and_the_bot_keeps_answering(
    sandbox: Sandbox, client: httpx.AsyncClient
) -> None:
    # JSON can spell a lone surrogate; queued as an update it made every getUpdates answer 500.
    # json.dumps escapes the surrogate as \\ud800, as a hostile page would send it.
    body = json.dumps({"chat_id": ALICE, "user_id": ALICE, "text": "hi \ud800"})
    answer = await client.post(
        f"{sandbox.url}/api/send", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json() == {"ok": False, "error": "the text is not valid Unicode"}
    with pytest.raises(UnicodeEncodeError):
        sandbox.emulator.send_text(ALICE, ALICE, "hi \ud800")
    sandbox.emulator.send_text(ALICE, ALICE, "/help")
    reply = await sandbox.emulator.wait_for_messages(ALICE, 1)
    assert "/follow" in reply[-1]["text"]
