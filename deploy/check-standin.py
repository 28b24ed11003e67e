"""The Bot API stand-in deploy/check runs: tagwire's own emulator (`bot.emulator`) as a process.

deploy/check starts it from the image it just built (which ships `bot.emulator` inside the
tagwire wheel), with host networking, so the bot in another container reaches it on
127.0.0.1:

    python3 check-standin.py --token TOKEN --api-port 18081 --control-port 18082

- 127.0.0.1:API_PORT: the Bot API (`TAGWIRE_TELEGRAM_API_URL=http://127.0.0.1:API_PORT/bot`).
- 127.0.0.1:CONTROL_PORT, what the check drives with curl:
  - GET  /ready                     200 once both ports (and the relays) listen;
  - POST /say {"chat": ID, "text"}  a user (private chat ID, user ID) sends the bot a text;
  - GET  /sent?chat=ID              {"texts": [...]}: what the bot sent to that chat, oldest first;
  - GET  /webhook                   {"url", "deliveries": [[update_id, HTTP status], ...]}: the
                                    webhook the bot set and each post of an update to it (status
                                    0: no answer, e.g. a certificate the stand-in did not trust).

Both listen on loopback only (the emulator refuses any other address). SIGTERM or SIGINT stops it.

For the scaled-out set-up (compose.scaled.yaml), where the stand-in is a container of its own
on the compose network, `--relay LISTEN=TARGET` (host:port each, repeatable) passes TCP
connections through unchanged, in both directions:

- `--relay 0.0.0.0:8081=127.0.0.1:18081`: the instances, in other containers, reach the Bot API;
- `--relay 127.0.0.1:443=proxy:443`: the emulator, which posts webhooks to loopback URLs only,
  reaches the reverse proxy at https://localhost/telegram/webhook. The relay does not touch
  the bytes: TLS is between the emulator and the proxy, and the emulator checks the proxy's
  certificate against its CA bundle.
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
    parser.add_argument(
        "--relay",
        action="append",
        default=[],
        type=_relay,
        metavar="LISTEN=TARGET",
        help="pass TCP connections to LISTEN (host:port) on to TARGET (host:port)",
    )
    return parser.parse_args()


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not host:port")
    return host, int(port)


def _relay(text: str) -> tuple[tuple[str, int], tuple[str, int]]:
    listen, equals, target = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"{text!r} is not LISTEN=TARGET")
    return _address(listen), _address(target)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def _start_relay(listen: tuple[str, int], target: tuple[str, int]) -> asyncio.Server:
    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_connection(*target)
        except OSError as exc:
            print(f"stand-in: relay to {target[0]}:{target[1]}: {exc}", flush=True)
            writer.close()
            return
        try:
            await asyncio.gather(_pipe(reader, target_writer), _pipe(target_reader, writer))
        finally:
            writer.close()
            target_writer.close()

    server = await asyncio.start_server(connected, *listen)
    print(f"stand-in: relay {listen[0]}:{listen[1]} -> {target[0]}:{target[1]}", flush=True)
    return server


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

    async def webhook(request: Request) -> Response:
        return JSONResponse(
            {"url": emulator.webhook, "deliveries": [list(d) for d in emulator.webhook_deliveries]}
        )

    control = LocalServer(
        Starlette(
            routes=[
                Route("/ready", ready, methods=["GET"]),
                Route("/say", say, methods=["POST"]),
                Route("/sent", sent, methods=["GET"]),
                Route("/webhook", webhook, methods=["GET"]),
            ]
        )
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await emulator.start(LOOPBACK, args.api_port)
    relays: list[asyncio.Server] = []
    try:
        # The relays before the control port, whose /ready then says that they listen too.
        for listen, target in args.relay:
            relays.append(await _start_relay(listen, target))
        await control.start(LOOPBACK, args.control_port)
        try:
            print(f"stand-in: Bot API {emulator.url}/bot<token>, control {control.url}", flush=True)
            await stop.wait()
        finally:
            await control.stop()
    finally:
        for relay in relays:
            relay.close()
        await emulator.stop()


if __name__ == "__main__":
    asyncio.run(_serve(_arguments()))
