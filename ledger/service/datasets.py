"""Dataset versions: create, list, diff and pin (docs/datasets.md).

Every fact shown comes from a checked leaf: a version's entry is read from the log, its hash
recomputed and its inclusion proven against a freshly verified checkpoint; its member list
(a side table) must hash to the root that entry signs. The ``dataset_versions`` projection
only says where to look.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from ledger.checkpoints import open_checkpoint
from ledger.datasets import lock as lockfile
from ledger.datasets import members as members_of
from ledger.datasets.filehash import digest_file
from ledger.datasets.profile import Profile
from ledger.datasets.profilecompare import (
    Comparison,
    against_dataset,
    against_reference,
    read_reference,
)
from ledger.datasets.profilepage import profile_page
from ledger.errors import InputError, LedgerError, VerificationError
from ledger.log.checkpoint import Checkpoint
from ledger.log.hashing import leaf_hash
from ledger.log.proofs import verify_inclusion
from ledger.log.tlog_proof import format_tlog_proof
from ledger.model.datasets import MAX_WITHDRAWN_LISTED, MEMBERS_ALG, TIERS, members_root
from ledger.sequencer import append
from ledger.service import datasetfacts as facts
from ledger.service.datasetfacts import duo_codes
from ledger.service.ledger import Ledger
from ledger.store import reading
from ledger.store.datasets import insert_members, leaves_at, member_rows, versions_of
from ledger.store.sources import dataset_owners

__all__ = ["Comparison", "Created", "Diff", "Profile", "Version", "against", "compare",
           "create", "croissant", "diff", "members", "parse_label", "pin", "profile",
           "profile_page", "version", "versions"]

_LABEL = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]{0,63})@([1-9][0-9]{0,5})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def parse_label(label: str) -> tuple[str, int]:
    """``NAME@V`` -> (name, version); InputError otherwise."""
    match = _LABEL.fullmatch(label)
    if match is None:
        raise InputError(f"{label!r} is not a dataset version: NAME@VERSION, e.g. chest@2")
    return match.group(1), int(match.group(2))


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InputError(f"{name!r} is not a dataset name: 1-64 letters, digits and . _ - "
                         "(a letter or digit first)")
    return name


@dataclass(frozen=True)
class Version:
    """One dataset version as its checked entry says."""

    index: int
    name: str
    version: int
    owner: str
    tier: str
    members: int
    members_root: str
    previous: int | None
    withdrawn: list[int]
    time: str
    leaf: bytes = field(repr=False)
    duo: list[str] = field(default_factory=list)  # declared DUO codes, sorted

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "version": self.version,
                "owner": self.owner, "tier": self.tier, "members": self.members,
                "members_root": self.members_root, "previous": self.previous,
                "withdrawn": self.withdrawn, "time": self.time, "duo": self.duo}  # fmt: skip


@dataclass(frozen=True)
class Created:
    version: Version
    added: int
    removed: int
    withdrawn: int

    def to_json(self) -> dict[str, Any]:
        return {**self.version.to_json(), "added": self.added, "removed": self.removed}


@dataclass(frozen=True)
class Diff:
    old: Version
    new: Version
    changes: list[dict[str, Any]]  # {change, entry, reason, path?}

    def to_json(self) -> dict[str, Any]:
        return {"old": f"{self.old.name}@{self.old.version}",
                "new": f"{self.new.name}@{self.new.version}", "changes": self.changes}


def _fresh_checkpoint(ledger: Ledger) -> Checkpoint:
    return open_checkpoint(ledger.checkpoint(), [ledger.verifier])


def _checked(ledger: Ledger, conn: Connection, index: int, leaf: bytes,
             checkpoint: Checkpoint) -> Version:  # fmt: skip
    """The version entry at ``index``, its leaf proven included under ``checkpoint``."""
    proof = ledger.inclusion_proof(index, size=checkpoint.size)
    verify_inclusion(index=index, size=checkpoint.size, leaf_hash=leaf_hash(leaf),
                     proof=proof.hashes, root=checkpoint.root)
    entry = json.loads(leaf)["envelope"]["entry"]
    if entry.get("kind") != "dataset.versioned":
        raise VerificationError("the dataset_versions row points at another kind of entry",
                                index=index)
    body = entry["body"]
    return Version(index, body["name"], body["version"], body["owner"], body["tier"],
                   body["members"], body["members_root"], body["previous"], body["withdrawn"],
                   entry["time"], leaf, duo=body.get("duo") or [])  # fmt: skip


def versions(ledger: Ledger, name: str) -> list[Version]:
    """Every version of ``name``, oldest first, each from its checked entry."""
    check_name(name)
    checkpoint = _fresh_checkpoint(ledger)
    with reading(ledger.store.engine) as conn:
        indexes = [row.idx for row in versions_of(conn, name)]
        found = [_checked(ledger, conn, i, leaf, checkpoint)
                 for i, leaf, _ in leaves_at(conn, indexes)]  # fmt: skip
    for v in found:
        if v.name != name:
            raise VerificationError(f"the dataset_versions row of {name} points at {v.name}",
                                    index=v.index)
    return found


def version(ledger: Ledger, label: str) -> Version:
    name, number = parse_label(label)
    for v in versions(ledger, name):
        if v.version == number:
            return v
    raise InputError(f"dataset {name} has no version {number}")


def members(ledger: Ledger, v: Version) -> list[dict[str, Any]]:
    """The member records of a checked version; VerificationError if the stored list does
    not hash to its signed root, InputError if it was purged."""
    with reading(ledger.store.engine) as conn:
        rows = member_rows(conn, v.index)
    records = [{k: val for k, val in row.items() if val is not None} for row in rows]
    if not records and v.members:
        raise InputError(f"dataset {v.name}@{v.version}: its member list was purged from this "
                         "ledger (the signed root remains)")
    root = members_root(records)
    if len(records) != v.members or root != v.members_root:
        raise VerificationError(f"dataset {v.name}@{v.version}: stored member list does not "
                                f"match its signed root {v.members_root}", index=v.index)
    return records


def create(ledger: Ledger, name: str, *, key: str, folder: Path | None = None,
           images: Path | None = None, from_version: str | None = None,
           add: tuple[str, ...] = (), remove: tuple[str, ...] = (), tier: str | None = None,
           workers: int = 0, keep_withdrawn: bool = False,
           duo: tuple[str, ...] = ()) -> Created:  # fmt: skip
    """Append the next version of ``name``: members from exactly one of ``folder``,
    ``images`` (a list file) or ``from_version`` (NAME@V, then ``add`` and ``remove``).
    Members whose consent is withdrawn are left out (and listed) unless ``keep_withdrawn``.
    ``duo`` declares the version's DUO codes (else the previous version's)."""
    check_name(name)
    if sum(x is not None for x in (folder, images, from_version)) != 1:
        raise InputError("give exactly one of --from DIR, --images FILE, --from-version NAME@V")
    if (add or remove) and from_version is None:
        raise InputError("--add and --remove change a version: use them with --from-version")
    if tier is not None and tier not in TIERS:
        raise InputError(f"tier {tier!r} is not one of: " + ", ".join(TIERS))
    codes = duo_codes(duo)
    signing = ledger.signing_key(key)
    existing = versions(ledger, name)
    latest = existing[-1] if existing else None
    old = {r["entry"]: r for r in members(ledger, latest)} if latest else {}
    with reading(ledger.store.engine) as conn:
        if folder is not None:
            wanted = members_of.from_folder(conn, folder, workers=workers)
        elif images is not None:
            wanted = members_of.from_list(conn, images)
        else:
            wanted = _changed(ledger, conn, str(from_version), name, add, remove)
        records = members_of.records(conn, wanted)
        withdrawn = (set() if keep_withdrawn
                     else members_of.consent_withdrawn(conn, [r["entry"] for r in records]))
        owner = _owner(conn, latest, name, signing.public_key.key_id)
    listed = sorted(e for e in withdrawn if e in old)
    if len(listed) > MAX_WITHDRAWN_LISTED:
        raise InputError(f"{len(listed)} members withdrawn at once: version in steps of at most "
                         f"{MAX_WITHDRAWN_LISTED}")
    records = [r for r in records if r["entry"] not in withdrawn]
    tier = tier or (latest.tier if latest else "open")
    if tier == "controlled":  # names no files: a lock and the side table hold digests only
        records = [{k: val for k, val in r.items() if k != "path"} for r in records]
    if not records:
        raise InputError(f"dataset {name}: a version needs at least one member"
                         + (f" ({len(withdrawn)} left out for withdrawn consent; "
                            "--keep-withdrawn keeps them)" if withdrawn else ""))
    body = {
        "name": name, "version": latest.version + 1 if latest else 1, "owner": owner,
        "tier": tier, "members": len(records),
        "members_alg": MEMBERS_ALG, "members_root": members_root(records),
        "previous": latest.index if latest else None, "withdrawn": listed,
    }  # fmt: skip
    declared = codes or (latest.duo if latest else [])
    if declared:  # absent, not empty, when none: older entries stay as they were
        body["duo"] = declared
    envelope = ledger.sign("dataset.versioned", body, key=signing)
    results = append(ledger.store, [envelope], log_id=ledger.log_id, guard=ledger.guard,
                     after=ledger.checkpoint_if_due, kinds=ledger.kinds,
                     projections=ledger.projections,
                     within=lambda conn, done: insert_members(conn, done[0].index, records))
    ledger.checkpoint()
    new = version(ledger, f"{name}@{body['version']}")
    if new.index != results[0].index:
        raise VerificationError("the new version is not where it was appended",
                                index=results[0].index)
    entries = {r["entry"] for r in records}
    return Created(new, added=len(entries - old.keys()), removed=len(old.keys() - entries),
                   withdrawn=len(listed))


def _owner(conn: Connection, latest: Version | None, name: str, signer: str) -> str:
    """The dataset's owner: its versions', else the first labelled registration's signer,
    else the signer (who then owns the name)."""
    if latest is not None:
        return latest.owner
    return dataset_owners(conn, [name]).get(name, signer)


def _changed(ledger: Ledger, conn: Connection, label: str, name: str,
             add: tuple[str, ...], remove: tuple[str, ...]) -> list[members_of.Wanted]:  # fmt: skip
    base_name, _ = parse_label(label)
    if base_name != name:
        raise InputError(f"--from-version {label} is not a version of {name}")
    base = {r["entry"]: r.get("path") for r in members(ledger, version(ledger, label))}
    for token in remove:
        for w in _tokens(conn, [token], "--remove"):
            if w.entry not in base:
                raise InputError(f"--remove {token}: entry {w.entry} is not a member of {label}")
            del base[w.entry]
    for w in _tokens(conn, add, "--add"):
        base.setdefault(w.entry, w.path)
    return [members_of.Wanted(e, p) for e, p in sorted(base.items())]


def _tokens(conn: Connection, tokens: tuple[str, ...] | list[str], option: str
            ) -> list[members_of.Wanted]:  # fmt: skip
    """Each token an entry index, a file SHA-256, or a file (hashed; its path kept if
    relative)."""
    named: list[tuple[str, str | None, int]] = []
    for n, token in enumerate(tokens, 1):
        path = Path(token)
        if not token.isdigit() and path.is_file():
            named.append((digest_file(path)[1], None if path.is_absolute() else path.as_posix(),
                          n))
        else:
            named.append((token.lower(), None, n))
    return members_of.resolve_tokens(conn, named, where=option)


def diff(ledger: Ledger, old_label: str, new_label: str) -> Diff:
    """What changed between two versions of one dataset, with the reason for each change."""
    old, new = version(ledger, old_label), version(ledger, new_label)
    if old.name != new.name:
        raise InputError(f"{old_label} and {new_label} are versions of different datasets")
    before = {r["entry"]: r for r in members(ledger, old)}
    after = {r["entry"]: r for r in members(ledger, new)}
    low, high = sorted((old.version, new.version))
    withdrawn = {e for v in versions(ledger, old.name) if low < v.version <= high
                 for e in v.withdrawn}  # fmt: skip
    changes: list[dict[str, Any]] = []
    for entry in sorted(before.keys() | after.keys()):
        was, now = before.get(entry), after.get(entry)
        if was is None and now is not None:
            changes.append({"change": "added", "entry": entry, "reason": "added by the owner",
                            **_path(now)})
        elif now is None and was is not None:
            reason = "consent withdrawn" if entry in withdrawn else "removed by the owner"
            changes.append({"change": "removed", "entry": entry, "reason": reason,
                            **_path(was)})
        elif was is not None and now is not None and was.get("path") != now.get("path"):
            changes.append({"change": "moved", "entry": entry, "reason": "path changed",
                            "path": now.get("path"), "old_path": was.get("path")})
    return Diff(old, new, changes)


def _path(record: dict[str, Any]) -> dict[str, Any]:
    return {"path": record["path"]} if record.get("path") else {}


def pin(ledger: Ledger, label: str) -> bytes:
    """The lock of ``label``: the same bytes on every run while the stored checkpoints stand
    (the proof is against the first checkpoint signed after the version)."""
    v = version(ledger, label)
    records = members(ledger, v)
    note = _first_checkpoint_after(ledger, v.index)
    size = open_checkpoint(note, [ledger.verifier]).size
    proof = ledger.inclusion_proof(v.index, size=size)
    tlog = format_tlog_proof(index=v.index, proof=proof.hashes, checkpoint_note=note)
    data = lockfile.build(origin=ledger.origin, verifier_key=ledger.verifier.vkey, name=v.name,
                          version=v.version, index=v.index, leaf=v.leaf, tlog_proof=tlog,
                          members=records, paths_omitted=v.tier == "controlled")
    lockfile.open_lock(data, where=label, pubkeys=[ledger.verifier])  # never hand out a bad lock
    return data


def _first_checkpoint_after(ledger: Ledger, index: int) -> str:
    """The earliest stored checkpoint that verifies and covers ``index``."""
    ledger.checkpoint()  # one covers it from now on
    with reading(ledger.store.engine) as conn:
        rows = sorted(ledger.store.checkpoints(conn), key=lambda r: (r.size, r.id or 0))
    for row in rows:
        if row.size <= index:
            continue
        try:
            open_checkpoint(row.note, [ledger.verifier])
        except LedgerError:
            continue  # an edited row: verify reports it; never pin to it
        return row.note
    raise VerificationError("no signed checkpoint covers the version", index=index)


def profile(ledger: Ledger, label: str) -> Profile:
    """The representativeness profile of a version, from its members' own leaves."""
    v = version(ledger, label)
    return _profiled(ledger, label, v)[0]


def _profiled(ledger: Ledger, label: str, v: Version) -> tuple[Profile, list[int]]:
    return facts.profile_version(ledger, label, index=v.index, members=v.members,
                                 members_root=v.members_root)


def compare(ledger: Ledger, label: str, other: str) -> Comparison:
    """Shares of ``label`` against another version or a split (``other``), in share points."""
    mine, theirs = version(ledger, label), version(ledger, other)
    (found, entries), (other_found, other_entries) = (_profiled(ledger, label, mine),
                                                      _profiled(ledger, other, theirs))
    return against_dataset(found, other_found,
                           shared_members=len(set(entries) & set(other_entries)))


def against(ledger: Ledger, label: str, reference: Path) -> Comparison:
    """Shares of ``label`` against a reference distribution file."""
    expected = read_reference(reference)
    return against_reference(profile(ledger, label), expected)


def croissant(ledger: Ledger, label: str, manifest_name: str) -> tuple[dict[str, Any], bytes]:
    """The Croissant JSON-LD of a version and its manifest CSV (to be written as
    ``manifest_name`` beside it)."""
    v = version(ledger, label)
    return facts.croissant(ledger, name=v.name, version=v.version, published=v.time,
                           previous=v.version - 1 if v.previous is not None else None,
                           duo=v.duo, withdrawn=len(v.withdrawn), records=members(ledger, v),
                           manifest_name=manifest_name)
