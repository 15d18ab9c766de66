"""The use cases: the one API that the CLI and the server call.

``Ledger`` (in :mod:`ledger.service.ledger`) opens a ledger directory and holds its keys,
store and checkpoints; the use-case groups are modules beside it, each taking the opened
Ledger and returning plain results (dataclasses with ``to_json()``):

* :mod:`ledger.service.log`: the latest checkpoint, signed notes, audit results;
* :mod:`ledger.service.registration` (with :mod:`ledger.service.register`): register, show;
* :mod:`ledger.service.similarity`: similar, scans, the duplicate decision, dups, leakage,
  overlap, composition; :mod:`ledger.service.pages`: their HTML pages;
* :mod:`ledger.service.bundles`: offline audit bundles.

Only the Ledger's names load here, so `import ledger.service` stays light. Nothing
in the service prints or parses arguments. Layout and rules: docs/architecture.md.
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
from ledger.store.url import PASSWORD_ENV, without_password

__all__ = [
    "PASSWORD_ENV",
    "Appended",
    "AuditReport",
    "KeyInfo",
    "KeyState",
    "Ledger",
    "Proof",
    "env_passphrase",
    "without_password",
]
