"""A dataset version as MLCommons Croissant 1.1 JSON-LD, with an inline ``@context``.

One checksummed manifest (a CSV FileObject: path, file and pixel SHA-256, entry index per
member) and a RecordSet ``members`` over it, so Croissant tools read exactly the members.
Provenance (``prov:wasDerivedFrom`` the previous version and the source repositories), the
DUO codes the version entry declares (``usageInfo``) and the RAI fields (``raifacts``) come
from signed facts. The context is inline (no network to resolve it); in 1.1 ``name`` and
``description`` are language maps. Validated in the tests with mlcroissant.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any
from urllib.parse import quote

from ledger.model.consent import DUO_CODES

CONFORMS_TO = "http://mlcommons.org/croissant/1.1"
CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs", "column": "cr:column", "conformsTo": "dct:conformsTo",
    "containedIn": "cr:containedIn", "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
    "description": {"@container": "@language"}, "isArray": "cr:isArray",
    "name": {"@container": "@language"}, "prov": "http://www.w3.org/ns/prov#",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"}, "extract": "cr:extract",
    "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key",
    "md5": "cr:md5", "parentField": "cr:parentField", "path": "cr:path",
    "recordSet": "cr:recordSet", "references": "cr:references", "regex": "cr:regex",
    "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/", "separator": "cr:separator", "source": "cr:source",
    "subField": "cr:subField", "transform": "cr:transform",
}  # fmt: skip
COLUMNS = (("path", "sc:Text"), ("file_sha256", "sc:Text"), ("pixel_sha256", "sc:Text"),
           ("entry", "sc:Integer"))  # fmt: skip


def manifest(members: list[dict[str, Any]]) -> bytes:
    """The members as CSV (path empty when unknown), in entry order."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow([name for name, _ in COLUMNS])
    for m in members:
        writer.writerow([m.get("path") or "", m["file_sha256"], m["pixel_sha256"], m["entry"]])
    return text.getvalue().encode("utf-8")


def _en(text: str) -> dict[str, str]:
    return {"en": text}


def usage_info(duo: list[str]) -> list[dict[str, Any]]:
    """The DUO codes as schema.org DefinedTerms of the DUO ontology."""
    return [{
        "@type": "sc:DefinedTerm", "termCode": code, "name": _en(DUO_CODES[code][0]),
        "description": _en(DUO_CODES[code][1]),
        "url": "http://purl.obolibrary.org/obo/" + code.replace(":", "_"),
        "inDefinedTermSet": "http://purl.obolibrary.org/obo/duo.owl",
    } for code in duo]  # fmt: skip


def version_url(origin: str, name: str, version: int) -> str:
    return f"https://{origin}/datasets/{name}/{version}"


def document(*, name: str, version: int, members: int, origin: str, published: str,
             licenses: list[str], manifest_name: str, manifest_bytes: bytes,
             previous: int | None, sources: list[str], duo: list[str],
             rai: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The JSON-LD; ``previous`` is the previous version's number, ``sources`` the members'
    registering repositories, ``duo`` the codes the version declares."""
    fields = [{
        "@type": "cr:Field", "@id": f"members/{column}", "name": _en(column), "dataType": kind,
        "source": {"fileObject": {"@id": "manifest"}, "extract": {"column": column}},
    } for column, kind in COLUMNS]  # fmt: skip
    derived = [{"@id": version_url(origin, name, previous)}] if previous is not None else []
    derived += [{"@id": f"https://{origin}/sources/{quote(s, safe='')}"} for s in sources]
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": _en(name),
        "description": _en(f"{name} version {version}: {members} images whose provenance is "
                           f"signed in the medledger log {origin}."),
        "version": f"{version}.0.0",
        "datePublished": published[:10],
        "url": version_url(origin, name, version),
        "creator": {"@type": "sc:Organization", "name": _en(origin)},
        "citeAs": (f"@misc{{{name}_v{version}, title={{{name}, version {version}}}, "
                   f"howpublished={{medledger log {origin}}}}}"),
        "license": licenses,
        "prov:wasDerivedFrom": derived,
        "distribution": [{
            "@type": "cr:FileObject", "@id": "manifest", "name": _en("manifest"),
            "description": _en("The members: path, file and pixel SHA-256, log entry index."),
            "contentUrl": manifest_name, "encodingFormat": "text/csv",
            "sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        }],
        "recordSet": [{"@type": "cr:RecordSet", "@id": "members", "name": _en("members"),
                       "description": _en("One record per member image."), "field": fields}],
        **rai,
    }
    if previous is not None:
        out["isBasedOn"] = version_url(origin, name, previous)
    if duo:
        out["usageInfo"] = usage_info(duo)
    if not derived:
        del out["prov:wasDerivedFrom"]
    return out
