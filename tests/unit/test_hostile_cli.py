"""`tagwire backup` to places it cannot write: one clear line, a non-zero exit, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "japan.jsonl"


def tagwire(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("TAGWIRE_")}
    env["TAGWIRE_DATABASE"] = str(database)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=database.parent,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backup") / "t.db"
    pushed = tagwire(path, "push", str(EXAMPLES))
    assert pushed.returncode == 0, pushed.stderr
    return path


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("tagwire: ")
    for word in words:
        assert word in result.stderr, result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("force", [False, True])
def test_backup_to_a_directory_says_it_is_one(database: Path, tmp_path: Path, force: bool) -> None:
    target = tmp_path / "backups"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    result = tagwire(database, "backup", *(["--force"] if force else []), str(target))
    assert_one_clear_line(result, str(target), "directory")
    assert (target / "keep.txt").read_text() == "mine"


def test_backup_over_something_that_is_not_a_file_is_refused_even_with_force(
    database: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    result = tagwire(database, "backup", "--force", str(fifo))
    assert_one_clear_line(result, str(fifo))
    assert fifo.exists()


@pytest.mark.parametrize(
    "target",
    [
        "{database}/inside.db",  # below a regular file
        "/proc/tagwire-test/backup.db",  # a directory that cannot be created
        "/proc/tagwire-backup.db",  # a directory where no file can be created
    ],
)
def test_backup_to_an_unwritable_path_says_so_in_one_line(
    database: Path, tmp_path: Path, target: str
) -> None:
    path = target.format(database=database)
    result = tagwire(database, "backup", path)
    assert_one_clear_line(result, path)
    assert not Path(path).exists()


def test_a_good_backup_still_works(database: Path, tmp_path: Path) -> None:
    target = tmp_path / "new" / "copy.db"
    result = tagwire(database, "backup", str(target))
    assert result.returncode == 0, result.stderr
    assert "10 stories" in result.stdout
