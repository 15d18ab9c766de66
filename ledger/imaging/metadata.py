"""The allowlist: the only header values that may enter the ledger.

Values are JSON-safe and float-free (the ledger's canonical JSON forbids
floats): DICOM decimal strings (DS) stay strings as written, integers are
ints, multi-valued attributes are lists. Text is cut to printable characters
and 64 characters. An attribute that is absent, empty or malformed is left out.

DICOM: acquisition and image facts that identify no one (below), the lossy
compression and derivation attributes and the burned-in annotation flag.
Derivation Description is free text that Annex E removes (X) unless the Clean
Descriptors option (113105) was applied, so its text is kept only from
de-identified input declaring that option; otherwise only its presence is
recorded. Sex and an age band ("40-49", "90+") only with
``keep_demographics=True`` and de-identified input.

Photos: EXIF Make, Model and Software only.

Free text (Manufacturer, model, Derivation Description, Image Type, EXIF Make/Model/
Software) is written only when :func:`ledger.imaging.freetext.phi_reason` finds nothing
that looks like a name, an identifier, a date, a phone number or an e-mail address; Body
Part Examined and Modality only when they are DICOM defined terms
(:mod:`ledger.imaging.terms`). Anything else is left out and its keyword listed, sorted,
under ``withheld`` (names, never values).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

from pydicom.dataset import Dataset

from ledger.errors import PolicyError
from ledger.imaging.attrs import items, texts, value
from ledger.imaging.decode import Decoded
from ledger.imaging.deid import DeidStatus
from ledger.imaging.freetext import phi_reason
from ledger.imaging.terms import CODED, defined_term

JSONValue = str | int | bool | list[str] | list[int] | None

_LONG_TEXT = ("Manufacturer", "ManufacturerModelName")  # LO: the character set applies
_TEXT = (
    "Modality",
    "BodyPartExamined",
    "PhotometricInterpretation",
    "LossyImageCompression",
    "BurnedInAnnotation",
    "PresentationIntentType",
    "SOPClassUID",
)
_DECIMAL = ("KVP", "SliceThickness")
_DECIMALS = ("PixelSpacing", "LossyImageCompressionRatio")
_TEXTS = ("ImageType", "LossyImageCompressionMethod")
_INTEGER = (
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "SamplesPerPixel",
    "PixelRepresentation",
    "NumberOfFrames",
)
_DS = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_CLEAN_DESCRIPTORS = "113105"
WITHHELD = "withheld"  # metadata key: sorted keywords whose free text was not written
# Values that are site free text, checked for PHI before they are written.
_FREE_TEXT = frozenset({"Manufacturer", "ManufacturerModelName", "DerivationDescription",
                        "ImageType", "Make", "Model", "Software"})
_AGE = re.compile(r"(\d{3})([DWMY])")


def dicom_metadata(
    decoded: Decoded, deid: DeidStatus, *, keep_demographics: bool, refuse_withheld: bool = False
) -> dict[str, JSONValue]:
    """The allowlisted values; ``refuse_withheld``: PolicyError instead of withholding."""
    ds = decoded.dataset
    if ds is None:
        raise ValueError("not a DICOM image")
    out: dict[str, JSONValue] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for keyword in _LONG_TEXT:
            _put(out, keyword, _text(value(ds, keyword)))
        for keyword in _TEXT:
            _put(out, keyword, _text(_first(texts(ds, keyword))))
        for keyword in _DECIMAL:
            _put(out, keyword, _decimal(_first(texts(ds, keyword))))
        for keyword in _DECIMALS:
            _put(out, keyword, _list(_decimal(v) for v in texts(ds, keyword)))
        for keyword in _TEXTS:
            _put(out, keyword, _list(_text(v) for v in texts(ds, keyword)))
        for keyword in _INTEGER:
            _put(out, keyword, _integer(value(ds, keyword)))
        out["TransferSyntaxUID"] = decoded.transfer_syntax
        out["NumberOfFrames"] = decoded.frames
        _derivation(ds, deid, out)
        if keep_demographics and deid.deidentified:
            _put(out, "PatientSex", _sex(_first(texts(ds, "PatientSex"))))
            _put(out, "PatientAgeBand", _age_band(_first(texts(ds, "PatientAge"))))
    return _screened(out, decoded.name if refuse_withheld else None)


def photo_metadata(decoded: Decoded, *, refuse_withheld: bool = False) -> dict[str, JSONValue]:
    frame = decoded.pixels.shape
    out: dict[str, JSONValue] = {
        "Rows": int(frame[1]),
        "Columns": int(frame[2]),
        "SamplesPerPixel": int(frame[3]),
        "NumberOfFrames": int(frame[0]),
        "Mode": decoded.color,
    }
    for key in ("Make", "Model", "Software"):
        _put(out, key, _text((decoded.exif or {}).get(key)))
    return _screened(out, decoded.name if refuse_withheld else None)


def withheld_reasons(metadata: dict[str, JSONValue]) -> dict[str, str]:
    """keyword -> why its value may identify someone, for every value that must not be written.

    Coded attributes outside their defined terms count as free text that may identify."""
    found: dict[str, str] = {}
    for keyword in CODED:
        text = metadata.get(keyword)
        if isinstance(text, str) and defined_term(keyword, text) is None:
            found[keyword] = "free text, not a DICOM defined term"
    for keyword in _FREE_TEXT & metadata.keys():
        values = metadata[keyword]
        for text in values if isinstance(values, list) else [values]:
            reason = phi_reason(text) if isinstance(text, str) else None
            if reason is not None:
                found[keyword] = f"looks like {reason}"
                break
    return found


def _screened(out: dict[str, JSONValue], refuse_as: str | None) -> dict[str, JSONValue]:
    """``out`` without the values that may identify someone, naming them in ``withheld``.

    ``refuse_as``: the file's name, to refuse it (PolicyError) rather than withhold."""
    reasons = withheld_reasons(out)
    if reasons and refuse_as is not None:
        keyword = sorted(reasons)[0]
        raise PolicyError(
            f"identifiable: {keyword} {reasons[keyword]} (de-identified input required; "
            "the value is not shown)",
            subject=refuse_as,
        )
    kept: dict[str, JSONValue] = {k: v for k, v in out.items() if k not in reasons}
    for keyword in CODED:
        text = kept.get(keyword)
        if isinstance(text, str):
            kept[keyword] = defined_term(keyword, text)
    if reasons:
        kept[WITHHELD] = sorted(reasons)
    return kept


def _derivation(ds: Dataset, deid: DeidStatus, out: dict[str, JSONValue]) -> None:
    description = _text(value(ds, "DerivationDescription"))
    if description:
        if deid.deidentified and _CLEAN_DESCRIPTORS in deid.method_codes:
            out["DerivationDescription"] = description
        else:
            out["DerivationDescriptionPresent"] = True
    codes = []
    for item in items(ds, "DerivationCodeSequence"):
        scheme, code = _text(value(item, "CodingSchemeDesignator")), _text(value(item, "CodeValue"))
        if code:
            codes.append(f"{scheme or '?'}:{code}")
    _put(out, "DerivationCodeSequence", codes or None)
    sources = items(ds, "SourceImageSequence")
    if sources:
        out["SourceImageCount"] = len(sources)


def _sex(value: Any) -> str | None:
    text = _text(value)
    return text.upper() if text and text.upper() in ("M", "F", "O") else None


def _age_band(value: Any) -> str | None:
    match = _AGE.fullmatch(_text(value) or "")
    if match is None:
        return None
    number, unit = int(match.group(1)), match.group(2)
    years = {"D": number // 365, "W": number // 52, "M": number // 12, "Y": number}[unit]
    if years >= 90:
        return "90+"
    low = years - years % 10
    return f"{low}-{low + 9}"


def _values(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def _first(value: Any) -> Any:
    values = _values(value)
    return values[0] if values else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    text = "".join(c for c in str(value) if c.isprintable()).strip()[:64]
    return text or None


def _decimal(value: Any) -> str | None:
    if value is None:
        return None
    text = getattr(value, "original_string", None) or str(value)
    text = text.strip()
    return text if _DS.fullmatch(text) and len(text) <= 16 else None


def _integer(value: Any) -> int | None:
    try:
        number = int(_first(value))
    except (TypeError, ValueError):
        return None
    return number if -(2**53) < number < 2**53 else None


def _list(values: Any) -> list[str] | None:
    items = [v for v in values if v is not None]
    return items or None


def _put(out: dict[str, JSONValue], key: str, value: JSONValue) -> None:
    if value is not None and value != "" and value != []:
        out[key] = value
