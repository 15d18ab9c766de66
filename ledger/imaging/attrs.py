"""Fast, failure-tolerant reads of DICOM attributes by keyword.

pydicom's keyword access (``ds.get("RescaleSlope")``) costs several
microseconds per call; integer tags are several times cheaper, which matters
when a worker inspects every file of a large folder. A value that pydicom
cannot convert reads as absent: callers decide whether that fails open or
closed. No value read here is ever put in a message.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydicom._dicom_dict import DicomDictionary  # the data dictionary pydicom.datadict uses
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

# Every standard attribute whose VR is a sequence (pydicom's data dictionary).
SEQUENCE_TAGS: frozenset[int] = frozenset(
    tag for tag, entry in DicomDictionary.items() if entry[0] == "SQ"
)
# Value representations whose values are plain ASCII whatever the character set
# (PS3.5 6.2: the default repertoire only), so their raw bytes can be read directly.
_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"})


@cache
def tag(keyword: str) -> int:
    found = tag_for_keyword(keyword)
    if found is None:
        raise KeyError(f"unknown DICOM keyword {keyword}")
    return int(found)


def value(ds: Dataset, keyword: str) -> Any:
    """The attribute's value, or None if absent or unreadable."""
    number = tag(keyword)
    try:
        return ds[number].value if number in ds else None
    except Exception:  # malformed value: reads as absent
        return None


def texts(ds: Dataset, keyword: str) -> list[str]:
    """The values of an ASCII-only attribute (CS, DS, IS, UI, ...) as stripped strings.

    An element pydicom has not converted yet is read from its raw bytes: its
    conversion (validation, character-set lookups, object creation) costs
    about twenty microseconds, which adds up over a header's worth of reads.
    """
    number = tag(keyword)
    try:
        raw = ds.get_item(number) if number in ds else None
    except Exception:
        return []
    if raw is None:
        return []
    vr = raw.VR or DicomDictionary.get(number, ("",))[0]
    if isinstance(raw, RawDataElement) and vr in _ASCII_VRS and isinstance(raw.value, bytes):
        text = raw.value.decode("ascii", errors="replace")
        return [part.strip(" \x00") for part in text.split("\\")]
    found = value(ds, keyword)
    if found is None:
        return []
    if isinstance(found, str | bytes) or not hasattr(found, "__iter__"):
        found = [found]
    return [str(part).strip(" \x00") for part in found]


def items(ds: Dataset, keyword: str) -> list[Dataset]:
    """The items of a sequence attribute ([] if absent or unreadable)."""
    found = value(ds, keyword)
    try:
        return [item for item in (found or []) if isinstance(item, Dataset)]
    except TypeError:
        return []
