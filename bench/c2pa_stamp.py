"""Cost of the optional C2PA manifest in ``stamp`` (issue 20); prints figures, never asserts.

``--files`` synthetic images of each kind (PNG and JPEG, ``--side`` pixels square, random
content) are registered in a fresh SQLite ledger, then stamped twice from the same copies:
once with the medledger stamp only, once with a C2PA manifest as well (a throw-away chain
from bench/c2pa_chain.py). Reported per kind: median bytes added to the file by each, and
the wall time of each ``stamp`` run per file (its re-decode to prove the pixels included),
then the time of ``check`` per file with and without a manifest.

    python bench/c2pa_stamp.py                 # 20 files of 512 x 512 per kind
    python bench/c2pa_stamp.py --files 50 --side 1024 --json
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from c2pa_chain import signer_chain

from ledger.service import Ledger, stamps
from ledger.service.registration import RegisterOptions, register


def _images(folder: Path, files: int, side: int) -> dict[str, list[Path]]:
    rng = np.random.default_rng(7)
    made: dict[str, list[Path]] = {"png": [], "jpeg": []}
    folder.mkdir(parents=True)
    for n in range(files):
        grey = rng.integers(0, 256, (side, side), dtype=np.uint8)
        Image.fromarray(grey).save(path := folder / f"g{n}.png")
        made["png"].append(path)
        colour = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        Image.fromarray(colour).save(path := folder / f"c{n}.jpg", quality=90)
        made["jpeg"].append(path)
    return made


def _copies(paths: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    return [Path(shutil.copyfile(p, folder / p.name)) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="c2pa-bench-"))
    try:
        made = _images(root / "images", args.files, args.side)
        chain, key = signer_chain()
        (cert := root / "chain.pem").write_bytes(chain)
        (signer := root / "leaf.key").write_bytes(key)
        ledger = Ledger.init(root / "ledger")
        ledger.add_key("cur", "curator")
        register(ledger, [root / "images"], RegisterOptions(
            source="bench", license="CC0-1.0", consent="consented", key="cur", workers=1))
        figures: dict[str, dict[str, float]] = {}
        for kind, paths in made.items():
            row: dict[str, float] = {}
            for label, options in (("stamp", {}), ("stamp_c2pa",
                                                   {"c2pa_cert": cert, "c2pa_key": signer})):
                copies = _copies(paths, root / f"{kind}-{label}")
                start = time.perf_counter()
                stamps.stamp(ledger, copies, **options)
                row[f"{label}_ms_per_file"] = 1000 * (time.perf_counter() - start) / len(paths)
                row[f"{label}_bytes_added"] = statistics.median(
                    c.stat().st_size - p.stat().st_size for c, p in zip(copies, paths,
                                                                        strict=True))
                start = time.perf_counter()
                stamps.check(copies, pubkeys=[ledger.verifier.vkey]).require_all()
                row[f"check_{label}_ms_per_file"] = (1000 * (time.perf_counter() - start)
                                                     / len(paths))
            figures[kind] = {k: round(v, 1) for k, v in row.items()}
        ledger.store.engine.dispose()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {"files_per_kind": args.files, "side": args.side, "figures": figures}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.files} files per kind, {args.side} x {args.side}")
    for kind, row in figures.items():
        print(f"{kind}: " + ", ".join(f"{k} {v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
