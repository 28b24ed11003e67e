"""A follower's replies reach the leader as reports (bot/delivery/ratelimit.py, SendReports):
the replies of one moment in one report, none while this instance leads itself."""

from __future__ import annotations

import asyncio

from bot.delivery.ratelimit import SendReports


async def test_the_replies_of_one_moment_go_in_one_report() -> None:
    reports: list[tuple[str, int]] = []

    async def report(instance: str, count: int) -> None:
        reports.append((instance, count))

    sends = SendReports("b", report, wanted=lambda: True)
    for _ in range(5):
        sends.count()
    await sends.stop()
    sends.count()
    await sends.stop()
    assert reports == [("b", 5), ("b", 1)]


async def test_replies_counted_while_a_report_is_on_its_way_go_in_the_next() -> None:
    reports: list[int] = []
    sending = asyncio.Event()
    release = asyncio.Event()

    async def report(_: str, count: int) -> None:
        reports.append(count)
        sending.set()
        await release.wait()

    sends = SendReports("b", report, wanted=lambda: True)
    sends.count()
    await sending.wait()
    sends.count()
    sends.count()
    release.set()
    await sends.stop()
    assert reports == [1, 2]


async def test_a_leader_reports_nothing_and_a_failed_report_is_forgotten() -> None:
    leading = True
    calls: list[int] = []

    async def report(_: str, count: int) -> None:
        calls.append(count)
        raise OSError("the database is gone")

    sends = SendReports("a", report, wanted=lambda: not leading)
    sends.count()
    await sends.stop()
    assert calls == []
    leading = False
    sends.count()
    await sends.stop()
    sends.count()
    await sends.stop()
    assert calls == [1, 1]
