"""Verifier keys given on the command line: inline ``name+hash+key`` or a file holding one.

A file is read with a size bound and never quoted back: ``--pubkey /etc/shadow``
must not print the start of the file in its error line.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from ledger.crypto.note import NoteVerifier
from ledger.errors import InputError, show_path

MAX_VKEY_FILE_BYTES = 4096


def read_verifier(value: str) -> NoteVerifier:
    """One verifier key: ``value`` itself, or the content of the file it names."""
    path = Path(value)
    if len(value) < MAX_VKEY_FILE_BYTES and _exists(path):
        return _read_vkey_file(path)
    try:
        return NoteVerifier.from_vkey(value)
    except InputError as exc:
        if "+" not in value:  # every key has '+'; this was meant as a file that is not there
            raise InputError(f"{show_path(value)}: no such verifier key file") from exc
        raise


def read_verifiers(values: Iterable[str]) -> list[NoteVerifier]:
    verifiers = [read_verifier(v) for v in values]
    if not verifiers:
        raise InputError("no verifier key given (--pubkey name+hash+key or a file holding one)")
    return verifiers


def _exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # a name too long or holding NUL is no file
        return False


def _read_vkey_file(path: Path) -> NoteVerifier:
    where = show_path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(f"{where}: not a regular file")
        data = os.read(fd, MAX_VKEY_FILE_BYTES + 1)
    finally:
        os.close(fd)
    # The content is never echoed: it may be any readable file, not a key.
    if len(data) > MAX_VKEY_FILE_BYTES:
        raise InputError(f"{where}: too large for a verifier key file")
    try:
        text = data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InputError(f"{where}: not a verifier key file (not UTF-8 text)") from None
    try:
        return NoteVerifier.from_vkey(text)
    except InputError:
        raise InputError(
            f"{where}: not a verifier key file (want one line name+hash+key)"
        ) from None
