"""DICOM header consistency: what the header claims against itself and the pixels.

Source: DICOM PS3.3 2024 — C.8.6 SC Equipment (Conversion Type, defined term SYN),
C.7.6.1 General Image (Image Type, Lossy Image Compression and its ratio), C.12.1 SOP Common
(Synthetic Data 0008,001C; Digital Signatures Sequence FFFA,FFFA per PS3.15 C), C.7.6.3
Image Pixel (Bits Stored, Smallest/Largest Image Pixel Value), C.8.2.1 CT Image and
C.8.3.1 MR Image (Type 1/2 acquisition attributes); PS3.5 8.2 and 10 for the lossy
transfer syntaxes. Evidence names attributes, never their values (except defined terms).
"""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from ledger.forensics.signal import Level, Sample, Signal

SC_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
    "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit SC
    "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
    "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
    "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
}
# Attributes only an acquisition sets: a capture of a screen or a generated picture has none.
ACQUISITION = (
    "KVP", "XRayTubeCurrent", "ExposureTime", "Exposure", "CTDIvol", "ConvolutionKernel",
    "RepetitionTime", "EchoTime", "MagneticFieldStrength", "ScanningSequence",
    "SequenceVariant", "ImagingFrequency", "TransducerData",
    "RadiopharmaceuticalInformationSequence",
)
# Transfer syntaxes that are lossy whatever their parameters (PS3.5 10.4 onwards).
LOSSY_SYNTAXES = {
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended",
    "1.2.840.10008.1.2.4.100": "MPEG2",
    "1.2.840.10008.1.2.4.101": "MPEG2 High Level",
    "1.2.840.10008.1.2.4.102": "MPEG-4 AVC/H.264",
    "1.2.840.10008.1.2.4.103": "MPEG-4 AVC/H.264 BD",
    "1.2.840.10008.1.2.4.104": "MPEG-4 AVC/H.264 2D",
    "1.2.840.10008.1.2.4.105": "MPEG-4 AVC/H.264 3D",
    "1.2.840.10008.1.2.4.106": "MPEG-4 AVC/H.264 Stereo",
    "1.2.840.10008.1.2.4.107": "HEVC/H.265",
    "1.2.840.10008.1.2.4.108": "HEVC/H.265 Main 10",
}
LOSSLESS_SYNTAXES = {
    "1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.5",
}
# Type 1 and 2 attributes of the CT and MR Image modules that an acquisition fills in.
REQUIRED = {
    "1.2.840.10008.5.1.4.1.1.2": ("CT Image", ("ImageType", "RescaleIntercept",
                                               "RescaleSlope", "KVP", "AcquisitionNumber")),
    "1.2.840.10008.5.1.4.1.1.4": ("MR Image", ("ImageType", "ScanningSequence",
                                               "SequenceVariant", "ScanOptions",
                                               "MRAcquisitionType", "EchoTime",
                                               "EchoTrainLength")),
}


def detect(sample: Sample) -> list[Signal]:
    ds = sample.dataset
    if sample.format != "dicom" or ds is None:
        return []
    signals = [*_capture(ds), *_synthetic(ds), *_lossy(ds, sample.transfer_syntax or ""),
               *_required(ds), *_signatures(ds)]
    lossless = sample.transfer_syntax in LOSSLESS_SYNTAXES
    never_lossy = lossless and _text(ds, "LossyImageCompression") != "01"
    signals.extend(_pixel_range(ds, sample, lossless=never_lossy))
    return signals


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    if value is None:
        return ""
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value).upper()
    return str(value).strip().upper()


def _capture(ds: Dataset) -> list[Signal]:
    sop = str(ds.get("SOPClassUID", ""))
    synthetic = _text(ds, "ConversionType") == "SYN"
    if sop not in SC_CLASSES and not synthetic:
        return []
    what = "Conversion Type SYN" if synthetic else "a Secondary Capture SOP class"
    image_type = _text(ds, "ImageType").split("\\")
    present = [k for k in ACQUISITION if k in ds and ds[k].value not in (None, "", b"")]
    found = []
    if image_type[:2] == ["ORIGINAL", "PRIMARY"]:
        found.append("Image Type ORIGINAL\\PRIMARY")
    if present:
        found.append("acquisition attributes " + ", ".join(present[:6]))
    if found:
        return [Signal("dicom.capture_presented_as_acquisition", 0.8, Level.MEDIUM,
                       f"{what} presented with {' and '.join(found)}")]
    if synthetic:
        return [Signal("dicom.capture_presented_as_acquisition", 0.4, Level.LOW,
                       "Conversion Type SYN (synthetic image) declared")]
    return []


def _synthetic(ds: Dataset) -> list[Signal]:
    if _text(ds, "SyntheticData") == "YES":
        return [Signal("dicom.synthetic_data", 1.0, Level.HIGH,
                       "Synthetic Data (0008,001C) is YES: the image declares itself synthetic")]
    return []


def _lossy(ds: Dataset, syntax: str) -> list[Signal]:
    declared = _text(ds, "LossyImageCompression")
    if syntax in LOSSY_SYNTAXES and declared != "01":
        shown = f"is {declared}" if declared else "is absent"
        return [Signal("dicom.lossy_compression", 0.7, Level.MEDIUM,
                       f"{LOSSY_SYNTAXES[syntax]} transfer syntax but Lossy Image "
                       f"Compression {shown} (must be 01)")]
    ratio = "LossyImageCompressionRatio" in ds and ds.LossyImageCompressionRatio not in (None, "")
    if syntax in LOSSLESS_SYNTAXES and declared == "01" and not ratio:
        return [Signal("dicom.lossy_compression", 0.4, Level.LOW,
                       "Lossy Image Compression 01 under a lossless transfer syntax with no "
                       "Lossy Image Compression Ratio: decompressed from an undeclared lossy "
                       "step")]
    return []


def _required(ds: Dataset) -> list[Signal]:
    spec = REQUIRED.get(str(ds.get("SOPClassUID", "")))
    if spec is None:
        return []
    module, keywords = spec
    missing = [k for k in keywords if k not in ds]
    if not missing:
        return []
    return [Signal("dicom.acquisition_missing", min(0.3 + 0.1 * len(missing), 0.6), Level.LOW,
                   f"{module} Storage without Type 1/2 attributes {', '.join(missing)}")]


def _signatures(ds: Dataset) -> list[Signal]:
    if "DigitalSignaturesSequence" not in ds:
        return []
    count = len(ds.DigitalSignaturesSequence)
    return [Signal("dicom.digital_signature", 0.0, Level.NONE,
                   f"Digital Signatures Sequence present ({count} item(s)); recorded, not "
                   "verified (PS3.15 MAC and certificate checks are not implemented)")]


def _pixel_range(ds: Dataset, sample: Sample, *, lossless: bool) -> list[Signal]:
    """Lossy codecs overshoot the original range: the declared range binds never-lossy data."""
    pixels = sample.pixels
    if pixels.size == 0 or pixels.dtype.kind not in "iu":
        return []
    low, high = int(pixels.min()), int(pixels.max())
    bits = int(sample.bits_stored)
    signed = bool(sample.extra.get("signed", pixels.dtype.kind == "i"))
    lo_ok, hi_ok = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    out = []
    beyond = int(sample.extra.get("beyond_bits_stored", 0))
    if beyond:  # the decoder masked these words: counted in the native bytes before decoding
        out.append(Signal("dicom.pixel_range", 0.7, Level.MEDIUM,
                          f"{beyond} stored words set bits above High Bit (Bits Stored {bits}): "
                          "written by something other than the modality"))
    elif low < lo_ok or high > hi_ok:
        out.append(Signal("dicom.pixel_range", 0.7, Level.MEDIUM,
                          f"stored values {low}..{high} exceed Bits Stored {bits} "
                          f"({lo_ok}..{hi_ok}): written by something other than the modality"))
    declared = [(k, ds.get(k)) for k in ("SmallestImagePixelValue", "LargestImagePixelValue")]
    smallest, largest = (_int(v) for _, v in declared)
    outside = (smallest is not None and low < smallest) or (largest is not None and high > largest)
    if lossless and outside:
        out.append(Signal("dicom.pixel_range", 0.6, Level.MEDIUM,
                          f"stored values {low}..{high} fall outside Smallest/Largest Image "
                          f"Pixel Value {smallest}..{largest}: pixels changed after the header"))
    return out[:1]


def _int(value: object) -> int | None:
    if isinstance(value, bytes) and len(value) in (2, 4):
        return int(np.frombuffer(value, dtype="<u2" if len(value) == 2 else "<u4")[0])
    if isinstance(value, int | np.integer):
        return int(value)
    return None
