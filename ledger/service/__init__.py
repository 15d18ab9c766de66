"""The use cases: the one API that the CLI and the server call.

``Ledger`` (in :mod:`ledger.service.ledger`) opens a ledger directory and holds its keys,
store and checkpoints; the use-case groups are modules beside it. Nothing here prints or
parses arguments.
"""

from __future__ import annotations

from ledger.service.ledger import (
    Appended,
    AuditReport,
    KeyInfo,
    KeyState,
    Ledger,
    Proof,
    env_passphrase,
)

__all__ = [
    "Appended",
    "AuditReport",
    "KeyInfo",
    "KeyState",
    "Ledger",
    "Proof",
    "env_passphrase",
]
