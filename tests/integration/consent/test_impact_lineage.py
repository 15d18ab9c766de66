"""``consent impact`` follows lineage: the derivative step is one call to
``ledger.lineage.graph.descendants(store, roots)``.

The first test passes that function in (a stand-in naming a registered image), so the
composition is tested in every build; the second runs only once the lineage feature is
merged, and records a real image.derived entry with ``medledger derive``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image

from ledger.service import Ledger
from ledger.service.consent import consent_impact

from ..registration.support import RunCli
from .conftest import SUBMITTER, Base


def test_impact_asks_lineage_once_for_the_subjects_images(
    consent_base: Base, tmp_path: Path
) -> None:
    ledger_dir = consent_base.copy(tmp_path / "ledger")
    cookies = consent_base.of_patient(consent_base.files[0].patient_id)
    other = next(f for f in consent_base.files if f not in cookies)
    calls: list[list[int]] = []

    def descendants(store: Any, roots: list[int]) -> list[int]:
        calls.append(list(roots))
        return [other.index]  # as if the other patient's image were derived from these

    ledger = Ledger.open(ledger_dir, passphrase=None)
    try:
        impact = consent_impact(ledger, str(cookies[0].index), descendants=descendants)
        assert calls == [[cookies[0].index]]
        assert impact.derivatives == [other.index]
        subject = consent_impact(ledger, impact.target.subject or "", descendants=descendants)
        assert calls[-1] == sorted(f.index for f in cookies)
        assert subject.images == sorted(f.index for f in cookies)
    finally:
        ledger.store.engine.dispose()


def test_impact_lists_derivatives_recorded_with_derive(
    consent_base: Base, tmp_path: Path, cli: RunCli
) -> None:
    ledger = consent_base.copy(tmp_path / "ledger")
    parent = consent_base.files[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pixels = pydicom.dcmread(parent.path).pixel_array
    child = tmp_path / "child.png"
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(child)
    derived = cli("derive", parent.path, child, "--step", "convert:from=dicom,to=png",
                  "--key", SUBMITTER, "--json", ledger=ledger)
    assert derived.rc == 0, derived.stderr
    child_index = derived.json()["child"]
    impact = cli("consent", "impact", str(parent.index), "--json", ledger=ledger).json()
    assert impact["derivatives"] == [child_index]
