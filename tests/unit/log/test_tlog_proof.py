from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.log.checkpoint import Checkpoint
from ledger.log.proofs import inclusion_proof_size
from ledger.log.tlog_proof import (
    HEADER,
    MAX_PROOF_HASHES,
    TlogProof,
    format_tlog_proof,
    parse_tlog_proof,
)

ORIGIN = "medledger.example/registry"
ROOT = bytes(range(32))
HASHES = [bytes([i]) * 32 for i in range(3)]
# An Ed25519 signed-note signature: 4-byte key ID and 64-byte signature.
SIG = base64.b64encode(b"\xaa" * 68).decode()


def _note(origin: str = ORIGIN, size: int = 10, signatures: int = 1) -> str:
    body = Checkpoint(origin=origin, size=size, root=ROOT).to_text()
    return body + "\n" + "".join(f"\u2014 {origin} {SIG}\n" for _ in range(signatures))


NOTE = _note()
b64 = [base64.b64encode(h).decode() for h in HASHES]
GOOD = f"{HEADER}\nindex 7\n{b64[0]}\n{b64[1]}\n{b64[2]}\n\n{NOTE}"


def test_format_is_byte_exact() -> None:
    assert format_tlog_proof(index=7, proof=HASHES, checkpoint_note=NOTE) == GOOD
    with_extra = format_tlog_proof(index=0, proof=[], checkpoint_note=NOTE, extra=b"hello")
    assert with_extra == f"{HEADER}\nextra aGVsbG8=\nindex 0\n\n{NOTE}"


def test_parse() -> None:
    parsed = parse_tlog_proof(GOOD)
    assert parsed == TlogProof(index=7, proof=tuple(HASHES), checkpoint_note=NOTE, extra=None)
    assert parsed.checkpoint == Checkpoint(origin=ORIGIN, size=10, root=ROOT)
    empty_extra = parse_tlog_proof(f"{HEADER}\nextra \nindex 0\n\n{NOTE}")
    assert empty_extra.extra == b""


@given(
    st.integers(0, 2**64 - 1),
    st.lists(st.binary(min_size=32, max_size=32), max_size=MAX_PROOF_HASHES),
    st.none() | st.binary(max_size=200),
    st.integers(1, 4),
)
def test_round_trip(index: int, proof: list[bytes], extra: bytes | None, signatures: int) -> None:
    note = _note(signatures=signatures)
    text = format_tlog_proof(index=index, proof=proof, checkpoint_note=note, extra=extra)
    parsed = parse_tlog_proof(text)
    assert (parsed.index, list(parsed.proof), parsed.checkpoint_note, parsed.extra) == (
        index,
        proof,
        note,
        extra,
    )
    assert parsed.to_text() == text


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "first line is '', want 'c2sp.org/tlog-proof@v1'"),
        (GOOD.replace("@v1", "@v2"), "first line is 'c2sp.org/tlog-proof@v2'"),
        (GOOD.replace("\n", "\r\n"), "first line is 'c2sp.org/tlog-proof@v1\\\\r'"),
        (HEADER + "\n", "text ends before the index line"),
        (_replace("index 7", "index 07"), "invalid index '07'"),
        (_replace("index 7", "index -7"), "invalid index '-7'"),
        (_replace("index 7", "index 18446744073709551616"), "invalid index"),
        (_replace("index 7", "index  7"), "invalid index ' 7'"),
        (_replace("index 7", "Index 7"), "line 'Index 7' where 'index <decimal>' was expected"),
        (_replace("index 7", "index 7\n"), "checkpoint note|malformed checkpoint"),
        (_replace("index 7", "extra !!\nindex 7"), "extra data '!!' is not canonical base64"),
        (_replace("index 7", "extra aGVsbG8\nindex 7"), "extra data 'aGVsbG8' is not canonical"),
        (_replace("index 7", "index 7\nextra aGVsbG8="), "proof line 0 'extra aGVsbG8='"),
        (_replace(b64[1], b64[1][:-1]), "proof line 1 .* is not canonical base64 of 32 bytes"),
        (_replace(b64[1], base64.b64encode(b"x" * 31).decode()), "proof line 1"),
        (_replace(b64[2], b64[2] + " "), "proof line 2"),
        (GOOD.split("\n\n")[0] + "\n", "text ends before the blank line before the checkpoint"),
        (GOOD[:-1], "checkpoint note does not end with a newline"),
        (_replace("\n\n" + ORIGIN, "\n\n" + ORIGIN + "\t"), "control character '\\\\t'"),
        (GOOD.split("\n\n\u2014")[0] + "\n", "checkpoint note has no blank line before"),
        (GOOD.replace("\u2014 ", "- "), "malformed signature line '- medledger"),
        (GOOD.replace("\u2014 " + ORIGIN + " ", "\u2014 " + ORIGIN + "  "), "signature line"),
        (GOOD.replace("\u2014 " + ORIGIN, "\u2014 a+b"), "signature line"),
        (GOOD[:-1] + "=\n", "signature line"),
        (GOOD.replace(SIG, "AAAAAA=="), "signature line"),  # a key ID but no signature
        (GOOD.replace(NOTE, NOTE + "\n"), "signature line ''"),
        (_replace("\n10\n", "\n010\n"), "malformed checkpoint: invalid tree size '010'"),
    ],
)
def test_malformations_are_named(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_tlog_proof(text)


def test_too_many_proof_hashes() -> None:
    text = f"{HEADER}\nindex 0\n" + (b64[0] + "\n") * (MAX_PROOF_HASHES + 1) + "\n" + NOTE
    with pytest.raises(InputError, match="more than 64 proof hashes"):
        parse_tlog_proof(text)
    with pytest.raises(InputError, match="65 proof hashes, at most 64"):
        format_tlog_proof(index=0, proof=[HASHES[0]] * 65, checkpoint_note=NOTE)


def test_format_refuses_what_it_could_not_parse() -> None:
    with pytest.raises(InputError, match="index -1 is not between 0 and 2\\*\\*64-1"):
        format_tlog_proof(index=-1, proof=[], checkpoint_note=NOTE)
    with pytest.raises(InputError, match=r"proof hash \[0\] has 3 bytes"):
        format_tlog_proof(index=0, proof=[b"abc"], checkpoint_note=NOTE)
    with pytest.raises(InputError, match="malformed checkpoint"):
        format_tlog_proof(index=0, proof=[], checkpoint_note="log\n1\n\n\u2014 log AAAAAAA=\n")
    with pytest.raises(InputError, match="not valid UTF-8"):
        format_tlog_proof(index=0, proof=[], checkpoint_note=NOTE.replace("medledger", "\ud800"))


def test_a_proof_at_a_billion_entries_fits_in_2_kb() -> None:
    size = 10**9
    index = 123_456_789  # in the left half: the longest proofs, ceil(log2(size)) hashes
    hashes = inclusion_proof_size(index=index, size=size)
    assert hashes == 30
    origin = "medledger.example/registry/chest-radiographs-2026"
    text = format_tlog_proof(
        index=index,
        proof=[b"\x5a" * 32] * hashes,
        checkpoint_note=_note(origin=origin, size=size, signatures=1),
    )
    assert len(text.encode("utf-8")) <= 2048, len(text.encode("utf-8"))
