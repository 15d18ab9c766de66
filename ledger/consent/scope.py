"""What a consent state allows: the DUO codes this ledger interprets, and how.

A state is a status (granted, restricted, withdrawn) and a scope (DUO codes). ``forbidden``
names the uses the state rules out, so that a later check (dataset versions, training
manifests) can refuse them; docs/consent.md has the table.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.errors import InputError
from ledger.model.consent import DUO_CODES

USES = ("any-use", "model-development", "commercial-use", "for-profit-use",
        "non-health-research", "other-research-than-named-disease",
        "research-other-than-ancestry", "research-other-than-genetic")  # fmt: skip

# code -> the uses it rules out (codes not listed only add duties, e.g. PUB, IRB, COL).
_RULES_OUT: dict[str, tuple[str, ...]] = {
    "DUO:0000015": ("model-development",),  # NMDS: no general methods research
    "DUO:0000018": ("commercial-use", "for-profit-use"),  # NPUNCU
    "DUO:0000046": ("commercial-use",),  # NCU
    "DUO:0000045": ("for-profit-use",),  # NPU
    "DUO:0000006": ("non-health-research",),  # HMB
    "DUO:0000007": ("non-health-research", "other-research-than-named-disease"),  # DS
    "DUO:0000011": ("research-other-than-ancestry",),  # POA
    "DUO:0000016": ("research-other-than-genetic",),  # GSO
    "DUO:0000043": ("model-development",),  # CC: clinical care use only
}


def scope_codes(given: Iterable[str]) -> list[str]:
    """DUO codes given as ``DUO:0000042``, ``0000042`` or a shorthand (``GRU``), sorted."""
    return duo_codes(given, option="--scope")


def duo_codes(given: Iterable[str], *, option: str) -> list[str]:
    """DUO codes given to ``option`` as ``DUO:0000042``, ``0000042`` or a shorthand
    (``GRU``), comma- or space-separated, sorted; InputError names an unknown one."""
    by_short = {short.upper(): code for code, (short, _label) in DUO_CODES.items()}
    out: set[str] = set()
    for raw in given:
        for part in raw.replace(",", " ").split():
            text = part.strip().upper()
            code = by_short.get(text) or (text if text.startswith("DUO:") else f"DUO:{text}")
            if code not in DUO_CODES:
                raise InputError(f"{option} {part[:20]!r} is not a DUO code this ledger knows "
                                 "(docs/consent.md lists them)")
            out.add(code)
    return sorted(out)


def forbidden(status: str | None, scope: Iterable[str]) -> list[str]:
    """The uses the state rules out."""
    if status == "withdrawn":
        return ["any-use"]
    ruled = {use for code in scope for use in _RULES_OUT.get(code, ())}
    return sorted(ruled, key=USES.index)


def describe(scope: Iterable[str]) -> list[str]:
    return [f"{code} {DUO_CODES[code][0]}" for code in scope if code in DUO_CODES]
