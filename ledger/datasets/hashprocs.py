"""Hash a large copy's files in worker processes while its lock is checked (``dataset verify``).

Threads hash in parallel only while hashlib holds no GIL; for many small files the
per-file Python work (open, read, hexdigest) serialises them, and the lock's check in the
main thread competes for the same GIL. Here each of ``workers`` processes
(``python -m ledger.datasets.hashprocs``) walks the folder the same way, hashes every
``workers``-th file and writes its results once, at the end; the main process checks the
lock meanwhile. Same interface and guarantees as ``ledger.datasets.hashahead.HashAhead``:
digests only through ``result``, the first error in path order, and ``stop`` (on leaving the
``with`` block) ends the workers at once (they hold nothing but their own reads).

The worker writes NUL-separated pairs: ``N`` and ``<count> <sha256 of its file list>``
first (workers whose walks differ, the folder having changed meanwhile, send the copy back
to one walk on threads), ``F<path>`` and ``<size> <sha256>`` per file, ``R<path>`` and the
message for the first file it cannot read (then stops), ``W`` and the message when the
folder cannot be walked.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import ledger
from ledger.datasets.filehash import digest_file, walk
from ledger.datasets.hashahead import Digests, HashAhead
from ledger.errors import InputError

_TEXT = ("utf-8", "surrogateescape")  # file names as os.fsencode / os.fsdecode have them


class HashProcesses:
    """``with HashProcesses(folder, skip=..., workers=n) as hashing: ...; hashing.result()``."""

    def __init__(self, folder: Path, *, skip: frozenset[Path] = frozenset(), workers: int = 0):
        self._folder, self._skip = folder, skip
        self._count = workers or os.cpu_count() or 1
        package_root = str(Path(ledger.__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        # -P: the working directory (perhaps the copy being checked) is not put on sys.path
        command: list[bytes] = [os.fsencode(sys.executable), b"-P", b"-m", __name__.encode(),
                                os.fsencode(folder), b"%d" % self._count]
        skipped = [os.fsencode(p) for p in skip]
        self._procs: list[subprocess.Popen[bytes]] = []
        self._started = True
        try:  # our own interpreter and module; the folder is an argument, never a shell word
            for k in range(self._count):
                argv = [*command, b"%d" % k, *skipped]
                self._procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL,  # noqa: S603
                                                    stdout=subprocess.PIPE,
                                                    stderr=subprocess.DEVNULL,
                                                    env=os.environ | {"PYTHONPATH": path}))
        except OSError:  # no interpreter to start: hash here (``result``)
            self._started = False

    def __enter__(self) -> HashProcesses:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    def stop(self) -> None:
        """End every worker (at once if still hashing) and wait for it."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
        for proc in self._procs:
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()

    def result(self) -> Digests:
        """Every file's (size, SHA-256), in path order; InputError for a folder that cannot
        be walked or the first file (in path order) that cannot be read."""
        try:
            if not self._started:
                raise _WorkerFailedError
            answers = [self._answer(proc) for proc in self._procs]
        except _WorkerFailedError:  # hash here instead
            with HashAhead(self._folder, skip=self._skip, workers=self._count) as hashing:
                return hashing.result()
        errors = [error for _, _, error in answers if error is not None]
        if errors:
            raise InputError(min(errors)[1])
        walks = {walked for walked, _, _ in answers}
        parts = [files for _, files, _ in answers]
        total = sum(map(len, parts))
        if len(walks) != 1 or [len(p) for p in parts] != [
            len(range(k, total, self._count)) for k in range(self._count)
        ]:  # the folder changed between the workers' walks: one walk, here
            with HashAhead(self._folder, skip=self._skip, workers=self._count) as hashing:
                return hashing.result()
        out: Digests = {}
        iters = [iter(p) for p in parts]
        for n in range(total):  # worker k hashed files k, k + count, ...
            path, digest = next(iters[n % self._count])
            out[path] = digest
        return out

    def _answer(self, proc: subprocess.Popen[bytes]) -> _Answer:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise _WorkerFailedError
        try:
            return _parse(out)
        except (ValueError, UnicodeDecodeError) as exc:  # never written by our worker
            raise _WorkerFailedError from exc


class _WorkerFailedError(Exception):
    """A worker died or wrote something it never writes."""


# (the worker's walk: a digest of its file list; its files; its error)
_Answer = tuple[bytes, list[tuple[str, tuple[int, str]]], tuple[str, str] | None]


def _parse(out: bytes) -> _Answer:
    """A worker's walk, its files in order, and its error as (path, message) ("" for a walk
    error)."""
    fields = out.split(b"\0")
    files: list[tuple[str, tuple[int, str]]] = []
    walked = b""
    for tagged, value in zip(fields[0::2], fields[1::2], strict=False):
        tag, name = tagged[:1], tagged[1:].decode(*_TEXT)
        if tag == b"F":
            files.append((name, (int(value[:-65]), value[-64:].decode("ascii"))))
        elif tag == b"N":
            walked = value
        else:
            return walked, files, (name, value.decode(*_TEXT))
    return walked, files, None


def main(argv: list[bytes]) -> None:
    """Worker: hash files ``k``, ``k + count``, ... of the folder's walk; see the module."""
    folder, count, k = Path(os.fsdecode(argv[0])), int(argv[1]), int(argv[2])
    skip = frozenset(Path(os.fsdecode(p)) for p in argv[3:])
    out: list[bytes] = []
    try:
        paths = walk(folder, skip=skip)
    except InputError as exc:
        sys.stdout.buffer.write(b"W\0" + exc.message.encode(*_TEXT) + b"\0")
        return
    listed = hashlib.sha256("\0".join(paths).encode(*_TEXT)).hexdigest()
    out.append(b"N\0%d %s\0" % (len(paths), listed.encode("ascii")))
    base = os.fspath(folder) + os.sep
    buffer = bytearray(1 << 20)
    for rel in paths[k::count]:
        name = rel.encode(*_TEXT)
        try:
            size, sha = digest_file(base + rel, buffer)
        except InputError as exc:
            out.append(b"R" + name + b"\0" + exc.message.encode(*_TEXT) + b"\0")
            break
        out.append(b"F%s\0%d %s\0" % (name, size, sha.encode("ascii")))
    sys.stdout.buffer.write(b"".join(out))


if __name__ == "__main__":
    main([os.fsencode(a) for a in sys.argv[1:]])
