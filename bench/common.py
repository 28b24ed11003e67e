"""What every benchmark shares: the results folder, the machine, the table and its JSON."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# A well-formed token for the local stand-ins; no request ever leaves 127.0.0.1.
TOKEN = "123456789:AAEhBP0av28kjH9fTdL4KCLGrsGUk3w6Jq8"  # noqa: S105 - no real bot


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a report. `passed` is None for a figure shown for context (a peer)."""

    metric: str
    target: str
    measured: float | None
    unit: str
    passed: bool | None
    note: str = ""


def at_least(metric: str, measured: float | None, target: float, unit: str, note: str = "") -> Row:
    passed = measured is not None and measured >= target
    return Row(metric, f"≥ {number(target)} {unit}", measured, unit, passed, note)


def at_most(metric: str, measured: float | None, target: float, unit: str, note: str = "") -> Row:
    passed = measured is not None and measured <= target
    return Row(metric, f"≤ {number(target)} {unit}", measured, unit, passed, note)


def exactly(metric: str, measured: float | None, target: float, unit: str, note: str = "") -> Row:
    passed = measured is not None and measured == target
    return Row(metric, f"= {number(target)} {unit}".rstrip(), measured, unit, passed, note)


def info(metric: str, measured: float | None, unit: str, note: str = "") -> Row:
    return Row(metric, "", measured, unit, None, note)


def number(value: float | None) -> str:
    """23456.7 → "23 457", 12.34 → "12.3", 0.01234 → "0.0123"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 100 or value == int(value):
        return f"{value:,.0f}".replace(",", " ")
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with `fraction` of values at or below."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "system": f"{platform.system()} {platform.release()}",
    }


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """The process's peak resident set size (VmHWM) in MB, None where /proc has no answer."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def parser(description: str) -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(description=description)
    result.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="folder for the JSON report and working files (default bench/results/)",
    )
    result.add_argument(
        "--cache",
        type=Path,
        default=RESULTS,
        help="folder of the generated databases, reused between runs (default bench/results/)",
    )
    return result


def report(
    name: str,
    title: str,
    rows: Sequence[Row],
    *,
    out: Path,
    params: dict[str, Any],
    details: dict[str, Any] | None = None,
    database: str | None = None,
) -> dict[str, Any]:
    """Print the table and write it, with the raw runs in `details`, to OUT/NAME.json.
    `database` names the backend measured ("PostgreSQL 15.20"); SQLite's version by default."""
    info_ = machine()
    if database is not None:
        info_["database"] = database
    header = ("metric", "target", "measured", "result")
    lines = [
        (
            row.metric,
            row.target or "-",
            f"{number(row.measured)} {row.unit}".strip(),
            "-" if row.passed is None else ("pass" if row.passed else "FAIL"),
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in [header, *lines]) for i in range(len(header))]
    print(
        f"\n{title} — {info_['nproc']} × {info_['cpu']}, Python {info_['python']}, "
        f"{database or 'SQLite ' + info_['sqlite']}"
    )
    print("  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for cells, row in zip(lines, rows, strict=True):
        text = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        print(text.rstrip() + (f"   ({row.note})" if row.note else ""))
    document = {
        "bench": name,
        "title": title,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": shlex.join([sys.executable, "-m", f"bench.{name}", *sys.argv[1:]]),
        "machine": info_,
        "params": params,
        "rows": [asdict(row) for row in rows],
        "passed": all(row.passed for row in rows if row.passed is not None),
        "details": details or {},
    }
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {path}")
    return document
