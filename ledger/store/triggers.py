"""Append-only enforcement in the database itself: UPDATE and DELETE are rejected."""

from __future__ import annotations

from sqlalchemy import Connection, text

from ledger.store.tables import APPEND_ONLY_TABLES

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION medledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'medledger: % is append-only (% rejected)', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def install(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for op in ("UPDATE", "DELETE"):
                conn.execute(
                    text(
                        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} "
                        f"BEFORE {op} ON {table} BEGIN "
                        f"SELECT RAISE(ABORT, 'medledger: {table} is append-only'); END"
                    )
                )
        return
    conn.execute(text(_PG_FUNCTION))
    for table in APPEND_ONLY_TABLES:
        conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
        conn.execute(
            text(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION medledger_append_only()"
            )
        )
        conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"))
        conn.execute(
            text(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION medledger_append_only()"
            )
        )
