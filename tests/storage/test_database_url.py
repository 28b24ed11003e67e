"""TAGWIRE_DATABASE: a path or sqlite:/// is SQLite, postgresql:// is PostgreSQL, any other
scheme:// is one clear line at start-up and never a file; a password never shows."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.logs import REDACTED, RedactingFilter
from bot.settings import SettingsError, load_settings
from storage import StorageUnavailable, open_store
from storage.url import Backend, InvalidDatabaseUrl, parse_database

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "hunter2-secret"


def free_port() -> int:
    """A port nothing listens on (bound and let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("tagwire.db", "tagwire.db"),
        ("/var/lib/tagwire/tagwire.db", "/var/lib/tagwire/tagwire.db"),
        ("  data/bot.db ", "data/bot.db"),
        ("sqlite:///tagwire.db", "tagwire.db"),
        ("sqlite:////var/lib/tagwire.db", "/var/lib/tagwire.db"),
        ("SQLITE:///with%20space.db", "with space.db"),
        ("sqlite:///:memory:", ":memory:"),
        # No "//": a file name with a colon, as before.
        ("notes:today.db", "notes:today.db"),
    ],
)
def test_paths_and_sqlite_urls_are_sqlite_files(value: str, path: str) -> None:
    target = parse_database(value)
    assert target.backend is Backend.SQLITE
    assert str(target.require_path()) == path
    assert target.dsn is None


@pytest.mark.parametrize(
    "value",
    [
        "postgresql://tag@db.example.com:5432/news",
        "postgres://tag@db.example.com/news",
        "PostgreSQL://tag@db.example.com/news?sslmode=require",
        "postgresql:///news?host=/var/run/postgresql",
    ],
)
def test_postgres_urls_are_postgres(value: str) -> None:
    target = parse_database(value)
    assert target.backend is Backend.POSTGRESQL
    assert target.is_postgres
    assert target.require_dsn() == value
    assert target.path is None


def test_the_password_is_never_shown() -> None:
    target = parse_database(f"postgresql://tag:{PASSWORD}@db.example.com:5432/news")
    assert target.password == PASSWORD
    for shown in (str(target), repr(target), target.redacted, target.without_password):
        assert PASSWORD not in shown
    assert str(target) == "postgresql://tag:***@db.example.com:5432/news"
    assert target.without_password == "postgresql://tag@db.example.com:5432/news"
    encoded = parse_database("postgresql://tag:p%40ss%3Aword@db/news")
    assert encoded.password == "p@ss:word"
    assert "p%40ss" not in str(encoded)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (f"mysql://tag:{PASSWORD}@db/news", "unknown database URL scheme 'mysql://'"),
        ("https://example.com/tagwire.db", "unknown database URL scheme 'https://'"),
        ("file:///var/lib/tagwire.db", "unknown database URL scheme 'file://'"),
        ("sqlite://host/tagwire.db", "a sqlite URL has no host"),
        ("sqlite:///", "needs a file"),
        (f"postgresql://tag:{PASSWORD}@db:port/news", "malformed"),
        ("postgresql://db/news/extra", "one database name"),
        ("   ", "is empty"),
    ],
)
def test_anything_else_is_one_clear_line(value: str, says: str) -> None:
    with pytest.raises(InvalidDatabaseUrl) as caught:
        parse_database(value)
    message = str(caught.value)
    assert says in message
    assert "\n" not in message
    assert PASSWORD not in message


def test_the_setting_refuses_an_unknown_scheme_by_name() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, database=f"redis://:{PASSWORD}@cache:6379/0")
    message = str(caught.value)
    assert message.startswith("TAGWIRE_DATABASE: ")
    assert "unknown database URL scheme 'redis://'" in message
    assert PASSWORD not in message


def test_the_setting_takes_paths_and_urls_and_hides_the_password() -> None:
    assert load_settings(_env_file=None).database_target.require_path() == Path("tagwire.db")
    from_path = load_settings(_env_file=None, database=Path("/srv/bot.db"))
    assert from_path.database_target.require_path() == Path("/srv/bot.db")
    url = f"postgresql://tag:{PASSWORD}@db:5432/news"
    settings = load_settings(_env_file=None, database=url)
    assert settings.database_target.is_postgres
    assert PASSWORD not in repr(settings)
    assert PASSWORD in settings.secret_values()


def test_a_password_in_a_log_line_is_scrubbed() -> None:
    url = f"postgresql://tag:{PASSWORD}@db:5432/news"
    entry = logging.LogRecord("x", logging.ERROR, __file__, 1, "cannot reach %s", (url,), None)
    # Scrubbed even when nobody told the filter about this password.
    RedactingFilter([]).filter(entry)
    assert PASSWORD not in entry.getMessage()
    assert f"postgresql://tag:{REDACTED}@db:5432/news" in entry.getMessage()
    try:
        raise RuntimeError(f"failed {url}")
    except RuntimeError as error:
        failed = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "boom", (), (type(error), error, None)
        )
    RedactingFilter([]).filter(failed)
    assert PASSWORD not in logging.Formatter().format(failed)


async def test_open_store_never_takes_a_url_for_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidDatabaseUrl):
        await open_store("ftp://files.example.com/tagwire.db")
    with pytest.raises(StorageUnavailable):
        await open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/news")
    assert os.listdir(tmp_path) == []


async def test_an_unreachable_server_is_storage_unavailable_in_one_line() -> None:
    port = free_port()
    with pytest.raises(StorageUnavailable) as caught:
        await open_store(f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/news")
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "\n" not in message
    assert PASSWORD not in message


def tagwire(*args: str, database: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "TAGWIRE_DATABASE"}
    environment["TAGWIRE_DATABASE"] = database
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_a_postgres_url_never_becomes_a_sqlite_file(tmp_path: Path) -> None:
    # What the issue saw: `postgresql:` created as a folder, an empty SQLite file inside.
    result = tagwire(
        "stats", database=f"postgresql://postgres@127.0.0.1:{free_port()}/news", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "PostgreSQL" in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_scheme_stops_the_bot_at_start_up(tmp_path: Path) -> None:
    result = tagwire("run", database="mongodb://db/news", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("tagwire: TAGWIRE_DATABASE: ")
    assert "mongodb://" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_point_to_pg_dump_on_postgres(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("TAGWIRE_DATABASE", f"postgresql://tag:{PASSWORD}@db.example.com/news")
    monkeypatch.chdir(tmp_path)
    file = tmp_path / "news.dump"
    if command == "restore":
        file.write_bytes(b"PGDMP")
    assert main([command, str(file)]) != 0
    err = capsys.readouterr().err
    assert PASSWORD not in err
    if command == "backup":
        assert not file.exists()
        assert f"pg_dump --format=custom --file={file} postgresql://tag@db.example.com/news" in err
    else:
        assert file.read_bytes() == b"PGDMP"
        assert "pg_restore --clean --if-exists" in err
        assert f"--dbname=postgresql://tag@db.example.com/news {file}" in err
    assert "PGPASSWORD" in err
    assert sorted(path.name for path in tmp_path.iterdir()) == (
        ["news.dump"] if command == "restore" else []
    )
