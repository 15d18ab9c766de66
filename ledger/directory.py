"""The ledger directory: config, key files, repository secret, last seen checkpoint.

DIR/config.json      {"format": "medledger-config/v1", "database_url": ...}
DIR/ledger.db        the SQLite database (default backend)
DIR/log.key          the log's checkpoint-signing key (0600)
DIR/keys/NAME.key    entry-signing keys held here (0600)
DIR/secret           the repository secret for pseudonyms (0600)
DIR/checkpoint       the newest checkpoint this directory has seen; an older
                     database behind it is a rollback and fails verification
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError
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

    def remember_checkpoint(self, note: str) -> None:
        """Keep the newest checkpoint seen; never replace it with a smaller tree."""
        with open(self.path / "checkpoint.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # many writers may share a directory
            current = self.seen_checkpoint()
            if current is not None and _tree_size(current) > _tree_size(note):
                return
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".checkpoint.")
            with os.fdopen(fd, "w") as handle:
                handle.write(note)
            os.replace(tmp, self.checkpoint_file)


def _tree_size(note: str) -> int:
    """The size line of a checkpoint note; its signature is checked by whoever reads it."""
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else -1


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
