"""Nobody gets in: secrets compared in constant time and never shown, admin commands invisible
to others, group settings for group admins only, limits one user or client cannot exhaust, and
backups that are consistent while the bot writes and checked before they are put back."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import sqlite3
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.emulator import BotApiEmulator
from bot.texts.replies import render
from bot.web.webhook import SECRET_HEADER
from storage import open_store
from storage.backup import check_backup
from tests.support.commands import run_tagwire
from tests.support.faults import BotProcess, secrets_in, seed
from tests.support.harness import (
    EXAMPLES,
    ROOT,
    TOKEN,
    StartBot,
    api_client,
    buttons,
    subprocess_env,
    updates_handled,
)
from tests.support.sql import query
from tests.support.updates import say as say_as
from tests.support.updates import update_for
from tests.support.webhook import free_port, webhook_options

API_TOKEN = "security-ingest-token-0123456789abcdef"
# The API on: its token, and the HTTP server on a free port.
API_ON = {"ingest_token": API_TOKEN, "http_port": 0}
WEBHOOK_SECRET = "security-webhook-secret-0123456789abcdef"
ADMIN = 4242
READER = 1001
MEMBER = 3001
GROUP = -6001


def spy_on_compare_digest(
    monkeypatch: pytest.MonkeyPatch, module: str
) -> list[tuple[bytes, bytes]]:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(f"{module}.hmac.compare_digest", spy)
    return calls


def near_misses(secret: str) -> list[str]:
    """Wrong values that share the secret's length and all but its last character, or its
    first half, or are one character longer or shorter."""
    last = "A" if secret[-1] != "A" else "B"
    return [
        secret[:-1] + last,
        secret[: len(secret) // 2] + "x" * (len(secret) - len(secret) // 2),
        secret + "x",
        secret[:-1],
        secret.upper() if secret.upper() != secret else secret.lower(),
    ]


# Constant-time comparisons


async def test_ingest_token_near_misses_are_refused_by_a_constant_time_comparison(
    start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_on_compare_digest(monkeypatch, "bot.web.api")
    async with start_bot(**API_ON) as application, api_client(application) as client:
        answers = [
            await client.get("/api/tags", headers={"Authorization": f"Bearer {wrong}"})
            for wrong in near_misses(API_TOKEN)
        ]
        right = await client.get("/api/tags", headers={"Authorization": f"Bearer {API_TOKEN}"})
    assert [answer.status_code for answer in answers] == [403] * len(answers)
    assert right.status_code == 200
    assert all(API_TOKEN not in answer.text for answer in answers)
    # Every candidate went through hmac.compare_digest against the real token.
    compared = [given.decode() for given, real in calls if real == API_TOKEN.encode()]
    assert compared == [*near_misses(API_TOKEN), API_TOKEN]


async def test_webhook_secret_near_misses_are_refused_by_a_constant_time_comparison(
    emulator: BotApiEmulator, start_bot: StartBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = spy_on_compare_digest(monkeypatch, "bot.web.webhook")
    emulator.add_user(READER)
    options = webhook_options()
    async with start_bot(**options, webhook_secret=WEBHOOK_SECRET):
        url = options["webhook_url"]
        async with httpx.AsyncClient(trust_env=False) as http:
            statuses = [
                (
                    await http.post(
                        url, json=update_for(READER, "/help", 700 + n), headers={SECRET_HEADER: w}
                    )
                ).status_code
                for n, w in enumerate(near_misses(WEBHOOK_SECRET))
            ]
            # With the right secret, one more: once it is answered, the others would have been.
            marker = await http.post(
                url, json=update_for(READER, "/help", 799), headers={SECRET_HEADER: WEBHOOK_SECRET}
            )
        assert marker.status_code == 200
        [answer] = await emulator.wait_for_messages(READER, 1)
        assert "What I can do" in answer["text"]
    assert statuses == [403] * len(statuses)
    compared = [given.decode() for given, real in calls if real == WEBHOOK_SECRET.encode()]
    assert compared[: len(statuses)] == near_misses(WEBHOOK_SECRET)


# Secrets in output


def _secret_forms() -> list[str]:
    bare = TOKEN.split(":", 1)[1]
    return [
        TOKEN,
        bare,
        urllib.parse.quote(TOKEN, safe=""),
        API_TOKEN,
        WEBHOOK_SECRET,
    ]


async def _garbled_bot_api() -> tuple[asyncio.Server, str]:
    """A server that answers every request with a broken status line: the HTTP client's
    error then carries the whole request URL, token included."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.read(65536)
            writer.write(b"HTTP/1.1 2x0 OK\r\nContent-Length: nope\r\n\r\n{}")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/bot"


async def test_secrets_appear_nowhere_in_logs_answers_metrics_or_stats(
    emulator: BotApiEmulator, database: Path, tmp_path: Path
) -> None:
    secrets = _secret_forms()
    shown: list[str] = []

    # 1. Telegram answering garbage at start: the network error names the URL with the token.
    garbled, garbled_url = await _garbled_bot_api()
    env = subprocess_env(
        emulator,
        database,
        log_level="DEBUG",
        telegram_api_url=garbled_url,
        ingest_token=API_TOKEN,
        http_port=0,
    )
    first = await BotProcess(env, tmp_path).start()
    try:
        await first.wait_for_output("cannot reach Telegram", timeout=30)
    finally:
        await first.stop()
        garbled.close()
    assert "<redacted>" in first.output

    # 2. A full run in webhook mode with every secret set, through errors of every kind.
    port = free_port()
    await seed(database, emulator, {READER: ["Japan"]})
    emulator.add_user(ADMIN)
    env = subprocess_env(
        emulator,
        database,
        log_level="DEBUG",
        ingest_token=API_TOKEN,
        webhook_url=f"http://127.0.0.1:{port}/telegram/webhook",
        webhook_secret=WEBHOOK_SECRET,
        http_port=port,
        admin_ids=str(ADMIN),
    )
    second = await BotProcess(env, tmp_path).start()
    try:
        await second.wait_for_output("tagwire is running", timeout=30)
        base = f"http://127.0.0.1:{port}"
        async with api_client(base, timeout=30) as client:
            for header in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
                shown.append((await client.get("/api/tags", headers=header)).text)
            auth = {"Authorization": f"Bearer {API_TOKEN}"}
            story = {"url": "https://sec.example.com/1", "title": "One", "tags": ["Japan"]}
            shown.append((await client.post("/api/articles", json=story, headers=auth)).text)
            shown.append((await client.post("/api/articles", content=b"{", headers=auth)).text)
            shown.append(
                (await client.post("/telegram/webhook", json={}, headers={SECRET_HEADER: "x"})).text
            )
            # Telegram failing in every way while the story goes out.
            emulator.fail_next("sendMessage", status=502, count=2)
            emulator.fail_next("sendMessage", status=0)
            emulator.fail_next("sendMessage", status=429, retry_after=1)
            story2 = {"url": "https://sec.example.com/2", "title": "Two", "tags": ["Japan"]}
            await client.post("/api/articles", json=story2, headers=auth)
            await emulator.wait_for(lambda: len(emulator.sent_messages(READER)) >= 2, timeout=30)
            emulator.set_offline(True)
            story3 = {"url": "https://sec.example.com/3", "title": "Three", "tags": ["Japan"]}
            await client.post("/api/articles", json=story3, headers=auth)
            await asyncio.sleep(3.0)
            emulator.set_offline(False)
            await emulator.wait_for(lambda: len(emulator.sent_messages(READER)) >= 3, timeout=60)
            emulator.send_text(ADMIN, ADMIN, "/stats")
            emulator.send_text(READER, READER, "/nosuchcommand")
            emulator.send_text(READER, READER, "/stats")
            await emulator.wait_for(lambda: bool(emulator.sent_messages(ADMIN)), timeout=30)
            await emulator.wait_for(lambda: len(emulator.sent_messages(READER)) >= 5, timeout=30)
            shown.append((await client.get("/metrics")).text)
            shown.append((await client.get("/healthz")).text)
            shown.append((await client.get("/openapi.json")).text)
    finally:
        code = await second.stop()
    assert code == 0, second.output[-3000:]
    shown += [str(message.get("text", "")) for message in emulator.sent_messages()]
    stats = await asyncio.to_thread(
        run_tagwire, "stats", env={**os.environ, "TAGWIRE_DATABASE": str(database)}
    )
    shown += [stats.stdout, stats.stderr]
    errors = [str(row[0] or "") for row in query(database, "SELECT last_error FROM deliveries")]
    shown += errors

    everything = "\n".join([first.output, second.output, *shown])
    assert "DEBUG" in second.output
    assert secrets_in(everything, secrets) == []


# Admin commands


async def test_admin_commands_answer_others_exactly_like_an_unknown_command(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    emulator.add_user(READER)

    async def reply_params(text: str) -> dict[str, Any]:
        before = len(emulator.calls_of("sendMessage"))
        emulator.send_text(READER, READER, text)
        await emulator.wait_for(lambda: len(emulator.calls_of("sendMessage")) > before)
        params = dict(emulator.calls_of("sendMessage")[before].params)
        params.pop("reply_parameters", None)
        return params

    async with start_bot(admin_ids=frozenset({ADMIN})):
        for command in ("/post", "/stats", "/feeds", "/resume"):
            admin_only = await reply_params(f"{command} https://evil.example.com/x Evil #Japan")
            unknown = await reply_params(f"{command[:-1]}q https://evil.example.com/x Evil #Japan")
            as_unknown = json.loads(json.dumps(unknown).replace(f"{command[:-1]}q", command))
            assert json.dumps(admin_only, sort_keys=True) == json.dumps(as_unknown, sort_keys=True)
            assert admin_only["text"] == render("unknown_command", "en", command=command)
    assert query(database, "SELECT COUNT(*) FROM articles") == [(0,)]


# Group settings


async def test_only_group_admins_change_a_groups_follows_and_settings(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    emulator.add_group(GROUP, title="Desk", admins=[ADMIN], members=[MEMBER])

    async def say(user: int, text: str) -> str:
        return str((await say_as(emulator, GROUP, user, text))["text"])

    async def prefs() -> tuple[Any, ...]:
        store = await open_store(database)
        try:
            chat = (await store.chat_prefs([GROUP]))[GROUP]
            followed = [tag.name for tag in await store.followed_tags(GROUP)]
        finally:
            await store.close()
        return chat.settings, chat.muted, followed

    refused = render("group_admins_only", "en")
    async with start_bot():
        await say(ADMIN, "/follow Japan")
        before = await prefs()
        for text in (
            "/follow Russia",
            "/unfollow Japan",
            "/unfollow all",
            "/timezone Europe/Moscow",
            "/quiet 23:00-07:00",
            "/quiet off",
            "/mute Trump",
            "/unmute Trump",
        ):
            assert await say(MEMBER, text) == refused, text
        panel_text = await say(MEMBER, "/settings")
        panel = next(m for m in reversed(emulator.sent_messages(GROUP)) if m["text"] == panel_text)
        taps = [data for _, data in buttons(panel) if data.startswith("cfg:")]
        assert taps
        for data in taps:
            answers = len(emulator.calls_of("answerCallbackQuery"))
            emulator.press_button(GROUP, MEMBER, panel["message_id"], data)
            await emulator.wait_for(
                lambda a=answers: len(emulator.calls_of("answerCallbackQuery")) > a
            )
            answer = emulator.calls_of("answerCallbackQuery")[answers].params
            assert answer.get("text") == render("button_admins_only", "en"), data
        # Writing "as" another channel is not the group's anonymous admin. (The message is
        # unknown to the stand-in, as if deleted at once: the answer comes all the same.)
        emulator.add_update(
            {
                "message": {
                    "message_id": 900,
                    "date": int(time.time()),
                    "chat": {"id": GROUP, "type": "group", "title": "Desk"},
                    "sender_chat": {"id": -1009999, "type": "channel", "title": "Other"},
                    "from": {"id": 136817688, "is_bot": True, "first_name": "Channel"},
                    "text": "/follow Russia",
                    "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
                }
            }
        )
        await emulator.wait_for(
            lambda: emulator.sent_messages(GROUP)[-1]["text"] == refused, timeout=10
        )
        assert await prefs() == before
        # The admin may.
        assert "Moscow" in await say(ADMIN, "/timezone Europe/Moscow")
        assert "trump" in await say(ADMIN, "/mute Trump")
        after = await prefs()
    assert after[0].timezone == "Europe/Moscow"
    assert after[1] == ("trump",)


# Limits


async def test_a_chat_follows_at_most_100_tags_and_mutes_at_most_50_words(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot
) -> None:
    emulator.add_user(READER)

    async def say(text: str) -> str:
        return str((await say_as(emulator, READER, READER, text))["text"])

    async with start_bot(user_commands_per_minute=1000):
        answer = await say("/follow " + ", ".join(f"tag{n}" for n in range(105)))
        assert "at most 100 tags" in answer
        assert "at most 100 tags" in await say("/follow one more")
        answer = await say("/mute " + ", ".join(f"word{n}" for n in range(55)))
        assert "at most 50 words" in answer
    assert query(database, "SELECT COUNT(*) FROM subscriptions") == [(100,)]
    assert query(database, "SELECT COUNT(*) FROM mutes") == [(50,)]


async def test_one_user_flooding_is_told_once_then_ignored_while_others_are_served(
    emulator: BotApiEmulator, start_bot: StartBot
) -> None:
    flooder, other = 5001, 5002
    emulator.add_user(flooder)
    emulator.add_user(other)
    async with start_bot(user_commands_per_minute=5) as application:
        for _ in range(12):
            emulator.send_text(flooder, flooder, "/help")
        emulator.send_text(other, other, "/help")
        await emulator.wait_for_messages(other, 1)
        await emulator.wait_for_messages(flooder, 6)
        await updates_handled(emulator, application)
        # A button tap counts too, and gets no second notice.
        answers = len(emulator.calls_of("answerCallbackQuery"))
        emulator.press_button(flooder, flooder, 1, "cfg:mode:daily")
        await updates_handled(emulator, application)
    texts = emulator.reply_texts(flooder)
    notice = render("too_many_commands", "en", seconds=60).split(" I will")[0]
    assert len(texts) == 6, texts
    assert sum(1 for text in texts if text.startswith(notice)) == 1
    assert texts[-1].startswith(notice)
    assert "What I can do" in emulator.reply_texts(other)[0]
    assert len(emulator.calls_of("answerCallbackQuery")) == answers


async def test_the_api_limits_requests_per_address_and_per_token(start_bot: StartBot) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}

    def client(base: str, address: str) -> httpx.AsyncClient:
        transport = httpx.AsyncHTTPTransport(local_address=address)
        return httpx.AsyncClient(base_url=base, transport=transport, trust_env=False)

    async with start_bot(**API_ON, api_requests_per_minute=5) as application:
        base = application.bot_data.http_url
        assert base is not None
        async with (
            client(base, "127.0.0.1") as guesser,
            client(base, "127.0.0.2") as first,
            client(base, "127.0.0.3") as second,
        ):
            guesses = [
                (await guesser.get("/api/tags", headers={"Authorization": f"Bearer x{n}"}))
                for n in range(7)
            ]
            served = [(await first.get("/api/tags", headers=auth)).status_code for _ in range(3)]
            served += [(await second.get("/api/tags", headers=auth)).status_code for _ in range(3)]
            health = [(await guesser.get("/healthz")).status_code for _ in range(10)]
    assert [answer.status_code for answer in guesses] == [403] * 5 + [429] * 2
    limited = guesses[-1]
    assert 1 <= int(limited.headers["retry-after"]) <= 12
    assert "from one address" in limited.json()["error"]
    # The token has its own five a minute, whichever addresses it comes from.
    assert served == [200] * 5 + [429]
    assert health == [200] * 10


# Backups


@pytest.mark.backends(
    "sqlite",
    reason="tagwire backup copies a SQLite file; on PostgreSQL it names pg_dump (tests/storage)",
)
async def test_a_backup_taken_while_the_bot_writes_is_consistent(
    emulator: BotApiEmulator, database: Path, start_bot: StartBot, tmp_path: Path
) -> None:
    readers = list(range(7001, 7051))
    await seed(database, emulator, {chat: ["Japan"] for chat in readers})
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    batch = 10
    env = {**os.environ, "TAGWIRE_DATABASE": str(database)}

    async def backup(path: Path) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(run_tagwire, "backup", str(path), env=env)

    async with start_bot(**API_ON) as application, api_client(application, timeout=30) as client:
        stop = asyncio.Event()

        async def write() -> int:
            number = 0
            while not stop.is_set():
                stories = [
                    {
                        "url": f"https://b.example.com/{number + n}",
                        "title": "T",
                        "tags": ["Japan"],
                    }
                    for n in range(batch)
                ]
                answer = await client.post("/api/articles", json=stories, headers=auth)
                assert answer.status_code == 201, answer.text
                number += batch
            return number

        writer = asyncio.create_task(write())
        copies = []
        for n in range(3):
            await asyncio.sleep(0.3)
            copy = tmp_path / f"copy{n}.db"
            result = await backup(copy)
            assert result.returncode == 0, result.stderr
            copies.append(copy)
        stop.set()
        written = await writer
    for copy in copies:
        summary = check_backup(copy)
        assert summary.stories % batch == 0, summary
        with contextlib.closing(sqlite3.connect(copy)) as db:
            # Each story came with its whole fan-out, in the same transaction.
            per_story = dict(
                db.execute("SELECT article_id, COUNT(*) FROM deliveries GROUP BY article_id")
            )
            assert len(per_story) == summary.stories
            assert set(per_story.values()) <= {len(readers)}
            assert db.execute("SELECT COUNT(*) FROM article_tags").fetchone() == (summary.stories,)
    assert 0 < check_backup(copies[0]).stories <= check_backup(copies[-1]).stories <= written


def _restore(database: Path, backup: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TAGWIRE_DATABASE": str(database)}
    return run_tagwire("restore", str(backup), env=env, cwd=ROOT)


def _damage(source: Path, target: Path, change: Callable[[bytearray], None]) -> Path:
    data = bytearray(source.read_bytes())
    change(data)
    target.write_bytes(bytes(data))
    return target


def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.backends(
    "sqlite",
    reason="tagwire backup copies a SQLite file; on PostgreSQL it names pg_dump (tests/storage)",
)
def test_restore_refuses_truncated_and_damaged_backups_and_keeps_the_database(
    database: Path, tmp_path: Path
) -> None:
    env = {**os.environ, "TAGWIRE_DATABASE": str(database)}
    pushed = run_tagwire("push", str(EXAMPLES), env=env)
    assert pushed.returncode == 0, pushed.stderr
    good = tmp_path / "good.db"
    made = run_tagwire("backup", str(good), env=env)
    assert made.returncode == 0, made.stderr
    size = good.stat().st_size
    page = 4096
    assert size >= 4 * page

    def truncate(data: bytearray) -> None:
        del data[size // 2 :]

    def scribble_page(data: bytearray) -> None:
        # A whole b-tree page of garbage in the middle of the file.
        middle = (size // page // 2) * page
        data[middle : middle + page] = bytes((n * 37 + 11) % 256 for n in range(page))

    def scribble_header(data: bytearray) -> None:
        data[0:16] = b"not sqlite at all"[:16]

    kept = _fingerprint(database)
    for name, change in (
        ("truncated", truncate),
        ("damaged page", scribble_page),
        ("damaged header", scribble_header),
    ):
        bad = _damage(good, tmp_path / f"{name.replace(' ', '-')}.db", change)
        result = _restore(database, bad)
        assert result.returncode == 1, (name, result.stdout, result.stderr)
        assert "not restored" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr
        assert _fingerprint(database) == kept, name
        assert not list(tmp_path.glob("bot.db.before-restore-*")), name
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restored = _restore(database, good)
    assert restored.returncode == 0, restored.stderr


def test_a_token_in_a_url_quoted_or_split_form_is_redacted_too() -> None:
    from bot.logs import REDACTED, RedactingFilter

    log_filter = RedactingFilter([TOKEN])
    quoted = urllib.parse.quote(TOKEN, safe="")
    for text in (
        f"POST /bot{quoted}/getMe",
        f"id {TOKEN.split(':')[0]}, key {TOKEN.split(':')[1]}",
    ):
        assert TOKEN.split(":")[1] not in log_filter.redact(text)
        assert REDACTED in log_filter.redact(text)
