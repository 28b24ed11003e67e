"""The Bot API stand-in deploy/check runs: tagwire's own emulator (`bot.emulator`) as a process.

deploy/check starts it from the image it just built (which ships `bot.emulator` inside the
tagwire wheel), with host networking, so the bot in another container reaches it on
127.0.0.1:

    python3 check-standin.py --token TOKEN --api-port 18081 --control-port 18082

- 127.0.0.1:API_PORT: the Bot API (`TAGWIRE_TELEGRAM_API_URL=http://127.0.0.1:API_PORT/bot`).
- 127.0.0.1:CONTROL_PORT, what the check drives with curl:
  - GET  /ready                     200 once both ports listen;
  - POST /say {"chat": ID, "text"}  a user (private chat ID, user ID) sends the bot a text;
  - GET  /sent?chat=ID              {"texts": [...]}: what the bot sent to that chat, oldest first.

Both listen on loopback only (the emulator refuses any other address). SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.emulator import BotApiEmulator, LocalServer

LOOPBACK = "127.0.0.1"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--token", required=True, help="the bot token the bot under test uses")
    parser.add_argument("--api-port", type=int, required=True)
    parser.add_argument("--control-port", type=int, required=True)
    return parser.parse_args()


async def _serve(args: argparse.Namespace) -> None:
    emulator = BotApiEmulator(token=args.token)

    async def ready(request: Request) -> Response:
        return JSONResponse({"api": emulator.url})

    async def say(request: Request) -> Response:
        body = json.loads(await request.body())
        chat, text = int(body["chat"]), str(body["text"])
        emulator.add_user(chat, first_name=str(body.get("first_name", "Reader")))
        update = emulator.send_text(chat, chat, text)
        return JSONResponse({"update_id": update["update_id"]})

    async def sent(request: Request) -> Response:
        chat = int(request.query_params["chat"])
        texts = [str(m.get("text", m.get("caption", ""))) for m in emulator.sent_messages(chat)]
        return JSONResponse({"texts": texts})

    control = LocalServer(
        Starlette(
            routes=[
                Route("/ready", ready, methods=["GET"]),
                Route("/say", say, methods=["POST"]),
                Route("/sent", sent, methods=["GET"]),
            ]
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await emulator.start(LOOPBACK, args.api_port)
    try:
        await control.start(LOOPBACK, args.control_port)
        try:
            print(f"stand-in: Bot API {emulator.url}/bot<token>, control {control.url}", flush=True)
            await stop.wait()
        finally:
            await control.stop()
    finally:
        await emulator.stop()


if __name__ == "__main__":
    asyncio.run(_serve(_arguments()))
