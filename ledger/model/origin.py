"""Origin vocabulary shared by registrations: licence (SPDX) and consent status."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ledger.errors import InputError

# Consent status at registration; withdrawals and scopes (GA4GH DUO) come with consent entries.
CONSENT_STATUSES = ("consented", "waived", "not-required", "unknown")
_LICENSE_REF = re.compile(r"^(DocumentRef-[A-Za-z0-9.-]+:)?LicenseRef-[A-Za-z0-9.-]+$")


@lru_cache(maxsize=1)
def _licensing() -> Any:
    from license_expression import get_spdx_licensing

    return get_spdx_licensing()


@lru_cache(maxsize=256)
def normalise_license(expression: str) -> str:
    """The SPDX-normalised licence expression; user-defined ``LicenseRef-`` ids allowed."""
    text = expression.strip()
    if _LICENSE_REF.fullmatch(text):
        return text
    info = _licensing().validate(text)
    if info.errors or not info.normalized_expression:
        raise InputError(
            f"licence {expression!r} is not an SPDX licence expression "
            "(e.g. CC-BY-4.0, CC0-1.0, or LicenseRef-<your-id>)"
        )
    return str(info.normalized_expression)


def check_consent(status: str) -> str:
    if status not in CONSENT_STATUSES:
        raise InputError(f"consent {status!r} is not one of: " + ", ".join(CONSENT_STATUSES))
    return status
