"""Near-duplicate benchmark (issue 5, "Evaluation"): real public images, prints figures.

Never asserts; prints a table (or ``--json``) for the shipped defaults and, in the same
run and on the same pairs, for brute-force imagehash pHash at distance 10.

Corpus (built on the fly, nothing downloaded):

* Originals: one file per distinct image from pydicom's, pydicom-data's and deid-data's
  DICOM files (other encodings of the same pixels are left out, so no two originals are
  duplicates; flat images are left out) and scikit-image's bundled images when
  ``scikit-image`` is installed. Each is indexed as registration sees it: decoded by
  ``ledger.imaging.decode`` and reduced by ``ledger.imaging.render.thumbnail(size=64)``.
* Queries: the canonical 8-bit rendering of each original (at most 1,024 pixels on its
  long side), transformed (``TRANSFORMS``: resize, lossy JPEG, crops to 90% and 80% at
  random offsets, pad to square, window/level, 4-bit depth, gamma 0.6 and 1.6, histogram
  equalisation, blur, noise, horizontal flip, rotation by 90 and by 3 and 5 degrees, the
  negative, and eight combinations), saved as PNG or JPEG and decoded again by the same
  code; plus the real twins (``TWINS``: lossy JPEG 2000 versions of pydicom-data's lossless
  radiographs, another LUT, a re-encoded and a re-exported copy).
* Hard negatives that must not match: the frames of multi-frame files (``VOLUMES``: MR
  slices, ultrasound and echocardiography cines; every 3rd/12th frame of the cines), each
  frame indexed and queried as a JPEG (q75) copy; four 60% corner regions of large
  images (``REGION_SOURCES``), each indexed and queried as a JPEG copy; a stereo pair;
  and low-contrast slices (``FULL_RANGE_VOLUMES``: the MR volume's slices exported with
  their whole 12-bit range mapped to 8 bits, as a careless export does, so the anatomy
  spans a few grey levels), each indexed and queried as a JPEG copy; each is a duplicate
  of the same slice's canonical rendering and a hard negative of every other slice.
  A region and the whole image it was cut from are counted neither way.
* Tiles (issue 21): non-overlapping square tiles of every original whose export is at least
  ``TILE_MIN`` on its short side, indexed and queried as JPEG copies (tiles of one image are
  hard negatives of each other), and from the first and last tile of each source the
  ``LOW_STRUCTURE`` originals (a dark half-plane, two smooth regions, 6 grey levels, nearly
  flat), each indexed and queried as a JPEG (q90) copy.
* Random pairs: every other (query, indexed image) pair.
* All pairs: every indexed image searched against all the others; a pair of unrelated
  images (or a hard-negative pair) is a false link when either finds the other. Cuts of one
  source that overlap (a region and a tile) are counted neither way.

Figures: per-transform recall (the query's original is reported), hard-negative and
random-pair false-positive rates, precision, recall and F1 over all reported pairs.

Scale: 1,000,000 synthetic images (half uniform random keys, half real corpus keys with
9-20 bits flipped), added in batches of 100,000; build rate, latency of real queries
(every query window in every dihedral variant), index recall against brute force at the
same radius, bytes of index memory per image.

    python bench/duplicates.py --quick          # a third of the originals, 100,000 for scale
    python bench/duplicates.py                  # everything, 1,000,000 for scale
    python bench/duplicates.py --json --max-worst-block 0.08 --radius 9
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageFilter, ImageOps

from ledger.fingerprint.descriptor import KEYS
from ledger.imaging.decode import Decoded, decode
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.render import render, thumbnail
from ledger.similarity import (
    HammingIndex,
    MemoryDescriptors,
    NearDuplicateIndex,
    Thresholds,
    describe,
    query_keys,
)
from ledger.similarity.search import DEFAULT_RADIUS, KEY_KIND

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # as pytest sees it
import dup_oracle
from integration.duplicates.exports import full_range

LIMITS = DecodeLimits()

# One file per distinct image ("family"); other encodings of the same pixels are left out
# so that no two originals are duplicates of each other. Two are one acquisition all the
# same: examples_palette.dcm is OBXXXX1A.dcm's top 350 of 600 rows (one SOP Instance UID).
# Such pairs are counted neither way (_same_acquisitions): the crop is beyond the
# benchmark's 80%, and a match is no false positive.
DICOM_ORIGINALS = (
    "pydicom-data/693_J2KR.dcm",
    "pydicom/CT_small.dcm",
    "pydicom/ExplVR_BigEnd.dcm",
    "pydicom/GDCMJ2K_TextGBR.dcm",
    "pydicom/J2K_pixelrep_mismatch.dcm",
    "pydicom-data/JPEG2000_UNC.dcm",
    "pydicom/MR_small.dcm",
    "pydicom-data/SC_rgb.dcm",
    "pydicom/examples_palette.dcm",
    "pydicom/image_dfl.dcm",
    "pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm",
    "pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm",
    "pydicom-data/MR2_J2KR.dcm",
    "pydicom-data/OBXXXX1A.dcm",
    "pydicom-data/OT-PAL-8-face.dcm",
    "pydicom-data/RG1_J2KR.dcm",
    "pydicom-data/RG3_J2KR.dcm",
    "pydicom-data/US1_J2KR.dcm",
    "pydicom-data/bad_sequence.dcm",
    "pydicom-data/color-px.dcm",
    "pydicom-data/explicit_VR-UN.dcm",
    "pydicom-data/gdcm-US-ALOKA-16.dcm",
    "pydicom-data/vlut_04.dcm",
    "deid-data/animals/cat.dcm",
    "deid-data/dicom-cookies/image1.dcm",
    "deid-data/dicom-cookies/image2.dcm",
    "deid-data/dicom-cookies/image3.dcm",
    "deid-data/dicom-cookies/image4.dcm",
    "deid-data/dicom-cookies/image5.dcm",
    "deid-data/dicom-cookies/image6.dcm",
    "deid-data/dicom-cookies/image7.dcm",
    "deid-data/humans/ctbrain1.dcm",
    "deid-data/ultrasounds/GREYSCALE_IMAGE.dcm",
    "deid-data/ultrasounds/RGB_IMAGE.dcm",
)
# Multi-frame files whose frames are hard negatives of each other: (file, frame step).
VOLUMES = (
    ("pydicom-data/emri_small.dcm", 1),  # 10 MR slices of one volume
    ("deid-data/ultrasounds/ultrasound-multiframe.dcm", 3),  # 30-frame cardiac ultrasound cine
    ("pydicom-data/color3d_jpeg_baseline.dcm", 12),  # 120-frame echocardiography cine
    ("pydicom-data/eCT_Supplemental.dcm", 1),  # 2 frames of an enhanced CT
)
# Volumes whose slices are also exported with their whole stored range mapped to 0..255
# (grid standard deviation about 5 grey levels): low-contrast neighbours that must not match.
FULL_RANGE_VOLUMES = ("pydicom-data/emri_small.dcm",)
# Large images cut into four 60% corner regions that must not match each other.
REGION_SOURCES = (
    "pydicom-data/RG1_J2KR.dcm",
    "pydicom-data/RG3_J2KR.dcm",
    "pydicom-data/MR2_J2KR.dcm",
    "pydicom-data/693_J2KR.dcm",
    "deid-data/animals/cat.dcm",
    "pydicom-data/JPGLosslessP14SV1_1s_1f_8b.dcm",
    "skimage/retina.jpg",
    "skimage/hubble_deep_field.jpg",
)
REGION = 0.6
EXPORT_MAX = 1024
# Every original whose export is at least TILE_MIN on its short side is cut into
# non-overlapping square tiles (3 x 3 of the short side from 768 up, else 2 x 2): unrelated
# originals with the texture of the whole (tiles of one image are hard negatives of each other).
TILE_MIN = 400
# From the first and the last tile of each source, low-structure originals of the kind
# (LOW_STRUCTURE): the tile with a dark half-plane (a textured region against a dark one), the
# tile thresholded into two smooth regions (a single edge), squeezed to 6 grey levels (low
# contrast) and blurred flat to 3 grey levels (nearly flat).
LOW_STRUCTURE = ("half-dark", "two-regions", "low-contrast", "nearly-flat")
# Real twins: another file of the same image (lossy JPEG 2000 of a lossless original, a
# different LUT, a smaller re-encoding, a cropped re-export), queried against the original.
TWINS = (
    ("pydicom/693_J2KI.dcm", "pydicom-data/693_J2KR.dcm", "lossy-j2k-twin"),
    ("pydicom-data/MR2_J2KI.dcm", "pydicom-data/MR2_J2KR.dcm", "lossy-j2k-twin"),
    ("pydicom-data/RG1_J2KI.dcm", "pydicom-data/RG1_J2KR.dcm", "lossy-j2k-twin"),
    ("pydicom-data/RG3_J2KI.dcm", "pydicom-data/RG3_J2KR.dcm", "lossy-j2k-twin"),
    ("pydicom-data/US1_J2KI.dcm", "pydicom-data/US1_J2KR.dcm", "lossy-j2k-twin"),
    ("pydicom-data/mlut_18.dcm", "pydicom-data/vlut_04.dcm", "other-lut-twin"),
    ("pydicom/examples_rgb_color.dcm", "pydicom-data/US1_J2KR.dcm", "re-encoded-twin"),
    (
        "pydicom/examples_overlay.dcm",
        "pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm",
        "re-exported-twin",
    ),
)
SKIMAGE = (
    "astronaut.png",
    "brick.png",
    "camera.png",
    "cell.png",
    "chelsea.png",
    "chessboard_GRAY.png",
    "clock_motion.png",
    "coffee.png",
    "coins.png",
    "color.png",
    "grass.png",
    "gravel.png",
    "horse.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "logo.png",
    "microaneurysms.png",
    "moon.png",
    "motorcycle_left.png",
    "page.png",
    "phantom.png",
    "retina.jpg",
    "rocket.jpg",
    "text.png",
)
# Other views of the same scene (a stereo pair): hard negatives.
VIEW_PAIRS = (("skimage/motorcycle_left.png", "skimage/motorcycle_right.png"),)


def corpora() -> dict[str, Path]:
    import data_store  # type: ignore[import-untyped]  # pydicom-data
    import deid_data
    import pydicom

    roots = {
        "pydicom": Path(pydicom.__file__).parent / "data" / "test_files",
        "pydicom-data": Path(data_store.__file__).parent / "data",
        "deid-data": Path(deid_data.__file__).parent / "data",
    }
    try:
        import skimage

        roots["skimage"] = Path(skimage.__file__).parent / "data"
    except ImportError:
        pass
    return roots


def _path(name: str, roots: dict[str, Path]) -> Path | None:
    corpus, _, rest = name.partition("/")
    root = roots.get(corpus)
    return None if root is None else root / rest


def _same_acquisitions(names: list[str], roots: dict[str, Path]) -> set[frozenset[str]]:
    """Pairs of DICOM originals with one SOP Instance UID (one acquisition, cut differently)."""
    by_uid: dict[str, list[str]] = {}
    for name in names:
        path = _path(name, roots)
        if path is None or path.suffix != ".dcm":
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # some test files carry malformed UIDs
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
        uid = str(ds.get("SOPInstanceUID", ""))
        if uid:
            by_uid.setdefault(uid, []).append(name)
    return {frozenset((a, b)) for same in by_uid.values() for a in same for b in same if a != b}


def _decode(path: Path | str) -> Decoded:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return decode(path, limits=LIMITS)


# --- transforms of the 8-bit export -----------------------------------------------------

Transform = Callable[[np.ndarray, np.random.Generator], tuple[np.ndarray, str]]


def _png(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
    return a, "png"


def _jpeg(quality: int) -> Transform:
    def apply(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
        return a, f"jpeg{quality}"

    return apply


def _resize(factor: float) -> Transform:
    def apply(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
        h, w = a.shape
        size = (max(8, round(w * factor)), max(8, round(h * factor)))
        return np.asarray(Image.fromarray(a).resize(size, Image.Resampling.LANCZOS)), "png"

    return apply


def _crop(keep: float, *, centred: bool = False) -> Transform:
    def apply(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        h, w = a.shape
        ch, cw = max(4, round(h * keep)), max(4, round(w * keep))
        if centred:
            y, x = (h - ch) // 2, (w - cw) // 2
        else:
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        return a[y : y + ch, x : x + cw], "png"

    return apply


def _pad_square(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
    h, w = a.shape
    side = max(h, w) if h != w else round(w * 1.25)
    out = np.zeros((side if h != w else h, side), dtype=np.uint8)
    y, x = (out.shape[0] - h) // 2, (out.shape[1] - w) // 2
    out[y : y + h, x : x + w] = a
    return out, "png"


def _lut(table: np.ndarray) -> Transform:
    def apply(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
        return table[a], "png"

    return apply


def _window(lo: float, hi: float) -> np.ndarray:
    x = np.arange(256, dtype=np.float64)
    return np.asarray(np.clip(np.rint((x - lo) * 255.0 / (hi - lo)), 0, 255), dtype=np.uint8)


def _gamma(g: float) -> np.ndarray:
    x = np.arange(256, dtype=np.float64) / 255.0
    return np.asarray(np.rint(255.0 * x**g), dtype=np.uint8)


_NEGATIVE = np.arange(255, -1, -1, dtype=np.uint8)
_BITS4 = np.asarray((np.arange(256) // 16) * 17, dtype=np.uint8)


def _histeq(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
    return np.asarray(ImageOps.equalize(Image.fromarray(a))), "png"


def _clahe(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
    import cv2  # opencv-python-headless, a dependency

    return np.asarray(cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(a)), "png"


def _resized_back(step: Transform) -> Transform:
    """``step`` (a crop), then resized back to the size it started from."""

    def apply(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        h, w = a.shape
        out, fmt = step(a, rng)
        return np.asarray(Image.fromarray(out).resize((w, h), Image.Resampling.LANCZOS)), fmt

    return apply


def _blur(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
    radius = max(1.0, min(a.shape) / 128.0)
    return np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(radius))), "png"


def _noise(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    noisy = a.astype(np.float64) + rng.normal(0.0, 12.0, a.shape)
    return np.asarray(np.clip(np.rint(noisy), 0, 255), dtype=np.uint8), "png"


def _hflip(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
    return np.ascontiguousarray(a[:, ::-1]), "png"


def _rot90(a: np.ndarray, _: np.random.Generator) -> tuple[np.ndarray, str]:
    return np.ascontiguousarray(np.rot90(a)), "png"


def _rotate(degrees: float) -> Transform:
    def apply(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        angle = degrees if rng.random() < 0.5 else -degrees
        image = Image.fromarray(a).rotate(angle, Image.Resampling.BICUBIC, fillcolor=0)
        return np.asarray(image), "png"

    return apply


def _chain(*steps: Transform) -> Transform:
    def apply(a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        fmt = "png"
        for step in steps:
            a, f = step(a, rng)
            fmt = f if f != "png" else fmt
        return a, fmt

    return apply


TRANSFORMS: dict[str, Transform] = {
    "export-png": _png,
    "resize-50%": _resize(0.5),
    "jpeg-q30": _jpeg(30),
    "crop-90%": _crop(0.9),
    "crop-80%": _crop(0.8),
    "pad-square": _pad_square,
    "window-level": _lut(_window(25.0, 200.0)),
    "bit-depth-4": _lut(_BITS4),
    "gamma-0.6": _lut(_gamma(0.6)),
    "gamma-1.6": _lut(_gamma(1.6)),
    "hist-equalise": _histeq,
    "clahe": _clahe,
    "crop-80%-resized-back": _resized_back(_crop(0.8)),
    "blur": _blur,
    "noise": _noise,
    "flip-h": _hflip,
    "rotate-90": _rot90,
    "rotate-3deg": _rotate(3.0),
    "rotate-5deg": _rotate(5.0),
    "crop-90+resize+jpeg": _chain(_crop(0.9), _resize(0.6), _jpeg(60)),
    "flip+gamma+jpeg": _chain(_hflip, _lut(_gamma(1.5)), _jpeg(70)),
    "rotate-3deg+crop-90%": _chain(_rotate(3.0), _crop(0.9, centred=True)),
    "pad+window+jpeg": _chain(_pad_square, _lut(_window(40.0, 230.0)), _jpeg(70)),
    "hist-equalise+blur+noise": _chain(_histeq, _blur, _noise),
    "crop-80%+flip": _chain(_crop(0.8), _hflip),
    "crop-85%+rotate-3deg+gamma": _chain(_rotate(3.0), _crop(0.85), _lut(_gamma(0.7))),
    "rotate-90+resize+jpeg": _chain(_rot90, _resize(0.5), _jpeg(60)),
    # A MONOCHROME1 image exported without its inversion, or any negative.
    "invert": _lut(_NEGATIVE),
    "invert+resize+jpeg": _chain(_lut(_NEGATIVE), _resize(0.6), _jpeg(70)),
}


def _bounded(image: np.ndarray) -> np.ndarray:
    """Exports are at most EXPORT_MAX pixels on their long side (as re-hosted copies are)."""
    h, w = image.shape
    if max(h, w) <= EXPORT_MAX:
        return image
    f = EXPORT_MAX / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


# --- the corpus -----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Sample:
    """One image as the ledger sees it: its canonical 64 x 64 thumbnail, and a baseline hash."""

    key: str  # unique name
    family: str  # images of one family are duplicates of each other
    kind: str  # "original", a transform's name, "frame", "region", a twin kind
    thumb: np.ndarray  # ledger.imaging.render.thumbnail(decoded, size=64)
    baseline: int  # imagehash.phash of the canonical rendering, as an int


@dataclass
class Corpus:
    index: list[Sample]
    queries: list[Sample]
    hard: set[frozenset[str]]  # family pairs that must not match
    ignore: set[frozenset[str]]  # family pairs counted neither way (a region and its whole)

    def relation(self, a: str, b: str) -> str:
        """ "same", "hard", "ignore" (overlapping cuts of one source) or "unrelated"."""
        if a == b:
            return "same"
        pair = frozenset((a, b))
        if pair in self.ignore:
            return "ignore"
        if pair in self.hard:
            return "hard"
        if _source(a) == _source(b):  # a region and a tile of one image overlap
            return "ignore"
        return "unrelated"


def _source(family: str) -> str:
    """The file a family was cut from (``name@region``, ``name%tile``, ``name#frame``)."""
    for mark in "@%#":
        family = family.partition(mark)[0]
    return family


def _sample(decoded: Decoded, key: str, family: str, kind: str) -> Sample:
    import imagehash

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        thumb = thumbnail(decoded, size=64)
        rendering = render(decoded)
    baseline = int(str(imagehash.phash(Image.fromarray(rendering))), 16)
    return Sample(key, family, kind, thumb, baseline)


def _export(image: np.ndarray, fmt: str, folder: Path, key: str) -> Path:
    path = folder / (key.replace("/", "_") + (".jpg" if fmt.startswith("jpeg") else ".png"))
    buffer = io.BytesIO()
    if fmt.startswith("jpeg"):
        Image.fromarray(image).save(buffer, "JPEG", quality=int(fmt[4:]))
    else:
        Image.fromarray(image).save(buffer, "PNG", compress_level=1)
    path.write_bytes(buffer.getvalue())
    return path


def _exported(
    image: np.ndarray, fmt: str, folder: Path, key: str, family: str, kind: str
) -> Sample:
    return _sample(_decode(_export(image, fmt, folder, key)), key, family, kind)


def build_corpus(*, quick: bool = False, seed: int = 7) -> Corpus:
    roots = corpora()
    names = [n for n in DICOM_ORIGINALS]
    if "skimage" in roots:
        names += [f"skimage/{n}" for n in SKIMAGE]
    if quick:
        names = names[::3]
    transforms = dict(TRANSFORMS)
    index: list[Sample] = []
    queries: list[Sample] = []
    hard: set[frozenset[str]] = set()
    ignore: set[frozenset[str]] = _same_acquisitions(names, roots)
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in names:
            path = _path(name, roots)
            assert path is not None
            decoded = _decode(path)
            index.append(_sample(decoded, name, name, "original"))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                export = _bounded(render(decoded))
            del decoded
            for tname, transform in transforms.items():
                image, fmt = transform(export, rng)
                queries.append(_exported(image, fmt, folder, f"{name}~{tname}", name, tname))
        for twin, original, kind in TWINS:
            if original in names:
                path = _path(twin, roots)
                assert path is not None
                queries.append(_sample(_decode(path), twin, original, kind))
        for volume, step in VOLUMES if not quick else VOLUMES[:1]:
            path = _path(volume, roots)
            assert path is not None
            decoded = _decode(path)
            frames = range(0, decoded.frames, step)
            families = [f"{volume}#{i}" for i in frames]
            for i, family in zip(frames, families, strict=True):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    image = render(decoded, frame=i)
                index.append(_exported(image, "png", folder, family, family, "frame"))
                queries.append(_exported(image, "jpeg75", folder, family + "~q", family, "frame"))
            hard |= {frozenset((a, b)) for a in families for b in families if a != b}
        for volume in FULL_RANGE_VOLUMES:
            path = _path(volume, roots)
            assert path is not None
            decoded = _decode(path)
            # the same slices as the volume's frames above (one family each: a slice and
            # its full-range export are duplicates under a grey-level map)
            families = [f"{volume}#{i}" for i in range(decoded.frames)]
            for i, family in enumerate(families):
                values = decoded.pixels[i, ..., 0]
                image = full_range(values, decoded.bits_stored, signed=decoded.signed)
                key = f"{family}/full-range"
                index.append(_exported(image, "png", folder, key, family, "frame"))
                queries.append(
                    _exported(image, "jpeg75", folder, key + "~q", family, "low-contrast frame")
                )
            hard |= {frozenset((a, b)) for a in families for b in families if a != b}
        for name in REGION_SOURCES if not quick else REGION_SOURCES[:2]:
            path = _path(name, roots)
            if path is None:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                export = _bounded(render(_decode(path)))
            h, w = export.shape
            rh, rw = round(h * REGION), round(w * REGION)
            families = []
            for label, (y, x) in {
                "tl": (0, 0),
                "tr": (0, w - rw),
                "bl": (h - rh, 0),
                "br": (h - rh, w - rw),
            }.items():
                family = f"{name}@{label}"
                families.append(family)
                part = export[y : y + rh, x : x + rw]
                index.append(_exported(part, "png", folder, family, family, "region"))
                queries.append(_exported(part, "jpeg75", folder, family + "~q", family, "region"))
                ignore.add(frozenset((family, name)))
            hard |= {frozenset((a, b)) for a in families for b in families if a != b}
        for name in names:
            path = _path(name, roots)
            assert path is not None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                export = _bounded(render(_decode(path)))
            tiles = _tiles(export)
            families = [f"{name}%t{i}" for i in range(len(tiles))]
            for family, tile in zip(families, tiles, strict=True):
                index.append(_exported(tile, "png", folder, family, family, "tile"))
                queries.append(_exported(tile, "jpeg75", folder, family + "~q", family, "tile"))
            hard |= {frozenset((a, b)) for a in families for b in families if a != b}
            for family, tile in list(zip(families, tiles, strict=True))[:: max(1, len(tiles) - 1)]:
                for kind, image in _low_structure(tile, rng).items():
                    key = f"{family}:{kind}"
                    index.append(_exported(image, "png", folder, key, key, kind))
                    queries.append(_exported(image, "jpeg90", folder, key + "~q", key, kind))
        for left, right in VIEW_PAIRS:
            lp, rp = _path(left, roots), _path(right, roots)
            if lp is None or rp is None or left not in names:
                continue
            queries.append(_sample(_decode(rp), right, right, "other-view"))
            hard.add(frozenset((left, right)))
    return Corpus(index, queries, hard, ignore)


def _tiles(export: np.ndarray) -> list[np.ndarray]:
    h, w = export.shape
    short = min(h, w)
    if short < TILE_MIN:
        return []
    side = short // (3 if short >= 768 else 2)
    return [
        export[y : y + side, x : x + side]
        for y in range(0, h - side + 1, side)
        for x in range(0, w - side + 1, side)
    ]


def _low_structure(tile: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The issue's low-structure kinds, made from one real tile."""
    h, w = tile.shape
    a = tile.astype(np.float64)
    yy, xx = np.mgrid[0:h, 0:w]
    theta = rng.uniform(0, 2 * np.pi)
    offset = rng.uniform(-0.2, 0.2) * min(h, w)
    side = (yy - h / 2) * np.sin(theta) + (xx - w / 2) * np.cos(theta) > offset
    smooth = np.asarray(
        Image.fromarray(tile).filter(ImageFilter.GaussianBlur(min(h, w) / 12)), dtype=np.float64
    )
    regions = np.where(smooth > np.median(smooth), 170.0, 60.0)
    regions = np.asarray(
        Image.fromarray(regions.astype(np.uint8)).filter(ImageFilter.GaussianBlur(2)),
        dtype=np.float64,
    )
    span = max(float(np.ptp(a)), 1.0)
    low = 100.0 + (a - a.min()) * 6.0 / span
    flat = 128.0 + (smooth - smooth.min()) * 3.0 / max(float(np.ptp(smooth)), 1.0)
    out = {
        "half-dark": np.where(side, a, 0.0),
        "two-regions": regions,
        "low-contrast": low,
        "nearly-flat": flat,
    }
    return {k: np.asarray(np.clip(np.rint(v), 0, 255), dtype=np.uint8) for k, v in out.items()}


# --- evaluation ----------------------------------------------------------------------


@dataclass
class Tally:
    found: dict[str, list[bool]]  # per query kind: was its original reported
    hard_pairs: int
    hard_fp: int
    random_pairs: int
    random_fp: int
    tp: int
    fp: int
    fn: int

    def figures(self) -> dict[str, object]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "recall": {k: round(float(np.mean(v)), 4) for k, v in self.found.items()},
            "recall_all": round(recall, 4),
            "precision": round(precision, 4),
            "f1": round(f1, 4),
            "hard_negative_pairs": self.hard_pairs,
            "hard_negative_fpr": round(self.hard_fp / max(self.hard_pairs, 1), 4),
            "random_pairs": self.random_pairs,
            "random_fpr": round(self.random_fp / max(self.random_pairs, 1), 6),
        }


def _tally(corpus: Corpus, reported: list[set[int]]) -> Tally:
    """Score each query's reported index positions against the ground truth."""
    found: dict[str, list[bool]] = {}
    hard_pairs = hard_fp = random_pairs = random_fp = tp = fp = fn = 0
    families = [s.family for s in corpus.index]
    for q, got in zip(corpus.queries, reported, strict=True):
        true = {i for i, f in enumerate(families) if f == q.family}
        if true:
            found.setdefault(q.kind, []).append(bool(true & got))
        tp += len(true & got)
        fn += len(true - got)
        for i, family in enumerate(families):
            relation = corpus.relation(family, q.family)
            if relation in ("same", "ignore"):
                continue
            hit = i in got
            fp += hit
            if relation == "hard":
                hard_pairs += 1
                hard_fp += hit
            else:
                random_pairs += 1
                random_fp += hit
    return Tally(found, hard_pairs, hard_fp, random_pairs, random_fp, tp, fp, fn)


def all_pairs(corpus: Corpus, engine: NearDuplicateIndex) -> dict[str, object]:
    """Every indexed image queried against all the others: a pair of unrelated images is a
    false link when either finds the other (all n(n-1)/2 pairs, no sample)."""
    linked: set[tuple[int, int]] = set()
    for i, s in enumerate(corpus.index):
        for m in engine.search(describe(s.thumb), exclude=(i,)):
            linked.add((min(i, m.image), max(i, m.image)))
    families = [s.family for s in corpus.index]
    counts = {"unrelated": 0, "hard": 0}
    links: dict[str, list[str]] = {"unrelated": [], "hard": []}
    for i in range(len(families)):
        for j in range(i + 1, len(families)):
            relation = corpus.relation(families[i], families[j])
            if relation not in counts:
                continue
            counts[relation] += 1
            if (i, j) in linked:
                links[relation].append(f"{corpus.index[i].key} <-> {corpus.index[j].key}")
    return {
        "images": len(families),
        "unrelated_pairs": counts["unrelated"],
        "unrelated_links": len(links["unrelated"]),
        "unrelated_fpr": round(len(links["unrelated"]) / max(counts["unrelated"], 1), 6),
        "hard_pairs": counts["hard"],
        "hard_links": len(links["hard"]),
        "hard_fpr": round(len(links["hard"]) / max(counts["hard"], 1), 4),
        "false_links": links["unrelated"][:40],
    }


def evaluate_engine(corpus: Corpus, *, radius: int, thresholds: Thresholds) -> dict[str, object]:
    stored = [describe(s.thumb) for s in corpus.index]
    source = MemoryDescriptors()
    engine = NearDuplicateIndex(descriptors=source, radius=radius, thresholds=thresholds)
    for i, d in enumerate(stored):
        source.put(i, d)
        engine.add(i, d)
    reported: list[set[int]] = []
    verdicts: dict[str, int] = {}
    start = time.perf_counter()
    for q in corpus.queries:
        matches = engine.search(describe(q.thumb))
        reported.append({m.image for m in matches})
        for m in matches:
            transform = m.verdict.alignment.transform if m.verdict.alignment else "-"
            verdicts[transform] = verdicts.get(transform, 0) + 1
    elapsed = time.perf_counter() - start
    figures = _tally(corpus, reported).figures()
    figures["seconds_per_query"] = round(elapsed / max(len(corpus.queries), 1), 4)
    figures["matched_transforms"] = verdicts
    figures["all_pairs"] = all_pairs(corpus, engine)
    return figures


def evaluate_baseline(corpus: Corpus, *, distance: int = 10) -> dict[str, object]:
    """Brute-force imagehash pHash of the canonical rendering, one threshold."""
    index = np.asarray([s.baseline for s in corpus.index], dtype=np.uint64)
    reported = []
    for q in corpus.queries:
        d = np.bitwise_count(index ^ np.uint64(q.baseline))
        reported.append({int(i) for i in np.nonzero(d <= distance)[0]})
    return _tally(corpus, reported).figures()


# --- scale ---------------------------------------------------------------------------


def scale(
    corpus: Corpus | None, *, images: int, radius: int, queries: int = 200, seed: int = 11
) -> dict[str, object]:
    """Synthetic key populations plus real query keys: build rate, latency, recall, memory.

    Half the population is uniform random keys; the other half are real index keys of
    the corpus with 9 to 20 random bits flipped (near real images but not within the
    default radius), so buckets near real queries are crowded as they would be.
    """
    rng = np.random.default_rng(seed)
    real_index = (
        np.asarray([describe(s.thumb).keys for s in corpus.index], dtype=np.uint64)
        if corpus
        else np.zeros((0, KEYS), np.uint64)
    )
    uniform = images // 2 if len(real_index) else images
    keys = np.empty((images, KEYS), dtype=np.uint64)
    keys[:uniform] = rng.integers(0, 1 << 63, size=(uniform, KEYS), dtype=np.int64).astype(
        np.uint64
    ) ^ (rng.integers(0, 2, size=(uniform, KEYS)).astype(np.uint64) << np.uint64(63))
    if images > uniform:
        base = real_index[rng.integers(0, len(real_index), images - uniform)]
        flips = np.zeros_like(base)
        for k in range(KEYS):
            counts = rng.integers(9, 21, size=len(base))
            for bit_round in range(20):
                bits = rng.integers(0, 64, size=len(base)).astype(np.uint64)
                flips[:, k] ^= np.where(bit_round < counts, np.uint64(1) << bits, np.uint64(0))
        keys[uniform:] = base ^ flips
    ids = np.arange(images, dtype=np.int64)
    if corpus:
        q_desc = [describe(q.thumb) for q in corpus.queries]
        picks = rng.choice(len(q_desc), size=min(queries, len(q_desc)), replace=False)
        probes = [query_keys(q_desc[int(i)]).keys for i in picks]
    else:
        probes = [
            rng.integers(0, 1 << 63, size=224, dtype=np.int64).astype(np.uint64)
            for _ in range(queries)
        ]
    index = HammingIndex(key_kind=KEY_KIND, keys_per_image=KEYS)
    start = time.perf_counter()
    for chunk in range(0, images, 100_000):  # incremental adds, as registration would
        index.add(ids[chunk : chunk + 100_000], keys[chunk : chunk + 100_000])
    index.compact()  # the last keys into the tables too
    build = time.perf_counter() - start
    times = []
    for probe in probes:
        t0 = time.perf_counter()
        index.search(probe, radius=radius)
        times.append(time.perf_counter() - t0)
    flat = keys.reshape(-1)
    agree = total = 0
    for probe in probes[:20]:
        hits = index.search(probe, radius=radius)
        got = set(zip(hits.query.tolist(), (hits.image * KEYS + hits.key).tolist(), strict=True))
        want = set()
        for qi, key in enumerate(probe):
            for k in np.nonzero(np.bitwise_count(flat ^ key) <= radius)[0].tolist():
                want.add((qi, k))
        agree += len(got & want)
        total += len(want)
    return {
        "images": images,
        "keys_per_image": KEYS,
        "query_keys": int(np.median([len(p) for p in probes])),
        "radius": radius,
        "build_images_per_s": round(images / build),
        "query_ms_p50": round(float(np.percentile(times, 50)) * 1e3, 2),
        "query_ms_p95": round(float(np.percentile(times, 95)) * 1e3, 2),
        "index_recall_vs_brute_force": round(agree / total, 4) if total else 1.0,
        "brute_force_pairs_checked": total,
        "bytes_per_image": round(index.nbytes() / images, 1),
    }


# --- command line --------------------------------------------------------------------


def _table(engine: dict[str, object], base: dict[str, object]) -> str:
    lines = [f"{'':32s} {'medledger':>10s} {'pHash<=10':>10s}"]
    e_rec = engine["recall"]
    b_rec = base["recall"]
    assert isinstance(e_rec, dict) and isinstance(b_rec, dict)
    for kind in e_rec:
        lines.append(f"recall {kind:25s} {e_rec[kind]:10.3f} {b_rec.get(kind, 0.0):10.3f}")
    for key in ("recall_all", "precision", "f1", "hard_negative_fpr", "random_fpr"):
        ev, bv = engine[key], base[key]
        assert isinstance(ev, float) and isinstance(bv, float)
        lines.append(f"{key:32s} {ev:10.4f} {bv:10.4f}")
    lines.append(
        f"pairs: hard negatives {engine['hard_negative_pairs']}, random {engine['random_pairs']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a third of the images, 100k scale")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--images", type=int, default=None, help="scale population")
    parser.add_argument("--radius", type=int, default=DEFAULT_RADIUS)
    parser.add_argument("--min-correlation", type=float, default=Thresholds().min_correlation)
    parser.add_argument("--max-worst-block", type=float, default=Thresholds().max_worst_block)
    parser.add_argument("--min-overlap", type=float, default=Thresholds().min_overlap)
    parser.add_argument("--skip-scale", action="store_true")
    parser.add_argument(
        "--oracle-candidates",
        type=int,
        metavar="UNRELATED",
        default=None,
        help="verify every true and hard-negative pair and UNRELATED sampled unrelated pairs "
        "directly (the verification alone), instead of the end-to-end run",
    )
    parser.add_argument("--save-corpus", type=Path, default=None)
    parser.add_argument("--load-corpus", type=Path, default=None)
    args = parser.parse_args(argv)
    thresholds = Thresholds(args.min_correlation, args.max_worst_block, args.min_overlap)
    started = time.perf_counter()
    if args.load_corpus:
        corpus = dup_oracle.load(args.load_corpus, Corpus, Sample)
    else:
        corpus = build_corpus(quick=args.quick)
    built = time.perf_counter() - started
    if args.save_corpus:
        dup_oracle.save(corpus, args.save_corpus)
    if args.oracle_candidates is not None:
        oracle = dup_oracle.evaluate(
            corpus, thresholds=thresholds, unrelated=args.oracle_candidates
        )
        oracle["load_average"] = [round(v, 2) for v in os.getloadavg()]
        print(json.dumps(oracle, indent=2) if args.json else dup_oracle.report(oracle))
        return 0
    engine = evaluate_engine(corpus, radius=args.radius, thresholds=thresholds)
    base = evaluate_baseline(corpus)
    result: dict[str, object] = {
        "corpus": {
            "indexed": len(corpus.index),
            "queries": len(corpus.queries),
            "seconds_to_build": round(built, 1),
            "skimage": "skimage" in corpora(),
        },
        "thresholds": {
            "radius": args.radius,
            "min_correlation": thresholds.min_correlation,
            "max_worst_block": thresholds.max_worst_block,
            "min_overlap": thresholds.min_overlap,
        },
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "medledger": engine,
        "phash_distance_10": base,
    }
    if not args.skip_scale:
        images = args.images or (100_000 if args.quick else 1_000_000)
        result["scale"] = scale(corpus, images=images, radius=args.radius)
        result["load_average_after_scale"] = [round(v, 2) for v in os.getloadavg()]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(
        f"corpus: {len(corpus.index)} indexed images, {len(corpus.queries)} queries "
        f"(built in {built:.0f} s); radius {args.radius}, {thresholds}"
    )
    print(_table(engine, base))
    pairs = engine["all_pairs"]
    assert isinstance(pairs, dict)
    print(
        f"all pairs of {pairs['images']} indexed images: unrelated {pairs['unrelated_links']} "
        f"of {pairs['unrelated_pairs']} linked (FPR {pairs['unrelated_fpr']:.6f}); hard "
        f"{pairs['hard_links']} of {pairs['hard_pairs']} (FPR {pairs['hard_fpr']:.4f})"
    )
    for link in pairs["false_links"]:
        print(f"  false link: {link}")
    print("load average (1, 5, 15 min) after the corpus run: " + str(result["load_average"]))
    print(f"verification: {engine['seconds_per_query']} s per query")
    if "scale" in result:
        print("scale:")
        sc = result["scale"]
        assert isinstance(sc, dict)
        for key, value in sc.items():
            print(f"  {key:30s} {value}")
        print("load average after the scale run: " + str(result["load_average_after_scale"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
