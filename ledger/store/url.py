"""Database URLs: SQLite by default, PostgreSQL by URL; anything else is refused by name."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from ledger.errors import InputError

_DRIVERS = {
    "sqlite": "sqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def normalise_url(url: str) -> str:
    """Map a user's URL onto the driver medledger uses; unknown schemes are an error."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InputError(f"database URL {url!r} has no scheme (sqlite:/// or postgresql://)")
    driver = _DRIVERS.get(scheme.lower())
    if driver is None:
        raise InputError(
            f"unknown database backend {scheme!r}: use sqlite:///PATH or postgresql://..."
        )
    return f"{driver}://{rest}"


PASSWORD_ENV = "MEDLEDGER_DATABASE_PASSWORD"  # noqa: S105 - the variable's name


def without_password(url: str) -> tuple[str, bool]:
    """The URL with any password removed, and whether it held one (config never keeps it)."""
    parsed = _parse(url)
    if parsed is None or parsed.password is None:
        return url, False
    bare = URL.create(  # URL.set(password=None) would keep the password
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return bare.render_as_string(hide_password=False), True


def with_password(url: str, password: str | None) -> str:
    """The URL with ``password`` filled in, unless it has one or none is given.

    Without one, libpq itself still reads PGPASSWORD and ~/.pgpass."""
    parsed = _parse(url)
    if not password or parsed is None or parsed.password is not None or is_sqlite(url):
        return url
    return parsed.set(password=password).render_as_string(hide_password=False)


def _parse(url: str) -> URL | None:
    try:
        return make_url(url)
    except ArgumentError:
        return None


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file behind a sqlite:/// URL (None for in-memory databases)."""
    rest = url.partition("://")[2]
    if not rest.startswith("/") or rest in ("/", "/:memory:"):
        return None
    return Path(rest[1:].partition("?")[0])


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if not at or ":" not in creds:
        return url
    return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"
