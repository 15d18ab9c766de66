"""The ledger directory: config, key files, repository secret, last seen checkpoint.

DIR/config.json      {"format": "medledger-config/v1", "database": "ledger.db"} (the
                     directory's own SQLite file, named relative to DIR so that a copied
                     directory is its own ledger) or {..., "database_url": URL} for any
                     other database; a PostgreSQL password is never stored here
DIR/ledger.db        the SQLite database (default backend)
DIR/log.key          the log's checkpoint-signing key (0600)
DIR/keys/NAME.key    entry-signing keys held here (0600)
DIR/secret           the repository secret for pseudonyms (0600)
DIR/checkpoint       the newest checkpoint this directory has seen; an older
                     database behind it is a rollback and fails verification
DIR/checkpoints      every checkpoint this ledger signed, and every recovery (ledger.guard)
DIR/state.json       keys and policy as of the last of them (ledger.guard)

The directory is 0700 and every file medledger writes in it 0600, whatever the umask.
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

from ledger.crypto._files import read_key_file
from ledger.errors import InputError, VerificationError, show_path
from ledger.store import sqlite_url
from ledger.store.url import PASSWORD_ENV, is_sqlite, sqlite_path, with_password, without_password

CONFIG_FORMAT = "medledger-config/v1"
DATABASE_FILE = "ledger.db"


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
        return sqlite_url(self.path / DATABASE_FILE)

    def create(self, *, database_url: str) -> None:
        """Make the directory (0700), its secret and config (0600), and an empty private
        database file when the database is the directory's own, so SQLite's WAL and SHM
        files, which copy its mode, are private too."""
        if self.config_file.exists():
            raise InputError(f"{show_path(self.path)} already holds a ledger")
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.path, 0o700)  # mkdir's mode passes through the umask; exist_ok skips it
        (self.path / "keys").mkdir(exist_ok=True, mode=0o700)
        os.chmod(self.path / "keys", 0o700)
        _write_private(self.secret_file, secrets.token_hex(32).encode())
        config: dict[str, str] = {"format": CONFIG_FORMAT}
        if database_url == self.default_database_url():
            config["database"] = DATABASE_FILE
            _touch_private(self.path / DATABASE_FILE)
        else:
            config["database_url"] = without_password(database_url)[0]
        _write_private(self.config_file, (json.dumps(config, indent=2) + "\n").encode())

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
        """The database this directory names: its own file, or the URL as given (with the
        password from MEDLEDGER_DATABASE_PASSWORD when the URL has none)."""
        if not self.config_file.is_file():
            raise InputError(
                f"{show_path(self.path)}: no ledger here "
                "(run 'medledger init' or pass --ledger DIR)"
            )
        where = show_path(self.config_file)
        try:
            config = json.loads(self.config_file.read_text())
            if not isinstance(config, dict) or config.get("format") != CONFIG_FORMAT:
                raise ValueError("unknown format")
            if "database" in config:
                return sqlite_url(self.path / _relative_name(config["database"]))
            url = config["database_url"]
            if not isinstance(url, str):
                raise TypeError("database_url is not a string")
        except (ValueError, KeyError, TypeError, OSError) as exc:
            raise InputError(f"{where}: malformed config ({exc})") from exc
        if is_sqlite(url):
            self._check_not_a_copy(url)
            return url
        return with_password(url, os.environ.get(PASSWORD_ENV))

    def _check_not_a_copy(self, url: str) -> None:
        """An old config names its SQLite file by absolute path. In a copied directory
        that path is the original's database: refuse rather than read it."""
        named, own = sqlite_path(url), self.path / DATABASE_FILE
        if named is None or not own.exists():
            return
        with contextlib.suppress(OSError):
            if named.exists() and os.path.samefile(named, own):
                return
        raise InputError(
            f"{show_path(self.config_file)}: names the database {show_path(named)}, "
            f"not this directory's own {DATABASE_FILE} (a copied ledger?); set "
            f'"database": "{DATABASE_FILE}" in place of "database_url" to use the copy'
        )

    def secret(self) -> bytes:
        """The repository secret; refused like a private key file if others can read it."""
        data = read_key_file(self.secret_file, private=True)
        try:
            return bytes.fromhex(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                f"{show_path(self.secret_file)}: unreadable repository secret"
            ) from exc

    def seen_checkpoint(self) -> str | None:
        try:
            return self.checkpoint_file.read_text()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{show_path(self.checkpoint_file)}: unreadable ({exc})") from None

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
        lock_path = self.path / "checkpoint.lock"
        try:
            lock = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise InputError(f"{show_path(lock_path)}: cannot open: {exc.strerror}") from None
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # many writers may share a directory
            yield
        finally:
            os.close(lock)

    def _write_checkpoint(self, note: str) -> None:
        try:
            fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".checkpoint.")  # 0600
            with os.fdopen(fd, "w") as handle:
                handle.write(note)
            os.replace(tmp, self.checkpoint_file)
        except OSError as exc:
            raise InputError(
                f"{show_path(self.checkpoint_file)}: cannot write: {exc.strerror}"
            ) from None


def _tree_size(note: str) -> int:
    """The size line of a checkpoint note; its signature is checked by whoever reads it."""
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else -1


def _relative_name(value: object) -> Path:
    """The config's own database file: a plain name inside the directory."""
    if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
        raise ValueError("database must be a file name inside the ledger directory")
    return Path(value)


def _root_line(note: str) -> str:
    lines = note.split("\n")
    return lines[2] if len(lines) > 2 else ""


def _write_private(path: Path, data: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise InputError(f"{show_path(path)}: cannot create: {exc.strerror}") from None
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _touch_private(path: Path) -> None:
    """An empty 0600 file (SQLite takes an empty file as a new database)."""
    if path.exists():  # a stray file: Store.create refuses it if it holds a ledger
        os.chmod(path, 0o600)
        return
    _write_private(path, b"")
