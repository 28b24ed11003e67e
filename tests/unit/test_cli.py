from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.commands import environment, run_tagwire
from tests.support.harness import EXAMPLES, ROOT

VALID_TOKEN = "123456789:AAEhBP0av28kjH9fTdL4KCLGrsGUk3w6Jq8"


def tagwire(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run_tagwire(*args, input=stdin, env=environment(**(env or {})), cwd=cwd or ROOT)


def test_run_without_token_says_so_in_one_line(tmp_path: Path) -> None:
    result = tagwire("run", cwd=tmp_path, env={"TAGWIRE_DATABASE": str(tmp_path / "t.db")})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "TAGWIRE_BOT_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "token", ["abc", "123:short", "not a token at all:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]
)
def test_run_with_malformed_token_says_so_in_one_line(tmp_path: Path, token: str) -> None:
    result = tagwire("run", cwd=tmp_path, env={"TAGWIRE_BOT_TOKEN": token})
    assert result.returncode == 2
    assert "TAGWIRE_BOT_TOKEN is malformed" in result.stderr
    assert token not in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_is_named(tmp_path: Path) -> None:
    result = tagwire("stats", cwd=tmp_path, env={"TAGWIRE_RATE_LIMIT": "fast"})
    assert result.returncode == 2
    assert "TAGWIRE_RATE_LIMIT" in result.stderr
    assert "Traceback" not in result.stderr


def test_push_examples_then_again_is_all_duplicates(tmp_path: Path) -> None:
    env = {"TAGWIRE_DATABASE": str(tmp_path / "t.db")}
    first = tagwire("push", str(EXAMPLES), env=env)
    assert first.returncode == 0, first.stderr
    assert "added 10, duplicates 0, rejected 0" in first.stdout
    second = tagwire("push", str(EXAMPLES), env=env)
    assert "added 0, duplicates 10, rejected 0" in second.stdout
    stats = tagwire("stats", env=env)
    assert "stories              10" in stats.stdout


def test_push_reports_each_rejected_line_and_keeps_the_rest(tmp_path: Path) -> None:
    lines = [
        json.dumps({"url": "https://x.example/1", "title": "One", "tags": ["Japan"]}),
        json.dumps({"url": "ftp://x.example/2", "title": "Two", "tags": ["Japan"]}),
        "{oops",
        json.dumps({"url": "https://x.example/3", "title": "", "tags": ["Japan"]}),
        json.dumps({"url": "https://x.example/4", "title": "Four", "tags": ["Japan"]}),
    ]
    result = tagwire(
        "push", "-", stdin="\n".join(lines), env={"TAGWIRE_DATABASE": str(tmp_path / "t.db")}
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "line 2: url: must start with http:// or https://",
        "line 3: json: Expecting property name enclosed in double quotes at column 2",
        "line 4: title: is empty",
    ]
    assert "added 2, duplicates 0, rejected 3" in result.stdout


def test_push_no_notify_queues_nothing(tmp_path: Path) -> None:
    result = tagwire(
        "push", "--no-notify", str(EXAMPLES), env={"TAGWIRE_DATABASE": str(tmp_path / "t.db")}
    )
    assert result.returncode == 0
    assert "nobody notified" in result.stdout


def test_push_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = tagwire(
        "push", str(tmp_path / "nope.jsonl"), env={"TAGWIRE_DATABASE": str(tmp_path / "t.db")}
    )
    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert "Traceback" not in result.stderr


def test_push_binary_input_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage")
    result = tagwire("push", str(path), env={"TAGWIRE_DATABASE": str(tmp_path / "t.db")})
    assert result.returncode == 2
    assert "not UTF-8" in result.stderr


def test_database_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    result = tagwire("stats", env={"TAGWIRE_DATABASE": str(tmp_path)})
    assert result.returncode == 2
    assert "cannot open the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"TAGWIRE_DATABASE={tmp_path / 'from-env.db'}\n")
    result = tagwire("push", str(EXAMPLES), cwd=tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "from-env.db").exists()


def test_console_script_and_module_are_the_same_program() -> None:
    script = Path(sys.executable).parent / "tagwire"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0
    assert "push" in result.stdout
    assert tagwire("--help").stdout == result.stdout


def test_backup_then_restore_brings_the_stories_back(tmp_path: Path) -> None:
    env = {"TAGWIRE_DATABASE": str(tmp_path / "live.db")}
    assert tagwire("push", str(EXAMPLES), env=env).returncode == 0
    backup = tmp_path / "copy.db"
    made = tagwire("backup", str(backup), env=env)
    assert made.returncode == 0, made.stderr
    assert "10 stories" in made.stdout
    again = tagwire("backup", str(backup), env=env)
    assert again.returncode == 2
    assert "--force" in again.stderr

    (tmp_path / "live.db").unlink()
    for leftover in tmp_path.glob("live.db-*"):
        leftover.unlink()
    assert "stories              0" in tagwire("stats", env=env).stdout
    restored = tagwire("restore", str(backup), env=env)
    assert restored.returncode == 0, restored.stderr
    assert "restored" in restored.stdout
    assert "stories              10" in tagwire("stats", env=env).stdout
    assert list(tmp_path.glob("live.db.before-restore-*"))


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    env = {"TAGWIRE_DATABASE": str(tmp_path / "live.db")}
    assert tagwire("push", str(EXAMPLES), env=env).returncode == 0
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    result = tagwire("restore", str(junk), env=env)
    assert result.returncode == 1
    assert "not restored" in result.stderr
    assert "Traceback" not in result.stderr
    assert "stories              10" in tagwire("stats", env=env).stdout


def test_restore_refuses_a_database_from_a_newer_version(tmp_path: Path) -> None:
    import sqlite3

    env = {"TAGWIRE_DATABASE": str(tmp_path / "live.db")}
    assert tagwire("push", str(EXAMPLES), env=env).returncode == 0
    backup = tmp_path / "copy.db"
    assert tagwire("backup", str(backup), env=env).returncode == 0
    with sqlite3.connect(backup) as db:
        db.execute("INSERT INTO migrations VALUES ('9999_future', 0)")
    result = tagwire("restore", str(backup), env=env)
    assert result.returncode == 1
    assert "newer tagwire" in result.stderr
