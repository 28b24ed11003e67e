"""Which database TAGWIRE_DATABASE names: a SQLite file or a PostgreSQL server.

A plain path (`tagwire.db`, `/var/lib/tagwire/tagwire.db`) or `sqlite:///path` is SQLite;
`postgresql://…` or `postgres://…` is PostgreSQL; anything else of the form `scheme://…` is an
error, never a file name (a mistyped URL must not quietly create a SQLite file in a folder
called `postgresql:`).

`sqlite:///` URLs follow SQLAlchemy's convention: `sqlite:///tagwire.db` is relative to the
working directory, `sqlite:////var/lib/tagwire.db` is absolute, `sqlite:///:memory:` is a
database in memory.
"""

from __future__ import annotations

import enum
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_POSTGRES_SCHEMES = frozenset({"postgresql", "postgres"})
MEMORY = ":memory:"


class InvalidDatabaseUrl(ValueError):
    """TAGWIRE_DATABASE is neither a path nor a URL tagwire can use; the message is one line
    and never contains a password."""


class Backend(enum.StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True, slots=True)
class DatabaseTarget:
    """Where the data lives. `path` is set for SQLite, `dsn` for PostgreSQL; `str()` and
    `repr()` never show the password."""

    backend: Backend
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)

    @classmethod
    def sqlite(cls, path: Path | str) -> DatabaseTarget:
        return cls(Backend.SQLITE, path=Path(path))

    @property
    def is_postgres(self) -> bool:
        return self.backend is Backend.POSTGRESQL

    def require_path(self) -> Path:
        """The SQLite file; ValueError for a PostgreSQL target."""
        if self.path is None:
            raise ValueError(f"{self} is not a SQLite file")
        return self.path

    def require_dsn(self) -> str:
        """The PostgreSQL connection URL, password included: for the driver, never for a log."""
        if self.dsn is None:
            raise ValueError(f"{self} is not a PostgreSQL URL")
        return self.dsn

    @property
    def password(self) -> str | None:
        """The password in the URL, decoded, or None."""
        if self.dsn is None:
            return None
        password = urlsplit(self.dsn).password
        return unquote(password) if password else None

    @property
    def redacted(self) -> str:
        """The target as an operator may see it: the URL without its password."""
        if self.dsn is None:
            return str(self.path)
        return redact_url(self.dsn)

    @property
    def without_password(self) -> str:
        """The target for a command line: the URL with no password at all."""
        if self.dsn is None:
            return str(self.path)
        return url_without_password(self.dsn)

    def __str__(self) -> str:
        return self.redacted


def redact_url(url: str) -> str:
    """`url` with the password of its user part (if any) replaced by `***`."""
    return _replace_password(url, ":***")


def url_without_password(url: str) -> str:
    """`url` without the password of its user part, for a command line that takes it from
    PGPASSWORD or ~/.pgpass."""
    return _replace_password(url, "")


def _replace_password(url: str, replacement: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}{replacement}@{host}"))


def parse_database(value: str | os.PathLike[str]) -> DatabaseTarget:
    """The target TAGWIRE_DATABASE names; InvalidDatabaseUrl says what is wrong in one line.

    A path object is always a SQLite file; a string is a URL when it starts with `scheme://`.
    """
    if isinstance(value, os.PathLike):
        return DatabaseTarget.sqlite(os.fspath(value))
    text = value.strip()
    if not text:
        raise InvalidDatabaseUrl(
            "is empty: give a SQLite file (e.g. tagwire.db) or a postgresql:// URL"
        )
    match = _SCHEME.match(text)
    if match is None:
        return DatabaseTarget.sqlite(text)
    scheme = match[1].lower()
    if scheme in _POSTGRES_SCHEMES:
        return _postgres(text)
    if scheme == "sqlite":
        return _sqlite(text)
    raise InvalidDatabaseUrl(
        f"unknown database URL scheme '{match[1]}://': use a SQLite file (tagwire.db or "
        "sqlite:///tagwire.db) or PostgreSQL (postgresql://user@host:5432/dbname)"
    )


def _sqlite(text: str) -> DatabaseTarget:
    parts = urlsplit(text)
    if parts.netloc:
        raise InvalidDatabaseUrl(
            f"a sqlite URL has no host ('{parts.netloc}'): write sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    if parts.query or parts.fragment:
        raise InvalidDatabaseUrl("a sqlite URL takes no ?options or #fragment")
    # sqlite:///tagwire.db → path "/tagwire.db" → relative "tagwire.db" (SQLAlchemy's rule).
    path = unquote(parts.path)[1:]
    if not path:
        raise InvalidDatabaseUrl("a sqlite URL needs a file: sqlite:///tagwire.db")
    return DatabaseTarget.sqlite(path)


def _postgres(text: str) -> DatabaseTarget:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        # urlsplit's message quotes the port only, never the password.
        raise InvalidDatabaseUrl(f"the PostgreSQL URL is malformed: {exc}") from None
    if port == 0:
        raise InvalidDatabaseUrl("the PostgreSQL URL has port 0")
    database = unquote(parts.path.lstrip("/"))
    if "/" in database:
        raise InvalidDatabaseUrl(
            f"the PostgreSQL URL's path must be one database name, not '{database}'"
        )
    if parts.fragment:
        raise InvalidDatabaseUrl("the PostgreSQL URL takes no #fragment")
    return DatabaseTarget(Backend.POSTGRESQL, dsn=text)
