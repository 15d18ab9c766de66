"""Key roles and what each may sign."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    CURATOR = "curator"
    SUBMITTER = "submitter"
    VERIFIER = "verifier"
    CONSENT_OFFICER = "consent-officer"  # signs consent.changed and subject.erased
    DAC = "dac"  # data-access committee: signs dataset.access_granted and _revoked

