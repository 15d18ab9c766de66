"""Decisions read from the signed policy, with the one migration rule for older ledgers."""

from __future__ import annotations

from typing import Any

from ledger.model.policy import REQUIRE_DEIDENTIFIED


def require_deidentified(policy: dict[str, Any], meta_value: str | None) -> bool:
    """The signed setting; a ledger with no such entry keeps a stricter ``meta`` "yes".

    Ledgers made before policies were signed kept the flag in the editable ``meta`` table.
    Honouring its "yes" until a policy entry says otherwise is safe (only stricter); its
    "no", or its absence, changes nothing: the default is "no".
    """
    if REQUIRE_DEIDENTIFIED in policy:
        return bool(policy[REQUIRE_DEIDENTIFIED])
    return meta_value == "yes"
