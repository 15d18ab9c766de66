"""C2SP signed notes (c2sp.org/signed-note), byte-for-byte as golang.org/x/mod/sumdb/note.

A signed note is a text ending in a newline, a blank line, and one or more
signature lines::

    <text, ending in \\n>
    \\n
    — <key name> <base64(4-byte big-endian key hash || Ed25519 signature of text)>\\n

The key hash is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public
key); a verifier key (vkey) is ``<name>+<8 hex key hash>+<base64(0x01 || key)>``.
The whole note must be UTF-8 without control characters other than newline.

Parsing follows Go's ``note.Open`` step by step: the text ends at the *last*
blank line; at most 100 signatures; a signature whose (name, key hash) is
unknown is ignored (and listed as unverified); a known key's signature must
verify; repeated signatures of one known key are checked once; at least one
known key must have signed. Only Ed25519 (algorithm byte 0x01) is supported.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ledger.crypto._b64 import b64decode, b64encode
from ledger.crypto.keys import ED25519_ALGORITHM, PUBLIC_KEY_SIZE, PublicKey, SigningKey
from ledger.errors import InputError, VerificationError

SIG_PREFIX = "\u2014 "  # em dash, space
MAX_SIGNATURES = 100  # Go's limit in note.Open

# Exactly Go's unicode.IsSpace (Unicode White_Space), which is not str.isspace:
# Python also counts U+001C..U+001F as spaces.
_SPACES = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")
_HEX8 = re.compile(r"[0-9a-fA-F]{8}")


# --- names and key hashes ----------------------------------------------------


def _name_problem(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return "is empty"
    if "+" in name:
        return "contains '+'"
    if any(ch in _SPACES for ch in name):
        return "contains a space"
    # Go allows control characters in a vkey name, but no note can carry one.
    if any(ord(ch) < 0x20 for ch in name):
        return "contains a control character"
    if not _is_utf8(name):
        return "is not valid UTF-8"
    return None


def _check_name(name: str, what: str) -> None:
    problem = _name_problem(name)
    if problem is not None:
        raise InputError(f"{what} {_show(name)} {problem}")


def _show(value: str) -> str:
    """A short, printable rendering of untrusted text for an error message."""
    text = value if len(value) <= 60 else value[:57] + "..."
    return repr(text)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def note_key_hash(name: str, public_key: PublicKey) -> int:
    """First 4 bytes (big-endian) of SHA-256(name || 0x0A || 0x01 || key)."""
    data = name.encode("utf-8") + b"\n" + bytes([ED25519_ALGORITHM]) + public_key.raw
    return int.from_bytes(hashlib.sha256(data).digest()[:4], "big")


# --- verifiers and signers ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A named Ed25519 public key that can check note signatures."""

    name: str
    public_key: PublicKey
    key_hash: int = field(init=False)

    def __post_init__(self) -> None:
        _check_name(self.name, "key name")
        object.__setattr__(self, "key_hash", note_key_hash(self.name, self.public_key))

    @classmethod
    def from_vkey(cls, vkey: str) -> NoteVerifier:
        """Parse ``<name>+<hash>+<base64(0x01 || key)>``; the base64 may hold '+'."""
        name, _, rest = vkey.partition("+")
        hash_hex, _, key_b64 = rest.partition("+")
        what = f"verifier key {_show(name)}"
        problem = _name_problem(name)
        if problem is not None:
            raise InputError(f"{what}: key name {problem}")
        if _HEX8.fullmatch(hash_hex) is None:
            raise InputError(f"{what}: key hash must be 8 hex digits")
        blob = b64decode(key_b64)
        if not blob:
            raise InputError(f"{what}: key is not padded standard base64")
        if blob[0] != ED25519_ALGORITHM:
            raise InputError(f"{what}: unknown signature algorithm {blob[0]:#04x}")
        if len(blob) != 1 + PUBLIC_KEY_SIZE:
            raise InputError(f"{what}: Ed25519 key must be 32 bytes, got {len(blob) - 1}")
        try:
            public_key = PublicKey(blob[1:])  # refuses weak and non-canonical keys
        except InputError as exc:
            raise InputError(f"{what}: {exc.message}") from None
        verifier = cls(name, public_key)
        if verifier.key_hash != int(hash_hex, 16):
            raise InputError(
                f"{what}: key hash {hash_hex} does not match the key "
                f"(expected {verifier.key_hash:08x})"
            )
        return verifier

    @property
    def vkey(self) -> str:
        blob = bytes([ED25519_ALGORITHM]) + self.public_key.raw
        return f"{self.name}+{self.key_hash:08x}+{b64encode(blob)}"

    @property
    def label(self) -> str:
        """``name+hash``, how Go names a key in its errors."""
        return f"{self.name}+{self.key_hash:08x}"


@dataclass(frozen=True, slots=True)
class NoteSigner:
    """A name and a signing key; signs notes as ``— <name> ...``."""

    name: str
    key: SigningKey = field(repr=False)
    verifier: NoteVerifier = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verifier", NoteVerifier(self.name, self.key.public_key))

    @classmethod
    def from_signer_key(cls, skey: str) -> NoteSigner:
        """Parse Go's ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>``.

        Errors never quote the key material.
        """
        parts = skey.split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise InputError("not a note signer key (PRIVATE+KEY+<name>+<hash>+<key>)")
        _, _, name, hash_hex, key_b64 = parts
        what = f"signer key {_show(name)}"
        problem = _name_problem(name)
        if problem is not None:
            raise InputError(f"{what}: key name {problem}")
        blob = b64decode(key_b64)
        if _HEX8.fullmatch(hash_hex) is None or not blob:
            raise InputError(f"{what}: malformed")
        if blob[0] != ED25519_ALGORITHM:
            raise InputError(f"{what}: unknown signature algorithm {blob[0]:#04x}")
        if len(blob) != 1 + PUBLIC_KEY_SIZE:
            raise InputError(f"{what}: Ed25519 seed must be 32 bytes")
        signer = cls(name, SigningKey.from_private_bytes_raw(blob[1:]))
        if signer.key_hash != int(hash_hex, 16):
            raise InputError(f"{what}: key hash {hash_hex} does not match the key")
        return signer

    @property
    def key_hash(self) -> int:
        return self.verifier.key_hash

    @property
    def verifier_key(self) -> str:
        return self.verifier.vkey

    def signature(self, text: bytes) -> NoteSignature:
        blob = self.key_hash.to_bytes(4, "big") + self.key.sign(text)
        return NoteSignature(self.name, self.key_hash, b64encode(blob))


# --- notes -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, key hash and base64(hash || signature)."""

    name: str
    key_hash: int
    b64: str

    def __post_init__(self) -> None:
        _check_name(self.name, "signature key name")
        blob = b64decode(self.b64)
        if blob is None or len(blob) < 5 or int.from_bytes(blob[:4], "big") != self.key_hash:
            raise InputError(
                f"signature by {self.name}: base64 must hold key hash "
                f"{self.key_hash & 0xFFFFFFFF:08x} followed by a signature"
            )

    @property
    def line(self) -> str:
        return f"{SIG_PREFIX}{self.name} {self.b64}\n"


@dataclass(frozen=True, slots=True)
class OpenedNote:
    """A note whose text at least one known key has signed."""

    text: str
    verified_signatures: tuple[NoteSignature, ...]
    unverified_signatures: tuple[NoteSignature, ...]

    @property
    def verified(self) -> list[tuple[str, int]]:
        """(key name, key hash) of each known key whose signature verified."""
        return [(s.name, s.key_hash) for s in self.verified_signatures]

    @property
    def unverified_count(self) -> int:
        """Signatures by unknown keys (ignored; identical lines counted once)."""
        return len(self.unverified_signatures)


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` (which must end in a newline) with every signer, in order."""
    message = _check_text(text)
    if not signers:
        raise InputError("a note needs at least one signer")
    if len(signers) > MAX_SIGNATURES:
        raise InputError(f"a note carries at most {MAX_SIGNATURES} signatures")
    return text + "\n" + "".join(s.signature(message).line for s in signers)


def add_signatures(opened: OpenedNote, signers: Sequence[NoteSigner]) -> str:
    """Re-sign an opened note, keeping its other signatures (as Go's ``note.Sign``).

    Existing signatures come first (verified, then unverified), except those
    by a key that signs anew; the new signatures follow. Witnesses use this to
    cosign a checkpoint.
    """
    message = _check_text(opened.text)
    renewed = {(s.name, s.key_hash) for s in signers}
    kept = [
        s
        for s in (*opened.verified_signatures, *opened.unverified_signatures)
        if (s.name, s.key_hash) not in renewed
    ]
    if not kept and not signers:
        raise InputError("a note needs at least one signer")
    if len(kept) + len(signers) > MAX_SIGNATURES:
        raise InputError(f"a note carries at most {MAX_SIGNATURES} signatures")
    lines = [s.line for s in kept] + [s.signature(message).line for s in signers]
    return opened.text + "\n" + "".join(lines)


def _check_text(text: str) -> bytes:
    """Refuse a text that would make a note Go (and ``open_note``) rejects."""
    if not text.endswith("\n"):
        raise InputError("note text must end with a newline")
    if not _is_utf8(text):
        raise InputError("note text is not valid UTF-8")
    bad = _CONTROL.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise InputError(
            f"note text line {line} contains control character U+{ord(bad.group()):04X}"
        )
    return text.encode("utf-8")


def open_note(
    note: str | bytes, verifiers: Iterable[NoteVerifier], *, source: str | None = None
) -> OpenedNote:
    """Parse ``note`` and verify it against the known ``verifiers``.

    Raises InputError for a malformed note (saying what is wrong) or an
    ambiguous verifier list, and VerificationError when a known key's
    signature is invalid or no known key signed. ``source`` (a file name or
    URL) prefixes every error message.
    """
    where = f"{source}: " if source else ""
    msg = _decode_note(note, where)
    split = msg.rfind("\n\n")
    if split < 0:
        raise InputError(f"{where}malformed note: no blank line before the signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block:
        raise InputError(f"{where}malformed note: no signature lines")
    if not block.endswith("\n"):
        raise InputError(f"{where}malformed note: last signature line lacks its newline")
    message = text.encode("utf-8")
    known = _index(verifiers)

    verified: list[NoteSignature] = []
    unverified: list[NoteSignature] = []
    checked: set[tuple[str, int]] = set()
    for number, line in enumerate(block[:-1].split("\n"), start=1):
        signature, sig = _parse_line(line, number, where)
        if number > MAX_SIGNATURES:
            raise InputError(f"{where}malformed note: more than {MAX_SIGNATURES} signatures")
        ident = (signature.name, signature.key_hash)
        candidates = known.get(ident)
        if candidates is None:
            if signature not in unverified:
                unverified.append(signature)
            continue
        label = f"{signature.name}+{signature.key_hash:08x}"
        if len(candidates) > 1:
            raise InputError(f"{where}ambiguous key {label}: two verifiers share name and hash")
        if ident in checked:
            continue  # Go checks one signature per known key and skips repeats
        checked.add(ident)
        try:
            candidates[0].public_key.verify(message, sig)
        except VerificationError:
            raise VerificationError(f"{where}invalid signature for key {label}") from None
        verified.append(signature)

    if not verified:
        names = ", ".join(f"{s.name}+{s.key_hash:08x}" for s in unverified[:3])
        more = ", ..." if len(unverified) > 3 else ""
        raise VerificationError(
            f"{where}note has no verifiable signatures (signed only by unknown keys: {names}{more})"
        )
    return OpenedNote(text, tuple(verified), tuple(unverified))


def _decode_note(note: str | bytes, where: str) -> str:
    if isinstance(note, bytes | bytearray | memoryview):
        data = bytes(note)
        try:
            msg = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{where}malformed note: invalid UTF-8 at byte {exc.start}") from None
    else:
        msg = note
        if not _is_utf8(msg):
            raise InputError(f"{where}malformed note: not valid UTF-8 (lone surrogate)")
    bad = _CONTROL.search(msg)
    if bad is not None:
        line = msg.count("\n", 0, bad.start()) + 1
        raise InputError(
            f"{where}malformed note: control character U+{ord(bad.group()):04X} on line {line}"
        )
    return msg


def _parse_line(line: str, number: int, where: str) -> tuple[NoteSignature, bytes]:
    what = f"{where}malformed note: signature line {number}"
    if not line.startswith(SIG_PREFIX):
        raise InputError(f"{what} does not start with an em dash and a space")
    name, _, b64 = line[len(SIG_PREFIX) :].partition(" ")
    problem = _name_problem(name)
    if problem is not None:
        raise InputError(f"{what}: key name {problem}")
    blob = b64decode(b64) if b64 else None
    if blob is None:
        raise InputError(f"{what}: signature is not padded standard base64")
    if len(blob) < 5:
        raise InputError(f"{what}: signature is too short")
    return NoteSignature(name, int.from_bytes(blob[:4], "big"), b64), blob[4:]


def _index(verifiers: Iterable[NoteVerifier]) -> dict[tuple[str, int], list[NoteVerifier]]:
    known: dict[tuple[str, int], list[NoteVerifier]] = {}
    for verifier in verifiers:
        same = known.setdefault((verifier.name, verifier.key_hash), [])
        if verifier not in same:  # the same key listed twice is not ambiguous
            same.append(verifier)
    return known
