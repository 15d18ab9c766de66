"""medledger: provenance and integrity ledger for medical-imaging datasets.

The public API is the names in ``__all__``; everything else may change.
Names load lazily so that ``import ledger.log`` stays light in worker processes.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "AuditReport": "ledger.audit.replay",
    "InputError": "ledger.errors",
    "KeyInfo": "ledger.service",
    "Ledger": "ledger.service",
    "LedgerError": "ledger.errors",
    "PolicyError": "ledger.errors",
    "Proof": "ledger.service",
    "Role": "ledger.model.roles",
    "StorageError": "ledger.errors",
    "VerificationError": "ledger.errors",
    "canonical_json": "ledger.model.canonical",
    "export_bundle": "ledger.bundle",
    "KindRegistry": "ledger.model.kinds",
    "KindSpec": "ledger.model.kinds",
    "verify_bundle": "ledger.bundle",
}

__all__ = [
    "AuditReport",
    "InputError",
    "KeyInfo",
    "KindRegistry",
    "KindSpec",
    "Ledger",
    "LedgerError",
    "PolicyError",
    "Proof",
    "Role",
    "StorageError",
    "VerificationError",
    "canonical_json",
    "export_bundle",
    "verify_bundle",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
