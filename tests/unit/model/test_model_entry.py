"""The entry envelope ``{entry, sig}`` and the leaf: what is refused, and how it is said."""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.model.canonical import canonical_json
from ledger.model.entry import (
    MAX_ENVELOPE_BYTES,
    TIME_PATTERN,
    Envelope,
    Leaf,
    parse_envelope,
    settled_envelope,
    utc_now,
)

GOOD: dict[str, Any] = {
    "entry": {
        "v": 1,
        "kind": "key.revoked",
        "time": "2026-03-04T05:06:07.123456Z",
        "actor": "ab" * 32,
        "body": {"key_id": "cd" * 32, "reason": ""},
    },
    "sig": "A" * 86 + "==",
}


def changed(path: str, value: Any) -> dict[str, Any]:
    """GOOD with one field set (``value`` is ...: the field removed)."""
    envelope = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    target = envelope
    for part in parents:
        target = target[part]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return envelope


V2: dict[str, Any] = copy.deepcopy(GOOD)
V2["entry"].update(v=2, log="cd" * 32)


def test_v2_envelope_names_its_log() -> None:
    assert parse_envelope(V2).entry.log == "cd" * 32
    assert parse_envelope(GOOD).entry.log is None
    for value, where in [(..., "entry: Value error, a v2 entry names its log"),
                         (None, "entry.log"), ("CD" * 32, "entry.log"), (7, "entry.log")]:
        envelope = copy.deepcopy(V2)
        if value is ...:
            del envelope["entry"]["log"]
        else:
            envelope["entry"]["log"] = value
        with pytest.raises(InputError) as caught:
            parse_envelope(envelope)
        assert caught.value.diagnostics().startswith("malformed envelope: " + where)


def test_good_envelope_parses() -> None:
    parsed = parse_envelope(GOOD)
    assert parsed.entry.kind == "key.revoked"
    assert parsed.entry.body == GOOD["entry"]["body"]


BAD = {
    "no-sig": ("sig", ..., "sig"),
    "no-entry": ("entry", ..., "entry"),
    "extra-envelope-field": ("extra", 1, "extra"),
    "extra-entry-field": ("entry.extra", 1, "entry.extra"),
    "no-body": ("entry.body", ..., "entry.body"),
    "v-3": ("entry.v", 3, "entry.v"),
    "v1-with-log": ("entry.log", "cd" * 32, "entry: Value error, a v1 entry has no log"),
    "v-true": ("entry.v", True, "entry.v"),
    "v-string": ("entry.v", "1", "entry.v"),
    "kind-capitals": ("entry.kind", "Key.Added", "entry.kind"),
    "kind-no-dot": ("entry.kind", "keyadded", "entry.kind"),
    "kind-too-long": ("entry.kind", "a." + "b" * 70, "entry.kind"),
    "time-no-micros": ("entry.time", "2026-03-04T05:06:07Z", "entry.time"),
    "time-offset": ("entry.time", "2026-03-04T05:06:07.123456+00:00", "entry.time"),
    "time-not-a-date": ("entry.time", "2026-02-30T05:06:07.123456Z", "entry.time"),
    "actor-upper-hex": ("entry.actor", "AB" * 32, "entry.actor"),
    "actor-short": ("entry.actor", "ab" * 31, "entry.actor"),
    "actor-number": ("entry.actor", 7, "entry.actor"),
    "body-list": ("entry.body", [], "entry.body"),
    "sig-short": ("sig", "A" * 84 + "==", "sig"),
    "sig-unpadded": ("sig", "A" * 88, "sig"),
    "sig-url-alphabet": ("sig", "-" * 86 + "==", "sig"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_envelope_names_the_field(case: str) -> None:
    path, value, where = BAD[case]
    with pytest.raises(InputError) as caught:
        parse_envelope(changed(path, value), subject="envelope 7")
    text = caught.value.diagnostics()
    assert text.startswith("envelope 7: malformed envelope: " + where), text
    assert "\n" not in text


@pytest.mark.parametrize("value", [None, [], "envelope", 3])
def test_not_an_object(value: Any) -> None:
    with pytest.raises(InputError, match="malformed envelope"):
        parse_envelope(value)


def _padded(size: int) -> dict[str, Any]:
    """GOOD with a body field padded so the canonical envelope is ``size`` bytes."""
    from ledger.model.canonical import canonical_json

    envelope = changed("entry.body", {"pad": ""})
    base = len(canonical_json(envelope))
    envelope["entry"]["body"]["pad"] = "x" * (size - base)
    assert len(canonical_json(envelope)) == size
    return envelope


def test_size_limit_is_64_kib_of_canonical_envelope() -> None:
    assert MAX_ENVELOPE_BYTES == 65536
    parse_envelope(_padded(MAX_ENVELOPE_BYTES))
    with pytest.raises(InputError, match="65537 bytes; the limit is 65536") as caught:
        parse_envelope(_padded(MAX_ENVELOPE_BYTES + 1), subject="envelope 0")
    assert caught.value.diagnostics().startswith("envelope 0: ")


def test_size_counts_utf8_bytes() -> None:
    envelope = _padded(MAX_ENVELOPE_BYTES)
    # One character, two bytes: 65537 bytes in 65536 characters.
    envelope["entry"]["body"]["pad"] = envelope["entry"]["body"]["pad"][:-1] + "\u00e9"
    with pytest.raises(InputError, match="65537 bytes"):
        parse_envelope(envelope)


@given(st.just(None))
def test_utc_now_is_the_entry_time_format(_: None) -> None:
    now = utc_now()
    assert re.fullmatch(TIME_PATTERN, now)
    parse_envelope(changed("entry.time", now))


def test_leaf_model() -> None:
    leaf = Leaf.model_validate({"prev": "0" * 64, "envelope": GOOD})
    assert leaf.envelope.entry.actor == "ab" * 32
    for prev in ["0" * 63, "G" * 64, None]:
        with pytest.raises(ValueError, match="prev"):
            Leaf.model_validate({"prev": prev, "envelope": GOOD})


# --- settled_envelope: the audit's quick check, never more permissive than the model ------

_FIELDS = ["sig", "entry", "extra", "entry.v", "entry.log", "entry.kind", "entry.time",
           "entry.actor", "entry.body", "entry.extra"]
# Values near each field's rules: other types, bool for int, Unicode digits, a date that
# does not exist, a trailing newline (Python's ``$`` would allow it), lengths at the limit.
_NEAR = st.one_of(
    st.sampled_from([..., None, True, False, 0, 1, 2, 3, 1.0, 2.0, "", [], {}, {"k": 1},
                     "cd" * 32, "CD" * 32, "cd" * 32 + "\n", "ab" * 31,
                     "a." + "b" * 62, "a." + "b" * 63, "key.added", "key.added\n", "Key.added",
                     "2026-03-04T05:06:07.123456Z", "2026-02-30T05:06:07.123456Z",
                     "2026-03-04T05:06:07.123456Z\n", "\uff12026-03-04T05:06:07.123456Z",
                     "2026-03-04T05:06:07.12345\u0664Z", "2026-03-04T24:06:07.123456Z",
                     "A" * 86 + "==", "A" * 86 + "==\n", "A" * 84 + "==", "-" * 86 + "==",
                     "A" * 85 + "=="]),
    st.text(max_size=8), st.integers(),
)


@settings(max_examples=400)
@given(st.booleans(), st.lists(st.tuples(st.sampled_from(_FIELDS), _NEAR), max_size=3))
@example(True, [])
@example(False, [])
def test_settled_envelope_accepts_only_what_the_model_accepts(
    v2: bool, changes: list[tuple[str, Any]]
) -> None:
    envelope = copy.deepcopy(V2 if v2 else GOOD)
    for path, value in changes:
        *parents, last = path.split(".")
        target: Any = envelope
        for part in parents:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            continue
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    try:
        size = len(canonical_json(envelope))
    except InputError:  # no leaf can hold it (an integer beyond 2**53, a lone surrogate)
        return
    if settled_envelope(envelope, size=size):
        parse_envelope(envelope)
    elif not changes:
        raise AssertionError("a well-formed envelope must be settled without the model")


_ALSO_BAD = [("sig", "A" * 86 + "==\n"), ("entry.actor", "ab" * 32 + "\n"),
             ("entry.kind", "key.revoked\n"), ("entry.time", "2026-03-04T05:06:07.123456Z\n"),
             ("entry.time", "\uff12026-03-04T05:06:07.123456Z"), ("entry.v", 2)]


def test_settled_envelope_refuses_what_the_model_refuses() -> None:
    for path, value in [(path, value) for path, value, _ in BAD.values()] + _ALSO_BAD:
        envelope = changed(path, value)
        with pytest.raises(InputError):
            parse_envelope(envelope)
        assert not settled_envelope(envelope, size=len(canonical_json(envelope))), path
    assert settled_envelope(GOOD, size=MAX_ENVELOPE_BYTES)
    assert not settled_envelope(GOOD, size=MAX_ENVELOPE_BYTES + 1)
    for value in (None, [], "envelope", 3):
        assert not settled_envelope(value, size=10)


def test_settled_envelope_follows_the_model() -> None:
    # settled_envelope restates Entry and Envelope's rules: a change to either model must
    # be carried over to it (then update this digest of their JSON schema).
    schema = canonical_json(Envelope.model_json_schema())
    assert hashlib.sha256(schema).hexdigest() == (
        "3902295b8b8ffa8d1690f5a8a528ccc8de9ab55b1debbbffdae56074c89ebe62"
    )
