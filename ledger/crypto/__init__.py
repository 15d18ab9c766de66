"""Ed25519 keys and key files, entry signatures, and C2SP signed notes.

Imports only the standard library, ``cryptography`` and ``ledger.errors``.
"""

from ledger.crypto.keys import (
    PublicKey,
    SigningKey,
    key_id_of,
    read_private_key,
    read_public_key,
    verify_many,
    write_private_key,
    write_public_key,
)
from ledger.crypto.note import (
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    OpenedNote,
    add_signatures,
    open_note,
    sign_note,
)
from ledger.crypto.signing import (
    ENTRY_DOMAIN,
    ENTRY_DOMAINS,
    decode_sig,
    encode_sig,
    entry_message,
    sign_entry,
    verify_entries,
    verify_entry,
)

__all__ = [
    "ENTRY_DOMAIN",
    "ENTRY_DOMAINS",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "OpenedNote",
    "PublicKey",
    "SigningKey",
    "add_signatures",
    "decode_sig",
    "encode_sig",
    "entry_message",
    "key_id_of",
    "open_note",
    "read_private_key",
    "read_public_key",
    "sign_entry",
    "sign_note",
    "verify_entries",
    "verify_entry",
    "verify_many",
    "write_private_key",
    "write_public_key",
]
