"""Lineage use cases: record a derivation (``derive``), infer the edges DICOM headers state
at registration (``infer_edges``); ``ledger.service.lineageview`` shows and exports them.

``derive`` checks everything it can before writing anything: the steps against the
vocabulary, the parent's registration, the child's facts against the steps
(``ledger.lineage.checks``), and that the edge closes no cycle. Only then does it register
the child (through the registration service, inheriting the parent's origin unless told
otherwise) and append the signed image.derived entry; the sequencer checks the edge again
under its lock (``ledger.audit.derivationrules``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import InputError, PolicyError, show_path
from ledger.imaging.analyse import analyse
from ledger.imaging.limits import DecodeLimits
from ledger.lineage.checks import ImageFacts, check_steps
from ledger.lineage.graph import descendants
from ledger.lineage.vocabulary import parse_step, read_steps_file, step_json
from ledger.model.kinds import KindSpec
from ledger.model.registry import kind_spec
from ledger.model.vocabulary import Term
from ledger.registration.lookup import digest_of
from ledger.registration.pipeline import RegisterOptions
from ledger.service.ledger import Ledger
from ledger.service.register import register
from ledger.store import reading
from ledger.store.derivations import edge_between

DERIVED = "image.derived"


@dataclass(frozen=True)
class Registration:
    """An image.registered entry, read from its leaf."""

    index: int
    entry: dict[str, Any]

    @property
    def body(self) -> dict[str, Any]:
        return dict(self.entry["body"])

    @property
    def image(self) -> dict[str, Any]:
        return dict(self.entry["body"]["image"])

    def ref(self) -> dict[str, Any]:
        image = self.image
        return {"index": self.index, "file_sha256": image["file_sha256"],
                "pixel_sha256": image["pixel_sha256"]}


@dataclass(frozen=True)
class Derived:
    parent: int
    child: int
    entry: int
    child_registered: bool  # the child was registered by this call
    existing: bool  # the same derivation was already recorded (nothing appended)
    steps: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"parent": self.parent, "child": self.child, "entry": self.entry,
                "child_registered": self.child_registered, "existing": self.existing,
                "steps": self.steps}


@dataclass(frozen=True)
class Overrides:
    """What the child's registration does not inherit from the parent's."""

    source: str | None = None
    license: str | None = None
    consent: str | None = None
    dataset: str | None = None


def entry_at(ledger: Ledger, index: int) -> dict[str, Any]:
    with reading(ledger.store.engine) as conn:
        size, _ = ledger.store.tail(conn)  # not COUNT(*): a scan of the whole log
        if not 0 <= index < size:
            raise InputError(f"entry {index}: the log has entries 0..{size - 1}")
        leaf, _ = ledger.store.leaf(conn, index)
    entry: dict[str, Any] = json.loads(leaf)["envelope"]["entry"]
    return entry


def resolve_image(ledger: Ledger, target: str) -> Registration:
    """An image as ``show`` names it (a file, a file or pixel digest) or an entry index:
    its earliest image.registered entry. InputError if it is not registered."""
    if target.isdigit() and len(target) < 64 and not Path(target).is_file():
        entry = entry_at(ledger, int(target))
        if entry.get("kind") != "image.registered":
            raise InputError(f"entry {target} is a {entry.get('kind')} entry, not an image")
        return Registration(int(target), entry)
    found = find_registered(ledger, digest_of(target))
    if found is None:
        raise InputError(f"{target}: not registered in this ledger")
    return found


def find_registered(ledger: Ledger, digest: str) -> Registration | None:
    """The earliest image.registered entry with this file (or pixel) digest."""
    with reading(ledger.store.engine) as conn:
        rows = ledger.store.images_by_digest(conn, digest)
    by_file = [r for r in rows if r.file_sha256 == digest] or rows
    for row in by_file:
        entry = entry_at(ledger, row.idx)
        if entry.get("kind") == "image.registered":
            return Registration(row.idx, entry)
    return None


def parse_steps(steps: Sequence[str], steps_file: Path | None) -> list[Term]:
    terms = [parse_step(text) for text in steps]
    if steps_file is not None:
        terms.extend(read_steps_file(steps_file))
    if not terms:
        raise InputError("give the steps: --step NAME:k=v,... or --steps-file FILE")
    return terms


def _check_role(ledger: Ledger, key: str, spec: KindSpec) -> None:
    info = ledger.key_info(key)
    if info.role not in spec.roles:
        raise PolicyError(f"key {key} has role {info.role}; {spec.name} needs one of "
                          + ", ".join(sorted(spec.roles)))


def derive(
    ledger: Ledger,
    *,
    parent: str,
    child: Path,
    steps: Sequence[str] = (),
    steps_file: Path | None = None,
    key: str,
    software: str | None = None,
    software_version: str | None = None,
    overrides: Overrides = Overrides(),  # frozen: never mutated
) -> Derived:
    """Record that ``child`` was made from ``parent`` by ``steps``; see the module doc."""
    where = show_path(child)
    terms = parse_steps(steps, steps_file)
    if software_version is not None and software is None:
        raise InputError("--software-version needs --software")
    signing = ledger.signing_key(key)
    _check_role(ledger, key, kind_spec(DERIVED, ledger.kinds))
    origin = resolve_image(ledger, parent)
    if not child.is_file():
        raise InputError(f"{where}: not a file")
    known = find_registered(ledger, digest_of(str(child)))
    if known is not None:
        child_image = known.image
    else:
        analysis = analyse(child, secret=ledger.dir.secret(), limits=DecodeLimits(),
                           require_deidentified=ledger.require_deidentified())
        child_image = analysis.to_json()
    check_steps(terms, parent=ImageFacts.of(origin.image), child=ImageFacts.of(child_image),
                where=where)
    step_list = [step_json(t) for t in terms]
    if known is not None:
        existing = _existing_or_cycle(ledger, origin.index, known.index, step_list, where)
        if existing is not None:
            return Derived(origin.index, known.index, existing, False, True, step_list)
    registered = known is None
    target = known or _register_child(ledger, child, origin, key, overrides)
    body: dict[str, Any] = {"parent": origin.ref(), "child": target.ref(), "steps": step_list,
                            "inferred": False}
    if software is not None:
        body["software"] = {"name": software} | (
            {"version": software_version} if software_version else {})
    results = ledger.submit([ledger.sign(DERIVED, body, key=signing)])
    return Derived(origin.index, target.index, results[0].index, registered, False, step_list)


def _existing_or_cycle(ledger: Ledger, parent: int, child: int,
                       steps: list[dict[str, Any]], where: str) -> int | None:
    """The entry that already records this derivation with these steps, if any;
    InputError if the edge would close a cycle or contradicts a recorded one."""
    if parent == child:
        raise InputError(f"{where}: is the parent itself (entry {parent})")
    if parent in descendants(ledger.store, [child]):
        raise InputError(f"{where}: entry {parent} is already derived from this image "
                         f"(entry {child}); the derivation would close a cycle")
    with reading(ledger.store.engine) as conn:
        before = edge_between(conn, parent, child)
    if before is None:
        return None
    recorded = entry_at(ledger, before)["body"]["steps"]
    if recorded != steps:
        raise InputError(f"{where}: a derivation from entry {parent} is already recorded at "
                         f"entry {before} with other steps")
    return before


def _register_child(ledger: Ledger, child: Path, origin: Registration, key: str,
                    overrides: Overrides) -> Registration:
    body = origin.body
    options = RegisterOptions(
        source=overrides.source or body["source"],
        license=overrides.license or body["license"],
        consent=overrides.consent or body["consent"],
        dataset=overrides.dataset,
        key=key,
        workers=1,
    )
    summary = register(ledger, [child], options)
    if summary.refused:
        raise InputError(f"{show_path(child)}: {summary.refused[0]['reason']}")
    found = find_registered(ledger, digest_of(str(child)))
    if found is None:  # not reached: registered or known above
        raise InputError(f"{show_path(child)}: could not be registered")
    return found


__all__ = ["Derived", "Overrides", "Registration", "derive", "entry_at", "find_registered",
           "parse_steps", "resolve_image"]
