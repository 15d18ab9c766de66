"""Hash a copy's files in the background while its lock is checked (``dataset verify``).

The files are only read, so hashing starts at once, on every core; the digests are handed
out only by ``result``, which the caller reads after the lock's proofs have passed, so no
file is judged against an unchecked lock. Leaving the ``with`` block early (the lock is
tampered) stops the hashing promptly: pending chunks are cancelled, and running ones stop at
their next file or block. Errors (not a folder, an unreadable file) are raised by ``result``
only, the first in path order, as a sequential walk would.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

from ledger.datasets.filehash import HashingStoppedError, digest_file, walk
from ledger.errors import InputError

CHUNK = 256  # files per task: few tasks, and a stop is seen within one chunk's next file
THREAD_PREFIX = "medledger-hash"

Digests = dict[str, tuple[int, str]]  # relative path -> (size, hex SHA-256)
_Chunk = tuple[Digests, tuple[str, InputError] | None]  # and the chunk's first unreadable file


class HashAhead:
    """``with HashAhead(folder, skip=..., workers=n) as hashing: ...; hashing.result()``."""

    def __init__(self, folder: Path, *, skip: frozenset[Path] = frozenset(), workers: int = 0):
        self._folder, self._skip = folder, skip
        self._stop = threading.Event()
        count = workers or os.cpu_count() or 1
        self._pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix=THREAD_PREFIX)
        self._chunks: Future[list[Future[_Chunk]]] = self._pool.submit(self._walk)

    def __enter__(self) -> HashAhead:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    def stop(self) -> None:
        """Cancel what has not started, stop what runs, and wait for the threads to end."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def result(self) -> Digests:
        """Every file's (size, SHA-256); InputError for a folder that cannot be walked or the
        first file (in path order) that cannot be read."""
        out: Digests = {}
        errors: list[tuple[str, InputError]] = []
        for chunk in self._chunks.result():
            digests, error = chunk.result()
            out.update(digests)
            if error is not None:
                errors.append(error)
        if errors:
            raise min(errors, key=lambda e: e[0])[1]
        return out

    def _walk(self) -> list[Future[_Chunk]]:
        paths = walk(self._folder, skip=self._skip)
        base = os.fspath(self._folder) + os.sep
        futures = []
        for start in range(0, len(paths), CHUNK):
            if self._stop.is_set():
                break
            futures.append(self._pool.submit(self._hash, base, paths[start : start + CHUNK]))
        return futures

    def _hash(self, base: str, paths: list[str]) -> _Chunk:
        buffer = bytearray(1 << 20)
        out: Digests = {}
        stop = self._stop
        for rel in paths:
            if stop.is_set():
                break
            try:
                out[rel] = digest_file(base + rel, buffer, stop=stop)
            except InputError as exc:
                return out, (rel, exc)
            except HashingStoppedError:
                break
        return out, None
