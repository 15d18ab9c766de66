"""What a feature module may use of an opened ledger, declared where the features can see it.

The service's :class:`ledger.service.ledger.Ledger` satisfies these protocols; feature folders
(registration, similarity, bundles) type their ``ledger`` argument with them, so that they
never import the service above them (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import Connection

from ledger.crypto.keys import SigningKey
from ledger.crypto.note import NoteVerifier
from ledger.directory import LedgerDir
from ledger.store import Store


class ProofView(Protocol):
    """An inclusion proof: the audit path and the tree size it proves against."""

    @property
    def hashes(self) -> list[bytes]: ...

    @property
    def tree_size(self) -> int: ...

    @property
    def leaf_hash(self) -> bytes | None: ...


class KeyView(Protocol):
    @property
    def role(self) -> str: ...


class LedgerHandle(Protocol):
    """An opened ledger: its directory, store, log identity, checkpoints and signing keys."""

    dir: LedgerDir
    store: Store
    origin: str
    verifier: NoteVerifier
    log_id: str  # the key id of the log key, which v2 entries name

    def setting(self, name: str) -> str | None: ...

    def signing_key(self, name: str) -> SigningKey: ...

    def key_info(self, name: str, *, include_revoked: bool = False) -> KeyView: ...

    def sign(self, kind: str, body: dict[str, Any], *, key: SigningKey) -> dict[str, Any]: ...

    def checkpoint(self) -> str: ...

    def checkpoint_if_due(self, conn: Connection, size: int, root: bytes) -> None: ...

    def inclusion_proof(self, index: int, *, size: int | None = None) -> ProofView: ...
