"""A Bot API stand-in in a process of its own, so the bot's CPU can be measured on its own.

Two kinds:

* `emulator` — tagwire's BotApiEmulator (bot/emulator/) as the tests use it: Telegram's
  answers and, with `--limits`, Telegram's flood limits (429 past 30 messages a second overall,
  1 a second to a private chat, 20 a minute to a group), plus `--latency` seconds a call.
* `lean` — a minimal aiohttp server that answers sendMessage (after `--latency`) and the few
  calls a starting bot makes. The emulator parses every message's HTML and records everything;
  on this machine it serves about 2 000 calls a second on a whole core, which is not enough
  headroom to measure a bot sending 2 000 a second beside it. The lean stand-in serves ~6 000.

The parent talks to it over stdin/stdout, one JSON object a line: the first line out is
{"url": ...}; commands in are {"cmd": "chats" | "ask" | "stats" | "stop", ...}.

    python -m bench.standin --kind emulator --latency 0.1 --limits
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
import sys
import time
import urllib.parse
from bisect import bisect_left
from collections import defaultdict
from typing import Any

from aiohttp import web

from bench.common import TOKEN, peak_rss_mb
from bot.emulator import BotApiEmulator


class Recorder:
    """Every sendMessage answered: chat, status and when; and when each question was asked."""

    def __init__(self) -> None:
        self.sends: list[tuple[int, int, float]] = []
        self.asked: dict[int, float] = {}
        self.started_cpu = time.process_time()

    def record(self, chat_id: int, status: int) -> None:
        self.sends.append((chat_id, status, time.monotonic()))

    def stats(self) -> dict[str, Any]:
        statuses: dict[str, int] = defaultdict(int)
        by_chat: dict[int, list[float]] = defaultdict(list)
        accepted: list[float] = []
        for chat_id, status, moment in self.sends:
            statuses[str(status)] += 1
            if status == 200:
                by_chat[chat_id].append(moment)
                accepted.append(moment)
        private_gaps = [
            later - earlier
            for chat_id, times in by_chat.items()
            if chat_id > 0
            for earlier, later in itertools.pairwise(times)
        ]
        group_per_minute = max(
            (_max_in_window(times, 60.0) for chat_id, times in by_chat.items() if chat_id < 0),
            default=0,
        )
        replies = {}
        for chat_id, asked_at in self.asked.items():
            times = by_chat.get(chat_id, [])
            index = bisect_left(times, asked_at)
            if index < len(times):
                replies[str(chat_id)] = times[index] - asked_at
        return {
            "accepted": len(accepted),
            "statuses": dict(statuses),
            "first": accepted[0] if accepted else None,
            "last": accepted[-1] if accepted else None,
            "chats": len(by_chat),
            "max_per_second_overall": _max_in_window(accepted, 1.0),
            "private_chats_with_repeats": sum(
                1 for chat_id, times in by_chat.items() if chat_id > 0 and len(times) > 1
            ),
            "min_private_gap": min(private_gaps) if private_gaps else None,
            "max_private_per_second": max(
                (_max_in_window(times, 1.0) for chat_id, times in by_chat.items() if chat_id > 0),
                default=0,
            ),
            "max_group_per_minute": group_per_minute,
            "asked": len(self.asked),
            "replies": replies,
            "cpu_seconds": time.process_time() - self.started_cpu,
            "peak_rss_mb": peak_rss_mb(),
        }


def _max_in_window(times: list[float], window: float) -> int:
    """The most events in any half-open interval of `window` seconds (times sorted)."""
    best = start = 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def _commands(handle: Any) -> None:
    while True:
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            return
        command = json.loads(line)
        answer = await handle(command)
        print(json.dumps(answer), flush=True)
        if command.get("cmd") == "stop":
            return


async def run_emulator(latency: float, limits: bool) -> None:
    emulator = BotApiEmulator(token=TOKEN, latency=latency)
    recorder = Recorder()

    def listen(kind: str, payload: dict[str, Any]) -> None:
        if kind == "call" and payload["method"].lower() == "sendmessage":
            with contextlib.suppress(TypeError, ValueError):
                recorder.record(int(payload["params"].get("chat_id")), payload["status"])

    emulator.subscribe(listen)
    if limits:
        emulator.enforce_limits(per_second=30, per_chat_interval=1.0, group_per_minute=20)
    await emulator.start()

    async def handle(command: dict[str, Any]) -> dict[str, Any]:
        kind = command.get("cmd")
        if kind == "chats":
            for user_id in command.get("users", []):
                emulator.add_user(user_id)
            for chat_id, chat_type in command.get("groups", []):
                emulator.add_group(
                    chat_id, title=f"Group {-chat_id}", supergroup=chat_type == "supergroup"
                )
            return {"ok": True}
        if kind == "ask":
            for user_id, text in command["messages"]:
                recorder.asked[user_id] = time.monotonic()
                emulator.send_text(user_id, user_id, text)
            return {"ok": True}
        if kind == "polling":
            return {"polling": emulator.polling}
        if kind == "stats":
            return recorder.stats()
        return {"ok": True}

    print(json.dumps({"url": emulator.base_url}), flush=True)
    try:
        await _commands(handle)
    finally:
        await emulator.stop()


def _params(body: bytes, content_type: str) -> dict[str, Any]:
    if not body:
        return {}
    if content_type == "application/json":
        decoded = json.loads(body)
        return decoded if isinstance(decoded, dict) else {}
    return dict(urllib.parse.parse_qsl(body.decode()))


async def run_lean(latency: float) -> None:
    recorder = Recorder()
    stopping = asyncio.Event()
    me = {"id": 7000000001, "is_bot": True, "first_name": "Tagwire", "username": "tagwire_bot"}
    message_ids: dict[int, int] = defaultdict(int)
    polling = 0

    async def endpoint(request: web.Request) -> web.Response:
        nonlocal polling
        method = request.match_info["method"].lower()
        params = _params(await request.read(), request.content_type)
        result: Any = True
        if method == "sendmessage":
            if latency:
                await asyncio.sleep(latency)
            chat_id = int(params["chat_id"])
            message_ids[chat_id] += 1
            chat_type = "private" if chat_id > 0 else "supergroup"
            result = {
                "message_id": message_ids[chat_id],
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": chat_type},
                "from": me,
                "text": str(params.get("text", "")),
            }
            recorder.record(chat_id, 200)
        elif method == "getme":
            result = me
        elif method == "getupdates":
            polling += 1
            try:
                timeout = min(10.0, float(params.get("timeout", 0)))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout)
            finally:
                polling -= 1
            result = []
        body = json.dumps({"ok": True, "result": result}).encode()
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", endpoint)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()

    async def handle(command: dict[str, Any]) -> dict[str, Any]:
        kind = command.get("cmd")
        if kind == "polling":
            return {"polling": polling > 0}
        if kind == "stats":
            return recorder.stats()
        return {"ok": True}

    print(json.dumps({"url": f"http://127.0.0.1:{port}/bot"}), flush=True)
    try:
        await _commands(handle)
    finally:
        stopping.set()
        await runner.cleanup()


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--kind", choices=("emulator", "lean"), default="emulator")
    arguments.add_argument("--latency", type=float, default=0.0, help="seconds added to a call")
    arguments.add_argument("--limits", action="store_true", help="enforce Telegram's limits")
    args = arguments.parse_args()
    if args.kind == "emulator":
        asyncio.run(run_emulator(args.latency, args.limits))
    else:
        asyncio.run(run_lean(args.latency))


if __name__ == "__main__":
    main()
