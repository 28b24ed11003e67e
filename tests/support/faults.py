"""What the fault suite shares: sizes (short by default, long under `make soak`), the bot as a
child process whose output is kept, readers seeded in bulk, and the exact delivery count."""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import signal
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.emulator import BotApiEmulator
from bot.tags import parse_tag
from storage import open_store
from tests.support.sql import query

# `make soak` sets TAGWIRE_SOAK=1: the same scenarios, at the sizes and durations of the issue.
SOAK = os.environ.get("TAGWIRE_SOAK", "") not in ("", "0")
STORY_PREFIX = "https://fault.example.com/story/"


def size(short: int, long: int) -> int:
    return long if SOAK else short


def duration(short: float, long: float) -> float:
    return long if SOAK else short


def story(number: int, *tags: str, **fields: Any) -> dict[str, Any]:
    return {
        "url": f"{STORY_PREFIX}{number}",
        "title": f"Fault story {number}",
        "teaser": f"Teaser of story {number}.",
        "tags": list(tags),
        **fields,
    }


# Readers


async def seed(
    database: Path | str,
    emulator: BotApiEmulator,
    follows: dict[int, Sequence[str]],
    *,
    chat_type: str = "private",
) -> None:
    """Chats that already talked to the bot and follow tags, written through the Store;
    each is known to the emulator too (private chats as users, others as groups)."""
    store = await open_store(database)
    try:
        for chat_id, tags in follows.items():
            if chat_type == "private":
                emulator.add_user(chat_id)
            else:
                emulator.add_group(
                    chat_id, title=f"Group {chat_id}", supergroup=str(chat_id).startswith("-100")
                )
            await store.register_chat(chat_id, chat_type, None)
            parsed = [parse_tag(tag) for tag in tags]
            await store.follow(chat_id, [(t.name, t.key) for t in parsed], 100, 0.0)
    finally:
        await store.close()


# What reached whom


def story_links(message: dict[str, Any]) -> list[str]:
    return [
        entity["url"]
        for entity in message.get("entities", [])
        if entity.get("type") == "text_link" and entity.get("url", "").startswith(STORY_PREFIX)
    ]


def received(
    emulator: BotApiEmulator,
    moved: dict[int, int] | None = None,
    ignore: Iterable[int] = (),
) -> dict[int, Counter[str]]:
    """Per chat, how many times each story reached it (a digest counts for each of its
    stories). `moved` maps a migrated group's old id to its new one, to count them as one;
    `ignore`: chats whose messages are answers to commands (/latest lists stories too)."""
    moved = moved or {}
    skip = set(ignore)
    result: dict[int, Counter[str]] = {}
    for message in emulator.sent_messages():
        urls = story_links(message)
        if urls and message["chat"]["id"] not in skip:
            chat_id = moved.get(message["chat"]["id"], message["chat"]["id"])
            result.setdefault(chat_id, Counter()).update(urls)
    return result


@dataclass
class Tally:
    """The exact count a scenario ends with."""

    expected: int
    delivered: int
    repeats: int
    missing: list[tuple[int, str]] = field(default_factory=list)
    unwanted: list[tuple[int, str]] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"delivered {self.delivered} / expected {self.expected}, repeats {self.repeats}, "
            f"missing {len(self.missing)} {self.missing[:5]}, "
            f"unwanted {len(self.unwanted)} {self.unwanted[:5]}"
        )


def tally(
    emulator: BotApiEmulator,
    expected: dict[int, set[str]],
    moved: dict[int, int] | None = None,
    ignore: Iterable[int] = (),
) -> Tally:
    """Every (chat, story) pair in `expected` against what the emulator accepted."""
    got = received(emulator, moved, ignore)
    missing = [
        (chat_id, url)
        for chat_id, urls in expected.items()
        for url in sorted(urls)
        if not got.get(chat_id, Counter())[url]
    ]
    unwanted = [
        (chat_id, url)
        for chat_id, counts in got.items()
        for url in counts
        if url not in expected.get(chat_id, set())
    ]
    delivered = sum(
        1 for chat_id, urls in expected.items() for url in urls if got.get(chat_id, {}).get(url)
    )
    repeats = sum(count - 1 for counts in got.values() for count in counts.values())
    return Tally(
        expected=sum(len(urls) for urls in expected.values()),
        delivered=delivered,
        repeats=repeats,
        missing=missing,
        unwanted=unwanted,
    )


def report(name: str, **figures: Any) -> None:
    """One line the test run shows with -s (and `make soak` keeps): the scenario's counts."""
    print(f"\n[fault] {name}: " + json.dumps(figures, default=str), file=sys.stderr)


# The outbox as the database has it


def statuses(database: Path | str) -> Counter[str]:
    rows = query(database, "SELECT status, COUNT(*) FROM deliveries GROUP BY status")
    return Counter({str(status): int(str(count)) for status, count in rows})


def delivery_rows(database: Path | str) -> dict[tuple[int, str], tuple[str, int]]:
    """(chat, story url) -> (status, attempts) for every delivery row."""
    rows = query(
        database,
        "SELECT d.chat_id, a.url, d.status, d.attempts "
        "FROM deliveries d JOIN articles a ON a.id = d.article_id",
    )
    return {
        (int(str(chat_id)), str(url)): (str(status), int(str(attempts)))
        for chat_id, url, status, attempts in rows
    }


# `tagwire run` as a child process


class BotProcess:
    """`tagwire run` in a child process. Its output goes through a pipe (not a file, which a
    lowered file-size limit would stop) and is kept in memory for the test to read."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self._env = env
        self._cwd = cwd
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def start(self) -> BotProcess:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            env=self._env,
            cwd=self._cwd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.process is not None
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                return
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    async def wait_for_output(self, text: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        deadline = asyncio.get_running_loop().time() + timeout
        while not any(text in line for line in self.lines):
            if self.process is not None and self.process.returncode is not None:
                raise AssertionError(f"tagwire run exited; output:\n{self.output[-3000:]}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {text!r} within {timeout} s:\n{self.output[-3000:]}")
            await asyncio.sleep(0.05)

    async def http_url(self) -> str:
        """The address of its HTTP server, as the start-up line gives it."""
        await self.wait_for_output("HTTP server on ")
        line = next(line for line in self.lines if "HTTP server on " in line)
        match = re.search(r"HTTP server on (http://[0-9.]+:[0-9]+)", line)
        assert match, line
        return match[1]

    def limit_file_size(self, limit: int | None) -> None:
        """Files written past `limit` bytes fail with EFBIG, as on a full disk (CPython ignores
        SIGXFSZ); None lifts the limit, as when space returns."""
        soft = resource.RLIM_INFINITY if limit is None else limit
        _, hard = resource.prlimit(self.pid, resource.RLIMIT_FSIZE)
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (soft, hard))

    async def kill(self) -> None:
        await self._end(signal.SIGKILL)

    async def stop(self) -> int:
        """SIGTERM, as an operator stops it; the exit status."""
        return await self._end(signal.SIGTERM)

    async def _end(self, signum: int) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signum)
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout=30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError("tagwire run did not stop within 30 s") from None
        if self._reader is not None:
            await self._reader
        return code


# The fault suite's `start_bot_process` fixture: `await start_bot_process(**settings)`.
StartBotProcess = Callable[..., Awaitable[BotProcess]]


def secrets_in(text: str, secrets: Iterable[str]) -> list[str]:
    return [secret for secret in secrets if secret and secret in text]
