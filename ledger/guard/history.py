"""DIR/checkpoints: an append-only history of every checkpoint this ledger signed.

One JSON record per line, fsynced, under an exclusive flock:

    {"size": N, "root": HEX, "note": TEXT}                   a signed checkpoint
    {"recovered": {"index": I, "lost_size": K, "lost_root": HEX,
                   "from_size": M, "from_root": HEX}}         a recorded ``recover``

Records are written after the database commits, so a crash in between leaves the
history behind the database, never ahead of it: the guard then accepts the database's
own checkpoints that extend the history, and records them. A torn last line (a crash
during the write) is cut off before the next record is appended.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import InputError

HISTORY_NAME = "checkpoints"
_TAIL_BYTES = 65536  # a record is a few hundred bytes; the last one is in this tail


@dataclass(frozen=True)
class Signed:
    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Recovery:
    index: int  # the log.recovered entry
    lost_size: int
    lost_root: bytes
    from_size: int
    from_root: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "lost_size": self.lost_size,
            "lost_root": self.lost_root.hex(),
            "from_size": self.from_size,
            "from_root": self.from_root.hex(),
        }

    def describe(self) -> str:
        if self.from_size < self.lost_size:
            return (
                f"recovered at index {self.index}: entries {self.from_size}.."
                f"{self.lost_size - 1} of the checkpoint of size {self.lost_size} were lost"
            )
        return (
            f"recovered at index {self.index}: the log forked from the checkpoint of size "
            f"{self.lost_size} and continues from size {self.from_size}"
        )


Record = Signed | Recovery


class History:
    def __init__(self, directory: Path) -> None:
        self.path = directory / HISTORY_NAME
        self._lock = directory / f"{HISTORY_NAME}.lock"

    def exists(self) -> bool:
        return self.path.exists()

    def last_signed(self) -> Signed | None:
        """The newest signed record, read from the file's end (O(1) in its length)."""
        try:
            with open(self.path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                length = handle.tell()
                handle.seek(max(0, length - _TAIL_BYTES))
                tail = handle.read()
        except FileNotFoundError:
            return None
        lines = tail.split(b"\n")[:-1]  # the part after the last newline is torn or empty
        for line in reversed(lines[1:] if length > _TAIL_BYTES else lines):
            record = self._parse(line)
            if isinstance(record, Signed):
                return record
        if length > _TAIL_BYTES:  # only recoveries at the end: rare, read it all
            signed = [r for r in self.records() if isinstance(r, Signed)]
            return signed[-1] if signed else None
        return None

    def records(self) -> list[Record]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return [self._parse(line) for line in data.split(b"\n")[:-1]]

    def append(self, records: list[Record], *, newer_only: bool = True) -> list[Record]:
        """Append ``records``; returns those written. With ``newer_only`` (all but a
        recovery), a checkpoint no larger than the last one recorded is left out: another
        writer of this directory recorded a newer one first."""
        with self.locked():
            if newer_only:
                last = self.last_signed()
                records = [r for r in records if isinstance(r, Signed)
                           and (last is None or r.size > last.size)]
            if not records:
                return []
            text = "".join(json.dumps(_to_json(r), sort_keys=True) + "\n" for r in records)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                _cut_torn_line(fd)
                os.write(fd, text.encode())
                os.fsync(fd)
            finally:
                os.close(fd)
        return records

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Writers of one directory (several processes) take turns."""
        fd = os.open(self._lock, os.O_RDWR | os.O_CREAT, 0o600)  # private whatever the umask
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _parse(self, line: bytes) -> Record:
        try:
            value = json.loads(line)
            if "recovered" in value:
                r = value["recovered"]
                return Recovery(
                    int(r["index"]),
                    int(r["lost_size"]),
                    bytes.fromhex(r["lost_root"]),
                    int(r["from_size"]),
                    bytes.fromhex(r["from_root"]),
                )
            return Signed(int(value["size"]), bytes.fromhex(value["root"]), str(value["note"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{self.path}: malformed record ({exc})") from exc


def _to_json(record: Record) -> dict[str, Any]:
    if isinstance(record, Recovery):
        return {"recovered": record.to_json()}
    return {"size": record.size, "root": record.root.hex(), "note": record.note}


def _cut_torn_line(fd: int) -> None:
    """Drop a partial last line left by a crash, so the next record starts a line."""
    length = os.lseek(fd, 0, os.SEEK_END)
    if length == 0:
        return
    start = max(0, length - _TAIL_BYTES)
    tail = os.pread(fd, length - start, start)
    if tail.endswith(b"\n"):
        return
    cut = tail.rfind(b"\n")
    os.ftruncate(fd, start + cut + 1 if cut >= 0 else start)
