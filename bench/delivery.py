"""Delivery at Telegram's limits: the real bot (bench.botproc) against a Bot API stand-in in
another process, every call taking `--latency` (100 ms), beside the loops other bots use.

1. Limits enforced (the emulator answers 429 past 30/s overall, 1/s a private chat, 20/min a
   group) for `--seconds` (60): a hot tag whose few followers get story after story (per-chat
   spacing under load) and one story of a big tag. Target: ≥ 95 % of TAGWIRE_RATE_LIMIT, no
   429, no chat above its limit.
2. No limit (the paid-broadcast ceiling): one story of the top tag (50 000 followers at full
   scale) through the lean stand-in; the bot's own cap is lifted so that the send path is what
   is measured. Target: ≥ 2 000 messages/s, ≤ 0.4 ms of the bot's CPU a message; python-
   telegram-bot's HTTPXRequest is measured the same way beside tagwire's AiohttpRequest.
3. Peak RSS of the bot through both, and with a fifth of the recipients (flat, not growing).

With `--database postgresql://…` the bot under test keeps its outbox in PostgreSQL (a copy of
the generated database there, bench/backends.py).

    python -m bench.delivery [--scale 1] [--seconds 60] [--repeat 3] [--database postgresql://…]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from typing import Any

from bench.backends import add_database_argument, backend, ensure_postgres, remove, working_copy
from bench.common import Row, at_least, at_most, exactly, info, median, parser, report
from bench.generate import Database, ensure_database
from bench.outbox import Outbox, make_outbox, reset, tag_near
from bench.procs import StandIn, run_json
from bot.delivery.config import DeliveryConfig
from storage.url import DatabaseTarget

RATE_LIMIT = 25.0
UNCAPPED = 1_000_000.0
HOT_FOLLOWERS = 40


async def _tagwire(
    args: argparse.Namespace,
    database: DatabaseTarget,
    outbox: Outbox,
    *,
    kind: str,
    limits: bool,
    bot_args: list[str],
    label: str,
) -> dict[str, Any]:
    await reset(database, outbox)
    logs = args.out / "logs"
    standin = await StandIn.start(
        kind, latency=args.latency, limits=limits, log=logs / f"standin-{label}.log"
    )
    try:
        if kind == "emulator":
            await _register(standin, outbox)
        bot = await run_json(
            "bench.botproc",
            ["--api", standin.url, "--database", database.dsn or str(database.path), *bot_args],
            log=logs / f"bot-{label}.log",
            limit=args.seconds * 3 + 600,
        )
        served = await standin.command("stats")
    finally:
        await standin.stop()
    return {"who": label, "bot": bot, "standin": _summary(served)}


async def _peer(
    args: argparse.Namespace,
    outbox: Outbox,
    peer: str,
    *,
    kind: str,
    limits: bool,
    peer_args: list[str],
    label: str,
) -> dict[str, Any]:
    logs = args.out / "logs"
    messages = args.out / "work" / f"messages-{outbox.name}.json"
    messages.write_text(json.dumps(outbox.messages))
    standin = await StandIn.start(
        kind, latency=args.latency, limits=limits, log=logs / f"standin-{label}.log"
    )
    try:
        if kind == "emulator":
            await _register(standin, outbox)
        result = await run_json(
            "bench.peers",
            [peer, "--api", standin.url, "--messages", str(messages), *peer_args],
            log=logs / f"{label}.log",
            limit=args.peer_seconds * 3 + 600,
        )
        served = await standin.command("stats")
    finally:
        await standin.stop()
    return {"who": label, "bot": result, "standin": _summary(served)}


async def _register(standin: StandIn, outbox: Outbox) -> None:
    users = [chat_id for chat_id, chat_type in outbox.chats if chat_type == "private"]
    groups = [[chat_id, kind] for chat_id, kind in outbox.chats if kind != "private"]
    await standin.command("chats", users=users, groups=groups)


def _summary(stats: dict[str, Any]) -> dict[str, Any]:
    first, last, accepted = stats.get("first"), stats.get("last"), stats["accepted"]
    window = (last - first) if first is not None and last is not None else 0.0
    stats = {key: value for key, value in stats.items() if key != "replies"}
    stats["window_seconds"] = window
    stats["rate"] = (accepted - 1) / window if accepted > 1 and window > 0 else None
    return stats


def _limited_rows(runs: list[dict[str, Any]], peers: list[dict[str, Any]]) -> list[Row]:
    rates = [run["standin"]["rate"] or 0.0 for run in runs]
    statuses = [run["standin"]["statuses"] for run in runs]
    too_many = sum(int(status.get("429", 0)) for status in statuses)
    too_many += sum(int(run["bot"]["failed"].get("429", 0)) for run in runs)
    per_chat = max(run["standin"]["max_private_per_second"] for run in runs)
    per_group = max(run["standin"]["max_group_per_minute"] for run in runs)
    gaps = [g for run in runs if (g := run["standin"]["min_private_gap"]) is not None]
    rows = [
        at_least(
            f"limits on, 100 ms a call: messages/s (median of {len(runs)})",
            median(rates),
            0.95 * RATE_LIMIT,
            "msg/s",
            f"TAGWIRE_RATE_LIMIT={RATE_LIMIT:g}; runs: "
            + ", ".join(f"{rate:.2f}" for rate in rates),
        ),
        exactly("limits on: 429 answers (all runs)", too_many, 0, ""),
        at_most("limits on: most messages to one private chat in 1 s", per_chat, 1, "msg"),
        at_most("limits on: most messages to one group in 60 s", per_group, 20, "msg"),
        info(
            "limits on: shortest gap between two messages to one chat",
            min(gaps) if gaps else None,
            "s",
        ),
        info(
            "limits on: tagwire CPU per message",
            median([run["bot"].get("cpu_ms_per_message") or math.nan for run in runs]),
            "ms",
        ),
    ]
    for peer in peers:
        rows.append(
            info(
                f"limits on, peer {peer['who']}: messages/s",
                peer["bot"]["rate"],
                "msg/s",
                f"{peer['bot']['failed']['429']} × 429, "
                f"{_number(peer['bot']['cpu_ms_per_message'])} ms CPU a message",
            )
        )
    return rows


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _unlimited_rows(
    size: int,
    ours: list[dict[str, Any]],
    httpx: list[dict[str, Any]],
    peers: list[dict[str, Any]],
) -> list[Row]:
    rates = [run["standin"]["rate"] or 0.0 for run in ours]
    cpu = [run["bot"].get("cpu_ms_per_message") or math.nan for run in ours]
    rows = [
        at_least(
            f"no limit, {size} recipients: messages/s end to end (median of {len(ours)})",
            median(rates),
            2000,
            "msg/s",
            "runs: " + ", ".join(f"{rate:.0f}" for rate in rates),
        ),
        at_most(
            "no limit: tagwire CPU per message (AiohttpRequest)",
            median(cpu),
            0.4,
            "ms",
            "runs: " + ", ".join(f"{value:.3f}" for value in cpu),
        ),
        exactly(
            "no limit: messages lost or failed",
            sum(size - run["standin"]["accepted"] for run in ours)
            + sum(sum(run["bot"]["failed"].values()) for run in ours),
            0,
            "",
        ),
    ]
    if httpx:
        rows.append(
            info(
                "no limit: tagwire with HTTPXRequest, messages/s",
                median([run["standin"]["rate"] or 0.0 for run in httpx]),
                "msg/s",
                "CPU a message "
                + _number(median([run["bot"].get("cpu_ms_per_message") or 0 for run in httpx]))
                + " ms",
            )
        )
    for name in sorted({peer["who"] for peer in peers}):
        runs = [peer for peer in peers if peer["who"] == name]
        rows.append(
            info(
                f"no limit, peer {name}: messages/s",
                median([run["bot"]["rate"] or 0.0 for run in runs]),
                "msg/s",
                "CPU a message "
                + _number(median([run["bot"]["cpu_ms_per_message"] or 0 for run in runs]))
                + " ms",
            )
        )
    return rows


async def _limited(
    args: argparse.Namespace, work: DatabaseTarget, outbox: Outbox
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    capped = ["--rate", str(RATE_LIMIT), "--seconds", str(args.seconds)]
    runs = []
    for number in range(args.repeat):
        runs.append(
            await _tagwire(
                args,
                work,
                outbox,
                kind="emulator",
                limits=True,
                bot_args=capped,
                label=f"limited-{number}",
            )
        )
        print(f"limits on, run {number + 1}: {runs[-1]['standin']['rate']:.2f} msg/s", flush=True)
    window = DeliveryConfig(rate_limit=RATE_LIMIT).max_in_flight
    peers = [
        await _peer(
            args,
            outbox,
            "naive",
            kind="emulator",
            limits=True,
            peer_args=["--seconds", str(args.peer_seconds)],
            label="naive",
        ),
        await _peer(
            args,
            outbox,
            "bare",
            kind="emulator",
            limits=True,
            peer_args=[
                "--seconds",
                str(args.peer_seconds),
                "--rate",
                str(RATE_LIMIT),
                "--window",
                str(window),
            ],
            label="bare",
        ),
    ]
    return runs, peers


async def _broadcast(
    args: argparse.Namespace, work: DatabaseTarget, outbox: Outbox, small: Outbox
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    uncapped = ["--rate", str(UNCAPPED), "--expect", str(outbox.size)]
    httpx_expect = min(outbox.size, args.httpx_messages)
    ours, httpx, peers = [], [], []
    for number in range(args.repeat):
        ours.append(
            await _tagwire(
                args,
                work,
                outbox,
                kind="lean",
                limits=False,
                bot_args=uncapped,
                label=f"broadcast-aiohttp-{number}",
            )
        )
        print(f"no limit, run {number + 1}: {ours[-1]['standin']['rate']:.0f} msg/s", flush=True)
        httpx.append(
            await _tagwire(
                args,
                work,
                outbox,
                kind="lean",
                limits=False,
                bot_args=[
                    "--rate",
                    str(UNCAPPED),
                    "--expect",
                    str(httpx_expect),
                    "--request",
                    "httpx",
                ],
                label=f"broadcast-httpx-{number}",
            )
        )
        peers.append(
            await _peer(
                args,
                outbox,
                "bare",
                kind="lean",
                limits=False,
                peer_args=["--seconds", str(args.peer_seconds * 3), "--window", "512"],
                label="bare",
            )
        )
    peers.append(
        await _peer(
            args,
            outbox,
            "naive",
            kind="lean",
            limits=False,
            peer_args=["--seconds", str(args.peer_seconds)],
            label="naive",
        )
    )
    fifth = await _tagwire(
        args,
        work,
        small,
        kind="lean",
        limits=False,
        bot_args=["--rate", str(UNCAPPED), "--expect", str(small.size)],
        label="broadcast-fifth",
    )
    return ours, httpx, peers, fifth


async def _main(args: argparse.Namespace) -> None:
    database, _ = await asyncio.to_thread(ensure_database, args.cache, args.scale)
    chosen = await backend(args.database)
    if chosen.is_postgres:
        await ensure_postgres(chosen, database)
    for folder in ("logs", "work"):
        (args.out / folder).mkdir(parents=True, exist_ok=True)
    work = await working_copy(chosen, database, f"delivery-scale{args.scale:g}", args.out / "work")
    try:
        await _measure(args, database, chosen.name, chosen.label, work)
    finally:
        await remove(work)


async def _measure(
    args: argparse.Namespace,
    database: Database,
    backend_name: str,
    label: str,
    work: DatabaseTarget,
) -> None:

    needed = math.ceil(RATE_LIMIT * args.seconds * 1.3)
    hot_tag, hot_followers = await tag_near(work, HOT_FOLLOWERS)
    big_tag, _ = await tag_near(work, needed // 2, exclude=(hot_tag,))
    limited = await make_outbox(
        work,
        "limited",
        [(hot_tag, max(1, math.ceil(needed / 2 / max(1, hot_followers)))), (big_tag, 1)],
    )
    top = database.top_tag
    if args.size is None or args.size >= top["followers"]:
        broadcast_tag = str(top["name"])
    else:
        broadcast_tag, _ = await tag_near(work, args.size, exclude=(hot_tag, big_tag))
    broadcast = await make_outbox(work, "broadcast", [(broadcast_tag, 1)])
    small_tag, _ = await tag_near(
        work, max(1, broadcast.size // 5), exclude=(hot_tag, big_tag, broadcast_tag)
    )
    small = await make_outbox(work, "broadcast-fifth", [(small_tag, 1)])

    print(
        f"limited outbox: {limited.size} deliveries ({limited.tags}); broadcast: "
        f"{broadcast.size}; a fifth: {small.size}",
        flush=True,
    )
    details: dict[str, Any] = {}
    rows: list[Row] = []
    rss: list[float] = []
    if args.only != "broadcast":
        runs, peers = await _limited(args, work, limited)
        details.update(limited=runs, limited_peers=peers)
        rows.extend(_limited_rows(runs, peers))
        rss.extend(run["bot"]["peak_rss_mb"] or 0.0 for run in runs)
    if args.only != "limited":
        ours, httpx, peers, fifth = await _broadcast(args, work, broadcast, small)
        details.update(
            broadcast_aiohttp=ours,
            broadcast_httpx=httpx,
            broadcast_peers=peers,
            broadcast_fifth=fifth,
        )
        rows.extend(_unlimited_rows(broadcast.size, ours, httpx, peers))
        rss_big = max(run["bot"]["peak_rss_mb"] or 0.0 for run in ours)
        rss_small = fifth["bot"]["peak_rss_mb"] or 0.0
        rss.extend((rss_big, rss_small))
        rows.append(
            at_most(
                f"peak RSS growth from {small.size} to {broadcast.size} recipients",
                rss_big - rss_small,
                10,
                "MB",
                f"{rss_small:.1f} MB → {rss_big:.1f} MB",
            )
        )
    rows.append(at_most("peak RSS of the bot through the delivery runs", max(rss), 150, "MB"))
    report(
        "delivery",
        f"Delivery, {args.latency * 1000:.0f} ms a call ({backend_name})",
        rows,
        out=args.out,
        params={
            "scale": args.scale,
            "seconds": args.seconds,
            "latency": args.latency,
            "repeat": args.repeat,
            "rate_limit": RATE_LIMIT,
            "limited_outbox": {"size": limited.size, "tags": limited.tags},
            "broadcast_outbox": {"size": broadcast.size, "tags": broadcast.tags},
            "fifth_outbox": {"size": small.size, "tags": small.tags},
            "database": label,
        },
        details=details,
        database=backend_name,
    )


def main() -> None:
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--scale", type=float, default=1.0, help="of the generated database")
    arguments.add_argument("--seconds", type=float, default=60.0, help="of the limits-on run")
    arguments.add_argument("--latency", type=float, default=0.1, help="seconds a call")
    arguments.add_argument("--size", type=int, help="recipients of the no-limit run")
    arguments.add_argument("--repeat", type=int, default=3)
    arguments.add_argument("--only", choices=("limited", "broadcast"), help="run one part")
    arguments.add_argument("--peer-seconds", type=float, default=10.0)
    arguments.add_argument(
        "--httpx-messages", type=int, default=3_000, help="messages of an HTTPXRequest run"
    )
    add_database_argument(arguments)
    asyncio.run(_main(arguments.parse_args()))


if __name__ == "__main__":
    main()
