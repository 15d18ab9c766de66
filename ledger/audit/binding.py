"""Which log an entry belongs to.

A v2 entry names its log (the key id of the log's checkpoint key) inside what its
actor signs, so an envelope signed for one ledger is refused by every other ledger
that trusts the same actor key. v1 entries name no log: the sequencer takes none
any more, and the audit reads them only before a log's first v2 entry (ledgers
that began before v2 keep verifying; a v1 entry after a v2 one is a replay).
"""

from __future__ import annotations

from typing import Any

from ledger.crypto.signing import ENTRY_VERSION
from ledger.errors import PolicyError


def check_new_entry(entry: dict[str, Any], *, log_id: str) -> None:
    """Raise PolicyError unless ``entry`` (a validated entry) may be appended to the log
    ``log_id``: format v2 and bound to this log."""
    if entry["v"] != ENTRY_VERSION:
        raise PolicyError(
            f"entry format v{entry['v']} is refused for new entries: "
            f"sign a v{ENTRY_VERSION} entry bound to this log"
        )
    if entry["log"] != log_id:
        raise PolicyError(other_log(entry["log"], log_id))


def other_log(named: str, log_id: str) -> str:
    return f"entry is signed for another log ({named[:16]}; this log is {log_id[:16]})"


def v1_after_v2(first_v2: int) -> str:
    return (f"v1 entry after the log's first v2 entry (index {first_v2}): "
            "v1 entries are only read before it")
