"""The consent rules hold whoever submits: the sequencer refuses, verify reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import sequencer
from ledger.errors import PolicyError, VerificationError
from ledger.service import Ledger

from .conftest import OFFICER, SUBMITTER, Base

UNKNOWN = "skey-hmac-sha256:" + "7" * 64


def _open(base: Base, target: Path) -> Ledger:
    return Ledger.open(base.copy(target), passphrase=None)


def test_submitted_consent_entries_obey_the_rules(consent_base: Base, tmp_path: Path) -> None:
    ledger = _open(consent_base, tmp_path / "ledger")
    try:
        size = ledger.size()
        officer, submitter = ledger.signing_key(OFFICER), ledger.signing_key(SUBMITTER)
        bad = [
            (ledger.sign("consent.changed", {"subject": UNKNOWN, "status": "withdrawn"},
                         key=officer), "unknown subject"),
            (ledger.sign("consent.changed", {"images": [1], "status": "withdrawn"},
                         key=officer), "entry 1 is not a registered image"),
            (ledger.sign("subject.erased", {"subject": UNKNOWN}, key=officer), "unknown subject"),
            (ledger.sign("consent.changed", {"images": [consent_base.files[0].index],
                                             "status": "withdrawn"}, key=submitter),
             "needs one of admin, consent-officer"),
        ]
        for envelope, reason in bad:
            with pytest.raises(PolicyError, match=reason):
                ledger.submit([envelope])
        assert ledger.size() == size
    finally:
        ledger.store.engine.dispose()


def test_verify_reports_a_consent_entry_for_an_unknown_subject(
    consent_base: Base, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = _open(consent_base, tmp_path / "ledger")
    try:
        ledger.verify()
        # a writer that skipped the rule (an older or modified sequencer)
        monkeypatch.setattr(sequencer, "check_consent_batch", lambda _conn, _fresh: None)
        envelope = ledger.sign("consent.changed", {"subject": UNKNOWN, "status": "withdrawn"},
                               key=ledger.signing_key(OFFICER))
        [appended] = ledger.submit([envelope])
        with pytest.raises(VerificationError, match="no earlier image") as caught:
            ledger.verify()
        assert caught.value.index == appended.index
    finally:
        ledger.store.engine.dispose()
