"""``medledger recover``: continue a genuinely restored database, on the record.

The database is behind (or forked from) the last checkpoint this ledger signed, so
every append is refused. Recovery re-checks everything the database still holds (a
full replay), appends one ``log.recovered`` entry signed by an admin key naming the
lost checkpoint and the tree the log continues from, and records the recovery in
DIR/checkpoints before the new checkpoint. ``verify`` then reports the loss instead of
failing on the superseded records; a rollback with no such entry still fails.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from ledger.errors import InputError, StorageError, VerificationError
from ledger.guard.check import Head, LogGuard, prove_extends, replay, tree_root
from ledger.guard.history import Recovery, Signed
from ledger.guard.state import Trusted, write_snapshot
from ledger.store import Store, reading

# (conn, size, root) -> the signed note, stored in the database
StoreCheckpoint = Callable[[Connection, int, bytes], str]


@dataclass(frozen=True)
class Plan:
    lost: Signed
    head: Head

    def describe(self) -> str:
        return Recovery(self.head.size, self.lost.size, self.lost.root, self.head.size,
                        self.head.root).describe()

    def body(self, reason: str) -> dict[str, Any]:
        if not reason.strip():
            raise InputError("--reason: say why the database was restored")
        return {
            "lost_size": self.lost.size,
            "lost_root": self.lost.root.hex(),
            "from_size": self.head.size,
            "from_root": self.head.root.hex(),
            "reason": reason,
        }


def plan(store: Store, guard: LogGuard) -> Plan:
    """What a recovery would record; InputError when there is nothing to recover."""
    lost = guard.last_signed()
    if lost is None:
        raise InputError("nothing to recover: this ledger has signed no checkpoint yet")
    with reading(store.engine) as conn:
        size, _ = store.tail(conn)
        head = Head(size, tree_root(store, conn, size))
        try:
            prove_extends(store, conn, Head(lost.size, lost.root), head, what="")
        except VerificationError:
            return Plan(lost, head)
    raise InputError(
        f"nothing to recover: the database (size {head.size}) extends the last signed "
        f"checkpoint (size {lost.size})"
    )


class RecoveringGuard(LogGuard):
    """The guard for the one append that records a recovery."""

    def __init__(self, base: LogGuard, planned: Plan) -> None:
        super().__init__(base.directory, base.verifier, kinds=base.kinds)
        self.planned = planned
        self.note: str | None = None

    def check(self, store: Store, conn: Connection) -> Trusted:
        self._pending = []
        size, _ = store.tail(conn)
        head = Head(size, tree_root(store, conn, size))
        if head != self.planned.head:
            raise StorageError("the database changed while recovering; run recover again")
        return replay(store, conn, None, head, log_id=self.log_id, kinds=self.kinds)  # all, in full

    def signed(self, note: str, *, size: int, root: bytes) -> None:
        self.note = note
        super().signed(note, size=size, root=root)

    def committed(self, state: Trusted) -> None:
        recovery = Recovery(self.planned.head.size, self.planned.lost.size,
                            self.planned.lost.root, self.planned.head.size,
                            self.planned.head.root)
        signed = [p for p in self._pending if isinstance(p, Signed)]
        self._pending = []
        self.history.append([recovery, *signed], newer_only=False)
        with self.history.locked():
            write_snapshot(self.directory, state)
