"""The benchmark's operations that leave metadata, a watermark or a DICOM inconsistency.

Rows of bench/forensics.py's ``OPERATIONS`` table (issue 22, "Evaluation"), screened there
with the full screening (``ledger.forensics.screen``). Each function takes a base (its 8-bit
rendering ``image`` and, for the DICOM originals, the file ``path``) and a random generator,
and returns (file bytes, suffix) or None when the operation does not apply to that base.

* Declared provenance: a C2PA manifest signed offline with a throw-away chain
  (bench/c2pa_chain.py) declaring a generated IPTC digital source type; generator text
  chunks in PNG (the eight keywords of the open generators); XMP ``DigitalSourceType`` in
  PNG iTXt or JPEG APP1; EXIF Software / ProcessingSoftware naming a generator or a filter
  app. Clean twins: a JPEG with a camera's EXIF firmware, a PNG with ordinary text chunks
  and XMP declaring ``digitalCapture``.
* DWT-DCT watermarks: the SD 1.x, SD 2.x and SDXL payloads embedded by the real
  ``invisible-watermark`` package (its ``maxDct.py``, loaded without its torch import) into
  bases of at least 256x256, saved as PNG, and the same marks after JPEG q70, a crop of 10
  rows and columns and a greyscale conversion (expected to be missed: the published scheme
  does not survive them).
* DICOM, written with pydicom into copies of the DICOM originals: a Secondary Capture SOP
  class presented as ORIGINAL\\PRIMARY, Synthetic Data = YES, the rendering re-encoded as
  JPEG Baseline without Lossy Image Compression 01, and stored values beyond a lowered Bits
  Stored.
"""

from __future__ import annotations

import importlib.util
import io
import json
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Protocol

import numpy as np
import pydicom
from c2pa_chain import sign_png, signer_chain
from PIL import Image, PngImagePlugin
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit

from ledger.forensics import watermark

File = tuple[bytes, str]
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


class BaseLike(Protocol):
    name: str
    image: np.ndarray  # 8-bit, (rows, columns) or (rows, columns, 3)
    path: Path | None


Operation = Callable[[BaseLike, np.random.Generator], File | None]


def _save(image: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, fmt, **options)
    return buffer.getvalue()


def _rgb(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image if image.ndim == 3 else np.stack([image] * 3, axis=-1))


def _pick(rng: np.random.Generator, choices: tuple[object, ...]) -> object:
    return choices[int(rng.integers(len(choices)))]


# --- declared provenance --------------------------------------------------------------

GENERATED_TERMS = ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia",
                   "algorithmicMedia")


@cache
def _chain() -> tuple[bytes, bytes]:
    return signer_chain()


def c2pa_generated(base: BaseLike, rng: np.random.Generator) -> File:
    term = str(_pick(rng, GENERATED_TERMS))
    return sign_png(_save(base.image, "PNG", compress_level=1), _chain(), term), ".png"


GENERATOR_CHUNKS: tuple[tuple[str, str, str], ...] = (
    ("tEXt", "parameters", "a chest film\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1"),
    ("tEXt", "prompt", json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 1}}})),
    ("zTXt", "workflow", json.dumps({"nodes": [], "links": []})),
    ("iTXt", "invokeai_metadata", json.dumps({"positive_prompt": "x", "steps": 30})),
    ("tEXt", "sd-metadata", json.dumps({"model": "stable diffusion", "image": {}})),
    ("tEXt", "Dream", '"a chest film" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms'),
    ("tEXt", "Software", "NovelAI"),
    ("zTXt", "Comment", json.dumps({"steps": 28, "sampler": "k_euler", "scale": 11, "seed": 7})),
)


def _png_with(image: np.ndarray, chunks: tuple[tuple[str, str, str], ...]) -> File:
    info = PngImagePlugin.PngInfo()
    for kind, keyword, text in chunks:
        if kind == "iTXt":
            info.add_itxt(keyword, text, zip=True)
        else:
            info.add_text(keyword, text, zip=kind == "zTXt")
    return _save(image, "PNG", pnginfo=info, compress_level=1), ".png"


def png_generator_text(base: BaseLike, rng: np.random.Generator) -> File:
    chunk = GENERATOR_CHUNKS[int(rng.integers(len(GENERATOR_CHUNKS)))]
    return _png_with(base.image, (chunk,))


XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
    'syntax-ns#"><rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
    ' Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/{term}"/>'
    "</rdf:RDF></x:xmpmeta>"
)


def _xmp(image: np.ndarray, term: str, as_png: bool) -> File:
    packet = XMP.format(term=term)
    if as_png:
        return _png_with(image, (("iTXt", "XML:com.adobe.xmp", packet),))
    return _save(image, "JPEG", quality=95, xmp=packet.encode()), ".jpg"


def xmp_generated(base: BaseLike, rng: np.random.Generator) -> File:
    return _xmp(base.image, str(_pick(rng, GENERATED_TERMS)), bool(rng.integers(2)))


# Generators (high) and filter apps (medium) as their EXIF Software strings read.
EXIF_SOFTWARE = ("Stable Diffusion XL", "Adobe Firefly", "Midjourney", "NovelAI",
                 "Facetune2", "Meitu", "Snapseed 2.0", "Remini", "BeautyPlus", "PicsArt")
_SOFTWARE, _PROCESSING_SOFTWARE, _MAKE = 0x0131, 0x000B, 0x010F


def _jpeg_with_exif(image: np.ndarray, software: str, tag: int) -> File:
    exif = Image.Exif()
    exif[tag] = software
    exif[_MAKE] = "Canon"
    return _save(image, "JPEG", quality=95, exif=exif), ".jpg"


def exif_software(base: BaseLike, rng: np.random.Generator) -> File:
    tag = _SOFTWARE if rng.random() < 0.75 else _PROCESSING_SOFTWARE
    return _jpeg_with_exif(base.image, str(_pick(rng, EXIF_SOFTWARE)), tag)


# Clean twins: metadata a camera or an exporter writes.
CAMERA_FIRMWARE = ("Ver.1.00", "iOS 17.1", "HDR+ 1.0.540104691zd", "Firmware 2.3")


def camera_exif(base: BaseLike, rng: np.random.Generator) -> File:
    return _jpeg_with_exif(base.image, str(_pick(rng, CAMERA_FIRMWARE)), _SOFTWARE)


def ordinary_png_text(base: BaseLike, _: np.random.Generator) -> File:
    return _png_with(base.image, (
        ("tEXt", "Title", "chest film"), ("tEXt", "Software", "GIMP-free exporter 1.0"),
        ("zTXt", "Comment", json.dumps({"note": "exported"})),
        ("iTXt", "XML:com.adobe.xmp", XMP.format(term="digitalCapture")),
    ))


# --- invisible watermarks -------------------------------------------------------------

PAYLOAD_NAMES = tuple(watermark.PAYLOADS)


@cache
def _oracle() -> ModuleType:
    """invisible-watermark's maxDct.py (the package's __init__ imports torch)."""
    spec = importlib.util.find_spec("imwatermark")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bench/forensics.py: invisible-watermark is not installed: "
                         "pip install --no-deps 'invisible-watermark==0.2.0'")
    path = Path(spec.submodule_search_locations[0]) / "maxDct.py"
    loaded = importlib.util.spec_from_file_location("imwatermark_maxdct_oracle", path)
    assert loaded is not None and loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    return module


def _marked(base: BaseLike, payload: str) -> np.ndarray | None:
    """What the generators do: RGB -> BGR, encode with dwtDct, back to RGB."""
    rgb = _rgb(base.image)
    if rgb.shape[0] * rgb.shape[1] < watermark.MIN_PIXELS or min(rgb.shape[:2]) < 256:
        return None
    bits = list(watermark.PAYLOADS[payload])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bgr = _oracle().EmbedMaxDct(bits, wmLen=len(bits)).encode(
            np.ascontiguousarray(rgb[:, :, ::-1]))
    return np.ascontiguousarray(bgr[:, :, ::-1])


def watermarked(payload: str) -> Operation:
    def apply(base: BaseLike, _: np.random.Generator) -> File | None:
        marked = _marked(base, payload)
        return None if marked is None else (_save(marked, "PNG", compress_level=1), ".png")

    return apply


def watermarked_then(after: str) -> Operation:
    """A mark (payload drawn per base) then JPEG q70, a 10-pixel crop or greyscale."""

    def apply(base: BaseLike, rng: np.random.Generator) -> File | None:
        marked = _marked(base, str(_pick(rng, PAYLOAD_NAMES)))
        if marked is None:
            return None
        if after == "jpeg q70":
            return _save(marked, "JPEG", quality=70), ".jpg"
        if after == "crop":
            return _save(marked[10:, 10:], "PNG", compress_level=1), ".png"
        grey = np.asarray(Image.fromarray(marked).convert("L"))
        return _save(grey, "PNG", compress_level=1), ".png"

    return apply


# --- DICOM inconsistencies ------------------------------------------------------------


def _dicom(base: BaseLike, change: Callable[[Dataset], bool]) -> File | None:
    if base.path is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(base.path, force=True)
            if not change(ds):
                return None
            buffer = io.BytesIO()
            ds.save_as(buffer, enforce_file_format=False)
        except Exception:  # a public file this writer cannot rewrite: not part of the row
            return None
    return buffer.getvalue(), ".dcm"


def _set_sop(ds: Dataset, uid: str) -> None:
    ds.SOPClassUID = uid
    if "file_meta" in ds.__dict__ or hasattr(ds, "file_meta"):
        ds.file_meta.MediaStorageSOPClassUID = uid


def secondary_capture_as_original(base: BaseLike, _: np.random.Generator) -> File | None:
    def change(ds: Dataset) -> bool:
        _set_sop(ds, SECONDARY_CAPTURE)
        ds.ImageType = ["ORIGINAL", "PRIMARY"]
        return True

    return _dicom(base, change)


def synthetic_data(base: BaseLike, _: np.random.Generator) -> File | None:
    def change(ds: Dataset) -> bool:
        ds.add_new(0x0008001C, "CS", "YES")
        return True

    return _dicom(base, change)


_RANGE_KEYWORDS = ("SmallestImagePixelValue", "LargestImagePixelValue", "LossyImageCompression",
                   "LossyImageCompressionRatio", "LossyImageCompressionMethod",
                   "NumberOfFrames", "PlanarConfiguration", "PixelPaddingValue")


def lossy_undeclared(base: BaseLike, _: np.random.Generator) -> File | None:
    """The grey rendering re-encoded as JPEG Baseline (q90), Lossy Image Compression dropped."""
    grey = base.image if base.image.ndim == 2 else np.asarray(
        Image.fromarray(base.image).convert("L"))
    jpeg = _save(np.ascontiguousarray(grey), "JPEG", quality=90)

    def change(ds: Dataset) -> bool:
        for keyword in _RANGE_KEYWORDS:
            if keyword in ds:
                delattr(ds, keyword)
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.Rows, ds.Columns = grey.shape
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = encapsulate([jpeg])
        ds["PixelData"].VR = "OB"
        return True

    return _dicom(base, change)


def beyond_bits_stored(base: BaseLike, _: np.random.Generator) -> File | None:
    """Stored values written above a lowered Bits Stored (12 of 16, or 7 of 8 bits)."""

    def change(ds: Dataset) -> bool:
        if ds.file_meta.TransferSyntaxUID.is_compressed:
            ds.decompress()
        allocated = int(ds.BitsAllocated)
        if allocated not in (8, 16):
            return False
        signed = int(ds.get("PixelRepresentation", 0)) == 1
        pixels = ds.pixel_array.astype(np.int32).clip(0, 2000 if allocated == 16 else 100)
        flat = pixels.reshape(-1)
        flat[:3] = (3000 if signed else 5000) if allocated == 16 else 200
        dtype = ("<i2" if signed else "<u2") if allocated == 16 else np.uint8
        ds.PixelData = flat.astype(dtype).tobytes()
        ds["PixelData"].VR = "OW" if allocated == 16 else "OB"
        ds.BitsStored, ds.HighBit = (12, 11) if allocated == 16 else (7, 6)
        for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue"):
            if keyword in ds:
                delattr(ds, keyword)
        if "PlanarConfiguration" in ds:
            ds.PlanarConfiguration = 0
        return True

    return _dicom(base, change)
