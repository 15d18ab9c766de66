"""Hash a large copy's files in worker processes while its lock is checked (``dataset verify``).

Threads hash in parallel only while hashlib holds no GIL; for many small files the
per-file Python work (open, read, hexdigest) serialises them, and the lock's check in the
main thread competes for the same GIL. Here each of ``workers`` processes
(``python -m ledger.datasets.hashprocs``) walks the folder the same way, hashes every
``workers``-th file and writes its results once, at the end; the main process checks the
lock meanwhile. Same interface and guarantees as ``ledger.datasets.hashahead.HashAhead``:
digests only through ``result``, the first error in path order, and ``stop`` (on leaving the
``with`` block) ends the workers at once (they hold nothing but their own reads).

The worker writes six NUL-separated fields, a column each so that the main process parses
100,000 files in a few C calls: ``<walked> <sha256 of its walk's file list> <n>`` (workers
whose walks differ, the folder having changed meanwhile, send the copy back to one walk on
threads), the ``n`` sizes and the ``n`` SHA-256 hex digests, space-separated, the path and
message of the first file it could not read (then it stopped; both empty if none), and the
``n`` paths, NUL-separated. A folder that cannot be walked: ``W``, empty fields, the message
in the fifth.
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
        errors = [error for *_, error in answers if error is not None]
        if errors:
            raise InputError(min(errors)[1])
        total = sum(len(paths) for _, paths, _, _, _ in answers)
        if len({walked for walked, *_ in answers}) != 1 or [len(a[1]) for a in answers] != [
            len(range(k, total, self._count)) for k in range(self._count)
        ]:  # the folder changed between the workers' walks: one walk, here
            with HashAhead(self._folder, skip=self._skip, workers=self._count) as hashing:
                return hashing.result()
        paths: list[str] = [""] * total
        sizes: list[int] = [0] * total
        shas: list[str] = [""] * total
        for k, (_, part_paths, part_sizes, part_shas, _) in enumerate(answers):
            paths[k :: self._count] = part_paths  # worker k hashed files k, k + count, ...
            sizes[k :: self._count] = part_sizes
            shas[k :: self._count] = part_shas
        return dict(zip(paths, zip(sizes, shas, strict=True), strict=True))

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


# (the worker's walk, its files' paths, sizes and digests, its error as (path, message))
_Answer = tuple[bytes, list[str], list[int], list[str], tuple[str, str] | None]


def _parse(out: bytes) -> _Answer:
    """A worker's output (see the module); ValueError if it is not one."""
    head, sizes, shas, bad_path, message, names = out.split(b"\0", 5)
    if head == b"W":
        return b"", [], [], [], ("", message.decode(*_TEXT))
    walked, listed, count = head.split(b" ")
    n = int(count)
    paths = names.decode(*_TEXT).split("\0") if n else []
    size_list = list(map(int, sizes.split()))
    sha_list = shas.decode("ascii").split()
    if not len(paths) == len(size_list) == len(sha_list) == n:
        raise ValueError("a worker's columns differ in length")
    error = (bad_path.decode(*_TEXT), message.decode(*_TEXT)) if bad_path else None
    return walked + b" " + listed, paths, size_list, sha_list, error


def main(argv: list[bytes]) -> None:
    """Worker: hash files ``k``, ``k + count``, ... of the folder's walk; see the module."""
    folder, count, k = Path(os.fsdecode(argv[0])), int(argv[1]), int(argv[2])
    skip = frozenset(Path(os.fsdecode(p)) for p in argv[3:])
    try:
        paths = walk(folder, skip=skip)
    except InputError as exc:
        sys.stdout.buffer.write(b"W\0\0\0\0" + exc.message.encode(*_TEXT) + b"\0")
        return
    listed = hashlib.sha256("\0".join(paths).encode(*_TEXT)).hexdigest()
    base = os.fspath(folder) + os.sep
    buffer = bytearray(1 << 20)
    done: list[str] = []
    sizes: list[bytes] = []
    shas: list[str] = []
    bad_path, message = b"", b""
    for rel in paths[k::count]:
        try:
            size, sha = digest_file(base + rel, buffer)
        except InputError as exc:
            bad_path, message = rel.encode(*_TEXT), exc.message.encode(*_TEXT)
            break
        done.append(rel)
        sizes.append(b"%d" % size)
        shas.append(sha)
    head = b"%d %s %d" % (len(paths), listed.encode("ascii"), len(done))
    sys.stdout.buffer.write(b"\0".join([head, b" ".join(sizes), " ".join(shas).encode("ascii"),
                                        bad_path, message, "\0".join(done).encode(*_TEXT)]))


if __name__ == "__main__":
    main([os.fsencode(a) for a in sys.argv[1:]])
