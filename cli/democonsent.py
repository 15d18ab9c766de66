"""The demo's consent step: a subject withdraws, what that touches, then erasure."""

from __future__ import annotations

from ledger.service import Ledger
from ledger.service.consent import consent_impact, erase_subject, set_consent, show_consent


def withdrawal_and_erasure(ledger: Ledger, image: int) -> str:
    """``image``: a registered DICOM entry whose subject withdraws and is then erased."""
    ledger.add_key("consent-office", "consent-officer")
    impact = consent_impact(ledger, str(image))
    subject = impact.target.subject
    if subject is None:
        return f"entry {image} has no subject: nothing to withdraw"
    everything = consent_impact(ledger, subject)
    done = set_consent(ledger, subject=subject, images=[], status="withdrawn",
                       reason="subject-request", key="consent-office")
    state = show_consent(ledger, subject).state
    lines = [
        f"the subject of entry {image} ({subject[:28]}...) withdraws: consent.changed at "
        f"entry {done.index}, signed by a consent-officer key",
        f"  impact: {len(everything.images)} image(s) {everything.images}, dataset labels "
        f"{', '.join(everything.datasets) or 'none'}; derivatives: {everything.derivatives}",
        f"  state now: {state.status}, forbids {', '.join(state.forbidden_uses)}",
    ]
    erased = erase_subject(ledger, subject, key="consent-office", reason="subject-request")
    lines.append(f"erasure: subject.erased at entry {erased.index}; the subject's key is "
                 "deleted, so no secret or identifier links those entries to anyone, and the "
                 "log still verifies")
    return "\n".join(lines)
