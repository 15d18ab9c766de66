"""The source and dataset rules as a pure state machine (the code append and verify share)."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.audit.keystate import KeyRecord, KeyState
from ledger.audit.sourcestate import SourceState
from ledger.errors import InputError, PolicyError
from ledger.model.origin import check_dataset, dataset_name
from ledger.model.registry import validate_body
from ledger.model.roles import Role

ADMIN = KeyRecord("a" * 64, "admin", Role.ADMIN, bytes(32), 0)
MGH = KeyRecord("b" * 64, "mgh", Role.SUBMITTER, bytes(32), 1)
OTHER = KeyRecord("c" * 64, "other", Role.SUBMITTER, bytes(32), 2)
KEYS = KeyState([ADMIN, MGH, OTHER])


def image(actor: KeyRecord, source: str, dataset: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"source": source}
    if dataset is not None:
        body["dataset"] = dataset
    return {"kind": "image.registered", "actor": actor.key_id, "body": body}


def declare(kind: str, name: str, *keys: KeyRecord) -> dict[str, Any]:
    return {"kind": kind, "actor": ADMIN.key_id,
            "body": {"name": name, "keys": sorted(k.key_id for k in keys)}}  # fmt: skip


def run(state: SourceState, entry: dict[str, Any], signer: KeyRecord) -> None:
    state.check(entry=entry, signer=signer, keys=KEYS)
    state.apply(entry=entry)


def test_unclaimed_sources_are_open_and_claimed_ones_closed() -> None:
    state = SourceState()
    run(state, image(OTHER, "Mass General"), OTHER)  # before the claim: accepted
    run(state, declare("source.added", "Mass General", MGH), ADMIN)
    run(state, image(MGH, "Mass General"), MGH)
    run(state, image(ADMIN, "Mass General"), ADMIN)
    with pytest.raises(PolicyError, match=r"^key other may not register under source 'Mass Gen"):
        state.check(entry=image(OTHER, "Mass General"), signer=OTHER, keys=KEYS)
    state.check(entry=image(OTHER, "mass general"), signer=OTHER, keys=KEYS)  # another name


def test_change_replaces_the_list() -> None:
    state = SourceState()
    run(state, declare("source.added", "S", MGH), ADMIN)
    run(state, declare("source.changed", "S", OTHER), ADMIN)
    state.check(entry=image(OTHER, "S"), signer=OTHER, keys=KEYS)
    with pytest.raises(PolicyError):
        state.check(entry=image(MGH, "S"), signer=MGH, keys=KEYS)


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ([declare("source.added", "S", MGH), declare("source.added", "S", OTHER)],
         "already declared"),
        ([declare("source.changed", "S", MGH)], "was never declared"),
        ([{"kind": "source.added", "actor": ADMIN.key_id,
           "body": {"name": "S", "keys": ["d" * 64]}}], "unknown key dddddddddddddddd"),
    ],
)  # fmt: skip
def test_declarations_that_break_the_rules(entries: list[dict[str, Any]], reason: str) -> None:
    state = SourceState()
    *before, last = entries
    for entry in before:
        run(state, entry, ADMIN)
    with pytest.raises(PolicyError, match=reason):
        state.check(entry=last, signer=ADMIN, keys=KEYS)


def test_a_dataset_name_belongs_to_its_first_key_in_every_version() -> None:
    state = SourceState()
    run(state, image(MGH, "a", "cohort@1"), MGH)
    run(state, image(MGH, "a", "cohort@2"), MGH)
    for label in ("cohort", "cohort@1", "cohort@3"):
        with pytest.raises(PolicyError, match=r"^dataset 'cohort' belongs to key mgh; key other"):
            state.check(entry=image(OTHER, "b", label), signer=OTHER, keys=KEYS)
    run(state, image(ADMIN, "b", "cohort@3"), ADMIN)  # admin may
    run(state, image(OTHER, "b", "cohort2@1"), OTHER)  # another name
    assert state.owners == {"cohort": MGH.key_id, "cohort2": OTHER.key_id}


def test_an_admin_first_use_owns_the_name() -> None:
    state = SourceState()
    run(state, image(ADMIN, "a", "shared@1"), ADMIN)
    with pytest.raises(PolicyError, match="belongs to key admin"):
        state.check(entry=image(MGH, "a", "shared@2"), signer=MGH, keys=KEYS)


@pytest.mark.parametrize("label", ["cohort", "cohort@1", "a", "A.b_c-d@999999", "x" * 64 + "@1"])
def test_dataset_grammar_accepts(label: str) -> None:
    assert check_dataset("--dataset", label) == label
    assert dataset_name(label) == label.partition("@")[0]


@pytest.mark.parametrize(
    "label", ["bad@@name", "a b", "x@0", "x@01", "x@1234567", "x@1.2", "-x", ".x", "x" * 65,
              "é", "a/b", "a:b", "a@", "@1", ""],
)  # fmt: skip
def test_dataset_grammar_refuses(label: str) -> None:
    with pytest.raises(InputError, match="is not a valid dataset label"):
        check_dataset("--dataset", label)


def test_the_entry_model_holds_the_grammar() -> None:
    facts = {"v": 1, "file_sha256": "a" * 64, "file_size": 1, "format": "png",
             "pixel_sha256": "b" * 64, "pixel_form": "|u1 1x8x8x1", "frame_sha256": [],
             "metadata": {}, "deid": {}, "pseudonyms": None, "fingerprints": {},
             "preamble": None}  # fmt: skip
    body = {"source": "s", "license": "CC0-1.0", "consent": "waived", "image": facts}
    validate_body("image.registered", body | {"dataset": "cohort@2"})
    with pytest.raises(InputError, match="dataset"):
        validate_body("image.registered", body | {"dataset": "bad@@name"})
    with pytest.raises(InputError, match="withheld"):
        validate_body("image.registered", body | {"image": facts | {
            "metadata": {"withheld": ["Manufacturer"], "Manufacturer": "x"}}})
    with pytest.raises(InputError, match="withheld"):
        validate_body("image.registered", body | {"image": facts | {
            "metadata": {"withheld": ["Dr Jane Doe"]}}})
