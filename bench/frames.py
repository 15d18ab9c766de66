"""What describing every frame costs (issue 21, "every frame searchable").

Prints figures; never asserts timings. Three parts:

* **Registration cost per frame.** Synthetic multi-frame files (no PHI), decoded once as
  registration does: a 96-frame ultrasound-like cine (480 x 640, 8-bit) and a 300-slice
  CT-like volume (512 x 512, 12 bits stored, a VOI window), and 10 frames of 64 x 64 like
  pydicom's emri_small. For each: the decode, ``analyse_decoded`` in full, and the part of it
  that describes the other frames (``frame_descriptors``), per described frame; the bytes the
  ``frame_grids`` list adds to the signed entry, against the room an entry has.
* **Index bytes per frame descriptor.** ``--rows`` frame rows (random keys, 31 frames per
  image) in the near-duplicate index, compacted: ``nbytes`` per row.
* **Query time with frames.** The candidate stage (query keys, index probe, grouping by
  image and frame) of ``--queries`` random-descriptor queries against that index, against an
  index of as many rows with one descriptor per image: median and p95 in ms; and the Hamming
  probe alone (``HammingIndex.search`` of the 272 query keys), which frames do not touch.

Run: ``python bench/frames.py`` (``--quick``: 100,000 rows).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

from ledger.fingerprint.descriptor import describe, query_keys
from ledger.imaging.analyse import analyse_decoded
from ledger.imaging.decode import decode
from ledger.imaging.framegrids import frame_descriptors
from ledger.imaging.limits import DecodeLimits
from ledger.model.canonical import canonical_json
from ledger.registration.workers import MAX_FACTS_BYTES
from ledger.similarity.search import MemoryDescriptors, NearDuplicateIndex

SECRET = b"b" * 32
FRAMES_PER_IMAGE = 31


def _volume(frames: int, rows: int, columns: int, *, bits: int, seed: int) -> np.ndarray:
    """Smooth blobs that drift from frame to frame, plus noise: every frame different."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:rows, 0:columns].astype(np.float32)
    top = (1 << bits) - 1
    out = np.empty((frames, rows, columns), dtype=np.uint16 if bits > 8 else np.uint8)
    centres = rng.uniform(0.2, 0.8, size=(6, 2)) * (rows, columns)
    for f in range(frames):
        image = np.zeros((rows, columns), dtype=np.float32)
        for k, (cy, cx) in enumerate(centres):
            dy, dx = cy + 20 * np.sin(f / 7 + k), cx + 20 * np.cos(f / 9 + k)
            image += np.exp(-((yy - dy) ** 2 + (xx - dx) ** 2) / (2 * (rows / 8) ** 2))
        image = image / image.max() * top * 0.8 + rng.normal(0, top * 0.02, image.shape)
        out[f] = np.clip(image, 0, top).astype(out.dtype)
    return out


def _dicom(path: Path, stack: np.ndarray, *, bits: int, window: bool) -> Path:
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    ds.Modality = "OT"
    ds.Rows, ds.Columns, ds.NumberOfFrames = stack.shape[1], stack.shape[2], stack.shape[0]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    allocated = 16 if bits > 8 else 8
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = (
        allocated, bits, bits - 1, 0,
    )  # fmt: skip
    if window:
        ds.WindowCenter, ds.WindowWidth = 1500, 2500
    ds.PatientIdentityRemoved = "YES"
    ds.PixelData = stack.tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(path, enforce_file_format=True)
    return path


def registration_cost(folder: Path) -> list[dict[str, Any]]:
    kinds = [
        ("cine 96 x 480x640 8-bit", (96, 480, 640), 8, False),
        ("CT 300 x 512x512 12-bit", (300, 512, 512), 12, True),
        ("MR 10 x 64x64 (emri_small-like)", (10, 64, 64), 12, False),
    ]
    out = []
    for name, (frames, rows, columns), bits, window in kinds:
        path = _dicom(folder / f"{frames}.dcm", _volume(frames, rows, columns, bits=bits, seed=1),
                      bits=bits, window=window)  # fmt: skip
        start = time.perf_counter()
        decoded = decode(path, limits=DecodeLimits())
        decoding = time.perf_counter() - start
        start = time.perf_counter()
        analysis = analyse_decoded(decoded, secret=SECRET)
        analysing = time.perf_counter() - start
        assert analysis.descriptor is not None
        start = time.perf_counter()
        described = frame_descriptors(decoded, analysis.descriptor)
        framing = time.perf_counter() - start
        facts = analysis.to_json()
        listed = len(canonical_json(facts["frame_grids"]))
        out.append({
            "file": name,
            "frames": frames,
            "described": len(described) + 1,
            "decode_ms": round(decoding * 1000, 1),
            "analyse_ms": round(analysing * 1000, 1),
            "other_frames_ms": round(framing * 1000, 1),
            "ms_per_described_frame": round(framing * 1000 / max(len(described), 1), 2),
            "frame_grids_bytes": listed,
            "facts_bytes": len(canonical_json(facts)),
            "entry_room_bytes": MAX_FACTS_BYTES,
        })
        del decoded
        path.unlink()
    return out


def _random_keys(rng: np.random.Generator, rows: int) -> np.ndarray:
    return rng.integers(0, 2**63, size=(rows, 6), dtype=np.int64).astype(np.uint64) * np.uint64(2)


def index_cost(rows: int, queries: int) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    keys = _random_keys(rng, rows)
    framed = NearDuplicateIndex(descriptors=MemoryDescriptors())
    images = np.arange(rows, dtype=np.int64) // FRAMES_PER_IMAGE
    frames = np.arange(rows, dtype=np.int64) % FRAMES_PER_IMAGE
    framed.add_keys(images, keys, frames=frames)
    framed.index.compact()
    plain = NearDuplicateIndex(descriptors=MemoryDescriptors())
    plain.add_keys(np.arange(rows, dtype=np.int64), keys)
    plain.index.compact()
    probes = [describe(rng.uniform(0, 255, size=(64, 64))) for _ in range(queries)]
    timings: dict[str, list[float]] = {"frames": [], "plain": [], "probe": []}
    for probe in probes:  # interleaved, so that other load hits both alike
        keys_of_probe = query_keys(probe).keys
        start = time.perf_counter()
        framed.index.search(keys_of_probe)
        timings["probe"].append((time.perf_counter() - start) * 1000)
        for name, engine in (("frames", framed), ("plain", plain)):
            start = time.perf_counter()
            engine.candidates(probe)
            timings[name].append((time.perf_counter() - start) * 1000)
    out: dict[str, Any] = {
        "rows": rows,
        "bytes_per_frame_row": round(framed.index.nbytes() / rows, 1),
        "bytes_per_image_row": round(plain.index.nbytes() / rows, 1),
    }
    for name, values in timings.items():
        values.sort()
        out[f"{name}_median_ms"] = round(statistics.median(values), 2)
        out[f"{name}_p95_ms"] = round(values[int(0.95 * (len(values) - 1))], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="index rows (1,000,000)")
    parser.add_argument("--queries", type=int, default=200, help="queries timed (200)")
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 100 queries")
    parser.add_argument("--index-only", action="store_true", help="skip the registration part")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows, queries = (100_000, 100) if args.quick else (args.rows, args.queries)
    cost: list[dict[str, Any]] = []
    if not args.index_only:
        with tempfile.TemporaryDirectory() as folder:
            cost = registration_cost(Path(folder))
    index = index_cost(rows, queries)
    if args.json:
        print(json.dumps({"registration": cost, "index": index}, indent=2))
        return
    for c in cost:
        print(f"{c['file']}: {c['described']} of {c['frames']} frames described; decode "
              f"{c['decode_ms']} ms, analyse {c['analyse_ms']} ms, of which other frames "
              f"{c['other_frames_ms']} ms = {c['ms_per_described_frame']} ms per frame; "
              f"frame_grids {c['frame_grids_bytes']} B (facts {c['facts_bytes']} B of "
              f"{c['entry_room_bytes']} B)")
    print(f"index, {index['rows']:,} rows: {index['bytes_per_frame_row']} B per frame row "
          f"({index['bytes_per_image_row']} B per single-descriptor row); candidate stage "
          f"median {index['frames_median_ms']} ms, p95 {index['frames_p95_ms']} ms with frames, "
          f"median {index['plain_median_ms']} ms, p95 {index['plain_p95_ms']} ms without; "
          f"of which the Hamming probe alone median {index['probe_median_ms']} ms, "
          f"p95 {index['probe_p95_ms']} ms")


if __name__ == "__main__":
    main()
