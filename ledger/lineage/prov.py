"""W3C PROV export of a derivation tree, written as it streams (PROV-JSON, PROV-JSONLD,
PROV-N): entities for images, one activity per step typed with its vocabulary term and
DICOM code, agents for the signing keys.

The ``prov`` package builds a whole document in memory before serialising it; a tree of
100,000 steps would then be held whole. So the writers here emit each record as it comes:
PROV-N and PROV-JSONLD are lists of records, written in one pass; PROV-JSON groups records
by type, so each group is spooled to a temporary file and the groups are joined at the end.
Memory holds the ids of the images and keys already written (to write each once), not the
records. The tests parse the PROV-JSON back with ``prov``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any, Literal

ML = "https://medledger.local/ns/lineage#"
DCM = "http://dicom.nema.org/resources/ontology/DCM/"
PREFIXES = {"ml": ML, "dcm": DCM}
JSONLD_CONTEXT = "https://openprovenance.org/prov-jsonld/context.jsonld"
Format = Literal["json", "jsonld", "provn"]
FORMATS: tuple[Format, ...] = ("json", "jsonld", "provn")


@dataclass(frozen=True)
class ImageNode:
    index: int
    file_sha256: str
    pixel_sha256: str


@dataclass(frozen=True)
class StepRecord:
    term: str
    parameters: dict[str, Any]  # the step's JSON form, without ``term``
    dicom: list[tuple[str, str]]  # (code value, code meaning)
    c2pa: str


@dataclass(frozen=True)
class Derivation:
    """One checked image.derived entry, as the export needs it."""

    entry: int
    time: str
    signer_id: str
    signer_name: str
    parent: ImageNode
    child: ImageNode
    steps: list[StepRecord]
    inferred: bool
    codes: list[str]  # an inferred edge's Derivation Code Sequence (SCHEME:VALUE)
    software: str | None


def _image_id(node: ImageNode) -> str:
    return f"ml:image-{node.index}"


def _step_id(d: Derivation, k: int) -> str:
    return f"ml:step-{d.entry}-{k}"


def _key_id(d: Derivation) -> str:
    return f"ml:key-{d.signer_id[:16]}"


def _activities(d: Derivation) -> list[tuple[str, list[str], dict[str, str]]]:
    """(id, types, attributes) of each activity of a derivation. An inferred edge without
    steps is one activity typed by its DICOM derivation codes."""
    out = []
    steps = d.steps or [StepRecord("inferred", {}, [], "c2pa.unknown")]
    for k, step in enumerate(steps, start=1):
        codes = [f"dcm:{code}" for code, _ in step.dicom]
        if step.term == "inferred":
            codes = [f"dcm:{c.split(':', 1)[1]}" for c in d.codes if c.startswith("DCM:")]
        attrs = {"ml:entry": str(d.entry), "ml:step": str(k), "ml:term": step.term,
                 "ml:c2pa": step.c2pa, "ml:inferred": "true" if d.inferred else "false",
                 "ml:parameters": json.dumps(step.parameters, sort_keys=True)}
        if d.software:
            attrs["ml:software"] = d.software
        out.append((_step_id(d, k), [f"ml:{step.term}", *codes], attrs))
    return out


class _Seen:
    def __init__(self) -> None:
        self.images: set[int] = set()
        self.keys: set[str] = set()

    def new_images(self, d: Derivation) -> list[ImageNode]:
        fresh = [n for n in (d.parent, d.child) if n.index not in self.images]
        self.images.update(n.index for n in fresh)
        return fresh

    def new_key(self, d: Derivation) -> bool:
        if d.signer_id in self.keys:
            return False
        self.keys.add(d.signer_id)
        return True


def write_prov(derivations: Iterable[Derivation], out: IO[str], fmt: Format) -> int:
    """Write the derivations as one PROV document; returns how many activities."""
    if fmt == "provn":
        return _write_provn(derivations, out)
    if fmt == "jsonld":
        return _write_jsonld(derivations, out)
    return _write_json(derivations, out)


# --- PROV-N --------------------------------------------------------------------------


def _n_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _n_attrs(types: list[str], attrs: dict[str, str]) -> str:
    items = [f"prov:type='{t}'" for t in types] + [f"{k}={_n_str(v)}" for k, v in attrs.items()]
    return "[" + ", ".join(items) + "]"


def _write_provn(derivations: Iterable[Derivation], out: IO[str]) -> int:
    seen, count = _Seen(), 0
    out.write("document\n")
    for name, uri in PREFIXES.items():
        out.write(f"  prefix {name} <{uri}>\n")
    for d in derivations:
        for node in seen.new_images(d):
            out.write(f"  entity({_image_id(node)}, " + _n_attrs(["ml:Image"], {
                "ml:entry": str(node.index), "ml:file_sha256": node.file_sha256,
                "ml:pixel_sha256": node.pixel_sha256}) + ")\n")
        if seen.new_key(d):
            out.write(f"  agent({_key_id(d)}, " + _n_attrs(["prov:SoftwareAgent"], {
                "ml:key_id": d.signer_id, "ml:name": d.signer_name}) + ")\n")
        acts = _activities(d)
        for n, (aid, types, attrs) in enumerate(acts):
            out.write(f"  activity({aid}, -, {d.time}, {_n_attrs(types, attrs)})\n")
            out.write(f"  wasAssociatedWith({aid}, {_key_id(d)}, -)\n")
            if n == 0:
                out.write(f"  used({aid}, {_image_id(d.parent)}, -)\n")
            else:
                out.write(f"  wasInformedBy({aid}, {acts[n - 1][0]})\n")
        last = acts[-1][0]
        out.write(f"  wasGeneratedBy({_image_id(d.child)}, {last}, {d.time})\n")
        out.write(f"  wasDerivedFrom({_image_id(d.child)}, {_image_id(d.parent)}, {last}, -, -)\n")
        count += len(acts)
    out.write("endDocument\n")
    return count


# --- PROV-JSON -----------------------------------------------------------------------


def _qn(name: str) -> dict[str, str]:
    return {"$": name, "type": "prov:QUALIFIED_NAME"}


def _j_types(types: list[str]) -> Any:
    return _qn(types[0]) if len(types) == 1 else [_qn(t) for t in types]


_SECTIONS = ("entity", "activity", "agent", "used", "wasGeneratedBy", "wasInformedBy",
             "wasAssociatedWith", "wasDerivedFrom")


def _write_json(derivations: Iterable[Derivation], out: IO[str]) -> int:
    spools = {name: tempfile.TemporaryFile("w+", encoding="utf-8") for name in _SECTIONS}
    firsts = dict.fromkeys(_SECTIONS, True)
    serial = 0

    def put(section: str, key: str | None, value: dict[str, Any]) -> None:
        nonlocal serial
        if key is None:
            serial += 1
            key = f"_:{section}{serial}"
        spool = spools[section]
        spool.write(("" if firsts[section] else ",\n") + json.dumps(key) + ": " + json.dumps(value))
        firsts[section] = False

    try:
        count = _emit_json(derivations, put)
        out.write('{"prefix": ' + json.dumps(PREFIXES))
        for name in _SECTIONS:
            spool = spools[name]
            if firsts[name]:
                continue
            out.write(",\n" + json.dumps(name) + ": {\n")
            spool.seek(0)
            while block := spool.read(1 << 16):
                out.write(block)
            out.write("}")
        out.write("}\n")
        return count
    finally:
        for spool in spools.values():
            spool.close()


def _emit_json(derivations: Iterable[Derivation], put: Any) -> int:
    seen, count = _Seen(), 0
    for d in derivations:
        for node in seen.new_images(d):
            put("entity", _image_id(node), {"prov:type": _qn("ml:Image"),
                                            "ml:entry": str(node.index),
                                            "ml:file_sha256": node.file_sha256,
                                            "ml:pixel_sha256": node.pixel_sha256})
        if seen.new_key(d):
            put("agent", _key_id(d), {"prov:type": _qn("prov:SoftwareAgent"),
                                      "ml:key_id": d.signer_id, "ml:name": d.signer_name})
        acts = _activities(d)
        for n, (aid, types, attrs) in enumerate(acts):
            put("activity", aid, {"prov:endTime": d.time, "prov:type": _j_types(types), **attrs})
            put("wasAssociatedWith", None, {"prov:activity": aid, "prov:agent": _key_id(d)})
            if n == 0:
                put("used", None, {"prov:activity": aid, "prov:entity": _image_id(d.parent)})
            else:
                put("wasInformedBy", None, {"prov:informed": aid, "prov:informant": acts[n - 1][0]})
        last = acts[-1][0]
        put("wasGeneratedBy", None, {"prov:entity": _image_id(d.child), "prov:activity": last,
                                     "prov:time": d.time})
        put("wasDerivedFrom", None, {"prov:generatedEntity": _image_id(d.child),
                                     "prov:usedEntity": _image_id(d.parent),
                                     "prov:activity": last})
        count += len(acts)
    return count


# --- PROV-JSONLD ---------------------------------------------------------------------


def _write_jsonld(derivations: Iterable[Derivation], out: IO[str]) -> int:
    context = [JSONLD_CONTEXT, dict(PREFIXES)]
    out.write('{"@context": ' + json.dumps(context) + ', "@graph": [\n')
    first = True

    def put(record: dict[str, Any]) -> None:
        nonlocal first
        out.write(("" if first else ",\n") + json.dumps(record))
        first = False

    seen, count = _Seen(), 0
    for d in derivations:
        for node in seen.new_images(d):
            put({"@type": "prov:Entity", "@id": _image_id(node), "type": ["ml:Image"],
                 "ml:entry": str(node.index), "ml:file_sha256": node.file_sha256,
                 "ml:pixel_sha256": node.pixel_sha256})
        if seen.new_key(d):
            put({"@type": "prov:Agent", "@id": _key_id(d), "type": ["prov:SoftwareAgent"],
                 "ml:key_id": d.signer_id, "ml:name": d.signer_name})
        acts = _activities(d)
        for n, (aid, types, attrs) in enumerate(acts):
            put({"@type": "prov:Activity", "@id": aid, "endTime": d.time, "type": types, **attrs})
            put({"@type": "prov:Association", "activity": aid, "agent": _key_id(d)})
            if n == 0:
                put({"@type": "prov:Usage", "activity": aid, "entity": _image_id(d.parent)})
            else:
                put({"@type": "prov:Communication", "informed": aid,
                     "informant": acts[n - 1][0]})
        last = acts[-1][0]
        put({"@type": "prov:Generation", "entity": _image_id(d.child), "activity": last,
             "atTime": d.time})
        put({"@type": "prov:Derivation", "generatedEntity": _image_id(d.child),
             "usedEntity": _image_id(d.parent), "activity": last})
        count += len(acts)
    out.write("\n]}\n")
    return count


__all__ = ["FORMATS", "Derivation", "Format", "ImageNode", "StepRecord", "write_prov"]
