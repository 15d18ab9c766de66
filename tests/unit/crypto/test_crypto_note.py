"""Signed notes: independent signature check, tampering, rules, and round trips."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.crypto.keys import PublicKey, SigningKey
from ledger.crypto.note import (
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    add_signatures,
    open_note,
    sign_note,
)
from ledger.errors import InputError, LedgerError, VerificationError

LOG = NoteSigner("log.example/medledger", SigningKey.from_private_bytes_raw(b"\x01" * 32))
WITNESS = NoteSigner("witness.example", SigningKey.from_private_bytes_raw(b"\x02" * 32))
CHECKPOINT = "log.example/medledger\n42\n" + base64.b64encode(bytes(32)).decode() + "\n"

# Go's unicode.IsSpace, listed independently of the implementation.
GO_SPACES = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
GO_SPACES += "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


def independent_check(note: str, name: str, raw_public_key: bytes) -> None:
    """Check ``name``'s signature with plain string ops and cryptography only."""
    text, sep, block = note.rpartition("\n\n")
    assert sep
    found = 0
    for line in block.split("\n")[:-1]:
        dash, signer, b64 = line.split(" ")
        assert dash == "\u2014"
        if signer != name:
            continue
        blob = base64.b64decode(b64, validate=True)
        digest = hashlib.sha256(name.encode() + b"\n\x01" + raw_public_key).digest()
        assert blob[:4] == digest[:4]
        Ed25519PublicKey.from_public_bytes(raw_public_key).verify(blob[4:], (text + "\n").encode())
        found += 1
    assert found == 1


# --- our signatures, checked independently -------------------------------------------


def test_signature_lines_verify_independently() -> None:
    note = sign_note(CHECKPOINT, [LOG, WITNESS])
    assert note.startswith(CHECKPOINT + "\n\u2014 log.example/medledger ")
    assert note.count("\n\u2014 ") == 2
    independent_check(note, LOG.name, LOG.key.public_key.raw)
    independent_check(note, WITNESS.name, WITNESS.key.public_key.raw)
    opened = open_note(note, [LOG.verifier, WITNESS.verifier])
    assert opened.text == CHECKPOINT
    assert opened.verified == [(LOG.name, LOG.key_hash), (WITNESS.name, WITNESS.key_hash)]
    assert opened.unverified_count == 0


def test_vkey_text() -> None:
    vkey = LOG.verifier_key
    name, hash_hex, b64 = vkey.split("+", 2)
    raw = LOG.key.public_key.raw
    assert name == LOG.name
    assert hash_hex == hashlib.sha256(name.encode() + b"\n\x01" + raw).digest()[:4].hex()
    assert base64.b64decode(b64) == b"\x01" + raw
    assert NoteVerifier.from_vkey(vkey) == LOG.verifier


def test_vkey_hash_is_case_insensitive_like_go() -> None:
    name, hash_hex, b64 = LOG.verifier_key.split("+", 2)
    assert NoteVerifier.from_vkey(f"{name}+{hash_hex.upper()}+{b64}") == LOG.verifier


@pytest.mark.parametrize(
    "vkey",
    [
        "",
        "+",
        "++",
        "name+0x12345+AQ==",
        "name+1234567+AQ==",
        "name+123456789+AQ==",
        "name+1234_678+AQ==",
        "name+ 1234567+AQ==",
        "na me+12345678+AQ==",
        "name+12345678+",
        "name+12345678+AQ",
        "name+12345678+AQ==\n",
    ],
)
def test_malformed_vkeys(vkey: str) -> None:
    with pytest.raises(InputError) as exc:
        NoteVerifier.from_vkey(vkey)
    assert "\n" not in str(exc.value)


# --- tampering -----------------------------------------------------------------------------


def test_any_changed_byte_fails() -> None:
    note = sign_note(CHECKPOINT, [LOG])
    data = note.encode()
    verifiers = [LOG.verifier]
    sig_b64 = note.rsplit(" ", 1)[1][:-1]
    padding_char = len(data) - 3  # last base64 character before "=": 2 unused low bits
    assert sig_b64.endswith("=") and not sig_b64.endswith("==")
    for i in range(len(data)):
        for flip in (0x01, 0x20, 0x80):
            mutated = data[:i] + bytes([data[i] ^ flip]) + data[i + 1 :]
            try:
                open_note(mutated, verifiers)
            except (InputError, VerificationError):
                continue
            # Go's decoder ignores unused base64 bits, so one harmless spelling
            # of the same signature bytes is accepted; nothing else may be.
            assert i == padding_char and flip == 0x01, f"byte {i} ^ {flip:#x} accepted"
            assert base64.b64decode(mutated.rsplit(b" ", 1)[1]) == base64.b64decode(sig_b64)


def test_any_changed_text_line_fails() -> None:
    note = sign_note(CHECKPOINT, [LOG, WITNESS])
    lines = note.split("\n")
    for i in range(len(CHECKPOINT.split("\n")) - 1):
        for replacement in ["", lines[i] + "x", "x" + lines[i][1:], lines[i].upper() + "\u00e9"]:
            if replacement == lines[i]:
                continue
            changed = "\n".join([*lines[:i], replacement, *lines[i + 1 :]])
            with pytest.raises(LedgerError):
                open_note(changed, [LOG.verifier])


def test_dropped_or_reordered_lines() -> None:
    note = sign_note(CHECKPOINT, [LOG])
    lines = note.split("\n")
    with pytest.raises(LedgerError):
        open_note("\n".join(lines[1:]), [LOG.verifier])
    swapped = "\n".join([lines[1], lines[0], *lines[2:]])
    with pytest.raises(VerificationError, match=r"invalid signature for key log\.example"):
        open_note(swapped, [LOG.verifier])
    with pytest.raises(InputError):
        open_note(note[:-1], [LOG.verifier])  # last newline dropped
    with pytest.raises(InputError):
        open_note(note + "\n", [LOG.verifier])  # blank line after the signatures


def test_bad_known_signature_refuses_even_if_another_verifies() -> None:
    note = sign_note(CHECKPOINT, [LOG])
    forged = sign_note("something else\n", [WITNESS]).split("\n\n")[1]
    with pytest.raises(VerificationError) as exc:
        open_note(note + forged, [LOG.verifier, WITNESS.verifier])
    assert str(exc.value) == f"invalid signature for key {WITNESS.verifier.label}"


def test_source_names_the_file() -> None:
    with pytest.raises(InputError) as exc:
        open_note("no signatures\n", [LOG.verifier], source="checkpoints/42")
    assert str(exc.value).startswith("checkpoints/42: malformed note")


# --- rules -------------------------------------------------------------------------------------


def test_unknown_signers_ignored() -> None:
    stranger = NoteSigner("stranger", SigningKey.from_private_bytes_raw(b"\x03" * 32))
    # Same name as a known key but another key, and same key under another name.
    impostor = NoteSigner(LOG.name, SigningKey.from_private_bytes_raw(b"\x04" * 32))
    alias = NoteSigner("alias", LOG.key)
    note = sign_note(CHECKPOINT, [stranger, impostor, LOG, alias])
    opened = open_note(note, [LOG.verifier])
    assert opened.verified == [(LOG.name, LOG.key_hash)]
    assert opened.unverified_count == 3


def test_no_known_signature_refused() -> None:
    note = sign_note(CHECKPOINT, [WITNESS])
    for verifiers in ([], [LOG.verifier]):
        with pytest.raises(VerificationError, match="no verifiable signatures"):
            open_note(note, verifiers)


def test_signature_limit() -> None:
    note = sign_note(CHECKPOINT, [LOG] * 100)
    assert open_note(note, [LOG.verifier]).verified == [(LOG.name, LOG.key_hash)]
    with pytest.raises(InputError, match="at most 100"):
        sign_note(CHECKPOINT, [LOG] * 101)
    too_many = note + note.split("\n\n")[1].split("\n")[0] + "\n"
    with pytest.raises(InputError, match="more than 100"):
        open_note(too_many, [LOG.verifier])


@pytest.mark.parametrize("char", [*"\x00\x01\t\r\x1b\x1f"])
def test_control_characters_refused(char: str) -> None:
    with pytest.raises(InputError, match="control character"):
        sign_note(f"a{char}b\n", [LOG])
    note = sign_note("ab\n", [LOG])
    with pytest.raises(InputError, match="control character"):
        open_note(note.replace("ab", f"a{char}b"), [LOG.verifier])


def test_del_and_c1_allowed_like_go() -> None:
    text = "del \x7f c1 \x85 nbsp \xa0 \u2028\n"
    assert open_note(sign_note(text, [LOG]), [LOG.verifier]).text == text


def test_non_utf8_refused() -> None:
    note = sign_note("caf\u00e9\n", [LOG]).encode()
    for bad in [note.replace(b"\xc3\xa9", b"\xe9"), b"\xed\xa0\x80" + note, b"\xc0\xaf" + note]:
        with pytest.raises(InputError, match="UTF-8"):
            open_note(bad, [LOG.verifier])
    with pytest.raises(InputError, match="UTF-8"):
        open_note("\ud800" + sign_note("x\n", [LOG]), [LOG.verifier])
    with pytest.raises(InputError, match="UTF-8"):
        sign_note("\udc80\n", [LOG])


def test_text_must_end_with_newline() -> None:
    with pytest.raises(InputError, match="newline"):
        sign_note("abc", [LOG])
    with pytest.raises(InputError, match="at least one signer"):
        sign_note("abc\n", [])


@pytest.mark.parametrize("text", ["\n", "\n\n", "a\n\nb\n", "a\n\n", "\u2014 x y\n"])
def test_blank_lines_in_text(text: str) -> None:
    assert open_note(sign_note(text, [LOG]), [LOG.verifier]).text == text


@pytest.mark.parametrize("space", list(GO_SPACES))
def test_names_with_go_spaces_refused(space: str) -> None:
    key = SigningKey.from_private_bytes_raw(b"\x05" * 32)
    with pytest.raises(InputError):
        NoteSigner(f"a{space}b", key)


@pytest.mark.parametrize("name", ["", "a+b", "+", "a\x01b"])
def test_bad_names_refused(name: str) -> None:
    with pytest.raises(InputError):
        NoteVerifier(name, LOG.key.public_key)


@pytest.mark.parametrize("name", ["a\u180eb", "a\x7fb", "\u00e9\u4e2d", "x/y:z@1"])
def test_unusual_names_accepted_like_go(name: str) -> None:
    signer = NoteSigner(name, LOG.key)
    assert open_note(sign_note("t\n", [signer]), [signer.verifier]).verified[0][0] == name


def test_ambiguous_verifiers() -> None:
    # Two keys (valid points) whose name "x" and 4-byte key hash collide (found by search).
    a = NoteVerifier("x", PublicKey(hashlib.sha256(b"point-collide-15055").digest()))
    b = NoteVerifier("x", PublicKey(hashlib.sha256(b"point-collide-239600").digest()))
    assert a.key_hash == b.key_hash == 0xED5A1B7F
    assert a != b
    line = NoteSignature(
        "x", a.key_hash, base64.b64encode(a.key_hash.to_bytes(4, "big") + bytes(64)).decode()
    )
    note = "t\n\n" + line.line
    with pytest.raises(InputError, match="ambiguous key x\\+ed5a1b7f"):
        open_note(note, [a, b])
    with pytest.raises(VerificationError):
        open_note(note, [a, a])  # the same key twice is one key: its signature is checked


def test_note_signature_validated_when_built() -> None:
    with pytest.raises(InputError):
        NoteSignature("a+b", 1, "AAAAAQA=")
    with pytest.raises(InputError):
        NoteSignature("a", 0xC74F20A3, "BADHASH=")
    with pytest.raises(InputError):
        NoteSignature("a", 1, "AAAAAQ==")  # hash only, no signature


def test_add_signatures_cosigns_and_replaces() -> None:
    note = sign_note(CHECKPOINT, [LOG])
    opened = open_note(note, [LOG.verifier])
    cosigned = add_signatures(opened, [WITNESS])
    assert cosigned == sign_note(CHECKPOINT, [LOG, WITNESS])
    again = add_signatures(open_note(cosigned, [LOG.verifier]), [LOG])
    # LOG's signature is replaced and moves after the kept (unverified) witness line.
    assert again == sign_note(CHECKPOINT, [WITNESS, LOG])
    with pytest.raises(InputError):
        add_signatures(OpenedNote(CHECKPOINT, (), ()), [])


# --- property round trips ----------------------------------------------------------------------

name_chars = st.characters(
    blacklist_categories=["Cs", "Cc", "Zs", "Zl", "Zp"], blacklist_characters="+"
)
names = st.text(name_chars, min_size=1, max_size=12)
text_chars = st.characters(
    blacklist_categories=["Cs"], blacklist_characters=[chr(c) for c in range(0x20) if c != 0x0A]
)
texts = st.text(text_chars, max_size=200).map(lambda t: t + "\n")
signers = st.builds(
    NoteSigner, names, st.binary(min_size=32, max_size=32).map(SigningKey.from_private_bytes_raw)
)


@settings(max_examples=60, deadline=None)
@given(texts, st.lists(signers, min_size=1, max_size=4))
def test_round_trip(text: str, chosen: list[NoteSigner]) -> None:
    note = sign_note(text, chosen)
    opened = open_note(note, [s.verifier for s in chosen])
    assert opened.text == text
    distinct = list(dict.fromkeys((s.name, s.key_hash) for s in chosen))
    assert opened.verified == distinct
    assert opened.unverified_count == 0
    first = chosen[0]
    independent_check(sign_note(text, [first]), first.name, first.key.public_key.raw)
    assert open_note(note.encode(), [first.verifier]).text == text


@settings(max_examples=60, deadline=None)
@given(texts, st.lists(signers, min_size=1, max_size=3), st.lists(signers, min_size=1, max_size=3))
def test_unknown_signers_never_matter(
    text: str, known: list[NoteSigner], unknown: list[NoteSigner]
) -> None:
    known_ids = {(s.name, s.key_hash) for s in known}
    unknown = [s for s in unknown if (s.name, s.key_hash) not in known_ids]
    mixed = [x for pair in zip(unknown, known, strict=False) for x in pair]
    mixed += known[len(unknown) :] + unknown[len(known) :]
    opened = open_note(sign_note(text, mixed), [s.verifier for s in known])
    assert opened.text == text
    assert set(opened.verified) == known_ids
    assert opened.unverified_count == len({(s.name, s.key_hash) for s in unknown})
    if unknown:
        with pytest.raises(VerificationError):
            open_note(sign_note(text, unknown), [s.verifier for s in known])
