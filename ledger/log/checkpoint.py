"""The C2SP tlog-checkpoint note text (https://c2sp.org/tlog-checkpoint).

Only the body: origin, tree size, base64 root hash and optional extension
lines, each ending in a newline. Signing and the signature lines belong to
``ledger/crypto/note.py``. Parsing is strict, so that one checkpoint has one
text and a signature over it means one thing:

* at least three lines, each ending in U+000A, none empty;
* no ASCII control characters other than the newline (signed-note rule);
* the tree size is ASCII decimal without sign or leading zeros, below 2**64;
* the root hash is canonical standard base64 of exactly 32 bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ledger.errors import InputError
from ledger.log.encoding import MAX_UINT64, decode_hash, encode_base64, parse_uint64
from ledger.log.hashing import HASH_SIZE

__all__ = ["Checkpoint"]

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _bad(reason: str) -> InputError:
    return InputError(f"malformed checkpoint: {reason}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's tree head: origin line, tree size and RFC 9162 root hash."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Validate when built, so that an unencodable checkpoint cannot exist.
        _check_line("origin", self.origin)
        if not 0 <= self.size <= MAX_UINT64:
            raise _bad(f"invalid tree size {self.size} (must be between 0 and 2**64-1)")
        if len(self.root) != HASH_SIZE:
            raise _bad(f"invalid root hash: {len(self.root)} bytes, want {HASH_SIZE}")
        for line in self.extensions:
            _check_line("extension line", line)

    def to_text(self) -> str:
        """The note text: one line each for origin, size, root and every extension."""
        lines = [self.origin, str(self.size), encode_base64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text (without signatures); raise InputError naming the fault."""
        if not text.endswith("\n"):
            raise _bad("text does not end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise _bad(f"{len(lines)} line(s), want at least origin, tree size and root hash")
        origin, size_text, root_text, *extensions = lines
        if not origin:
            raise _bad("empty origin line")
        size = parse_uint64(size_text)
        if size is None:
            raise _bad(
                f"invalid tree size {_short(size_text)} "
                "(want ASCII decimal without sign or leading zeros, below 2**64)"
            )
        root = decode_hash(root_text)
        if root is None:
            raise _bad(f"invalid root hash {_short(root_text)} (want canonical base64 of 32 bytes)")
        for number, line in enumerate(extensions, start=4):
            if not line:
                raise _bad(f"empty line {number} (extension lines must be non-empty)")
        return cls(origin=origin, size=size, root=root, extensions=tuple(extensions))


def _check_line(what: str, line: str) -> None:
    if not line:
        raise _bad(f"empty {what}")
    if "\n" in line:
        raise _bad(f"{what} {_short(line)} contains a newline")
    found = _CONTROL.search(line)
    if found:
        raise _bad(f"{what} {_short(line)} contains control character {found.group()!r}")
