"""Registration use cases: register files, show an image's registrations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.errors import VerificationError
from ledger.imaging.limits import DEFAULT_MAX_PIXELS, DecodeLimits
from ledger.registration.lookup import show_image
from ledger.registration.pipeline import (
    RegisterOptions,
    RegisterSummary,
    count_files,
    default_workers,
)
from ledger.service.consent import erasure_notes
from ledger.service.ledger import Ledger
from ledger.service.register import register


@dataclass(frozen=True)
class Shown:
    """An image's registrations, each re-checked (signature, inclusion) against a checkpoint."""

    target: str
    digest: str
    checkpoint: dict[str, Any]
    registrations: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "checkpoint": self.checkpoint,
            "registrations": self.registrations,
        }

    def require_verified(self) -> None:
        """Raise unless the image is registered and every registration verifies (show's exit 1)."""
        if not self.registrations:
            raise VerificationError(f"{self.target}: not registered in this ledger")
        failing = ("invalid", "signed for another log")
        bad = [
            r for r in self.registrations
            if r.get("signature") in failing or r.get("inclusion") == "invalid"
        ]
        if bad:
            raise VerificationError(f"{self.target}: entry {bad[0]['index']} does not verify")
        differs = [r for r in self.registrations if r["projection_differs"]]
        if differs:
            raise VerificationError(
                f"images: entry {differs[0]['index']}: the table differs from the signed entry "
                f"({', '.join(differs[0]['projection_differs'])}); medledger verify names it"
            )


def show(ledger: Ledger, target: str) -> Shown:
    """``target``: an image file, or its file or pixel SHA-256."""
    found = show_image(ledger, target)
    erased = erasure_notes(ledger, [r["index"] for r in found["registrations"]])
    for reg in found["registrations"]:
        reg["subject_erased_at"] = erased.get(reg["index"])  # "subject erased at index N"
    return Shown(target, found["digest"], found["checkpoint"], found["registrations"])


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DecodeLimits",
    "RegisterOptions",
    "RegisterSummary",
    "Shown",
    "count_files",
    "default_workers",
    "register",
    "show",
]
