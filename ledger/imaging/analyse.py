"""``analyse``: the one call a registration worker makes per file.

Decode once; from that one decode derive the digests, the allowlisted
metadata, the de-identification status, the pseudonyms and the fingerprints.
The result is small, frozen and picklable, and ``to_json()`` holds only
JSON-safe, PHI-free values (no floats; names of identifying attributes, never
their values; UIDs and Patient ID only as keyed pseudonyms).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from ledger.errors import PolicyError
from ledger.fingerprint.descriptor import Descriptor, describe
from ledger.fingerprint.hashes import THUMBNAIL_SIZE, Fingerprints, fingerprints
from ledger.imaging.decode import Decoded, decode
from ledger.imaging.deid import DeidStatus, deid_status
from ledger.imaging.digest import pixel_digests
from ledger.imaging.framegrids import frame_descriptors
from ledger.imaging.freetext import phi_reason
from ledger.imaging.limits import DecodeLimits
from ledger.imaging.metadata import WITHHELD, JSONValue, dicom_metadata, photo_metadata
from ledger.imaging.pseudonym import SubjectMaterial, subject_material
from ledger.imaging.render import thumbnail
from ledger.model.images import FRAME_TREE_ALG

ANALYSIS_VERSION = 1
DUP_GRID = "dup-grid"  # fingerprints key: the near-duplicate keys and the grid's digest


@dataclass(frozen=True)
class Analysis:
    file_sha256: str
    file_size: int
    format: str  # dicom, png, jpeg, tiff, bmp, webp
    pixel_sha256: str
    pixel_form: str  # canonical dtype and shape, e.g. "<i2 1x512x512x1"
    frame_sha256: tuple[str, ...]  # per frame, multi-frame images of <= 512 frames only
    frames: int
    frame_root: str | None  # RFC 9162 root over the frame digests, multi-frame images only
    metadata: dict[str, JSONValue]
    deid: DeidStatus
    # DICOM only: the subject's lookup tag and keyed UID material, for the parent process to
    # turn into per-subject pseudonyms (ledger.imaging.pseudonym); in memory, never stored.
    subject: SubjectMaterial | None
    fingerprints: Fingerprints
    descriptor: Descriptor | None = None  # near-duplicate grid; only its digest enters the log
    preamble: str | None = None  # DICOM with preamble: zero or tiff
    # Multi-frame: (frame, descriptor) of the other described frames (imaging/framegrids.py)
    frame_descriptors: tuple[tuple[int, Descriptor], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "v": ANALYSIS_VERSION,
            "file_sha256": self.file_sha256,
            "file_size": self.file_size,
            "format": self.format,
            "pixel_sha256": self.pixel_sha256,
            "pixel_form": self.pixel_form,
            "frame_sha256": list(self.frame_sha256),
            "metadata": dict(self.metadata),
            "deid": self.deid.to_json(),
            "pseudonyms": self.subject.placeholder_json() if self.subject else None,
            "fingerprints": self._fingerprints_json(),
            "preamble": self.preamble,
        }
        if self.frame_root is not None:  # omitted otherwise: single-frame entries are unchanged
            tree = {"alg": FRAME_TREE_ALG, "count": self.frames, "root": self.frame_root}
            out["frame_tree"] = tree
            if self.descriptor is not None:
                out["frame_grids"] = [
                    {"frame": f, "descriptor": d.reference()} for f, d in self.frame_descriptors
                ]
        return out

    def _fingerprints_json(self) -> dict[str, Any]:
        out = self.fingerprints.to_json()
        if self.descriptor is not None:
            out[DUP_GRID] = self.descriptor.reference()
        return out


def analyse(
    path: str | os.PathLike[str],
    *,
    secret: bytes,
    limits: DecodeLimits,
    keep_demographics: bool = False,
    require_deidentified: bool = False,
) -> Analysis:
    """Analyse one image file; InputError/PolicyError name the file and the reason."""
    decoded = decode(path, limits=limits)
    return analyse_decoded(
        decoded, secret=secret, keep_demographics=keep_demographics,
        require_deidentified=require_deidentified,
    )


def analyse_decoded(
    decoded: Decoded,
    *,
    secret: bytes,
    keep_demographics: bool = False,
    require_deidentified: bool = False,
) -> Analysis:
    """``analyse`` of an image already decoded (the worker hands the same decode on)."""
    status = _status(decoded)
    if require_deidentified:
        _require_deidentified(decoded, status)
    digests = pixel_digests(decoded.pixels, bits_stored=decoded.bits_stored, signed=decoded.signed)
    if decoded.dataset is not None:
        metadata = dicom_metadata(
            decoded, status, keep_demographics=keep_demographics,
            refuse_withheld=require_deidentified,
        )
        status = _screened_method(decoded, status, metadata, refuse=require_deidentified)
        names = _with_demographics(subject_material(decoded.dataset, secret=secret), metadata)
    else:
        metadata = photo_metadata(decoded, refuse_withheld=require_deidentified)
        names = None
    thumb = thumbnail(decoded, size=THUMBNAIL_SIZE)
    descriptor = describe(thumb)
    frames = frame_descriptors(decoded, descriptor) if digests.frame_root is not None else ()
    return Analysis(
        file_sha256=decoded.file_sha256,
        file_size=decoded.file_size,
        format=decoded.format,
        pixel_sha256=digests.pixel_sha256,
        pixel_form=digests.form,
        frame_sha256=digests.frame_sha256,
        frames=digests.frames,
        frame_root=digests.frame_root,
        metadata=metadata,
        deid=status,
        subject=names,
        fingerprints=fingerprints(thumb),
        descriptor=descriptor,
        preamble=decoded.preamble,
        frame_descriptors=frames,
    )


DEMOGRAPHICS = ("PatientAgeBand", "PatientSex")


def _with_demographics(material: SubjectMaterial, metadata: dict[str, JSONValue]
                       ) -> SubjectMaterial:  # fmt: skip
    """Sex and age band leave the entry's metadata for the subject's deletable side data: the
    entry keeps a salted commitment (see docs/decisions.md), so erasure unlinks them."""
    kept = tuple((k, str(metadata.pop(k))) for k in DEMOGRAPHICS if k in metadata)
    return replace(material, demographics=kept) if kept else material


def _status(decoded: Decoded) -> DeidStatus:
    if decoded.dataset is not None:
        return deid_status(decoded.dataset)
    return DeidStatus(
        patient_identity_removed=None,
        method=None,
        method_codes=(),
        identifying_present=decoded.photo_identifying,
    )


def _screened_method(
    decoded: Decoded, status: DeidStatus, metadata: dict[str, JSONValue], *, refuse: bool
) -> DeidStatus:
    """De-identification Method is free text too: withheld (or refused) like the metadata."""
    reason = phi_reason(status.method) if status.method else None
    if reason is None:
        return status
    if refuse:
        raise PolicyError(
            f"identifiable: DeidentificationMethod looks like {reason} (de-identified input "
            "required; the value is not shown)",
            subject=decoded.name,
        )
    withheld = metadata.get(WITHHELD)
    names = withheld if isinstance(withheld, list) else []
    metadata[WITHHELD] = sorted({*map(str, names), "DeidentificationMethod"})
    return replace(status, method=None)


def _require_deidentified(decoded: Decoded, status: DeidStatus) -> None:
    if status.identifying_present:
        shown = ", ".join(status.identifying_present[:12])
        more = len(status.identifying_present) - 12
        suffix = f" and {more} more" if more > 0 else ""
        raise PolicyError(
            f"identifiable: {shown}{suffix} present (de-identified input required)",
            subject=decoded.name,
        )
    if decoded.dataset is not None and status.patient_identity_removed is not True:
        raise PolicyError(
            "identifiable: Patient Identity Removed is not YES (de-identified input required)",
            subject=decoded.name,
        )
