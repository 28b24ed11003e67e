"""Commands in a child process, as an operator runs them: `tagwire …` (`python -m bot`), the
benchmarks, the import linter. Their output is captured as text and their exit status left for
the test to check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without a TAGWIRE_ variable (a developer's own settings must
    not reach the command), and `variables` set."""
    kept = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
    return {**kept, **variables}


def run_command(
    *argv: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    input: str | None = None,
    timeout: float = 60,
    check: bool = False,
    **options: Any,
) -> subprocess.CompletedProcess[str]:
    """`argv` run to its end; `env` None is this process's environment, `cwd` None its folder."""
    return subprocess.run(
        list(argv),
        env=None if env is None else dict(env),
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
        **options,
    )


def run_tagwire(*args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """`tagwire ARGS` as the installed command runs it; `options` as for run_command."""
    return run_command(sys.executable, "-m", "bot", *args, **options)
