"""SQLModel tables and the store object: SQLite by default, PostgreSQL by URL."""

from ledger.store.engine import locked_write, reading
from ledger.store.repository import Store
from ledger.store.url import normalise_url, sqlite_url

__all__ = ["Store", "locked_write", "normalise_url", "reading", "sqlite_url"]
