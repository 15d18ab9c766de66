"""A dataset version as MLCommons Croissant 1.0 JSON-LD, with an inline ``@context``.

One checksummed manifest (a CSV FileObject: path, file and pixel SHA-256, entry index per
member) and a RecordSet ``members`` over it, so Croissant tools read exactly the members.
The context is inline (no network to resolve it); validated in the tests with mlcroissant.
"""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Any

CONFORMS_TO = "http://mlcommons.org/croissant/1.0"
CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "citeAs": "cr:citeAs",
    "column": "cr:column", "conformsTo": "dct:conformsTo", "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/", "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"}, "dct": "http://purl.org/dc/terms/",
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


def document(*, name: str, version: int, members: int, origin: str, published: str,
             licenses: list[str], manifest_name: str, manifest_bytes: bytes,
             previous: str | None) -> dict[str, Any]:  # fmt: skip
    fields = [{
        "@type": "cr:Field", "@id": f"members/{column}", "name": column, "dataType": kind,
        "source": {"fileObject": {"@id": "manifest"}, "extract": {"column": column}},
    } for column, kind in COLUMNS]  # fmt: skip
    out: dict[str, Any] = {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": CONFORMS_TO,
        "name": name,
        "description": (f"{name} version {version}: {members} images whose provenance is "
                        f"signed in the medledger log {origin}."),
        "version": f"{version}.0.0",
        "datePublished": published[:10],
        "url": f"https://{origin}/datasets/{name}/{version}",
        "creator": {"@type": "sc:Organization", "name": origin},
        "citeAs": (f"@misc{{{name}_v{version}, title={{{name}, version {version}}}, "
                   f"howpublished={{medledger log {origin}}}}}"),
        "license": licenses,
        "distribution": [{
            "@type": "cr:FileObject", "@id": "manifest", "name": "manifest",
            "description": "The members: path, file and pixel SHA-256, log entry index.",
            "contentUrl": manifest_name, "encodingFormat": "text/csv",
            "sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        }],
        "recordSet": [{"@type": "cr:RecordSet", "@id": "members", "name": "members",
                       "description": "One record per member image.", "field": fields}],
    }
    if previous is not None:
        out["isBasedOn"] = previous
    return out
