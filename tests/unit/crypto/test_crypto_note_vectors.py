"""Published signed-note examples (tests/vectors/notes/*.json) must pass byte for byte."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.crypto.keys import SigningKey
from ledger.crypto.note import (
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    add_signatures,
    open_note,
    sign_note,
)
from ledger.errors import InputError, VerificationError

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "notes"
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def all_files() -> list[str]:
    return sorted(p.name for p in VECTORS.glob("*.json") if p.name != "hashes.json")


def open_cases() -> list[Any]:
    files = ["go-sumdb-note-open.json", "c2sp-signed-note.json", "c2sp-tlog-checkpoint.json"]
    files.append("sumdb-checkpoint-6476701.json")
    return [
        pytest.param(case, id=f"{name}:{case['desc']}")
        for name in files
        for case in load(name)["cases"]
    ]


def sigs(rows: list[list[str]]) -> tuple[NoteSignature, ...]:
    return tuple(NoteSignature(name, int(hex_hash, 16), b64) for name, hex_hash, b64 in rows)


def note_of(case: dict[str, Any]) -> str | bytes:
    if "note_base64" in case:
        return base64.b64decode(case["note_base64"])
    note: str = case["note"]
    return note


def signer_of(spec: dict[str, str]) -> NoteSigner:
    if "skey" in spec:
        return NoteSigner.from_signer_key(spec["skey"])
    return NoteSigner(
        spec["name"], SigningKey.from_private_bytes_raw(bytes.fromhex(spec["seed_hex"]))
    )


# --- provenance --------------------------------------------------------------------


@pytest.mark.parametrize("name", all_files())
def test_every_vector_file_names_its_source(name: str) -> None:
    source = load(name)["source"]
    assert source["repository"].startswith("github.com/")
    assert source["file"]
    assert len(source["commit"]) == 40


def test_vector_files_unchanged() -> None:
    """Copied data: a change must be deliberate (regenerate hashes.json with it)."""
    want = json.loads((VECTORS / "hashes.json").read_text())
    got = {name: hashlib.sha256((VECTORS / name).read_bytes()).hexdigest() for name in all_files()}
    assert got == want


# --- open ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", open_cases())
def test_open(case: dict[str, Any]) -> None:
    verifiers = [NoteVerifier.from_vkey(v) for v in case["verifiers"]]
    want_error = case.get("want_error")
    if want_error is None:
        opened = open_note(note_of(case), verifiers)
        assert opened.text == case["want_text"]
        assert opened.verified_signatures == sigs(case["want_verified"])
        assert opened.unverified_signatures == sigs(case["want_unverified"])
        assert opened.verified == [(n, int(h, 16)) for n, h, _ in case["want_verified"]]
        assert opened.unverified_count == len(case["want_unverified"])
        return
    error: type[Exception] = InputError if want_error == "malformed" else VerificationError
    with pytest.raises(error) as exc:
        open_note(note_of(case), verifiers)
    message = str(exc.value)
    assert "\n" not in message
    if want_error == "malformed":
        assert message.startswith("malformed note")
    elif want_error == "unverified":
        assert message.startswith("note has no verifiable signatures")
        for name, hex_hash, _ in case.get("want_unverified", []):
            assert f"{name}+{hex_hash}" in message
    else:
        assert message == want_error


def test_real_sum_golang_org_checkpoint() -> None:
    case = load("sumdb-checkpoint-6476701.json")["cases"][0]
    opened = open_note(case["note"], [NoteVerifier.from_vkey(SUMDB_VKEY)])
    assert opened.text.startswith("go.sum database tree\n6476701\n")
    assert opened.verified == [("sum.golang.org", 0x033DE0AE)]


# --- keys -----------------------------------------------------------------------------


def test_go_keys() -> None:
    for entry in load("go-sumdb-note-keys.json")["keys"]:
        verifier = NoteVerifier.from_vkey(entry["vkey"])
        assert verifier.name == entry["name"]
        assert verifier.key_hash == int(entry["key_hash"], 16)
        assert verifier.vkey == entry["vkey"]
        signer = signer_of(entry)
        assert signer.verifier_key == entry["vkey"]
        assert signer.verifier == verifier


def test_transparency_dev_keys() -> None:
    for entry in load("sumdb-checkpoint-6476701.json")["keys"]:
        signer = NoteSigner.from_signer_key(entry["skey"])
        assert signer.name == entry["name"]
        assert signer.verifier_key == entry["vkey"]
        assert NoteVerifier.from_vkey(entry["vkey"]).vkey == entry["vkey"]


@pytest.mark.parametrize(
    "entry", load("go-sumdb-note-keys.json")["bad_vkeys"], ids=lambda e: e["desc"]
)
def test_go_bad_vkeys(entry: dict[str, str]) -> None:
    with pytest.raises(InputError):
        NoteVerifier.from_vkey(entry["vkey"])


def manglings(text: str) -> list[str]:
    """TestNewVerifier/TestNewSigner: every proper substring, every byte + 1."""
    out = [text[i:j] for i in range(len(text) + 1) for j in range(i + 1, len(text) + 1)]
    out.remove(text)
    out += [text[:i] + chr(ord(text[i]) + 1) + text[i + 1 :] for i in range(len(text))]
    return out


def test_go_vkey_manglings_refused() -> None:
    vkey = load("go-sumdb-note-keys.json")["keys"][0]["vkey"]
    for bad in manglings(vkey):
        with pytest.raises(InputError):
            NoteVerifier.from_vkey(bad)


def test_go_skey_manglings_refused() -> None:
    skey = load("go-sumdb-note-keys.json")["keys"][0]["skey"]
    for bad in manglings(skey):
        with pytest.raises(InputError) as exc:
            NoteSigner.from_signer_key(bad)
        assert skey.rsplit("+", 1)[1][4:] not in str(exc.value)  # no key material echoed


# --- sign -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", load("go-sumdb-note-sign.json")["cases"], ids=lambda c: c["desc"])
def test_sign(case: dict[str, Any]) -> None:
    signers = [signer_of(spec) for spec in case["signers"]]
    if case.get("want_error"):
        with pytest.raises(InputError):
            sign_note(case["text"], signers)
        return
    if "existing" in case:
        verifiers = [NoteVerifier.from_vkey(v) for v in case["existing_verifiers"]]
        got = add_signatures(open_note(case["existing"], verifiers), signers)
    elif "existing_signatures" in case:
        opened = OpenedNote(case["text"], sigs(case["existing_signatures"]), ())
        got = add_signatures(opened, signers)
    else:
        got = sign_note(case["text"], signers)
    assert got == case["want"]
