"""Member lists against the roots their version entries sign (part of ``verify``).

A version's member rows are a side table: every list present is re-hashed and must give the
root its signed entry commits to (else tamper, VerificationError naming the version); a
list that is absent is reported as purged, never as tamper. Rows of a version no entry
makes are tamper too. The entries are read from their leaves, not the projection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import Connection

from ledger.errors import VerificationError
from ledger.model.datasets import members_root
from ledger.store.datasets import all_versions, leaves_at, member_rows, versions_with_members


@dataclass
class MemberAudit:
    checked: int = 0  # member lists re-hashed
    purged: list[str] = field(default_factory=list)  # NAME@V whose list is not stored

    def warnings(self) -> list[str]:
        return [f"dataset {label}: member list purged (its signed root remains)"
                for label in self.purged]


def audit_member_lists(conn: Connection) -> MemberAudit:
    """Re-hash every stored member list; VerificationError at the first that does not match."""
    result = MemberAudit()
    stored = versions_with_members(conn)
    versions = {row.idx for row in all_versions(conn)}  # compared with the log by verify
    orphans = sorted(stored - versions)
    if orphans:
        raise VerificationError("member rows of a dataset version that no entry makes",
                                index=orphans[0])
    for index, leaf, _ in leaves_at(conn, versions):
        body = json.loads(leaf)["envelope"]["entry"]["body"]
        label = f"{body['name']}@{body['version']}"
        if index not in stored:
            if body["members"]:
                result.purged.append(label)
            continue
        records = [{k: v for k, v in row.items() if v is not None}
                   for row in member_rows(conn, index)]
        root = members_root(records) if records else None
        if len(records) != body["members"] or root != body["members_root"]:
            raise VerificationError(
                f"dataset {label}: stored member list ({len(records)} members, root {root}) "
                f"does not match the signed root {body['members_root']} ({body['members']} "
                "members)",
                index=index,
            )
        result.checked += 1
    return result
