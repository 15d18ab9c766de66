"""The demo's dataset step: version a release, pin it, damage a copy, verify the copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from ledger.service import Ledger
from ledger.service import datasets as service
from ledger.service.datasetcopy import verify_copy


def dataset_step(ledger: Ledger, root: Path, *, key: str) -> tuple[str, dict[str, str]]:
    """Publish the lineage step's two PNGs as a dataset version, pin it, and check a copy
    in which one file was re-saved losslessly and one pixel of the other changed."""
    derived = root / "derived"
    pngs = sorted(derived.glob("*.png")) if derived.is_dir() else []
    if not pngs:
        return "no derived images here (CT_small.dcm missing): no dataset to show", {}
    release = root / "release"
    release.mkdir()
    for png in pngs:
        shutil.copy(png, release / png.name)
    made = service.create(ledger, "demo-release", key=key, folder=release)
    lock = root / "medledger.lock"
    lock.write_bytes(service.pin(ledger, "demo-release@1"))
    copy = root / "copy"
    shutil.copytree(release, copy)
    first, second = sorted(copy.glob("*.png"))[:2]
    with Image.open(first) as image:
        image.load()
        image.save(first, compress_level=1)  # same pixels, other bytes
    with Image.open(second) as image:
        pixels = np.array(image)
    pixels.flat[0] ^= 1  # one pixel changed
    Image.fromarray(pixels).save(second)
    checked = verify_copy(lock, copy, pubkeys=[ledger.verifier.vkey])
    lines = [f"demo-release@1: {made.version.members} members, root "
             f"{made.version.members_root[:16]}..., pinned in {lock.name} "
             f"({lock.stat().st_size} bytes)",
             "a copy with one file re-saved and one pixel changed, checked with only the lock "
             "and the log's public key:"]
    lines += [f"  {Path(f.path).name if f.path else f'entry {f.entry}'}: {f.status}"
              for f in checked.report.files]
    passed = not checked.report.problems(strict_bytes=False)
    lines.append("copy " + ("passes" if passed else "fails: it is not the pinned version"))
    statuses = {Path(f.path).name: f.status for f in checked.report.files if f.path}
    return "\n".join(lines), statuses
