"""find_lossy_copies: a missing member's JPEG q70 copy under another name is named, by every
pair when there are few and through the candidate index when there are many; an unrelated
extra file stays extra."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ledger.datasets.copycheck import CopyReport, FileStatus
from ledger.datasets.lossycopy import ALL_PAIRS, file_descriptor, find_lossy_copies
from ledger.imaging.limits import DecodeLimits


def _structured(seed: int, size: int = 96) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8))
    return coarse.resize((size, size), Image.Resampling.BICUBIC)


@pytest.mark.parametrize("members", [4, 24])  # 4 x 6 pairs: all; 24 x 26: the index
def test_lossy_copies_are_found_and_unrelated_files_stay_extra(tmp_path: Path,
                                                               members: int) -> None:
    originals, copy = tmp_path / "originals", tmp_path / "copy"
    originals.mkdir()
    copy.mkdir()
    grids = {}
    for entry in range(members):
        _structured(entry).save(originals / f"{entry}.png")
        found = file_descriptor(originals / f"{entry}.png", DecodeLimits())
        assert found is not None
        grids[entry] = found
    lossy = {1: "one.jpg", 3: "three.jpg"}
    for entry, name in lossy.items():
        _structured(entry).save(copy / name, quality=70)
    unrelated = [f"other{n}.jpg" for n in range(members + 2 - len(lossy))]
    for n, name in enumerate(unrelated):
        _structured(1000 + n).save(copy / name, quality=70)
    (copy / "notes.txt").write_text("not an image")
    report = CopyReport([FileStatus("missing", None, e) for e in range(members)]
                        + [FileStatus("extra", p.name, None) for p in sorted(copy.iterdir())])
    assert (members * (len(report.files) - members) > ALL_PAIRS) == (members > 4)
    assert find_lossy_copies(copy, report, grids) == 2
    rows = {(f.status, f.entry, f.path) for f in report.files}
    assert {r for r in rows if r[0] == "lossy_copy_of"} == {
        ("lossy_copy_of", e, name) for e, name in lossy.items()}
    assert {r[1] for r in rows if r[0] == "missing"} == set(range(members)) - set(lossy)
    assert {r[2] for r in rows if r[0] == "extra"} == {*unrelated, "notes.txt"}
