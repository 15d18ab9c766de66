"""Cost of ``consent impact`` for one subject with many images and derivatives. Prints
figures, never asserts.

A fresh SQLite ledger holds IMAGES image.registered entries of one subject (v2 pseudonym)
and DERIVED entries of other images (ten dataset labels). ``consent impact SUBJECT`` is
timed through the service (best of 5, after one warm-up): it reads the subject's rows,
hashes and parses their leaves (every fact checked), asks lineage for the derivatives in one
call (``ledger.lineage.graph.descendants``), and collects the dataset labels of all of them.
The DERIVED edges (derivative i from subject image i mod IMAGES) are written straight into the
``derivations`` projection table, as bench/lineage.py does: signing 10,000 image.derived
entries would only time the sequencer, and verify would refuse this store.

    python bench/consent.py 1000 10000
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from ledger.imaging.pseudonym import V2_PREFIX, subject_pseudonym
from ledger.lineage.graph import descendants
from ledger.service import Ledger
from ledger.service.consent import consent_impact
from ledger.store.tables import DerivationRow

META = {"Modality": "CT", "Rows": 512, "Columns": 512}
DEID = {"patient_identity_removed": True, "method": None, "method_codes": [],
        "identifying_present": [], "private_tags_present": False}  # fmt: skip
SUBJECT = subject_pseudonym(b"bench subject key, 32 bytes long")


def body(i: int, subject: str) -> dict[str, Any]:
    h = hashlib.sha256(str(i).encode()).hexdigest()
    names = {"StudyInstanceUID": V2_PREFIX + h, "SeriesInstanceUID": V2_PREFIX + h,
             "SOPInstanceUID": V2_PREFIX + h, "FrameOfReferenceUID": None,
             "PatientID": subject, "SourceImageSequence": []}  # fmt: skip
    image = {"v": 1, "file_sha256": h, "file_size": 1, "format": "dicom", "pixel_sha256": h,
             "pixel_form": "<i2 1x512x512x1", "frame_sha256": [], "metadata": META,
             "deid": DEID, "pseudonyms": names,
             "fingerprints": {"phash": {"alg": "phash", "v": 1, "hex": h[:16]}},
             "preamble": None}  # fmt: skip
    return {"source": "site-a", "license": "CC0-1.0", "consent": "consented",
            "dataset": f"set{i % 10}@1", "image": image}  # fmt: skip


def main() -> None:
    images = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    derived = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    ledger = Ledger.init(Path(tempfile.mkdtemp()) / "ledger")
    ledger.add_key("up", "submitter")
    key = ledger.signing_key("up")
    bodies = [body(i, SUBJECT) for i in range(images)]
    bodies += [body(images + i, subject_pseudonym(hashlib.sha256(str(i).encode()).digest()))
               for i in range(derived)]
    began = time.perf_counter()
    indexes: list[int] = []
    for start in range(0, len(bodies), 2000):
        envelopes = [ledger.sign("image.registered", b, key=key)
                     for b in bodies[start:start + 2000]]
        indexes += [r.index for r in ledger.submit(envelopes)]
    print(f"built {len(bodies)} entries in {time.perf_counter() - began:.1f} s")
    others = indexes[images:]
    edges = [{"idx": indexes[-1] + 1 + n, "parent": indexes[n % images], "child": child,
              "inferred": False} for n, child in enumerate(others)]  # fmt: skip
    with ledger.store.engine.begin() as conn:
        conn.execute(insert(DerivationRow.__table__), edges)  # type: ignore[attr-defined]
    times = []
    for _ in range(6):
        began = time.perf_counter()
        impact = consent_impact(ledger, SUBJECT, descendants=descendants)
        times.append(time.perf_counter() - began)
    print(f"consent impact: {len(impact.images)} images, "
          f"{len(impact.derivatives)} derivatives, {len(impact.datasets)} datasets: "
          f"best {min(times[1:]) * 1000:.0f} ms, worst {max(times[1:]) * 1000:.0f} ms "
          f"(first run {times[0] * 1000:.0f} ms; derivatives walked by "
          "ledger.lineage.graph.descendants)")


if __name__ == "__main__":
    main()
