"""Child processes of a benchmark: the Bot API stand-in, the bot, the peers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from bench.common import ROOT


def _env() -> dict[str, str]:
    # The bot under test takes its settings from the command line only.
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
    env["PYTHONPATH"] = str(ROOT)
    return env


class StandIn:
    """`python -m bench.standin` driven over its stdin and stdout."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self._process = process
        self.url = url
        self.pid = process.pid

    @classmethod
    async def start(cls, kind: str, *, latency: float, limits: bool, log: Path) -> StandIn:
        args = ["-m", "bench.standin", "--kind", kind, "--latency", str(latency)]
        if limits:
            args.append("--limits")
        with log.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                cwd=ROOT,
                env=_env(),
            )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        if not line:
            await process.wait()
            raise RuntimeError(f"the stand-in did not start; see {log}")
        return cls(process, json.loads(line)["url"])

    async def command(self, cmd: str, **fields: Any) -> dict[str, Any]:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write((json.dumps({"cmd": cmd, **fields}) + "\n").encode())
        await self._process.stdin.drain()
        line = await asyncio.wait_for(self._process.stdout.readline(), 120)
        if not line:
            raise RuntimeError("the stand-in exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        if self._process.returncode is None:
            try:
                await self.command("stop")
            except (RuntimeError, ConnectionError, TimeoutError):
                self._process.kill()
            try:
                await asyncio.wait_for(self._process.wait(), 30)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


async def run_json(module: str, args: list[str], *, log: Path, limit: float) -> dict[str, Any]:
    """Run `python -m MODULE ARGS` to the end; its last line of output is a JSON object."""
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
            cwd=ROOT,
            env=_env(),
        )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), limit)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise RuntimeError(f"{module} did not finish within {limit:.0f} s; see {log}") from None
    lines = output.decode().strip().splitlines()
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed (exit {process.returncode}); see {log}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


class Served:
    """`python -m bench.botproc` serving until told to stop (the /latest benchmark)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self._process = process

    @classmethod
    async def start(cls, args: list[str], *, log: Path) -> Served:
        with log.open("ab") as errors:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.botproc",
                *args,
                stdout=asyncio.subprocess.PIPE,
                stderr=errors,
                cwd=ROOT,
                env=_env(),
            )
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        if not line:
            await process.wait()
            raise RuntimeError(f"the bot did not start; see {log}")
        return cls(process)

    async def stop(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        self._process.send_signal(signal.SIGTERM)
        output = await asyncio.wait_for(self._process.stdout.read(), 60)
        await self._process.wait()
        lines = output.decode().strip().splitlines()
        result: dict[str, Any] = json.loads(lines[-1]) if lines else {}
        return result
