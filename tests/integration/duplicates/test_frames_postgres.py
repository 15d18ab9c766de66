"""Every frame searchable (issue 21) on PostgreSQL: the frame_keys projection, the recorded
edge that names a frame, ``similar`` and ``verify``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file

pytestmark = pytest.mark.postgres
RunCli = Any


def test_a_frame_is_found_recorded_and_audited_on_postgres(
    tmp_path: Path, postgres_url: str, cli: RunCli
) -> None:
    directory = tmp_path / "ledger"
    assert cli("init", "--database-url", postgres_url, ledger=directory).rc == 0
    assert cli("keys", "add", "site", "--role", "curator", ledger=directory).rc == 0
    original = Path(str(get_testdata_file("emri_small.dcm")))
    frame = dcmread(original).pixel_array[7].astype(np.float64)
    export = tmp_path / "copies" / "frame-7.png"
    export.parent.mkdir()
    Image.fromarray(np.uint8(np.rint((frame - frame.min()) / np.ptp(frame) * 255))).save(export)
    origin = ["--license", "CC0-1.0", "--consent", "waived", "--key", "site", "--json"]

    first = cli("register", original, "--source", "a", *origin, ledger=directory)
    second = cli("register", export.parent, "--source", "b", *origin, ledger=directory)

    assert first.rc == 0 and second.rc == 0, second.stderr
    matches = second.json()["duplicates"][0]["matches"]
    assert [(m["source"], m["kind"], m["frame"]) for m in matches] == [("a", "near", 7)]
    with psycopg.connect(postgres_url) as conn:
        frames = conn.execute("SELECT frame FROM frame_keys ORDER BY frame").fetchall()
        details = conn.execute("SELECT detail FROM dup_edges").fetchall()
    assert [f for (f,) in frames] == list(range(10))
    assert len(details) == 1 and details[0][0].startswith("frame 7: ")
    similar = cli("similar", export, "--json", ledger=directory).json()
    assert [(r["source"], r.get("frame")) for r in similar] == [("b", None), ("a", 7)]
    assert cli("verify", ledger=directory).rc == 0
