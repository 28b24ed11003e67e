"""`tagwire …` with its standard error on a terminal (a pseudo-terminal), as an operator who
watches it sees it, or on a pipe, as CI and cron run it; standard output is captured apart,
byte for byte, so the two can be compared."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TerminalRun:
    returncode: int
    stdout: bytes
    terminal: str  # what was written to standard error


def run_tagwire_on_terminal(
    *args: str, env: Mapping[str, str], stdin: bytes = b"", timeout: float = 60
) -> TerminalRun:
    """`tagwire ARGS` with standard error on a pseudo-terminal, standard input from `stdin`
    and standard output into a file (neither a terminal)."""
    controller, terminal = pty.openpty()
    # A terminal's size, as a terminal emulator sets it (a new pseudo-terminal has none).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with tempfile.TemporaryFile() as given, tempfile.TemporaryFile() as taken:
        given.write(stdin)
        given.seek(0)
        process = subprocess.Popen(
            [sys.executable, "-m", "bot", *args],
            stdin=given,
            stdout=taken,
            stderr=terminal,
            env=dict(env),
        )
        os.close(terminal)
        # Read as it is written: a terminal's buffer is small, and a full one stops the writer.
        written = bytearray()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if not select.select([controller], [], [], 0.5)[0]:
                    continue
                chunk = os.read(controller, 65536)
                if not chunk:
                    break
                written += chunk
        except OSError:  # EIO: every end of the terminal's other side is closed
            pass
        finally:
            os.close(controller)
        try:
            returncode = process.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        taken.seek(0)
        return TerminalRun(returncode, taken.read(), written.decode("utf-8", "replace"))


def run_tagwire_through_pipes(
    *args: str, env: Mapping[str, str], timeout: float = 60
) -> TerminalRun:
    """`tagwire ARGS` with standard output and standard error each a pipe (as in CI or cron),
    both kept as bytes; `terminal` is what was written to standard error."""
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )
    return TerminalRun(result.returncode, result.stdout, result.stderr.decode("utf-8", "replace"))
