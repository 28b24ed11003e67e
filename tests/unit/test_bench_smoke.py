"""Each benchmark still runs and reports: at a tiny size, in seconds. The targets are not
checked here (they are for the full sizes, see docs/performance.md); the report's shape is.
Those that take `--database postgresql://…` run on PostgreSQL too, each in a fresh database
(dropped afterwards with the working copies the benchmark made beside it)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.commands import environment, run_command
from tests.support.harness import ROOT
from tests.support.postgres import connect, create_database, database_url, drop_database

TINY = ["--scale", "0.001"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny generated database for every benchmark of this module."""
    folder = tmp_path_factory.mktemp("bench-cache")
    run_bench("generate", *TINY, "--cache", str(folder), out=folder)
    return folder


async def _drop_with_copies(name: str) -> None:
    admin = await connect(database_url("postgres"))
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname || '_', $1 || '_')",
            name,
        )
    finally:
        await admin.close()
    for row in rows:
        await drop_database(row[0])


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_args(request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """No argument (the generated SQLite file), or `--database` with a fresh PostgreSQL one."""
    if request.param == "sqlite":
        yield []
        return
    name = asyncio.run(create_database())
    try:
        yield ["--database", database_url(name)]
    finally:
        asyncio.run(_drop_with_copies(name))


def run_bench(name: str, *args: str, out: Path) -> tuple[str, dict[str, Any]]:
    command = [sys.executable, "-m", f"bench.{name}", *args, "--out", str(out)]
    done = run_command(*command, cwd=ROOT, env=environment(), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((out / f"{name}.json").read_text())
    return done.stdout, report


def assert_well_formed(name: str, stdout: str, report: dict[str, Any]) -> None:
    assert report["bench"] == name
    assert report["machine"]["nproc"] >= 1
    assert f"-m bench.{name} " in report["command"]
    assert report["rows"], "a report has at least one row"
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("metric"))
    assert lines[header].split() == ["metric", "target", "measured", "result"]
    for row, line in zip(report["rows"], lines[header + 2 :], strict=False):
        assert set(row) == {"metric", "target", "measured", "unit", "passed", "note"}
        assert line.startswith(row["metric"])
        if row["passed"] is None:
            assert row["target"] == ""
        else:
            assert isinstance(row["measured"], int | float), row
            assert row["target"][:1] in {"≥", "≤", "="}
            assert ("pass" if row["passed"] else "FAIL") in line
    assert isinstance(report["passed"], bool)


def test_generator_reports_the_sizes_it_built(cache: Path, tmp_path: Path) -> None:
    stdout, report = run_bench("generate", *TINY, "--cache", str(cache), out=tmp_path)
    assert_well_formed("generate", stdout, report)
    counts = report["details"]["counts"]
    assert counts["chats"] == 100
    assert counts["stories"] == 1000
    assert "cached" in stdout


def assert_backend(stdout: str, report: dict[str, Any], backend_args: list[str]) -> None:
    """The table names the database it measured."""
    name = "PostgreSQL" if backend_args else "SQLite"
    assert f", {name} " in stdout.splitlines()[stdout.splitlines().index("") + 1]
    assert report["params"]["database"] == name.lower()


def test_generator_copies_into_postgresql(cache: Path, tmp_path: Path) -> None:
    name = asyncio.run(create_database())
    try:
        url = database_url(name)
        stdout, report = run_bench(
            "generate", *TINY, "--cache", str(cache), "--database", url, out=tmp_path
        )
        assert_well_formed("generate", stdout, report)
        copied = report["details"]["postgresql"]
        assert copied["copied"]
        assert copied["rows"] > 1000
        assert "copied now" in stdout
        _, again = run_bench(
            "generate", *TINY, "--cache", str(cache), "--database", url, out=tmp_path
        )
        assert not again["details"]["postgresql"]["copied"]
    finally:
        asyncio.run(_drop_with_copies(name))


def test_push_benchmark_reports_a_rate_and_its_breakdown(
    cache: Path, tmp_path: Path, backend_args: list[str]
) -> None:
    stdout, report = run_bench(
        "push",
        *TINY,
        *("--size", "300", "--repeat", "1", "--cache", str(cache)),
        *backend_args,
        out=tmp_path,
    )
    assert_well_formed("push", stdout, report)
    assert_backend(stdout, report, backend_args)
    assert report["details"]["runs"][0]["output"].startswith("added 300,")


def test_fanout_benchmark_reports_the_top_tags_followers(
    cache: Path, tmp_path: Path, backend_args: list[str]
) -> None:
    stdout, report = run_bench(
        "fanout",
        *TINY,
        *("--repeat", "2", "--filtering", "0.2", "--cache", str(cache)),
        *backend_args,
        out=tmp_path,
    )
    assert_well_formed("fanout", stdout, report)
    assert_backend(stdout, report, backend_args)
    followers = report["params"]["tag"]["followers"]
    recipients = {run["recipients"] for run in report["details"]["runs"]}
    assert recipients == {followers}
    # A fifth of the followers with words, half `only` and half `except`, side by side with
    # the plain runs; the words stop some of the story's deliveries, and the same each run.
    words = report["params"]["filtering"]
    assert words["follows"] == round(followers * 0.2)
    assert words["only"] + words["except"] == words["follows"]
    assert abs(words["only"] - words["except"]) <= 1
    filtered = {run["recipients"] for run in report["details"]["filtering_runs"]}
    assert len(report["details"]["filtering_runs"]) == 2
    assert len(filtered) == 1
    assert followers - words["follows"] <= filtered.pop() < followers
    metrics = [row["metric"] for row in report["rows"] if row["passed"] is not None]
    assert [metric.split(":")[0] for metric in metrics] == ["plain", "20 % filtering"]


def test_latest_benchmark_answers_every_reader(
    cache: Path, tmp_path: Path, backend_args: list[str]
) -> None:
    stdout, report = run_bench(
        "latest",
        *TINY,
        *("--queries", "50", "--passes", "1", "--users", "5", "--rounds", "1"),
        *("--cache", str(cache)),
        *backend_args,
        out=tmp_path,
    )
    assert_well_formed("latest", stdout, report)
    assert_backend(stdout, report, backend_args)
    details = report["details"]
    assert len(details["bot"]) == 1
    assert len(details["peer"]) == 1
    # One and two instances in webhook mode: PostgreSQL only (one database, several processes).
    if backend_args:
        assert len(details["instances"]["one"]) == 1
        assert len(details["instances"]["two"]) == 1
        assert details["instances"]["two"][0]["commands_per_second"] > 0
    else:
        assert details["instances"] == {}


def test_request_benchmark_compares_the_send_paths(tmp_path: Path) -> None:
    stdout, report = run_bench(
        "request",
        *("--messages", "20", "--windows", "4", "--latency", "0.01", "--repeat", "1"),
        out=tmp_path,
    )
    assert_well_formed("request", stdout, report)
    assert set(report["details"]) == {
        f"{name}, 4 in flight" for name in ("bare aiohttp", "AiohttpRequest", "HTTPXRequest")
    }


def test_delivery_benchmark_runs_every_contender(
    cache: Path, tmp_path: Path, backend_args: list[str]
) -> None:
    stdout, report = run_bench(
        "delivery",
        *TINY,
        *("--seconds", "1", "--repeat", "1", "--peer-seconds", "0.5", "--latency", "0.01"),
        *("--cache", str(cache)),
        *backend_args,
        out=tmp_path,
    )
    assert_well_formed("delivery", stdout, report)
    assert_backend(stdout, report, backend_args)
    details = report["details"]
    assert details["limited"][0]["standin"]["accepted"] > 0
    assert {peer["who"] for peer in details["broadcast_peers"]} == {"naive", "bare"}
    assert (
        details["broadcast_aiohttp"][0]["standin"]["accepted"]
        == (report["params"]["broadcast_outbox"]["size"])
    )


def test_pool_reset_benchmark_measures_both_pools(tmp_path: Path) -> None:
    name = asyncio.run(create_database())
    try:
        stdout, report = run_bench(
            "pool_reset",
            "--database",
            database_url(name),
            "--rounds",
            "2",
            "--calls",
            "20",
            out=tmp_path,
        )
    finally:
        asyncio.run(_drop_with_copies(name))
    assert_well_formed("pool_reset", stdout, report)
    measured = {row["metric"]: row["measured"] for row in report["rows"]}
    for pool in ("asyncpg's reset", "no reset"):
        assert measured[f"{pool}: /latest a second"] > 0
        assert measured[f"{pool}: p99"] >= measured[f"{pool}: p50 of a /latest"] > 0


def test_api_benchmark_times_both_handlers_side_by_side(tmp_path: Path) -> None:
    stdout, report = run_bench("api", "--stories", "5", "--warmup", "1", out=tmp_path)
    assert_well_formed("api", stdout, report)
    for handlers in ("starlette", "fastapi"):
        assert len(report["details"]["timings_ms"][handlers]["post"]) == 5
        assert report["details"]["medians_ms"][handlers]["post"] > 0
