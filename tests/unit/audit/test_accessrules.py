"""ledger.audit.accessrules without a database: each rule refuses with its reason."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.audit.accessrules import AccessRules
from ledger.audit.keystate import KeyRecord, KeyState
from ledger.errors import PolicyError
from ledger.model.access import TERMS_SHA256
from ledger.model.roles import Role

DAC = KeyRecord("d" * 64, "dac", Role.DAC, b"\x01" * 32, 1)
ADMIN = KeyRecord("a" * 64, "admin", Role.ADMIN, b"\x02" * 32, 0)
READER = KeyRecord("e" * 64, "reader", Role.VERIFIER, b"\x03" * 32, 2)
OTHER = KeyRecord("f" * 64, "other", Role.VERIFIER, b"\x04" * 32, 3)
KEYS = KeyState([DAC, ADMIN, READER, OTHER])


def _entry(kind: str, body: dict[str, Any], *, actor: KeyRecord, time: str) -> dict[str, Any]:
    return {"kind": kind, "actor": actor.key_id, "time": time, "body": body}


def _state() -> AccessRules:
    """ct@1 controlled, reg@1 registered, pub@1 open; grant 10 to READER for ct (every
    version), purpose "p", until the end of January 2027."""
    state = AccessRules()
    for n, (name, tier) in enumerate((("ct", "controlled"), ("reg", "registered"),
                                      ("pub", "open")), 5):
        state.apply(index=n, entry=_entry("dataset.versioned",
                                          {"name": name, "version": 1, "tier": tier},
                                          actor=ADMIN, time="2027-01-01T00:00:00.000000Z"))
    grant = _entry("dataset.access_granted",
                   {"grantee": READER.key_id, "name": "ct", "version": None, "purpose": "p",
                    "not_after": "2027-01-31T23:59:59.999999Z"},
                   actor=DAC, time="2027-01-02T00:00:00.000000Z")
    state.check(index=10, entry=grant, signer=DAC, keys=KEYS)
    state.apply(index=10, entry=grant)
    return state


def _access(state: AccessRules, *, signer: KeyRecord = READER, time: str, **changes: Any
            ) -> None:  # fmt: skip
    body = {"accessor": signer.key_id, "name": "ct", "version": 1, "purpose": "p",
            "what": "pin", "grant": 10, "terms_sha256": None, **changes}
    state.check(index=20, entry=_entry("dataset.accessed", body, actor=signer, time=time),
                signer=signer, keys=KEYS)


INSIDE = "2027-01-15T00:00:00.000000Z"


def test_a_valid_grant_allows_the_access() -> None:
    _access(_state(), time=INSIDE)  # raises nothing


@pytest.mark.parametrize(("changes", "time", "reason"), [
    ({}, "2027-02-01T00:00:00.000000Z", "grant 10 expired at 2027-01-31T23:59:59.999999Z"),
    ({}, "2027-01-01T12:00:00.000000Z", "the access is dated before grant 10"),
    ({"purpose": "q"}, INSIDE, "grant 10 is for purpose 'p'"),
    ({"grant": None}, INSIDE, "no grant named"),
    ({"grant": 7}, INSIDE, "entry 7 is not a grant"),
    ({"version": 2}, INSIDE, "ct has no version 2"),
])
def test_an_access_outside_its_grant_is_refused(changes: dict[str, Any], time: str,
                                                reason: str) -> None:
    with pytest.raises(PolicyError) as caught:
        _access(_state(), time=time, **changes)
    assert reason in caught.value.message


def test_a_revoked_grant_and_another_key_are_refused() -> None:
    state = _state()
    with pytest.raises(PolicyError, match="grant 10 is to another key"):
        _access(state, signer=OTHER, time=INSIDE)
    revoke = _entry("dataset.access_revoked", {"grant": 10, "reason": ""}, actor=DAC,
                    time=INSIDE)
    state.check(index=15, entry=revoke, signer=DAC, keys=KEYS)
    state.apply(index=15, entry=revoke)
    with pytest.raises(PolicyError, match="grant 10 was revoked at entry 15"):
        _access(state, time=INSIDE)
    with pytest.raises(PolicyError, match="already revoked at 15"):
        state.check(index=16, entry=revoke, signer=DAC, keys=KEYS)


def test_only_dac_keys_grant() -> None:
    grant = _entry("dataset.access_granted",
                   {"grantee": READER.key_id, "name": "ct", "version": 1, "purpose": "p",
                    "not_after": "2027-01-31T23:59:59.999999Z"},
                   actor=ADMIN, time=INSIDE)
    with pytest.raises(PolicyError, match=r"role admin; dataset\.access_granted needs a dac"):
        _state().check(index=30, entry=grant, signer=ADMIN, keys=KEYS)
    late = {**grant, "actor": DAC.key_id, "time": "2027-02-02T00:00:00.000000Z"}
    with pytest.raises(PolicyError, match="is not after the grant's time"):
        _state().check(index=30, entry=late, signer=DAC, keys=KEYS)


def test_registered_needs_the_terms_and_open_logs_nothing() -> None:
    state = _state()
    _access(state, time=INSIDE, name="reg", grant=None, terms_sha256=TERMS_SHA256)
    with pytest.raises(PolicyError, match="reg@1 is registered"):
        _access(state, time=INSIDE, name="reg", grant=None, terms_sha256="0" * 64)
    with pytest.raises(PolicyError, match="pub@1 is open"):
        _access(state, time=INSIDE, name="pub", grant=None)
