"""Cost of the source and dataset rules in ``verify``. Prints figures, never asserts.

N synthetic image.registered entries (one declared source, ten datasets) signed by one
submitter key and appended with ``Ledger.submit`` to a fresh SQLite ledger; then the whole
``verify`` (one process) and, timed alone, the source/dataset replay it includes.

    python bench/sources.py 20000
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.service import Ledger
from ledger.service.sources import add_source
from ledger.sourcelog import audit_sources
from ledger.store import reading

META = {"Manufacturer": "GE MEDICAL SYSTEMS", "ManufacturerModelName": "LightSpeed VCT",
        "Modality": "CT", "Rows": 512, "Columns": 512,
        "ImageType": ["ORIGINAL", "PRIMARY", "AXIAL"]}  # fmt: skip
DEID = {"patient_identity_removed": True, "method": None, "method_codes": [],
        "identifying_present": [], "private_tags_present": False}  # fmt: skip


def body(i: int) -> dict[str, Any]:
    h = hashlib.sha256(str(i).encode()).hexdigest()
    image = {"v": 1, "file_sha256": h, "file_size": 1, "format": "dicom", "pixel_sha256": h,
             "pixel_form": "<i2 1x512x512x1", "frame_sha256": [], "metadata": META,
             "deid": DEID, "pseudonyms": {"study": h, "series": h, "sop": h},
             "fingerprints": {"phash": {"alg": "phash", "v": 1, "hex": h[:16]}},
             "preamble": "zero"}  # fmt: skip
    return {"source": "site-a", "license": "CC0-1.0", "consent": "waived",
            "dataset": f"set{i % 10}@1", "image": image}  # fmt: skip


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    ledger = Ledger.init(Path(tempfile.mkdtemp()) / "ledger")
    ledger.add_key("up", "submitter")
    add_source(ledger, "site-a", ["up"])
    key = ledger.signing_key("up")
    envelopes = [ledger.sign("image.registered", body(i), key=key) for i in range(count)]
    for start in range(0, count, 2000):
        ledger.submit(envelopes[start : start + 2000])
    began = time.perf_counter()
    ledger.verify(workers=1)
    total = time.perf_counter() - began
    with reading(ledger.store.engine) as conn:
        began = time.perf_counter()
        checked = audit_sources(ledger.store, conn)
        rules = time.perf_counter() - began
    print(f"{count} image entries: verify {total:.2f} s in all; the source/dataset replay "
          f"{rules:.2f} s of it ({rules / total:.0%}, {checked} entries checked)")


if __name__ == "__main__":
    main()
