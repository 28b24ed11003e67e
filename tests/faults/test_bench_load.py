"""`python -m bench.load` end to end, tiny by default; `make soak` runs it at its full size
(2 000 users for 60 s). The benchmark's own checks must pass: every command answered once, no
update left behind, the fan-out complete, the bot stopped cleanly."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.support.commands import run_command
from tests.support.faults import SOAK, report
from tests.support.harness import ROOT


def test_the_load_benchmark_answers_every_command(tmp_path: Path) -> None:
    size = [] if SOAK else ["--users", "40", "--duration", "3", "--fanout", "60"]
    command = [sys.executable, "-m", "bench.load", *size, "--out", str(tmp_path)]
    result = run_command(*command, cwd=ROOT, timeout=900 if SOAK else 120)
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads((tmp_path / "load.json").read_text())
    rows = {row["metric"]: row for row in document["rows"]}
    assert document["passed"] is True
    assert rows["commands sent"]["measured"] >= rows["users"]["measured"]
    assert rows["commands unanswered"]["measured"] == 0
    assert rows["updates left unconfirmed"]["measured"] == 0
    assert rows["fan-out delivered"]["passed"] is True
    report(
        "load",
        **{
            name: rows[name]["measured"]
            for name in ("commands sent", "reply time p50", "reply time p99", "reply time max")
        },
    )
