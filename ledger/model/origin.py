"""Origin vocabulary shared by registrations: source and dataset names, licence (SPDX) and
consent status."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from ledger.errors import InputError

# Consent status at registration; withdrawals and scopes (GA4GH DUO) come with consent entries.
CONSENT_STATUSES = ("consented", "waived", "not-required", "unknown")
# Source (repository or site) names.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._:/@+-]{0,127}$"
# Dataset labels: NAME or NAME@VERSION. A name is one token a shell, a URL and a file name
# take as it is; the version is a positive integer. The name (without the version) is what
# a key owns (see ledger.audit.sourcestate).
DATASET_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@[1-9][0-9]{0,5})?$"
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
    try:
        info = _licensing().validate(text)
        valid = not info.errors and bool(info.normalized_expression)
    except Exception:  # license_expression itself crashes on some input ('<', "'")
        valid = False
    if not valid:
        raise InputError(
            f"licence {expression!r} is not an SPDX licence expression "
            "(e.g. CC-BY-4.0, CC0-1.0, or LicenseRef-<your-id>)"
        )
    return str(info.normalized_expression)


def check_consent(status: str) -> str:
    if status not in CONSENT_STATUSES:
        raise InputError(f"consent {status!r} is not one of: " + ", ".join(CONSENT_STATUSES))
    return status


def check_dataset(option: str, value: str) -> str:
    """A dataset label as entries allow it; InputError naming the option otherwise."""
    if not re.fullmatch(DATASET_PATTERN, value):
        raise InputError(
            f"{option} {value!r} is not a valid dataset label: NAME or NAME@VERSION, the name "
            "1-64 letters, digits and . _ - (a letter or digit first), the version 1-999999"
        )
    return value


def dataset_name(label: str) -> str:
    """The dataset a label belongs to: ``NAME@3`` -> ``NAME``."""
    return label.partition("@")[0]


def check_name(option: str, value: str) -> str:
    """A source or dataset name as entries allow it; InputError naming the option otherwise."""
    if not re.fullmatch(NAME_PATTERN, value):
        raise InputError(
            f"{option} {value!r} is not a valid name: 1-128 characters, letters and digits "
            "first, then letters, digits, space and . _ : / @ + -"
        )
    return value
