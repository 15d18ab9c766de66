"""The C2SP tlog-proof text format (https://c2sp.org/tlog-proof), byte for byte.

An offline-verifiable proof that an entry is in a log::

    c2sp.org/tlog-proof@v1
    extra <base64 opaque data>          (optional; NOT authenticated)
    index <decimal leaf index>
    <base64 inclusion proof hash>       (zero or more, leaf's sibling first)
                                        (one empty line)
    <checkpoint signed note, verbatim>

Every line ends in U+000A. This module checks the syntax and that the note's
text is a well-formed checkpoint with at least one signature line; verifying
those signatures is ``ledger/crypto/note.py``'s job, and binding the leaf to
the root is :func:`ledger.log.proofs.verify_inclusion`'s.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import InputError
from ledger.log.checkpoint import Checkpoint
from ledger.log.encoding import (
    MAX_UINT64,
    decode_base64,
    decode_hash,
    encode_base64,
    parse_uint64,
)
from ledger.log.hashing import HASH_SIZE

__all__ = ["HEADER", "MAX_PROOF_HASHES", "TlogProof", "format_tlog_proof", "parse_tlog_proof"]

HEADER = "c2sp.org/tlog-proof@v1"
#: An inclusion proof in a tree of fewer than 2**64 leaves has at most 64 hashes.
MAX_PROOF_HASHES = 64
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
# Signed-note signature line: em dash, space, key name (no spaces, no '+'), space, base64.
_SIGNATURE = re.compile(r"\u2014 ([^\s+]+) (\S+)\Z")


def _bad(reason: str) -> InputError:
    return InputError(f"malformed tlog-proof: {reason}")


def _short(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _split_note(note: str) -> str:
    """Check the signed note's shape and return its text (the checkpoint body)."""
    if not note.endswith("\n"):
        raise _bad("checkpoint note does not end with a newline")
    found = _CONTROL.search(note)
    if found:
        raise _bad(f"checkpoint note contains control character {found.group()!r}")
    # The text ends at the last empty line; signature lines follow it.
    cut = note.rfind("\n\n")
    if cut < 0:
        raise _bad("checkpoint note has no blank line before its signatures")
    for line in note[cut + 2 : -1].split("\n"):
        match = _SIGNATURE.match(line)
        signature = decode_base64(match.group(2)) if match else None
        if signature is None or len(signature) < 5:
            raise _bad(f"checkpoint note has a malformed signature line {_short(line)}")
    return note[: cut + 1]


@dataclass(frozen=True)
class TlogProof:
    """A parsed tlog-proof. Validated when built: a malformed one cannot exist."""

    index: int
    proof: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.index <= MAX_UINT64:
            raise _bad(f"index {self.index} is not between 0 and 2**64-1")
        if len(self.proof) > MAX_PROOF_HASHES:
            raise _bad(f"{len(self.proof)} proof hashes, at most {MAX_PROOF_HASHES}")
        for i, value in enumerate(self.proof):
            if len(value) != HASH_SIZE:
                raise _bad(f"proof hash [{i}] has {len(value)} bytes, want {HASH_SIZE}")
        try:
            self.checkpoint_note.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _bad("checkpoint note is not valid UTF-8") from exc
        self.checkpoint  # noqa: B018 -- parse it once to refuse a malformed body

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint body of the (unverified) note."""
        return Checkpoint.parse(_split_note(self.checkpoint_note))

    def to_text(self) -> str:
        """The tlog-proof text, as :func:`format_tlog_proof` writes it."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + encode_base64(self.extra))
        lines.append(f"index {self.index}")
        lines.extend(encode_base64(value) for value in self.proof)
        return "".join(line + "\n" for line in lines) + "\n" + self.checkpoint_note


def format_tlog_proof(
    *, index: int, proof: Sequence[bytes], checkpoint_note: str, extra: bytes | None = None
) -> str:
    """Write a tlog-proof; raises :class:`InputError` for anything it could not parse back."""
    return TlogProof(
        index=index, proof=tuple(proof), checkpoint_note=checkpoint_note, extra=extra
    ).to_text()


def parse_tlog_proof(text: str) -> TlogProof:
    """Parse a tlog-proof strictly; raise :class:`InputError` naming what is wrong."""
    head = HEADER + "\n"
    if not text.startswith(head):
        first = text.split("\n", 1)[0]
        raise _bad(f"first line is {_short(first)}, want {HEADER!r}")
    pos = len(head)

    def next_line(what: str) -> str:
        nonlocal pos
        end = text.find("\n", pos)
        if end < 0:
            raise _bad(f"text ends before the {what}")
        line, pos = text[pos:end], end + 1
        return line

    line = next_line("index line")
    extra = None
    if line.startswith("extra "):
        extra = decode_base64(line[len("extra ") :])
        if extra is None:
            raise _bad(f"extra data {_short(line[len('extra ') :])} is not canonical base64")
        line = next_line("index line")
    if not line.startswith("index "):
        raise _bad(f"line {_short(line)} where 'index <decimal>' was expected")
    index = parse_uint64(line[len("index ") :])
    if index is None:
        raise _bad(
            f"invalid index {_short(line[len('index ') :])} "
            "(want ASCII decimal without sign or leading zeros, below 2**64)"
        )
    proof: list[bytes] = []
    while (line := next_line("blank line before the checkpoint")) != "":
        value = decode_hash(line)
        if value is None:
            raise _bad(
                f"proof line {len(proof)} {_short(line)} is not canonical base64 of 32 bytes"
            )
        proof.append(value)
        if len(proof) > MAX_PROOF_HASHES:
            raise _bad(f"more than {MAX_PROOF_HASHES} proof hashes")
    return TlogProof(index=index, proof=tuple(proof), checkpoint_note=text[pos:], extra=extra)
