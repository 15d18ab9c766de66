"""Erasure on PostgreSQL: the key row goes, the side tables are vacuumed, verify passes."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.service import Ledger
from ledger.service.consent import consent_impact, erase_subject
from ledger.service.registration import RegisterOptions, register

from .conftest import OFFICER, SUBMITTER, Base


@pytest.mark.postgres
def test_erasure_on_postgresql(consent_base: Base, tmp_path: Path, postgres_url: str) -> None:
    ledger = Ledger.init(tmp_path / "ledger", database_url=postgres_url)
    try:
        ledger.add_key(OFFICER, "consent-officer")
        ledger.add_key(SUBMITTER, "submitter")
        first = consent_base.files[2]
        options = RegisterOptions(source="site-a", license="CC-BY-4.0", consent="consented",
                                  key=SUBMITTER, workers=1)
        assert register(ledger, [first.path], options).registered == 1
        subject = consent_impact(ledger, str(first.path)).target.subject
        assert subject is not None
        with ledger.store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM subject_keys")).scalar_one() == 1
        erased = erase_subject(ledger, subject, key=OFFICER)
        assert erased.keys_deleted == 1
        with ledger.store.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM subject_keys")).scalar_one() == 0
        report = ledger.verify()
        assert any("erased" in w for w in report.warnings)
    finally:
        ledger.store.engine.dispose()
