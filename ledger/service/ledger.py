"""The use cases: the one API that the CLI and the server call.

Each method composes the modules below in one transaction and returns plain
dataclasses; nothing here prints or parses arguments.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from ledger.audit.accessrules import audit_access
from ledger.audit.keystate import KeyState
from ledger.audit.replay import AuditReport, audit_log
from ledger.checkpoints import open_checkpoint, sign_checkpoint
from ledger.consent.audit import audit_consent
from ledger.crypto.keys import (
    PublicKey,
    SigningKey,
    key_id_of,
    read_private_key,
    write_private_key,
)
from ledger.crypto.note import NoteSigner, NoteVerifier
from ledger.crypto.signing import ENTRY_VERSION, encode_sig, sign_entry
from ledger.datasets.audit import audit_member_lists
from ledger.directory import LedgerDir
from ledger.errors import InputError, PolicyError, VerificationError
from ledger.guard import recover as recovery
from ledger.guard.check import LogGuard
from ledger.guard.policy import require_deidentified
from ledger.guard.remember import history_checkpoints, remember_extending
from ledger.lineagelog import UIDS_FILLED, audit_derivations, fill_image_uids
from ledger.log.hashing import EMPTY_ROOT
from ledger.log.proofs import (
    consistency_nodes,
    consistency_proof,
    inclusion_nodes,
    inclusion_proof,
)
from ledger.log.tlog_proof import format_tlog_proof
from ledger.log.tree import frontier, root_from_frontier
from ledger.model.canonical import canonical_json
from ledger.model.entry import utc_now
from ledger.model.keys import KEY_NAME_PATTERN
from ledger.model.kinds import KindRegistry
from ledger.model.policy import DUP_THRESHOLDS, REQUIRE_DEIDENTIFIED, decimals, numbers
from ledger.model.projection import Projections
from ledger.model.registry import DEFAULT_KINDS, DEFAULT_PROJECTIONS
from ledger.model.roles import Role
from ledger.projections import projection_audit
from ledger.rebuild import Rebuilt, rebuild_projections
from ledger.sequencer import Appended, WithResults, append
from ledger.sourcelog import audit_source_rules
from ledger.store import Store, locked_write, normalise_url, reading
from ledger.store.projected import stored_rows

if TYPE_CHECKING:  # numpy-heavy: imported where duplicates are used, not at CLI startup
    from ledger.similarity.catalog import LedgerIndex
    from ledger.similarity.verification import Thresholds

CHECKPOINT_INTERVAL_S = 1.0
PASSPHRASE_ENV = "MEDLEDGER_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
PARALLEL_AUDIT_FROM = 50_000



@dataclass(frozen=True)
class KeyInfo:
    name: str
    role: str
    key_id: str
    public_key: str
    added_index: int
    revoked_index: int | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Proof:
    hashes: list[bytes]
    tree_size: int
    index: int | None = None
    old_size: int | None = None
    leaf_hash: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"hashes": [h.hex() for h in self.hashes]}
        if self.index is not None:
            out |= {"index": self.index, "tree_size": self.tree_size}
            out["leaf_hash"] = self.leaf_hash.hex() if self.leaf_hash else None
        else:
            out |= {"old_size": self.old_size, "new_size": self.tree_size}
        return out


def env_passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


class Ledger:
    """An open ledger: its directory, its store and its log identity."""

    def __init__(
        self,
        ldir: LedgerDir,
        store: Store,
        *,
        passphrase: bytes | None,
        kinds: KindRegistry = DEFAULT_KINDS,
        projections: Projections = DEFAULT_PROJECTIONS,
    ) -> None:
        self.dir = ldir
        self.store = store
        self.kinds = kinds  # the entry kinds it accepts and audits (tests add their own)
        self.projections = projections
        self._passphrase = passphrase
        self._signer: NoteSigner | None = None
        with reading(store.engine) as conn:
            origin = store.get_meta(conn, "origin")
            vkey = store.get_meta(conn, "log_vkey")
        if origin is None or vkey is None:
            raise InputError(f"{ldir.path}: ledger database was never initialised")
        self.origin = origin
        self.verifier = NoteVerifier.from_vkey(vkey)
        self.log_id = self.verifier.public_key.key_id  # what v2 entries name as their log
        self.guard = LogGuard(ldir.path, self.verifier, kinds=kinds)

    # --- lifecycle -------------------------------------------------------------
    @classmethod
    def init(
        cls,
        directory: Path,
        *,
        database_url: str | None = None,
        origin: str | None = None,
        passphrase: bytes | None = None,
        require_deidentified: bool = False,
        kinds: KindRegistry = DEFAULT_KINDS,
        projections: Projections = DEFAULT_PROJECTIONS,
    ) -> Ledger:
        ldir = LedgerDir(directory)
        url = normalise_url(database_url) if database_url else ldir.default_database_url()
        log_key, admin_key = SigningKey.generate(), SigningKey.generate()
        origin = origin or f"medledger.local/{log_key.public_key.key_id[:16]}"
        signer = NoteSigner(origin, log_key)
        if ldir.config_file.exists():
            raise InputError(f"{directory} already holds a ledger")
        fresh = not directory.exists()
        from ledger.similarity.verification import DECISION_SETTING, DECISION_VERSION

        try:
            ldir.create(database_url=url)
            write_private_key(ldir.log_key, log_key, passphrase=passphrase)
            write_private_key(ldir.key_file("admin"), admin_key, passphrase=passphrase)
            store = Store.create(url)
            with locked_write(store.engine) as conn:
                store.set_meta(conn, "origin", origin)
                store.set_meta(conn, "log_vkey", signer.verifier_key)
                # a new ledger's findings are all made by this version of the decision
                store.set_meta(conn, DECISION_SETTING, str(DECISION_VERSION))
                store.set_meta(conn, UIDS_FILLED, "1")  # a new ledger's image_uids are complete
            ledger = cls(ldir, store, passphrase=passphrase, kinds=kinds, projections=projections)
            genesis = ledger.sign(
                "key.added", _key_body("admin", Role.ADMIN, admin_key.public_key), key=admin_key
            )
            ledger.submit([genesis])
            if require_deidentified:
                ledger.set_policy(REQUIRE_DEIDENTIFIED, True, key=admin_key)
        except BaseException:
            ldir.remove_partial(whole=fresh)  # a failed init leaves nothing behind
            raise
        return ledger

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        passphrase: bytes | None = None,
        kinds: KindRegistry = DEFAULT_KINDS,
        projections: Projections = DEFAULT_PROJECTIONS,
    ) -> Ledger:
        ldir = LedgerDir(directory)
        opened = cls(ldir, Store.open(ldir.database_url()), passphrase=passphrase, kinds=kinds,
                     projections=projections)
        fill_image_uids(opened.store, projections)  # once, for a ledger older than the table
        return opened

    def setting(self, name: str) -> str | None:
        with reading(self.store.engine) as conn:
            return self.store.get_meta(conn, name)

    # --- signing and appending ------------------------------------------------------
    def signing_key(self, name: str) -> SigningKey:
        if not re.fullmatch(KEY_NAME_PATTERN, name):
            raise InputError(f"invalid key name {name!r}")
        path = self.dir.key_file(name)
        if not path.exists():
            known = [k for k in self.list_keys() if k.name == name]
            if known and known[-1].revoked_index is not None:
                raise PolicyError(f"key {name} was revoked at index {known[-1].revoked_index}")
            raise InputError(f"key {name}: no private key in {path.parent}")
        return read_private_key(path, passphrase=self._passphrase)

    def sign(self, kind: str, body: dict[str, Any], *, key: SigningKey) -> dict[str, Any]:
        entry = {
            "v": ENTRY_VERSION,
            "log": self.log_id,
            "kind": kind,
            "time": utc_now(),
            "actor": key.public_key.key_id,
            "body": body,
        }
        sig = sign_entry(key, canonical_json(entry), version=ENTRY_VERSION)
        return {"entry": entry, "sig": encode_sig(sig)}

    def submit(self, envelopes: Sequence[dict[str, Any]], *, within: WithResults | None = None
               ) -> list[Appended]:  # fmt: skip
        """Append signed envelopes (all or nothing), then publish a checkpoint; ``within``
        runs in the append's transaction (its error rolls the batch back)."""
        signed: list[str] = []  # signed in the append's transaction: no second one needed

        def sign_now(conn: Connection, size: int, root: bytes) -> None:
            signed.append(self._store_checkpoint(conn, size, root))

        results = append(
            self.store, envelopes, log_id=self.log_id, guard=self.guard, after=sign_now,
            kinds=self.kinds, projections=self.projections, within=within,
        )
        if signed:
            self.guard.keep_snapshot()
            self.remember(signed[-1])
        else:
            self.checkpoint()
        return results

    # --- keys -------------------------------------------------------------------
    def add_key(
        self, name: str, role: str, *, by: str = "admin", public_key: str | None = None
    ) -> KeyInfo:
        try:
            role_value = Role(role)
        except ValueError:
            raise InputError(f"unknown role {role!r}: use " + ", ".join(Role)) from None
        signer = self.signing_key(by)
        if self._active_key(name) is not None:
            raise PolicyError(f"an active key is already named {name}")
        new_key: SigningKey | None = None
        if public_key is None:
            new_key = SigningKey.generate()
            pub = new_key.public_key
        else:
            pub = PublicKey.from_b64(public_key)
        envelope = self.sign("key.added", _key_body(name, role_value, pub), key=signer)
        if new_key is not None:
            path = self.dir.key_file(name)
            if path.exists():
                raise InputError(f"key {name}: {path} already exists")
            write_private_key(path, new_key, passphrase=self._passphrase)
        try:
            self.submit([envelope])
        except Exception:
            if new_key is not None:
                self.dir.key_file(name).unlink(missing_ok=True)
            raise
        return self.key_info(name)

    def revoke_key(self, name: str, *, by: str = "admin", reason: str = "") -> KeyInfo:
        target = self._active_key(name)
        if target is None:
            raise InputError(f"no active key named {name}")
        signer = self.signing_key(by)
        body = {"key_id": target.key_id, "reason": reason}
        self.submit([self.sign("key.revoked", body, key=signer)])
        self.dir.retire_key_file(name, key_id=target.key_id)  # frees the name for a new key
        return self.key_info(name, include_revoked=True)

    def list_keys(self) -> list[KeyInfo]:
        with reading(self.store.engine) as conn:
            return [_key_info(r) for r in self.store.keys(conn)]

    def key_info(self, name: str, *, include_revoked: bool = False) -> KeyInfo:
        keys = [k for k in self.list_keys() if k.name == name]
        active = [k for k in keys if k.revoked_index is None]
        if active:
            return active[-1]
        if include_revoked and keys:
            return keys[-1]
        raise InputError(f"no key named {name}")

    def _active_key(self, name: str) -> KeyInfo | None:
        try:
            return self.key_info(name)
        except InputError:
            return None

    # --- checkpoints --------------------------------------------------------------
    def _log_signer(self) -> NoteSigner:
        if self._signer is None:  # read the key file once per open ledger
            key = read_private_key(self.dir.log_key, passphrase=self._passphrase)
            signer = NoteSigner(self.origin, key)
            if signer.verifier_key != self.verifier.vkey:  # meta is editable; log.key is not
                raise VerificationError(
                    f"the database names log key {self.verifier.vkey}, but {self.dir.log_key} "
                    "is another key (or origin): refusing to sign"
                )
            self._signer = signer
        return self._signer

    def checkpoint_if_due(self, conn: Connection, size: int, root: bytes) -> None:
        latest = self.store.latest_checkpoint(conn)
        if latest is not None and _age_seconds(latest.created) < CHECKPOINT_INTERVAL_S:
            return
        self._store_checkpoint(conn, size, root)

    def _store_checkpoint(
        self, conn: Connection, size: int, root: bytes, *, guard: LogGuard | None = None
    ) -> str:
        note = sign_checkpoint(self._log_signer(), origin=self.origin, size=size, root=root)
        self.store.add_checkpoint(conn, size=size, root=root, note=note, created=utc_now())
        (guard or self.guard).signed(note, size=size, root=root)  # recorded after the commit
        return note

    def recover(self, *, key: str, reason: str) -> str:
        """Continue a database restored behind (or forked from) the signed history, on the
        record: a signed log.recovered entry, then a checkpoint. Returns what was lost."""
        planned = recovery.plan(self.store, self.guard)
        envelope = self.sign("log.recovered", planned.body(reason), key=self.signing_key(key))
        recovering = recovery.RecoveringGuard(self.guard, planned)

        def sign_now(conn: Connection, size: int, root: bytes) -> None:
            self._store_checkpoint(conn, size, root, guard=recovering)

        append(self.store, [envelope], log_id=self.log_id, guard=recovering, after=sign_now,
               kinds=self.kinds, projections=self.projections)
        self.guard.forget_tip()
        assert recovering.note is not None  # noqa: S101 - the append above always signs
        self.dir.replace_checkpoint(recovering.note)
        return planned.describe()

    def checkpoint(self) -> str:
        """The latest checkpoint, signing a fresh one if the log has grown since."""
        try:
            with locked_write(self.store.engine) as conn:
                trusted = self.guard.check(self.store, conn)  # never sign over a rollback
                latest = self.store.latest_checkpoint(conn)
                if latest is not None and self.guard.is_note_of(latest.note, trusted):
                    note = latest.note
                else:
                    note = self._store_checkpoint(conn, trusted.size, trusted.root)
        except BaseException:
            self.guard.discard()
            raise
        self.guard.committed(trusted)
        self.guard.keep_snapshot()
        self.remember(note)
        return note

    def remember(self, note: str) -> None:
        """Keep ``note`` as DIR/checkpoint if it extends the one kept (a fork is refused)."""
        remember_extending(self.dir, self.store, note, self.guard)

    def _root(self, conn: Connection, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        nodes = self.store.perfect_nodes(conn, frontier(size))
        return root_from_frontier(size, [nodes[c] for c in frontier(size)])

    # --- near duplicates ---------------------------------------------------------------
    def duplicate_index(self, *, max_candidates: int = 64) -> LedgerIndex:
        """The near-duplicate index of every registered image, cached in DIR/similarity.

        ``max_candidates``: how many of a query's closest candidates are verified."""
        from ledger.similarity.catalog import LedgerIndex

        return LedgerIndex(
            self.store,
            self.dir.path / "similarity",
            thresholds=self.duplicate_thresholds(),
            max_candidates=max_candidates,
        )

    def duplicate_thresholds(self) -> Thresholds:
        """The repository's near-duplicate decision (the shipped default unless changed)."""
        from ledger.similarity.verification import Thresholds

        stored = self.policy().get(DUP_THRESHOLDS)  # the signed log's, not the meta table's
        return Thresholds() if stored is None else Thresholds(**numbers(stored))

    def set_duplicate_thresholds(self, thresholds: Thresholds, *, by: str = "admin") -> None:
        """Change the decision (a signed policy.changed entry); the recorded findings are
        dropped in its transaction, to be rescanned with it."""
        from ledger.store.duplicates import clear_scans

        self.set_policy(DUP_THRESHOLDS, decimals(asdict(thresholds)), key=self.signing_key(by),
                        within=lambda conn, _results: clear_scans(conn))

    # --- policy, from the signed log ----------------------------------------------------
    def policy(self) -> dict[str, Any]:
        """Settings as the signed log sets them (checked against the signed history)."""
        with reading(self.store.engine) as conn:
            trusted = self.guard.check(self.store, conn)
        self.guard.discard()
        return trusted.policy

    def require_deidentified(self) -> bool:
        return require_deidentified(self.policy(), self.setting(REQUIRE_DEIDENTIFIED))

    def set_policy(
        self, setting: str, value: Any, *, key: SigningKey, within: WithResults | None = None
    ) -> None:
        envelope = self.sign("policy.changed", {"setting": setting, "value": value}, key=key)
        append(self.store, [envelope], log_id=self.log_id, guard=self.guard,
               after=self.checkpoint_if_due,
               within=within, kinds=self.kinds, projections=self.projections)
        self.checkpoint()

    # --- reading the log -------------------------------------------------------------
    def size(self) -> int:
        with reading(self.store.engine) as conn:
            return self.store.tail(conn)[0]

    def entries(self, *, start: int = 0, end: int | None = None) -> list[dict[str, Any]]:
        with reading(self.store.engine) as conn:
            return [
                {"index": idx, "leaf_hash": digest.hex(), "leaf": json.loads(leaf)}
                for idx, leaf, digest, _, _ in self.store.iter_leaves(conn, start=start, end=end)
            ]

    def inclusion_proof(self, index: int, *, size: int | None = None) -> Proof:
        with reading(self.store.engine) as conn:
            tree_size = self._proof_size(conn, size)
            if not 0 <= index < tree_size:
                raise InputError(f"index {index} is outside the tree of size {tree_size}")
            nodes = self.store.perfect_nodes(conn, inclusion_nodes(index=index, size=tree_size))
            leaf = self.store.perfect_nodes(conn, [(0, index)])[(0, index)]
        hashes = inclusion_proof(index=index, size=tree_size, nodes=nodes)
        return Proof(hashes, tree_size, index=index, leaf_hash=leaf)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> Proof:
        with reading(self.store.engine) as conn:
            new = self._proof_size(conn, new_size)
            if not 0 <= old_size <= new:
                raise InputError(f"old size {old_size} must be between 0 and the new size {new}")
            nodes = self.store.perfect_nodes(
                conn, consistency_nodes(old_size=old_size, new_size=new)
            )
        hashes = consistency_proof(old_size=old_size, new_size=new, nodes=nodes)
        return Proof(hashes, new, old_size=old_size)

    def _proof_size(self, conn: Connection, size: int | None) -> int:
        current, _ = self.store.tail(conn)
        if size is None:
            return current
        if not 0 <= size <= current:
            raise InputError(f"tree size {size} is outside 0..{current}")
        return size

    def tlog_proof(self, index: int) -> str:
        """A self-contained C2SP tlog-proof for ``index`` against a fresh checkpoint."""
        note = self.checkpoint()
        size = open_checkpoint(note, [self.verifier]).size
        proof = self.inclusion_proof(index, size=size)
        return format_tlog_proof(index=index, proof=proof.hashes, checkpoint_note=note)

    # --- verification ------------------------------------------------------------
    def verify(
        self, *, tree_only: bool = False, checkpoint: str | None = None, workers: int | None = None
    ) -> AuditReport:
        """Audit the whole log; raises VerificationError naming the first bad index."""
        notes = [("database", r.note) for r in self._stored_checkpoints()]
        seen = self.dir.seen_checkpoint()
        if seen is not None:
            notes.append((str(self.dir.checkpoint_file), seen))
        if checkpoint is not None:
            notes.append(("given checkpoint", checkpoint))
        opened = [open_checkpoint(n, [self.verifier], source=src) for src, n in notes]
        with reading(self.store.engine) as conn:
            public_keys = _public_keys(self.store, conn)
            if workers is None:  # a pool only pays for itself on large logs
                big = self.store.tail(conn)[0] >= PARALLEL_AUDIT_FROM
                workers = (os.cpu_count() or 1) if big else 1
            history = history_checkpoints(self.store, conn, self.guard)
            opened += history.checkpoints
            with nullcontext() if tree_only else projection_audit(self.projections,
                                                                   conn) as projector:
                report = audit_log(
                    self.store.iter_leaves(conn),
                    log_id=self.log_id,
                    public_keys=public_keys,
                    checkpoints=[(c.size, c.root) for c in opened],
                    stored_nodes=lambda a, b: self.store.nodes_completed_in(conn, start=a, end=b),
                    signatures=not tree_only,
                    workers=workers,
                    projector=projector,
                    kinds=self.kinds,
                )
                if projector is not None:  # the log is sound: now what was made of it
                    projector.compare(lambda name: stored_rows(conn, name),
                                      sqlite_order=conn.dialect.name == "sqlite")
                    report.projection_rows = projector.rows
                    self._audit_findings(conn, report)
                    report.warnings += audit_member_lists(conn).warnings()  # dataset versions
                    audit_source_rules(projector.kept)  # who may register under a source/dataset
                    report.warnings += audit_consent(conn)  # consent rules, subject side data
                    audit_access(self.store, conn)  # grants, revocations, accesses

                    audit_derivations(self.store, conn)  # edges name their images; no cycle
        report.recoveries = history.recoveries
        return report

    def rebuild(
        self, *, workers: int = 1, progress: Callable[[str, int, int], None] | None = None
    ) -> Rebuilt:
        """Every projection from the log alone (one transaction), then the duplicate findings
        rescanned (resumable: ``scan`` continues an interrupted rescan). ``progress`` gets
        (phase, done, total) for phases "rebuilding" and "rescanning"."""
        from ledger.similarity.catalog import CACHE_NAME
        from ledger.similarity.scan import scan

        def phase(name: str) -> Callable[[int, int], None] | None:
            return None if progress is None else lambda d, t: progress(name, d, t)

        rebuilt = rebuild_projections(self.store, projections=self.projections,
                                      progress=phase("rebuilding"))
        (self.dir.path / "similarity" / CACHE_NAME).unlink(missing_ok=True)  # derived: rebuilt
        index = self.duplicate_index()
        rebuilt.rescanned = scan(index, workers=workers, progress=phase("rescanning"))
        index.save()
        return rebuilt

    def _audit_findings(self, conn: Connection, report: AuditReport) -> None:
        """Duplicate findings, re-proven from the (just compared) images and the grids."""
        from ledger.similarity.findings_audit import audit_findings

        findings = audit_findings(conn, thresholds=self.duplicate_thresholds())
        report.findings, report.warnings = findings.rows, findings.warnings

    def _stored_checkpoints(self) -> list[Any]:
        with reading(self.store.engine) as conn:
            return self.store.checkpoints(conn)


def _public_keys(store: Store, conn: Connection) -> dict[str, bytes]:
    """key id -> raw key for every key.added leaf, read from the leaves themselves."""
    import json

    keys: dict[str, bytes] = {}
    for _, leaf in store.leaves_of_kinds(conn, ["key.added"]):
        try:
            body = json.loads(leaf)["envelope"]["entry"]["body"]
            raw = base64.b64decode(body["public_key"], validate=True)
        except (ValueError, KeyError, TypeError):
            continue  # the replay names this leaf as malformed
        if len(raw) == 32 and body.get("key_id") == key_id_of(raw):
            keys.setdefault(body["key_id"], raw)  # a later entry reusing an id is not its key
    return keys


def _key_body(name: str, role: Role, pub: PublicKey) -> dict[str, Any]:
    return {"name": name, "role": str(role), "public_key": pub.to_b64(), "key_id": pub.key_id}


def _key_info(row: Any) -> KeyInfo:
    return KeyInfo(row.name, row.role, row.key_id, row.public_key, row.added_idx, row.revoked_idx)


def _age_seconds(created: str) -> float:
    from datetime import UTC, datetime

    then = datetime.fromisoformat(created)
    return (datetime.now(UTC) - then).total_seconds()


__all__ = ["Appended", "AuditReport", "KeyInfo", "KeyState", "Ledger", "Proof"]
