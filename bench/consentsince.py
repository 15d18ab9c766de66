"""Cost of ``dataset verify --bundle`` (consent since the pin, issue 20); prints figures.

Never asserts. ``--files`` synthetic registrations (the facts of bench/datasets.py: real file
digests of ``--size`` random bytes, no decoding), a version of all of them pinned, then
``--withdrawn`` of them withdrawn after the pin (image-level consent.changed entries of up to
1,000 images each) and the whole log exported as a bundle. Then, each run twice and the
faster kept, on the same cores: ``verify_copy`` of the unchanged copy without the bundle and
with it (the bundle audited in full: every signature, the chain, the tree, the consistency
proof from the pin, then the consent replay).

    python bench/consentsince.py --quick        # 2,000 files
    python bench/consentsince.py                # 20,000 files
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.bundle import export_bundle
from ledger.service import Ledger
from ledger.service import datasets as service
from ledger.service.datasetcopy import verify_copy

KEY, OFFICER = "curator", "officer"


def _facts(file_sha: str, size: int) -> dict[str, Any]:
    pixel = hashlib.sha256(b"pixels:" + file_sha.encode()).hexdigest()
    return {
        "v": 1, "file_sha256": file_sha, "file_size": size, "format": "png",
        "pixel_sha256": pixel, "pixel_form": "|u1 1x128x128x1", "frame_sha256": [],
        "metadata": {}, "deid": {}, "pseudonyms": None, "fingerprints": {}, "preamble": None,
    }  # fmt: skip


def _best(runs: int, action: Any) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return min(times), result


def run(count: int, size: int, withdrawn: int, root: Path) -> dict[str, Any]:
    folder = root / "data"
    folder.mkdir()
    shas = []
    for n in range(count):
        data = os.urandom(size)
        (folder / f"f{n:06d}.png").write_bytes(data)
        shas.append(hashlib.sha256(data).hexdigest())
    ledger = Ledger.init(root / "ledger")
    ledger.add_key(KEY, "curator")
    ledger.add_key(OFFICER, "consent-officer")
    key = ledger.signing_key(KEY)
    for start in range(0, count, 2000):
        ledger.submit([ledger.sign("image.registered", {
            "source": "bench", "license": "CC0-1.0", "consent": "waived",
            "image": _facts(sha, size)}, key=key) for sha in shas[start : start + 2000]])
    service.create(ledger, "bench", key=KEY, folder=folder)
    lock = root / "bench.lock"
    lock.write_bytes(service.pin(ledger, "bench@1"))
    members = [m["entry"] for m in service.members(ledger, service.version(ledger, "bench@1"))]
    officer = ledger.signing_key(OFFICER)
    chosen = sorted(members[:: max(1, len(members) // max(1, withdrawn))][:withdrawn])
    for start in range(0, len(chosen), 1000):
        ledger.submit([ledger.sign("consent.changed", {
            "images": chosen[start : start + 1000], "status": "withdrawn", "scope": []},
            key=officer)])
    bundle = root / "new.bundle"
    bundle.write_text(json.dumps(export_bundle(ledger)))
    vkey = ledger.verifier.vkey
    ledger.store.engine.dispose()
    workers = os.cpu_count() or 1
    plain_s, _ = _best(2, lambda: verify_copy(lock, folder, pubkeys=[vkey], workers=workers))
    bundle_s, result = _best(2, lambda: verify_copy(lock, folder, pubkeys=[vkey],
                                                    workers=workers, bundle=bundle))
    return {
        "files": count, "file_bytes": size, "cores": workers, "withdrawn": withdrawn,
        "reported_withdrawn": len(result.consent.ended),
        "bundle_entries": result.consent.size, "bundle_bytes": bundle.stat().st_size,
        "verify_s": round(plain_s, 2), "verify_with_bundle_s": round(bundle_s, 2),
        "bundle_overhead_s": round(bundle_s - plain_s, 2),
        "bundle_us_per_entry": round((bundle_s - plain_s) / (result.consent.size or 1) * 1e6, 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--withdrawn", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="2,000 files")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    count = 2_000 if args.quick else args.files
    with tempfile.TemporaryDirectory(prefix="bench-consentsince-") as tmp:
        figures = run(count, args.size, min(args.withdrawn, count), Path(tmp))
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    for name, value in figures.items():
        print(f"{name:24} {value}")


if __name__ == "__main__":
    main()
