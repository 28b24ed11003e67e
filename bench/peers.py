"""What tagwire is compared with, each in a process of its own, sending the same messages to
the same stand-in:

* `naive` — the loop most bots use: python-telegram-bot's `send_message` awaited in a for-loop,
  with its AIORateLimiter (30/s overall, 20/min a group) and its default HTTPXRequest.
* `bare` — a bare aiohttp loop that only posts prepared JSON and reads the answer: the floor of
  per-message cost. It keeps up to `--window` requests in flight and, with `--rate`, paces them.

Prints one JSON line: messages sent, 429s, other errors, CPU and wall seconds.

    python -m bench.peers naive --api URL --messages FILE [--seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, ExtBot

from bench.common import TOKEN, peak_rss_mb


async def naive(api: str, messages: list[tuple[int, str]], seconds: float) -> dict[str, Any]:
    bot: ExtBot[None] = ExtBot(TOKEN, base_url=api, rate_limiter=AIORateLimiter())
    sent = limited = failed = 0
    async with bot:
        started, cpu = time.monotonic(), time.process_time()
        for chat_id, text in messages:
            if time.monotonic() - started >= seconds:
                break
            try:
                await bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                )
                sent += 1
            except RetryAfter:
                limited += 1
            except TelegramError:
                failed += 1
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
    return _result(sent, limited, failed, wall, cpu)


async def bare(
    api: str, messages: list[tuple[int, str]], seconds: float, window: int, rate: float | None
) -> dict[str, Any]:
    url = f"{api}{TOKEN}/sendMessage"
    sent = limited = failed = 0
    slots = asyncio.Semaphore(window)
    tasks: set[asyncio.Task[None]] = set()
    connector = aiohttp.TCPConnector(limit=window)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(body: bytes) -> None:
            nonlocal sent, limited, failed
            try:
                async with session.post(
                    url, data=body, headers={"Content-Type": "application/json"}
                ) as response:
                    await response.read()
                    if response.status == 200:
                        sent += 1
                    elif response.status == 429:
                        limited += 1
                    else:
                        failed += 1
            except aiohttp.ClientError:
                failed += 1
            finally:
                slots.release()

        started, cpu = time.monotonic(), time.process_time()
        next_at = started
        for chat_id, text in messages:
            if time.monotonic() - started >= seconds:
                break
            await slots.acquire()
            if rate:
                next_at += 1 / rate
                delay = next_at - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            body = json.dumps(
                {
                    "chat_id": chat_id,
                    "text": text,
                    "parse_mode": "HTML",
                    "link_preview_options": {"is_disabled": True},
                }
            ).encode()
            task = asyncio.create_task(post(body))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
    return _result(sent, limited, failed, wall, cpu)


def _result(sent: int, limited: int, failed: int, wall: float, cpu: float) -> dict[str, Any]:
    return {
        "sent": sent,
        "failed": {"429": limited, "other": failed},
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "rate": sent / wall if wall else None,
        "cpu_ms_per_message": 1000 * cpu / sent if sent else None,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("peer", choices=("naive", "bare"))
    arguments.add_argument("--api", required=True, help="the stand-in's base URL (…/bot)")
    arguments.add_argument("--messages", type=Path, required=True, help="JSON [[chat, text]…]")
    arguments.add_argument("--seconds", type=float, default=60.0)
    arguments.add_argument("--window", type=int, default=512, help="bare: requests in flight")
    arguments.add_argument("--rate", type=float, help="bare: messages a second at most")
    args = arguments.parse_args()
    messages = [(int(chat), str(text)) for chat, text in json.loads(args.messages.read_text())]
    if args.peer == "naive":
        result = asyncio.run(naive(args.api, messages, args.seconds))
    else:
        result = asyncio.run(bare(args.api, messages, args.seconds, args.window, args.rate))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
