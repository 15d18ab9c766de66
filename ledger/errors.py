"""One exception hierarchy for every layer; the CLI maps it to exit codes.

    LedgerError
    ├─ InputError          bad file, bad argument, malformed JSON/DICOM  -> exit 2
    ├─ PolicyError         PHI present, polyglot, duplicate refused, revoked key -> exit 2
    ├─ VerificationError   tamper, mismatch, bad signature, bad proof      -> exit 1
    └─ StorageError        database problems, append conflicts           -> exit 2

Every error carries a one-line ``diagnostics()`` text that names the thing at
fault (a file, an index, a key name) and the reason, and never a PHI value.
"""

from __future__ import annotations

import os
import re

# C0 and C1 controls, DEL, and the Unicode line/paragraph separators and bidi
# overrides: anything that could start a forged line or reorder what is shown.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every control character escaped (``\\n``, ``\\x1b``), so one line stays one."""
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if ch in named:
        return named[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def show_path(path: str | os.PathLike[str]) -> str:
    """A file name for a message: control characters escaped (names may hold newlines)."""
    return printable(os.fsdecode(path))


class LedgerError(Exception):
    """Base of every error medledger raises on purpose."""

    exit_code = 2

    def __init__(self, message: str, *, subject: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.subject = subject

    def diagnostics(self) -> str:
        """One line for a person: ``subject: reason`` or just the reason.

        Every control character (a newline in a file name, say) is shown escaped,
        so a crafted name cannot forge a second line."""
        text = printable(self.message.strip())
        return f"{printable(self.subject)}: {text}" if self.subject else text


class InputError(LedgerError):
    """Bad usage or bad input: a file, an argument, malformed data."""


class PolicyError(LedgerError):
    """Input is well-formed but the ledger's policy refuses it."""


class VerificationError(LedgerError):
    """Evidence does not check out: tamper, mismatch, bad signature or proof."""

    exit_code = 1

    def __init__(
        self, message: str, *, subject: str | None = None, index: int | None = None
    ) -> None:
        super().__init__(message, subject=subject)
        self.index = index

    def diagnostics(self) -> str:
        line = super().diagnostics()
        return line if self.index is None or self.subject else f"entry {self.index}: {line}"


class StorageError(LedgerError):
    """The database refused or failed an operation."""
