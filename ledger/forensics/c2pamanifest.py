"""C2PA manifests: validation state and the IPTC digitalSourceType of the actions.

Source: C2PA Technical Specification 2.1 (actions assertion ``c2pa.actions``/``.v2``,
``digitalSourceType``; validation states Invalid, Valid, Trusted) read with the
Content Authenticity Initiative's ``c2pa-python`` (c2pa-rs). Validation is offline: remote
manifests and OCSP are never fetched, and no trust list is configured, so a manifest whose
signature and hashes check is "valid" (signed by someone), never "trusted". An invalid
manifest (the asset changed after signing, or a forged claim) is itself a signal.
The evidence names the claim generator (software) and validation codes, never the signer.
"""

from __future__ import annotations

import io
import json
from typing import Any

from ledger.forensics.signal import Level, Sample, Signal
from ledger.forensics.xmpsource import source_type_signal

MANIFEST = "c2pa.manifest"
SOURCE_TYPE = "c2pa.digital_source_type"
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "tiff": "image/tiff", "webp": "image/webp"}
# JUMBF box type and C2PA label; an asset without either has no embedded manifest.
_MARKERS = (b"jumb", b"c2pa")
SETTINGS = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}
_ACTIONS = ("c2pa.actions", "c2pa.actions.v2")


def detect(sample: Sample) -> list[Signal]:
    mime = _MIME.get(sample.format)
    if mime is None or not all(m in sample.data for m in _MARKERS):
        return []
    import c2pa  # loaded only for files that may carry a manifest (the library is large)

    try:
        context = c2pa.Context.from_dict(SETTINGS)
        with c2pa.Reader(mime, io.BytesIO(sample.data), context=context) as reader:
            store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        kind = type(exc).__name__.lstrip("_")
        if "ManifestNotFound" in kind:
            return []
        return [Signal(MANIFEST, 0.7, Level.MEDIUM,
                       f"C2PA manifest present but unreadable ({kind})")]
    return manifest_signals(store)


def manifest_signals(store: dict[str, Any]) -> list[Signal]:
    state = str(store.get("validation_state") or "unknown")
    active = (store.get("manifests") or {}).get(store.get("active_manifest") or "") or {}
    generator = _generator(active)
    signals = []
    if state.lower() == "invalid":
        codes = _failure_codes(store)
        signals.append(Signal(
            MANIFEST, 0.8, Level.MEDIUM,
            f"C2PA manifest by {generator} is invalid ({codes}): changed after signing "
            "or forged",
        ))
    else:
        signals.append(Signal(
            MANIFEST, 0.0, Level.NONE,
            f"C2PA manifest by {generator}: {state.lower()} (signature and hashes check; "
            "no trust list configured)",
        ))
    terms = sorted(_source_types(active))
    where = "C2PA manifest" + (" (invalid)" if state.lower() == "invalid" else "")
    found = [source_type_signal(SOURCE_TYPE, term, where) for term in terms[:4]]
    signals.extend(sorted(found, key=lambda s: -s.level)[:1])
    return signals


def _generator(manifest: dict[str, Any]) -> str:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name = info[0].get("name")
        if isinstance(name, str):
            return repr("".join(c for c in name if c.isprintable())[:64])
    generator = manifest.get("claim_generator")
    if isinstance(generator, str):
        return repr("".join(c for c in generator if c.isprintable())[:64])
    return "an unnamed generator"


def _source_types(manifest: dict[str, Any]) -> set[str]:
    terms = set()
    for assertion in manifest.get("assertions") or ():
        if not isinstance(assertion, dict) or assertion.get("label") not in _ACTIONS:
            continue
        for action in (assertion.get("data") or {}).get("actions") or ():
            value = action.get("digitalSourceType") if isinstance(action, dict) else None
            if isinstance(value, str) and value:
                term = value.rstrip("/").rsplit("/", 1)[-1]
                if term.isalpha() and len(term) <= 64:
                    terms.add(term)
    return terms


def _failure_codes(store: dict[str, Any]) -> str:
    results = store.get("validation_results") or {}
    active = results.get("activeManifest") or {}
    failures = active.get("failure") or store.get("validation_status") or []
    codes = sorted({f.get("code", "?") for f in failures if isinstance(f, dict)})
    return ", ".join(str(c) for c in codes[:4]) or "no failure code given"


def read_store(data: bytes, mime: str) -> dict[str, Any] | None:
    """The manifest store embedded in an asset, read and validated offline (as ``detect``);
    None when there is none. Raises c2pa.C2paError when one is present but unreadable."""
    if not all(m in data for m in _MARKERS):
        return None
    import c2pa

    context = c2pa.Context.from_dict(SETTINGS)
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            store: dict[str, Any] = json.loads(reader.json())
    except c2pa.C2paError as exc:
        if "ManifestNotFound" in type(exc).__name__:
            return None
        raise
    return store


def failure_codes(store: dict[str, Any]) -> str:
    """The active manifest's validation failure codes, for a message."""
    return _failure_codes(store)
