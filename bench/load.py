"""Many readers at once: 2 000 distinct users send commands through the Bot API stand-in for
60 s while a story fans out to 1 500 other chats. Every update must be handled and every
command answered exactly once; the table reports the reply times (p50, p95, p99, max), the
fan-out's progress meanwhile and what the bot process used.

The stand-in and the users run in this process; the bot is `tagwire run` in a child process,
as in production. Each user waits for the answer to a command, then 2.5-10 s, then sends the
next (at most 24 a minute, under TAGWIRE_USER_COMMANDS_PER_MINUTE's 30): all of them start
at the same moment, then spread out.

    python -m bench.load [--users 2000] [--duration 60] [--fanout 5000]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import Row, exactly, info, parser, peak_rss_mb, percentile, report
from bot.emulator import BotApiEmulator
from bot.tags import parse_tag
from storage.sqlite import SqliteStore

TOKEN = "123456789:AAEhBP0av28kjH9fTdL4KCLGrsGUk3w6Jq8"  # noqa: S105 - the stand-in's own
FIRST_USER = 10_000_000
FIRST_FOLLOWER = 50_000_000
COMMANDS: tuple[str, ...] = (
    "/start",
    "/help",
    "/tags",
    "/latest Japan",
    "/latest",
    "/following",
    "/follow Brazil",
    "/unfollow Brazil",
    "/settings",
    "/search Japan",
    "/muted",
)


@dataclass
class User:
    id: int
    sent_at: float = 0.0
    waiting: asyncio.Future[float] | None = None
    replies: int = 0


@dataclass
class Load:
    users: dict[int, User]
    followers: range
    fanout_complete: asyncio.Event = field(default_factory=asyncio.Event)
    fanout_sent: int = 0
    started: float = 0.0
    sent: int = 0
    answered: int = 0
    extra_replies: int = 0
    throttled: int = 0
    latencies: list[float] = field(default_factory=list)
    # The reply times of each user's first command, all sent at the same moment.
    burst: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    def on_event(self, kind: str, payload: dict[str, Any]) -> None:
        """The stand-in's record of each call the bot makes: a reply ends a user's wait."""
        if kind != "call" or payload["method"].lower() != "sendmessage":
            return
        if payload["status"] != 200:
            self.errors[str(payload["status"])] += 1
            return
        chat_id = payload["params"].get("chat_id")
        if chat_id in self.followers:
            self.fanout_sent += 1
            if self.fanout_sent >= len(self.followers):
                self.fanout_complete.set()
            return
        user = self.users.get(chat_id)
        if user is None:
            return
        if "That is a lot of commands" in str(payload["params"].get("text", "")):
            self.throttled += 1
        if user.waiting is not None and not user.waiting.done():
            user.waiting.set_result(payload["at"])
        else:
            self.extra_replies += 1


async def seed(database: Path, users: Sequence[int], followers: Sequence[int]) -> None:
    store = await SqliteStore.open(database)
    try:
        japan = parse_tag("Japan")
        for chat in followers:
            await store.register_chat(chat, "private", None)
            await store.follow(chat, [(japan.name, japan.key)], 100, 0.0)
        for chat in users:
            await store.register_chat(chat, "private", None)
        stories = [
            {"url": f"https://bench.example.com/{n}", "title": f"Story {n}", "tags": ["Japan"]}
            for n in range(1, 21)
        ]
        from bot.intake.ingest import Ingestor, records_of

        await Ingestor(store).ingest(records_of(stories), notify=False)
    finally:
        await store.close()


async def push_story(database: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
    env["TAGWIRE_DATABASE"] = str(database)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "push",
        "-",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    record = '{"url": "https://bench.example.com/big", "title": "Big story", "tags": ["Japan"]}'
    output, _ = await process.communicate(record.encode())
    if process.returncode != 0:
        raise RuntimeError(f"tagwire push failed: {output.decode()}")


async def user_loop(
    emulator: BotApiEmulator,
    load: Load,
    user: User,
    until: float,
    rng: random.Random,
    think: tuple[float, float],
) -> None:
    loop = asyncio.get_running_loop()
    first = True
    while time.monotonic() < until:
        user.waiting = loop.create_future()
        user.sent_at = time.monotonic()
        emulator.send_text(user.id, user.id, rng.choice(COMMANDS))
        load.sent += 1
        try:
            answered_at = await asyncio.wait_for(user.waiting, timeout=60)
        except TimeoutError:
            return
        load.answered += 1
        load.latencies.append(answered_at - user.sent_at)
        if first:
            load.burst.append(answered_at - user.sent_at)
            first = False
        await asyncio.sleep(max(0.0, min(rng.uniform(*think), until - time.monotonic())))


async def run(args: Any, workdir: Path) -> tuple[list[Row], dict[str, Any]]:
    database = workdir / "bench-load.db"
    users = [FIRST_USER + n for n in range(args.users)]
    followers = range(FIRST_FOLLOWER, FIRST_FOLLOWER + args.fanout)
    seeded = time.perf_counter()
    await seed(database, users, followers)
    seed_seconds = time.perf_counter() - seeded
    rng = random.Random(args.seed)
    load = Load({user: User(user) for user in users}, followers)

    async with BotApiEmulator(token=TOKEN, latency=args.latency) as emulator:
        for chat in [*users, *followers]:
            emulator.add_user(chat)
        env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
        env.update(
            TAGWIRE_BOT_TOKEN=TOKEN,
            TAGWIRE_DATABASE=str(database),
            TAGWIRE_TELEGRAM_API_URL=emulator.base_url,
            TAGWIRE_RATE_LIMIT=str(args.rate_limit),
            TAGWIRE_LOG_LEVEL="WARNING",
        )
        log = (workdir / "bot.log").open("wb")
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", env=env, stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 60
            while not emulator.polling:
                if time.monotonic() > deadline or bot.returncode is not None:
                    raise RuntimeError("the bot did not start; see bot.log")
                await asyncio.sleep(0.05)
            unsubscribe = emulator.subscribe(load.on_event)
            await push_story(database)
            load.started = time.monotonic()
            until = load.started + args.duration
            tasks = [
                asyncio.create_task(
                    user_loop(
                        emulator,
                        load,
                        user,
                        until,
                        random.Random(rng.random()),
                        (args.think_min, args.think_max),
                    )
                )
                for user in load.users.values()
            ]
            await asyncio.gather(*tasks)
            load_seconds = time.monotonic() - load.started
            fanout_during = load.fanout_sent
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    load.fanout_complete.wait(), max(60.0, args.fanout / args.rate_limit * 2)
                )
            fanout_seconds = time.monotonic() - load.started
            fanout_done = load.fanout_sent
            # Anything still to come (a late reply, a second answer) shows up now.
            await asyncio.sleep(1.0)
            unsubscribe()
            pending_updates = len(emulator.pending_updates())
            rss = peak_rss_mb(bot.pid)
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bot.wait(), timeout=30)
            if bot.returncode is None:
                bot.kill()
                await bot.wait()
            log.close()
        exit_code = bot.returncode

    latencies = load.latencies
    later = sorted(latencies)
    for value in load.burst:
        later.remove(value)
    rows = [
        info("users", args.users, "", "distinct, each in its own private chat"),
        info("commands sent", load.sent, "", f"in {load_seconds:.0f} s"),
        info("commands a second", load.sent / load_seconds if load_seconds else None, "/s"),
        exactly("commands unanswered", load.sent - load.answered, 0, ""),
        exactly("second answers", load.extra_replies, 0, ""),
        exactly("updates left unconfirmed", pending_updates, 0, ""),
        exactly("throttle notices", load.throttled, 0, "", "every user stays under 30 a minute"),
        info("reply time p50", percentile(latencies, 0.50), "s"),
        info("reply time p95", percentile(latencies, 0.95), "s"),
        info("reply time p99", percentile(latencies, 0.99), "s"),
        info("reply time max", max(latencies) if latencies else None, "s"),
        info(
            "reply time p99, first commands",
            percentile(load.burst, 0.99),
            "s",
            f"{len(load.burst)} sent at the same moment",
        ),
        info("reply time p99, the others", percentile(later, 0.99), "s"),
        exactly("fan-out delivered", fanout_done, args.fanout, ""),
        info("fan-out delivered during the load", fanout_during, ""),
        info("fan-out done after", fanout_seconds, "s", f"rate limit {args.rate_limit}/s"),
        info(
            "failed Bot API answers",
            sum(load.errors.values()),
            "",
            "the stand-in does not enforce Telegram's 30 messages a second here",
        ),
        info("bot peak RSS", rss, "MB"),
        exactly("bot exit status", exit_code, 0, "", "after SIGTERM"),
    ]
    details = {
        "seed_seconds": seed_seconds,
        "latencies": sorted(latencies),
        "errors": dict(load.errors),
    }
    return rows, details


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--users", type=int, default=2000)
    arguments.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    arguments.add_argument("--fanout", type=int, default=1500, help="chats the story goes to")
    arguments.add_argument("--rate-limit", type=float, default=25.0, help="TAGWIRE_RATE_LIMIT")
    arguments.add_argument("--latency", type=float, default=0.02, help="stand-in's latency, s")
    arguments.add_argument("--think-min", type=float, default=2.5)
    arguments.add_argument("--think-max", type=float, default=10.0)
    arguments.add_argument("--seed", type=int, default=20261129)
    args = arguments.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tagwire-load-") as folder:
        rows, details = asyncio.run(run(args, Path(folder)))
    document = report(
        "load",
        f"{args.users} users for {args.duration:g} s during a fan-out to {args.fanout}",
        rows,
        out=args.out,
        params={
            key: getattr(args, key)
            for key in (
                "users",
                "duration",
                "fanout",
                "rate_limit",
                "latency",
                "think_min",
                "think_max",
                "seed",
            )
        },
        details=details,
    )
    return 0 if document["passed"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
