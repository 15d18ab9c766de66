"""Rollback protection: the ledger directory's own record of what the log key signed.

The database is editable by whoever reaches it; the directory holds what this ledger
signed (``history``) and the key and policy state as of then (``state``). Every append
and every checkpoint first proves that the database's tree extends that record
(``check``), so a rollback is refused before the log key signs over it.
"""
