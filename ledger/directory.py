"""The ledger directory: config, key files, repository secret, last seen checkpoint.

DIR/config.json      {"format": "medledger-config/v1", "database_url": ...}
DIR/ledger.db        the SQLite database (default backend)
DIR/log.key          the log's checkpoint-signing key (0600)
DIR/keys/NAME.key    entry-signing keys held here (0600)
DIR/secret           the repository secret for pseudonyms (0600)
DIR/checkpoint       the newest checkpoint this directory has seen; an older
                     database behind it is a rollback and fails verification
DIR/checkpoints      every checkpoint this ledger signed, and every recovery (ledger.guard)
DIR/state.json       keys and policy as of the last of them (ledger.guard)
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError, VerificationError
from ledger.store import sqlite_url

CONFIG_FORMAT = "medledger-config/v1"


@dataclass(frozen=True)
class LedgerDir:
    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def log_key(self) -> Path:
        return self.path / "log.key"

    @property
    def secret_file(self) -> Path:
        return self.path / "secret"

    @property
    def checkpoint_file(self) -> Path:
        return self.path / "checkpoint"

    def key_file(self, name: str) -> Path:
        return self.path / "keys" / f"{name}.key"

    def default_database_url(self) -> str:
        return sqlite_url(self.path / "ledger.db")

    def create(self, *, database_url: str) -> None:
        if self.config_file.exists():
            raise InputError(f"{self.path} already holds a ledger")
        (self.path / "keys").mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(self.secret_file, secrets.token_hex(32).encode())
        config = {"format": CONFIG_FORMAT, "database_url": database_url}
        self.config_file.write_text(json.dumps(config, indent=2) + "\n")

    def remove_partial(self, *, whole: bool) -> None:
        """Undo a failed ``init``: the whole folder if init made it, else only its files."""
        if whole:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        names = (
            "config.json",
            "log.key",
            "secret",
            "checkpoint",
            "checkpoint.lock",
            "checkpoints",
            "checkpoints.lock",
            "state.json",
            "ledger.db",
            "ledger.db-wal",
            "ledger.db-shm",
            "keys/admin.key",
        )
        for name in names:
            (self.path / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            (self.path / "keys").rmdir()

    def retire_key_file(self, name: str, *, key_id: str) -> None:
        """Move a revoked key's private file aside (kept, never reused)."""
        path = self.key_file(name)
        if path.exists():
            os.replace(path, path.with_name(f"{name}.{key_id[:16]}.revoked"))

    def database_url(self) -> str:
        if not self.config_file.is_file():
            raise InputError(
                f"{self.path}: no ledger here (run 'medledger init' or pass --ledger DIR)"
            )
        try:
            config = json.loads(self.config_file.read_text())
            if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
                raise ValueError("unknown format")
            return str(config["database_url"])
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{self.config_file}: malformed config ({exc})") from exc

    def secret(self) -> bytes:
        try:
            return bytes.fromhex(self.secret_file.read_text().strip())
        except (OSError, ValueError) as exc:
            raise InputError(f"{self.secret_file}: unreadable repository secret") from exc

    def seen_checkpoint(self) -> str | None:
        try:
            return self.checkpoint_file.read_text()
        except FileNotFoundError:
            return None

    def remember_checkpoint(
        self, note: str, *, extends: Callable[[str, str], None] | None = None
    ) -> None:
        """Keep the newest checkpoint seen, only if it extends the one kept.

        Equal size and root: nothing to do; a smaller tree: the kept one is newer; equal
        size and another root: a fork, refused; a larger tree: ``extends(kept, note)``
        must prove it (raising VerificationError if not), else it is refused too.
        """
        with self._checkpoint_lock():  # many writers may share a directory
            current = self.seen_checkpoint()
            if current is not None:
                size, new_size = _tree_size(current), _tree_size(note)
                if new_size == size:
                    if _root_line(current) != _root_line(note):
                        raise VerificationError(
                            f"{self.checkpoint_file}: a checkpoint of size {size} with another "
                            f"root ({_root_line(note)}, kept {_root_line(current)}) is a fork; "
                            "refused"
                        )
                    return
                if new_size < size:
                    return
                if extends is None:
                    raise VerificationError(
                        f"{self.checkpoint_file}: nothing proves that the checkpoint of size "
                        f"{new_size} extends the kept one of size {size}; refused"
                    )
                extends(current, note)
            self._write_checkpoint(note)

    def replace_checkpoint(self, note: str) -> None:
        """Only for a recorded recovery: the kept checkpoint was lost with the database."""
        with self._checkpoint_lock():
            self._write_checkpoint(note)

    @contextlib.contextmanager
    def _checkpoint_lock(self) -> Iterator[None]:
        with open(self.path / "checkpoint.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _write_checkpoint(self, note: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".checkpoint.")
        with os.fdopen(fd, "w") as handle:
            handle.write(note)
        os.replace(tmp, self.checkpoint_file)


def _tree_size(note: str) -> int:
    """The size line of a checkpoint note; its signature is checked by whoever reads it."""
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else -1


def _root_line(note: str) -> str:
    lines = note.split("\n")
    return lines[2] if len(lines) > 2 else ""


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
