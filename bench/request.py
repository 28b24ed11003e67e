"""The send path alone: CPU per message of python-telegram-bot's HTTPXRequest against tagwire's
AiohttpRequest, each under tagwire's PtbSender, and of a bare aiohttp post (the floor), with
`--window` requests in flight against the lean stand-in (another process, `--latency` a call).

    python -m bench.request [--messages 2000] [--windows 32,512]
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from telegram.ext import ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bench.common import TOKEN, Row, info, median, parser, report
from bench.procs import StandIn
from bot.delivery.request import AiohttpRequest
from bot.delivery.sender import PtbSender

TEXT = (
    "<b>Karirimo tana seluvi dope ra</b>\n\nTomiko shian elorun isba defugo haje kilo mane "
    "poqu rusa teul vewa xiyo zaber caldor…\n\n"
    '<a href="https://news.example.com/bench/request/1">Read more</a>\n#Vehadeber'
)


async def _windowed(
    messages: int, window: int, send: Callable[[int], Awaitable[None]]
) -> dict[str, float]:
    slots = asyncio.Semaphore(window)
    tasks: set[asyncio.Task[None]] = set()

    async def one(chat_id: int) -> None:
        try:
            await send(chat_id)
        finally:
            slots.release()

    started, cpu = time.monotonic(), time.process_time()
    for number in range(messages):
        await slots.acquire()
        task = asyncio.create_task(one(100_000_000 + number))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    return {"rate": messages / wall, "cpu_ms_per_message": 1000 * cpu / messages}


async def _through_sender(
    url: str, request: BaseRequest, messages: int, window: int
) -> dict[str, float]:
    async with ExtBot(TOKEN, base_url=url, request=request) as bot:
        sender = PtbSender(bot)

        async def send(chat_id: int) -> None:
            await sender.send_message(chat_id, TEXT, link_preview=False)

        return await _windowed(messages, window, send)


async def _bare(url: str, messages: int, window: int) -> dict[str, float]:
    endpoint = f"{url}{TOKEN}/sendMessage"
    connector = aiohttp.TCPConnector(limit=window)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def send(chat_id: int) -> None:
            body = {
                "chat_id": chat_id,
                "text": TEXT,
                "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True},
            }
            async with session.post(
                endpoint,
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            ) as response:
                await response.read()

        return await _windowed(messages, window, send)


CONTENDERS = ("bare aiohttp", "AiohttpRequest", "HTTPXRequest")


async def _contender(name: str, url: str, messages: int, window: int) -> dict[str, float]:
    if name == "bare aiohttp":
        return await _bare(url, messages, window)
    # As build_application sizes it: the deliveries in flight and room for replies.
    pool = window + 64
    request: BaseRequest = (
        AiohttpRequest(connection_pool_size=pool, pool_timeout=10.0)
        if name == "AiohttpRequest"
        else HTTPXRequest(connection_pool_size=pool, pool_timeout=10.0)
    )
    return await _through_sender(url, request, messages, window)


async def _main(args: Any) -> None:
    windows = [int(value) for value in args.windows.split(",")]
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    standin = await StandIn.start(
        "lean", latency=args.latency, limits=False, log=logs / "standin-request.log"
    )
    runs: dict[str, list[dict[str, float]]] = {}
    try:
        for window in windows:
            for _ in range(args.repeat):
                for name in CONTENDERS:
                    result = await _contender(name, standin.url, args.messages, window)
                    runs.setdefault(f"{name}, {window} in flight", []).append(result)
                    print(f"{name}, {window} in flight: {result}", flush=True)
    finally:
        await standin.stop()
    rows: list[Row] = []
    cpu = {
        label: median([result["cpu_ms_per_message"] for result in results])
        for label, results in runs.items()
    }
    for label, results in runs.items():
        rate = median([result["rate"] for result in results])
        rows.append(info(f"{label}: CPU per message", cpu[label], "ms", f"{rate:.0f} msg/s"))
    for window in windows:
        ours, theirs = (cpu[f"{name}, {window} in flight"] for name in CONTENDERS[1:])
        rows.append(info(f"HTTPXRequest ÷ AiohttpRequest, {window} in flight", theirs / ours, "×"))
    report(
        "request",
        f"The send path alone, {args.latency * 1000:.0f} ms a call",
        rows,
        out=args.out,
        params={
            "messages": args.messages,
            "windows": windows,
            "latency": args.latency,
            "repeat": args.repeat,
        },
        details=runs,
    )


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--messages", type=int, default=2000, help="messages a run")
    arguments.add_argument(
        "--windows", default="32,512", help="requests in flight, comma-separated"
    )
    arguments.add_argument("--latency", type=float, default=0.1, help="seconds a call")
    arguments.add_argument("--repeat", type=int, default=3)
    # So that `bench/run --scale 0.1` can pass the same arguments to every benchmark.
    arguments.add_argument("--scale", type=float, help="not used: no database here")
    asyncio.run(_main(arguments.parse_args()))


if __name__ == "__main__":
    main()
