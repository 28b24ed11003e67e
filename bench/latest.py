"""/latest <tag>: at the storage layer, through the whole bot, and through one and two instances.

1. Storage: what the command asks of the Store (resolve the tag, then its newest stories) for
   `--queries` random tags of the generated database, one after another; p99 per pass. With
   `--database postgresql://…/NAME`, on PostgreSQL: NAME is created when missing and filled
   with the generated database (bench/backends.py), and the run works on a copy of it.
2. Whole bot against its peer, in alternate rounds: the real bot (bench.botproc) and a plain
   python-telegram-bot bot (bench/peer_ptb_latest.py, on the SQLite copy), each long-polling
   an emulator of its own in another process (no added latency, no flood limits); `--users`
   readers send `/latest <tag>` at the same moment; each one's latency runs from the update
   being queued to the emulator receiving the reply.
3. Instances (PostgreSQL only): `tagwire run` child processes in webhook mode on one database
   copy. This script plays Telegram: it posts the `--users` updates at once to the instances'
   webhook paths, round-robin as a load balancer would, and a lean Bot API stand-in (this
   module with `--serve-replies`, in a process of its own) notes when each sendMessage
   arrives. Alternate rounds through ONE instance, through TWO, and through one run on uvloop
   when it is installed; CPU a command is the instances' CPU (/proc) over the round.

    python -m bench.latest [--scale 1] [--queries 10000] [--users 200] [--rounds 5]
                           [--database postgresql://postgres@127.0.0.1:5432/tagwire_bench]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import random
import socket
import sqlite3
import sys
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
from aiohttp import web

from bench.backends import Backend, add_database_argument, backend, remove
from bench.backends import working_copy as database_copy
from bench.common import (
    ROOT,
    TOKEN,
    at_least,
    at_most,
    info,
    median,
    number,
    parser,
    percentile,
    report,
)
from bench.generate import ensure_database
from bench.outbox import working_copy
from bench.procs import Served, StandIn
from storage import open_store
from storage.url import DatabaseTarget

COUNT = 5  # what /latest shows without a number
SECRET = "bench-latest-secret"  # noqa: S105 - the webhook secret of local instances
WEBHOOK_URL = "https://bench.invalid/telegram/webhook"
# `tagwire run` with uvloop's event loop, the rest as `python -m bot run`.
UVLOOP_RUN = (
    "import runpy, sys, uvloop; uvloop.install(); sys.argv = ['tagwire', 'run']; "
    "runpy.run_module('bot', run_name='__main__', alter_sys=True)"
)
_TICKS = os.sysconf("SC_CLK_TCK")


def _stats(latencies: list[float]) -> dict[str, float]:
    return {
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies),
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of process `pid` so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


async def _storage_pass(target: DatabaseTarget, keys: list[str]) -> list[float]:
    store = await open_store(target)
    timings = []
    try:
        for key in keys:
            started = time.perf_counter()
            tag = (await store.find_tags([key]))[key]
            await store.latest_articles(tag.id, COUNT)
            timings.append(time.perf_counter() - started)
    finally:
        await store.close()
    return timings


# -- 2. the whole bot and its peer, polling ---------------------------------------------------


class Peer:
    """bench/peer_ptb_latest.py in a process of its own."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, api: str, database: Path, log: Path) -> Peer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAGWIRE_")}
        env["PYTHONPATH"] = str(ROOT)
        with log.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *("-m", "bench.peer_ptb_latest", "--api", api, "--database", str(database)),
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                cwd=ROOT,
                env=env,
            )
        assert process.stdout is not None
        if not await asyncio.wait_for(process.stdout.readline(), 60):
            await process.wait()
            raise RuntimeError(f"the peer did not start; see {log}")
        return cls(process)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


async def _until_polling(standin: StandIn) -> None:
    deadline = time.monotonic() + 30
    while not (await standin.command("polling"))["polling"]:
        if time.monotonic() > deadline:
            raise RuntimeError("the bot never polled for updates")
        await asyncio.sleep(0.05)


async def _polling_round(standin: StandIn, asked: list[list[Any]]) -> dict[str, float]:
    askers = [user for user, _ in asked]
    await standin.command("ask", messages=asked)
    deadline = time.monotonic() + 60
    while True:
        replies = (await standin.command("stats"))["replies"]
        latencies = [replies[str(u)] for u in askers if str(u) in replies]
        if len(latencies) == len(askers):
            return _stats(latencies)
        if time.monotonic() > deadline:
            raise RuntimeError("not every reader got an answer within 60 s")
        await asyncio.sleep(0.02)


async def _through_the_bot(
    args: argparse.Namespace,
    database: str,
    peer_database: Path,
    names: list[str],
    users: list[int],
) -> dict[str, Any]:
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    ours = await StandIn.start("emulator", latency=0.0, limits=False, log=logs / "latest-api.log")
    theirs = await StandIn.start(
        "emulator", latency=0.0, limits=False, log=logs / "latest-peer-api.log"
    )
    rounds: dict[str, list[dict[str, float]]] = {"tagwire": [], "peer": []}
    bot_result: dict[str, Any] = {}
    try:
        bot = await Served.start(
            ["--api", ours.url, "--database", database], log=logs / "latest-bot.log"
        )
        peer = await Peer.start(theirs.url, peer_database, logs / "latest-peer.log")
        try:
            await _until_polling(ours)
            await _until_polling(theirs)
            rng = random.Random(7)
            for number in range(args.rounds):
                askers = users[number * args.users : (number + 1) * args.users]
                asked = [[user, f"/latest {rng.choice(names)}"] for user in askers]
                # The same questions to both, one after the other, the first one alternating.
                order = [("tagwire", ours), ("peer", theirs)]
                for who, standin in order if number % 2 == 0 else order[::-1]:
                    rounds[who].append(await _polling_round(standin, asked))
                    print(f"/latest {who} round {number + 1}: {rounds[who][-1]}", flush=True)
                    await asyncio.sleep(1.0)
        finally:
            await peer.stop()
            bot_result = await bot.stop()
    finally:
        await ours.stop()
        await theirs.stop()
    return {"bot": rounds["tagwire"], "peer": rounds["peer"], "bot_process": bot_result}


# -- 3. instances in webhook mode --------------------------------------------------------------


async def serve_replies() -> None:
    """The lean Bot API stand-in of part 3: notes when each sendMessage arrives (the monotonic
    clock is the machine's, the same in every process). stdin: "take" answers the sends noted
    since the last take, "stop" ends it."""
    sends: list[tuple[int, float]] = []
    me = {"id": 7000000001, "is_bot": True, "first_name": "Tagwire", "username": "tagwire_bot"}
    message_ids: dict[int, int] = defaultdict(int)
    stopping = asyncio.Event()

    async def endpoint(request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        body = await request.read()
        params: dict[str, Any] = {}
        if body and request.content_type == "application/json":
            params = json.loads(body)
        elif body:
            params = dict(urllib.parse.parse_qsl(body.decode()))
        result: Any = True
        if method == "sendmessage":
            chat_id = int(params["chat_id"])
            sends.append((chat_id, time.monotonic()))
            message_ids[chat_id] += 1
            result = {
                "message_id": message_ids[chat_id],
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": me,
                "text": str(params.get("text", "")),
            }
        elif method == "getme":
            result = me
        elif method == "getwebhookinfo":
            result = {"url": WEBHOOK_URL, "has_custom_certificate": False}
            result["pending_update_count"] = 0
        elif method == "getupdates":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), 10)
            result = []
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", endpoint)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    print(json.dumps({"url": f"http://127.0.0.1:{sock.getsockname()[1]}/bot"}), flush=True)
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):
            if json.loads(line).get("cmd") == "stop":
                break
            taken, sends[:] = list(sends), []
            print(json.dumps({"sends": taken}), flush=True)
    finally:
        stopping.set()
        await runner.cleanup()


class Replies:
    """`python -m bench.latest --serve-replies` driven over its stdin and stdout."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process = process
        self.url = url

    @classmethod
    async def start(cls, log: Path) -> Replies:
        with log.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                *(sys.executable, "-m", "bench.latest", "--serve-replies"),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            raise RuntimeError(f"the stand-in did not start; see {log}")
        return cls(process, json.loads(line)["url"])

    async def take(self) -> list[tuple[int, float]]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(b'{"cmd": "take"}\n')
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), 60)
        return [(int(chat), float(moment)) for chat, moment in json.loads(line)["sends"]]

    async def stop(self) -> None:
        if self.process.stdin is not None and self.process.returncode is None:
            with contextlib.suppress(ConnectionError):
                self.process.stdin.write(b'{"cmd": "stop"}\n')
                await self.process.stdin.drain()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Instance:
    """`tagwire run` (python -m bot run) in webhook mode, configured by TAGWIRE_* variables."""

    def __init__(self, name: str, process: asyncio.subprocess.Process, port: int) -> None:
        self.name = name
        self.process = process
        self.base = f"http://127.0.0.1:{port}"
        self.webhook = self.base + urllib.parse.urlsplit(WEBHOOK_URL).path

    @classmethod
    async def start(
        cls, name: str, *, api: str, database: str, uvloop: bool, log: Path
    ) -> Instance:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAGWIRE_")}
        env.update(
            PYTHONPATH=str(ROOT),
            TAGWIRE_BOT_TOKEN=TOKEN,
            TAGWIRE_DATABASE=database,
            TAGWIRE_TELEGRAM_API_URL=api,
            TAGWIRE_WEBHOOK_URL=WEBHOOK_URL,
            TAGWIRE_WEBHOOK_SECRET=SECRET,
            TAGWIRE_HTTP_HOST="127.0.0.1",
            TAGWIRE_HTTP_PORT=str(port),
            TAGWIRE_INSTANCE_NAME=name,
            TAGWIRE_LOG_LEVEL="WARNING",
        )
        code = ["-c", UVLOOP_RUN] if uvloop else ["-m", "bot", "run"]
        with log.open("ab") as output:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *code,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
                cwd=ROOT,
                env=env,
            )
        return cls(name, process, port)

    async def ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise RuntimeError(f"instance {self.name} exited ({self.process.returncode})")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(self.base + "/healthz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"instance {self.name} never answered /healthz")

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


def _update(update_id: int, user: int, text: str) -> dict[str, Any]:
    person = {"id": user, "is_bot": False, "first_name": f"Reader {user}"}
    command = text.split(" ", 1)[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user, "type": "private", "first_name": person["first_name"]},
            "from": person,
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


async def _webhook_round(
    session: aiohttp.ClientSession,
    replies: Replies,
    targets: list[Instance],
    asked: list[tuple[int, str]],
    first_update: int,
    server_pids: list[int],
) -> dict[str, float]:
    await replies.take()
    cpu = [cpu_seconds(target.process.pid) for target in targets]
    # What else each command costs this machine: PostgreSQL's backends serving the instances,
    # the stand-in, and this script posting the updates.
    around = [sum(map(cpu_seconds, server_pids)), cpu_seconds(replies.process.pid)]
    around.append(time.process_time())
    posted: dict[int, float] = {}
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}

    async def post(index: int, user: int, text: str) -> None:
        target = targets[index % len(targets)]  # round-robin, as a load balancer
        posted[user] = time.monotonic()
        body = _update(first_update + index, user, text)
        for attempt in (1, 2):
            # A kept-alive connection the server closed as it was taken: post again, as
            # Telegram retries a webhook post that failed.
            try:
                async with session.post(target.webhook, json=body, headers=headers) as response:
                    if response.status != 200:
                        raise RuntimeError(f"{target.name} answered the webhook {response.status}")
                    return
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                if attempt == 2:
                    raise

    started = time.monotonic()
    await asyncio.gather(*(post(i, user, text) for i, (user, text) in enumerate(asked)))
    answered: dict[int, float] = {}
    deadline = time.monotonic() + 60
    while len(answered) < len(asked):
        if time.monotonic() > deadline:
            raise RuntimeError("not every reader got an answer within 60 s")
        await asyncio.sleep(0.02)
        for chat, moment in await replies.take():
            if chat in posted and chat not in answered and moment >= posted[chat]:
                answered[chat] = moment
    latencies = [answered[user] - posted[user] for user, _ in asked]
    wall = max(answered.values()) - started
    # The work of the last answers (its bookkeeping after sendMessage) lands in the round.
    await asyncio.sleep(0.2)
    used = sum(cpu_seconds(t.process.pid) for t in targets) - sum(cpu)
    server = sum(map(cpu_seconds, server_pids)) - around[0]
    standin = cpu_seconds(replies.process.pid) - around[1]
    client = time.process_time() - around[2]
    return {
        **_stats(latencies),
        "commands_per_second": len(asked) / wall,
        "cpu_ms_per_command": 1000 * used / len(asked),
        "postgres_cpu_ms_per_command": 1000 * server / len(asked),
        "standin_cpu_ms_per_command": 1000 * standin / len(asked),
        "bench_cpu_ms_per_command": 1000 * client / len(asked),
    }


MODES = ("one", "two", "one-uvloop")


async def _server_pids(database: str) -> list[int]:
    """The PostgreSQL backends connected to `database` (the instances' pools), when the server
    runs on this machine (its processes' CPU is then readable in /proc)."""
    connection = await asyncpg.connect(database, timeout=10)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row[0] for row in rows]


async def _instances(
    args: argparse.Namespace, database: str, names: list[str], users: list[int]
) -> dict[str, list[dict[str, float]]]:
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    modes = [m for m in MODES if m != "one-uvloop" or importlib.util.find_spec("uvloop")]
    rounds: dict[str, list[dict[str, float]]] = {mode: [] for mode in modes}
    replies = await Replies.start(logs / "latest-replies.log")
    instances: list[Instance] = []
    connector = aiohttp.TCPConnector(limit=0)
    try:
        async with aiohttp.ClientSession(connector=connector) as session:
            for number, uvloop in enumerate([False, False, "one-uvloop" in modes]):
                if number == 2 and not uvloop:
                    break
                instances.append(
                    await Instance.start(
                        f"bench-{number + 1}{'-uvloop' if uvloop else ''}",
                        api=replies.url,
                        database=database,
                        uvloop=uvloop,
                        log=logs / f"latest-instance-{number + 1}.log",
                    )
                )
                # One at a time: the first applies the migrations and takes the lead.
                await instances[-1].ready(session)
            await asyncio.sleep(1.0)
            server_pids = await _server_pids(database)
            targets = {"one": instances[:1], "two": instances[:2], "one-uvloop": instances[2:]}
            rng = random.Random(13)
            update_id = 1
            count = 0
            for number in range(args.rounds):
                # The modes take turns, the first one rotating, so that the machine's other
                # work falls on each alike.
                shift = number % len(modes)
                for mode in modes[shift:] + modes[:shift]:
                    askers = users[count : count + args.users]
                    count += args.users
                    asked = [(user, f"/latest {rng.choice(names)}") for user in askers]
                    result = await _webhook_round(
                        session, replies, targets[mode], asked, update_id, server_pids
                    )
                    update_id += len(asked)
                    rounds[mode].append(result)
                    print(f"/latest {mode} round {number + 1}: {result}", flush=True)
                    await asyncio.sleep(1.0)
    finally:
        for instance in instances:
            await instance.stop()
        await replies.stop()
    return rounds


def _med(runs: list[dict[str, float]], key: str) -> float | None:
    return median([run[key] for run in runs]) if runs else None


def _instance_rows(runs: dict[str, list[dict[str, float]]], users: int) -> list[Any]:
    one, two = runs.get("one", []), runs.get("two", [])
    ratio = None
    if one and two:
        ratio = median(
            [
                b["commands_per_second"] / a["commands_per_second"]
                for a, b in zip(one, two, strict=False)
            ]
        )
    rows = [
        info(f"webhook, 1 instance: p99 of {users} at once", _med(one, "p99_ms"), "ms"),
        info("webhook, 1 instance: p50", _med(one, "p50_ms"), "ms"),
        info("webhook, 1 instance: commands a second", _med(one, "commands_per_second"), "/s"),
        info("webhook, 1 instance: CPU a command", _med(one, "cpu_ms_per_command"), "ms"),
        at_most(
            f"webhook, 2 instances: p99 of {users} at once (median of {len(two)})",
            _med(two, "p99_ms"),
            200,
            "ms",
            "rounds: " + ", ".join(f"{r['p99_ms']:.0f}" for r in two) + " ms",
        ),
        info("webhook, 2 instances: p50", _med(two, "p50_ms"), "ms"),
        info("webhook, 2 instances: commands a second", _med(two, "commands_per_second"), "/s"),
        info("webhook, 2 instances: CPU a command", _med(two, "cpu_ms_per_command"), "ms"),
        info(
            "webhook, 2 instances: PostgreSQL's CPU a command",
            _med(two, "postgres_cpu_ms_per_command"),
            "ms",
            "stand-in "
            + number(_med(two, "standin_cpu_ms_per_command"))
            + " ms, this script posting updates "
            + number(_med(two, "bench_cpu_ms_per_command"))
            + " ms",
        ),
        at_least(
            "webhook: commands a second, 2 instances ÷ 1 (median of rounds)",
            ratio,
            1.7,
            "×",
        ),
    ]
    uv = runs.get("one-uvloop", [])
    if uv:
        rows += [
            info("webhook, 1 instance on uvloop: p99", _med(uv, "p99_ms"), "ms"),
            info(
                "webhook, 1 instance on uvloop: commands a second",
                _med(uv, "commands_per_second"),
                "/s",
            ),
            info(
                "webhook, 1 instance on uvloop: CPU a command",
                _med(uv, "cpu_ms_per_command"),
                "ms",
                "asyncio: "
                + ", ".join(f"{r['cpu_ms_per_command']:.2f}" for r in one)
                + "; uvloop: "
                + ", ".join(f"{r['cpu_ms_per_command']:.2f}" for r in uv),
            ),
        ]
    return rows


def _users(db: sqlite3.Connection, wanted: int) -> list[int]:
    """Private chats of the generated database, then made-up readers when it has too few."""
    found = [
        row[0]
        for row in db.execute(
            "SELECT id FROM chats WHERE type = 'private' ORDER BY random() LIMIT ?", (wanted,)
        )
    ]
    return found + [2_000_000_000 + n for n in range(wanted - len(found))]


def main() -> None:
    if sys.argv[1:] == ["--serve-replies"]:
        asyncio.run(serve_replies())
        return
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="of the generated database")
    arguments.add_argument("--queries", type=int, default=10_000, help="storage: random tags")
    arguments.add_argument("--passes", type=int, default=3, help="storage: passes over them")
    arguments.add_argument("--users", type=int, default=200, help="bot: readers at once")
    arguments.add_argument("--rounds", type=int, default=5, help="bot: times they ask")
    add_database_argument(arguments)
    args = arguments.parse_args()
    chosen: Backend = asyncio.run(backend(args.database))
    database, _ = ensure_database(args.cache, args.scale)
    copy = working_copy(database, args.out / "work" / "latest.db")
    db = sqlite3.connect(copy)
    try:
        tags = db.execute("SELECT key, name FROM tags WHERE story_count > 0").fetchall()
        users = _users(db, args.users * args.rounds * (1 + len(MODES)))
    finally:
        db.close()
    target = (
        asyncio.run(database_copy(chosen, database, "latest", args.out / "work"))
        if chosen.is_postgres
        else DatabaseTarget.sqlite(copy)
    )
    names = [name for _, name in tags]
    try:
        rng = random.Random(11)
        keys = [rng.choice(tags)[0] for _ in range(args.queries)]
        passes = []
        for number in range(args.passes):
            passes.append(_stats(asyncio.run(_storage_pass(target, keys))))
            print(f"storage pass {number + 1}: {passes[-1]}", flush=True)
        location = target.require_dsn() if chosen.is_postgres else str(copy)
        polled = asyncio.run(
            _through_the_bot(args, location, copy, names, users[: args.users * args.rounds])
        )
        instances: dict[str, list[dict[str, float]]] = {}
        if chosen.is_postgres:
            instances = asyncio.run(
                _instances(args, location, names, users[args.users * args.rounds :])
            )
    finally:
        if chosen.is_postgres:
            asyncio.run(remove(target))
        for suffix in ("", "-wal", "-shm"):
            copy.with_name(copy.name + suffix).unlink(missing_ok=True)
    rounds, peer, bot = polled["bot"], polled["peer"], polled["bot_process"]
    rows = [
        at_most(
            f"storage: p99 over {args.queries} random tags (median of {len(passes)} passes)",
            median([p["p99_ms"] for p in passes]),
            2,
            "ms",
            "p50 " + ", ".join(f"{p['p50_ms']:.2f}" for p in passes) + " ms",
        ),
        at_most(
            f"whole bot: p99 of {args.users} readers at once (median of {len(rounds)})",
            median([r["p99_ms"] for r in rounds]),
            100,
            "ms",
            "rounds: " + ", ".join(f"{r['p99_ms']:.0f}" for r in rounds) + " ms",
        ),
        info("whole bot: p50 of the same", median([r["p50_ms"] for r in rounds]), "ms"),
        info(
            "peer (python-telegram-bot + aiosqlite): p99 of the same",
            median([r["p99_ms"] for r in peer]),
            "ms",
            "rounds: " + ", ".join(f"{r['p99_ms']:.0f}" for r in peer) + " ms",
        ),
        info("peer: p50 of the same", median([r["p50_ms"] for r in peer]), "ms"),
        info("whole bot: peak RSS", bot.get("peak_rss_mb"), "MB"),
    ]
    if instances:
        rows += _instance_rows(instances, args.users)
    report(
        "latest",
        f"/latest <tag> (scale {args.scale:g})",
        rows,
        out=args.out,
        params={
            "scale": args.scale,
            "queries": args.queries,
            "passes": args.passes,
            "users": args.users,
            "rounds": args.rounds,
            "database": chosen.label,
        },
        details={
            "storage": passes,
            "bot": rounds,
            "peer": peer,
            "bot_process": bot,
            "instances": instances,
        },
        database=chosen.name if chosen.is_postgres else None,
    )


if __name__ == "__main__":
    main()
