"""A ledger with one pinned dataset version, shared by the dataset tests (built once).

The copy holds three synthetic PNGs, a synthetic JPEG and pydicom's MR_small.dcm (explicit
VR little endian), all registered by the curator key ``cur``; ``spare.png`` is registered
too but is not in the folder. ``chest@1`` is versioned from the folder and pinned.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from ledger.service import Ledger
from ledger.service import datasets as service
from ledger.service.registration import RegisterOptions, register

MR_SMALL = Path(pydicom.__file__).parent / "data" / "test_files" / "MR_small.dcm"


@dataclass(frozen=True)
class Pinned:
    ledger: Path
    data: Path  # the pinned copy: never changed by a test
    spare: Path  # registered, not a member of chest@1
    lock: Path
    vkey: Path


def write_images(folder: Path, seed: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for n in range(3):
        pixels = rng.integers(0, 256, (24, 32), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{n}.png", compress_level=9)
    colour = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    (folder / "scans").mkdir()
    Image.fromarray(colour).save(folder / "scans" / "photo.jpg", quality=90)
    shutil.copyfile(MR_SMALL, folder / "scans" / "mr.dcm")


def register_all(ledger: Ledger, paths: list[Path], key: str) -> None:
    options = RegisterOptions(source="site-a", license="CC0-1.0", consent="consented",
                              key=key, workers=1)
    summary = register(ledger, paths, options)
    assert not summary.refused, summary.refused


@pytest.fixture(scope="session")
def pinned(tmp_path_factory: pytest.TempPathFactory) -> Pinned:
    root = tmp_path_factory.mktemp("pinned")
    data, spare = root / "data", root / "spare.png"
    write_images(data, seed=20)
    Image.fromarray(np.full((8, 8), 7, dtype=np.uint8)).save(spare)
    ledger = Ledger.init(root / "ledger")
    try:
        ledger.add_key("cur", "curator")
        ledger.add_key("other", "submitter")
        register_all(ledger, [data, spare], key="cur")
        service.create(ledger, "chest", key="cur", folder=data)
        lock = root / "chest.lock"
        lock.write_bytes(service.pin(ledger, "chest@1"))
        vkey = root / "log.vkey"
        vkey.write_text(ledger.verifier.vkey + "\n")
    finally:
        ledger.store.engine.dispose()
    return Pinned(root / "ledger", data, spare, lock, vkey)
