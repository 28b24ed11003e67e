"""Running the real bot against the Bot API emulator, in this process or as `tagwire run`."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

from bot.app import build_application, serve
from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.settings import Settings
from tests.support.commands import environment, run_tagwire
from tests.support.sql import query

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "japan.jsonl"
TOKEN = "123456789:AAEhBP0av28kjH9fTdL4KCLGrsGUk3w6Jq8"

# Short spacing keeps the tests quick; the spacing itself is tested in test_delivery.py.
FAST_SETTINGS: dict[str, Any] = {
    "rate_limit": 200.0,
    "private_chat_interval": 0.02,
    "group_chat_interval": 0.05,
    "outbox_poll_interval": 0.2,
}


@dataclass
class FakeClock:
    """A wall clock the test sets; the bot's schedules (digests, quiet hours) follow it."""

    now: float

    def __call__(self) -> float:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment.timestamp()


def bot_settings(emulator: BotApiEmulator, database: Path | str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "bot_token": TOKEN,
        "database": database,
        "telegram_api_url": emulator.base_url,
        **FAST_SETTINGS,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_bot(
    settings: Settings, *, clock: Callable[[], float] = time.time
) -> AsyncIterator[TagwireApplication]:
    """The bot as `tagwire run` runs it (same build_application and serve), in this loop;
    `clock` is the wall clock its schedules follow."""
    application = build_application(settings, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(application, stop))
    try:
        for _ in range(500):
            if application.running or task.done():
                break
            await asyncio.sleep(0.01)
        if task.done():
            task.result()
        assert application.running, "the bot did not start"
        yield application
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def updates_handled(
    emulator: BotApiEmulator,
    application: TagwireApplication,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for local state, not I/O
) -> None:
    """Until the bot has fetched every update the emulator queued and finished handling each
    (python-telegram-bot marks an update done when its handlers have returned): whatever the
    bot was going to answer to them has been sent."""
    await emulator.wait_for(lambda: not emulator.pending_updates(), timeout)
    await asyncio.wait_for(application.update_queue.join(), timeout)


def pending_deliveries(database: Path | str) -> int:
    """Deliveries of the bot's database still pending (held for a digest included)."""
    [(count,)] = query(database, "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
    return int(str(count))


async def outbox_settled(
    emulator: BotApiEmulator,
    database: Path,
    timeout: float = 10.0,  # noqa: ASYNC109 - a deadline for local state, not I/O
) -> None:
    """Until no delivery is pending: every outcome is written, nothing more will be sent."""
    await emulator.wait_for(lambda: pending_deliveries(database) == 0, timeout)


def api_client(target: TagwireApplication | str, **options: Any) -> httpx.AsyncClient:
    """An HTTP client for the bot's own server (API, health, metrics), at the running
    application's address or at `target` itself; not through a proxy of the environment."""
    base = target if isinstance(target, str) else target.bot_data.http_url
    assert base is not None, "the bot runs no HTTP server"
    return httpx.AsyncClient(base_url=base, trust_env=False, **options)


class StartBot(Protocol):
    """The e2e tests' `start_bot` fixture: `async with start_bot(**settings) as application:`."""

    def __call__(
        self, *, clock: Callable[[], float] = ..., **settings: Any
    ) -> AbstractAsyncContextManager[TagwireApplication]: ...


def subprocess_env(
    emulator: BotApiEmulator, database: Path | str, **overrides: Any
) -> dict[str, str]:
    settings = {
        "bot_token": TOKEN,
        "database": str(database),
        "telegram_api_url": emulator.base_url,
        **FAST_SETTINGS,
        **overrides,
    }
    return environment(**{f"TAGWIRE_{key.upper()}": str(value) for key, value in settings.items()})


def start_process(env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """`tagwire run` in a child process, its output going to `log`."""
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


async def stop_process(process: subprocess.Popen[bytes], *, kill: bool = False) -> int:
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    for _ in range(300):
        if process.poll() is not None:
            return process.returncode
        await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("tagwire run did not stop within 15 s")


async def push(
    database: Path | str, records: Iterable[dict[str, Any]] | None = None, *args: str
) -> subprocess.CompletedProcess[str]:
    """`tagwire push` as an operator runs it, beside the running bot."""
    source = "-" if records is not None else str(EXAMPLES)
    text = "\n".join(json.dumps(record) for record in records) if records is not None else None
    return await asyncio.to_thread(
        run_tagwire,
        "push",
        *args,
        source,
        input=text,
        env=environment(TAGWIRE_DATABASE=str(database)),
    )


def example_stories() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EXAMPLES.read_text().splitlines() if line.strip()]


def links(message: dict[str, Any]) -> list[str]:
    """The links of a message's text, or of a photo's caption."""
    entities = message.get("entities", message.get("caption_entities", []))
    return [e["url"] for e in entities if e.get("type") == "text_link"]


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    keyboard = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [(button["text"], button.get("callback_data", "")) for row in keyboard for button in row]
