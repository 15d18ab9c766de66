"""Lineage on PostgreSQL: derive, walk, verify, and a tampered derivations row found."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from PIL import Image

from ..registration.data import pydicom_file
from ..registration.support import ORIGIN, SUBMITTER, make_ledger
from .test_lineage_chain import windowed

pytestmark = pytest.mark.postgres


def test_lineage_on_postgres(tmp_path: Path, postgres_url: str, cli: Any) -> None:
    ct, png = tmp_path / "ct.dcm", tmp_path / "ct_w.png"
    shutil.copyfile(pydicom_file("CT_small.dcm"), ct)
    Image.fromarray(windowed(ct, 40, 400)).save(png)
    ledger = make_ledger(tmp_path / "ledger", database_url=postgres_url)
    assert cli("register", ct, "--source", "site-a", *ORIGIN, "--key", SUBMITTER,
               "--workers", "1", ledger=ledger).rc == 0
    made = cli("derive", ct, png, "--step", "window:center=40,width=400", "--step",
               "convert:from=dicom,to=png", "--key", SUBMITTER, ledger=ledger)
    assert made.rc == 0, made.stderr
    shown = cli("lineage", png, ledger=ledger)
    assert shown.rc == 0 and "back: 1 derivation(s)" in shown.stdout, shown.stderr
    assert cli("verify", ledger=ledger).rc == 0
    small = tmp_path / "small.png"
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(small)
    refused = cli("derive", png, small, "--step", "resize:size=8x8", "--key", SUBMITTER,
                  ledger=ledger)
    assert refused.rc == 2 and "8x8" in refused.stderr
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE derivations SET inferred = true")
    tampered = cli("verify", ledger=ledger)
    assert tampered.rc == 1
    assert "derivations: entry" in tampered.stderr and "column inferred" in tampered.stderr
