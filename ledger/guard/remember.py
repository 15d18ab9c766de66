"""DIR/checkpoint only moves forward, and verify reads the signed history with it."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from ledger.checkpoints import open_checkpoint
from ledger.crypto.note import NoteVerifier
from ledger.directory import LedgerDir
from ledger.errors import VerificationError
from ledger.guard.check import Head, LogGuard, prove_extends, tree_root
from ledger.guard.history import Recovery, Signed
from ledger.log.checkpoint import Checkpoint
from ledger.store import Store, reading


def remember_extending(ldir: LedgerDir, store: Store, note: str, guard: LogGuard) -> None:
    """Keep ``note`` in DIR/checkpoint if the database proves it extends the kept one."""
    verifier = guard.verifier
    new = open_checkpoint(note, [verifier], source="checkpoint to remember")

    def extends(kept_note: str, _note: str) -> None:
        kept = open_checkpoint(kept_note, [verifier], source=str(ldir.checkpoint_file))
        if guard.proven(Head(kept.size, kept.root), Head(new.size, new.root)):
            return  # the append or checkpoint that signed it proved it already
        with reading(store.engine) as conn:
            size, _ = store.tail(conn)
            if size < new.size:
                raise VerificationError(f"the database holds {size} entries, fewer than the "
                                        f"checkpoint of size {new.size}; refused")
            head = Head(new.size, tree_root(store, conn, new.size))
            if head.root != new.root:
                raise VerificationError(
                    f"the database's root at size {new.size} is {head.root.hex()}, the "
                    f"checkpoint says {new.root.hex()}: a fork; refused")
            prove_extends(store, conn, Head(kept.size, kept.root), head,
                          what=f"the checkpoint kept in {ldir.checkpoint_file}")

    ldir.remember_checkpoint(note, extends=extends)


@dataclass
class HistoryView:
    checkpoints: list[Checkpoint] = field(default_factory=list)
    recoveries: list[str] = field(default_factory=list)


def history_checkpoints(store: Store, conn: Connection, guard: LogGuard) -> HistoryView:
    """The history's checkpoints that still bind the log, and its recorded recoveries.

    A recovery supersedes the checkpoints recorded before it, but only if the log holds
    the signed ``log.recovered`` entry that names the lost checkpoint; every other record
    must be a checkpoint of this log, so an unrecorded rollback still fails."""
    view = HistoryView()
    records = guard.history.records()
    last_recovery = max((i for i, r in enumerate(records) if isinstance(r, Recovery)),
                        default=-1)
    for position, record in enumerate(records):
        if isinstance(record, Recovery):
            _check_recorded(store, conn, record)
            view.recoveries.append(record.describe())
        elif position > last_recovery:
            view.checkpoints.append(_opened(record, guard.verifier, guard))
    return view


def _opened(record: Signed, verifier: NoteVerifier, guard: LogGuard) -> Checkpoint:
    return open_checkpoint(record.note, [verifier], source=str(guard.history.path))


def _check_recorded(store: Store, conn: Connection, record: Recovery) -> None:
    import json

    size, _ = store.tail(conn)
    body = None
    if record.index < size:
        leaf, _digest = store.leaf(conn, record.index)
        try:
            entry = json.loads(leaf)["envelope"]["entry"]
            body = entry["body"] if entry["kind"] == "log.recovered" else None
        except (ValueError, KeyError, TypeError):
            body = None
    want = {"lost_size": record.lost_size, "lost_root": record.lost_root.hex(),
            "from_size": record.from_size, "from_root": record.from_root.hex()}
    if body is None or any(body.get(k) != v for k, v in want.items()):
        raise VerificationError(
            f"the history records a recovery at index {record.index} that the log does not "
            "hold: the superseded checkpoints still bind it", index=record.index)
