"""Dataset versions benchmark (issue 20): create, pin and verify of a large copy; prints figures.

Never asserts; prints a report (or ``--json``).

``--files`` files (default 100,000) of ``--size`` random bytes each (default 16 KiB) are
written to a folder and registered as signed image.registered entries with synthetic facts
(the file digest is the real one; no decoding: these figures are about the fast path, which
never decodes a file whose bytes match). Then, in one run on the same cores:

* ``dataset create --from DIR``: hash every file, match each to its registration, build and
  sign the version (seconds);
  (also its CPU seconds, all threads, and the file hashing alone in the same run, since on a
  shared machine hashing 1.6 GB is most of it);
* ``dataset profile``: every member's leaf re-hashed and counted, sex and age band from a
  ``subject_demographics`` row per member opened against its entry's commitment (seconds,
  best of two, and CPU seconds per run, its child process included);
* ``dataset pin``: the lock's size per member (bytes);
* ``dataset verify`` of the unchanged copy, against ``sha256sum`` over the same files on
  the same number of processes (``xargs -P``), each run twice with the page cache warm,
  the faster run kept; the ratio is verify's throughput over sha256sum's. Also the CPU
  seconds of each (all threads, all processes; mean of the two runs), which a loaded
  machine distorts less than the wall times.

    python bench/datasets.py --quick          # 10,000 files
    python bench/datasets.py                  # 100,000 files of 16 KiB
    python bench/datasets.py --files 20000 --size 262144 --json
    python bench/datasets.py --dir /tmp/b100k --profile-only   # build once, keep, re-use

``--dir DIR`` keeps the files and the ledger in DIR and re-uses them when DIR already holds a
built ledger (no writing or registering; ``dataset create`` runs only if ``bench@1`` is not
there yet). ``--profile-only`` stops after create and profile (no pin, no verify).
``--keep DIR`` is the same as ``--dir DIR``; ``--verify-only DIR`` then runs only sha256sum
and ``dataset verify`` on the folder, lock and key a full run left there.

    python bench/datasets.py --keep /tmp/dsbench           # and keep the folder, lock and key
    python bench/datasets.py --verify-only /tmp/dsbench    # only sha256sum and verify, reused
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledger.consent.commitment import demographics_commitment
from ledger.datasets.filehash import digest_files, walk
from ledger.errors import InputError
from ledger.imaging.pseudonym import subject_pseudonym
from ledger.service import Ledger
from ledger.service import datasets as service
from ledger.service.datasetcopy import verify_copy
from ledger.store.consent import insert_demographics

KEY = "curator"


def write_files(folder: Path, count: int, size: int) -> list[tuple[str, str]]:
    """``count`` files of ``size`` random bytes in 100 sub-folders; (path, sha256) of each."""
    out = []
    for n in range(count):
        sub = folder / f"{n % 100:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        data = os.urandom(size)
        (sub / f"f{n:06d}.dcm").write_bytes(data)
        out.append((f"{sub.name}/f{n:06d}.dcm", hashlib.sha256(data).hexdigest()))
    return out


def _facts(n: int, file_sha: str, size: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The image facts of file ``n`` and its demographics side row (every member has one, as
    under ``register --keep-demographics``: the profile's worst case)."""
    pixel = hashlib.sha256(b"pixels:" + file_sha.encode()).hexdigest()
    subject = subject_pseudonym(secrets.token_bytes(32))
    values = {"PatientAgeBand": f"{n % 9 * 10}-{n % 9 * 10 + 9}", "PatientSex": "FM"[n % 2]}
    salt = secrets.token_hex(16)
    commitment = demographics_commitment(salt, values)
    return {
        "v": 1, "file_sha256": file_sha, "file_size": size, "format": "png",
        "pixel_sha256": pixel, "pixel_form": "|u1 1x128x128x1", "frame_sha256": [],
        "metadata": {}, "deid": {}, "fingerprints": {}, "preamble": None,
        "pseudonyms": {"PatientID": subject, "Demographics": commitment},
    }, {"commitment": commitment, "subject": subject, "salt": salt,
        "sex": values["PatientSex"], "age_band": values["PatientAgeBand"]}  # fmt: skip


def register(ledger: Ledger, files: list[tuple[str, str]], size: int, batch: int = 2000) -> None:
    key = ledger.signing_key(KEY)
    for start in range(0, len(files), batch):
        made = [_facts(start + n, sha, size)
                for n, (_, sha) in enumerate(files[start : start + batch])]
        rows = [row for _, row in made]
        ledger.submit([
            ledger.sign("image.registered", {
                "source": "bench", "license": "CC0-1.0", "consent": "waived", "image": facts},
                key=key)
            for facts, _ in made
        ], within=lambda conn, _done, rows=rows: insert_demographics(conn, rows))  # fmt: skip


def _cpu_with_children() -> float:
    """CPU seconds of this process and its ended children (profile's child process)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _best(runs: int, action: Any) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def sha256sum(folder: Path, workers: int) -> None:
    """sha256sum over every file, ``workers`` processes (what a user would run)."""
    command = (f"cd {folder} && find . -type f -print0 | "
               f"xargs -0 -P {workers} -n 2000 sha256sum > /dev/null")
    subprocess.run(["bash", "-c", command], check=True)


def _built(root: Path, count: int, size: int) -> tuple[Ledger, dict[str, Any]]:
    """The ledger under ``root`` with ``count`` registered files, built unless it is there."""
    folder = root / "data"
    if (root / "ledger").is_dir() and (root / "registered").is_file():
        return Ledger.open(root / "ledger"), {"reused": str(root)}
    start = time.perf_counter()
    files = write_files(folder, count, size)
    written = time.perf_counter() - start
    ledger = Ledger.init(root / "ledger")
    ledger.add_key(KEY, "curator")
    start = time.perf_counter()
    register(ledger, files, size)
    (root / "registered").write_text(f"{count} {size}\n")
    return ledger, {"write_s": round(written, 2),
                    "register_s": round(time.perf_counter() - start, 2)}


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def compare(root: Path, workers: int) -> dict[str, Any]:
    """``dataset verify`` of ``root``/data against ``root``/bench.lock, and sha256sum over the
    same files: each twice, page cache warm, the faster kept."""
    folder, lock = root / "data", root / "bench.lock"
    vkey = (root / "log.vkey").read_text().strip()
    files = walk(folder)
    total = sum((folder / p).stat().st_size for p in files)

    def verify() -> None:
        result = verify_copy(lock, folder, pubkeys=[vkey], workers=workers)
        result.require_match()

    sha256sum(folder, workers)  # warm the page cache
    children = _children_cpu()
    baseline = _best(2, lambda: sha256sum(folder, workers))
    baseline_cpu = (_children_cpu() - children) / 2
    cpu, children = time.process_time(), _children_cpu()
    verified = _best(2, verify)
    verify_cpu = (time.process_time() - cpu + _children_cpu() - children) / 2
    return {
        "verified_files": len(files), "load_average": round(os.getloadavg()[0], 1),
        "sha256sum_s": round(baseline, 2), "verify_s": round(verified, 2),
        "sha256sum_cpu_s": round(baseline_cpu, 2), "verify_cpu_s": round(verify_cpu, 2),
        "sha256sum_mb_s": round(total / baseline / 1e6, 1),
        "verify_mb_s": round(total / verified / 1e6, 1),
        "verify_over_sha256sum": round(baseline / verified, 3),
    }  # fmt: skip


def _has_version(ledger: Ledger) -> bool:
    try:
        service.version(ledger, "bench@1")
    except InputError:
        return False
    return True


def run(count: int, size: int, root: Path, *, profile_only: bool = False) -> dict[str, Any]:
    workers = os.cpu_count() or 1
    folder = root / "data"
    ledger, built = _built(root, count, size)
    figures: dict[str, Any] = {"files": count, "file_bytes": size, "cores": workers, **built}
    if not _has_version(ledger):
        start, cpu = time.perf_counter(), time.process_time()
        service.create(ledger, "bench", key=KEY, folder=folder)
        created, created_cpu = time.perf_counter() - start, time.process_time() - cpu
        hashed = _best(1, lambda: list(digest_files(folder, walk(folder), workers=workers)))
        figures |= {"create_s": round(created, 2), "create_cpu_s": round(created_cpu, 2),
                    "create_hashing_alone_s": round(hashed, 2)}
    cpu, own = _cpu_with_children(), time.process_time()
    profiled = _best(2, lambda: service.profile(ledger, "bench@1"))
    profiled_cpu = (_cpu_with_children() - cpu) / 2
    command_cpu = (time.process_time() - own) / 2
    figures |= {"profile_s": round(profiled, 2), "profile_cpu_s": round(profiled_cpu, 2),
                "profile_command_cpu_s": round(command_cpu, 2),
                "profile_child_cpu_s": round(profiled_cpu - command_cpu, 2),
                "load_average": round(os.getloadavg()[0], 1)}
    if profile_only:
        return figures
    start = time.perf_counter()
    lock_bytes = service.pin(ledger, "bench@1")
    pinned = time.perf_counter() - start
    lock = root / "bench.lock"
    lock.write_bytes(lock_bytes)
    (root / "log.vkey").write_text(ledger.verifier.vkey + "\n")
    ledger.store.engine.dispose()
    return figures | {
        "pin_s": round(pinned, 2),
        "lock_bytes": len(lock_bytes), "lock_bytes_per_member": round(len(lock_bytes) / count, 1),
    } | compare(root, workers)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=16_384)
    parser.add_argument("--quick", action="store_true", help="10,000 files")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", "--keep", type=Path,
                        help="keep the files and ledger here; re-use them")
    parser.add_argument("--verify-only", type=Path, metavar="DIR",
                        help="only sha256sum and dataset verify, on a folder a full run kept")
    parser.add_argument("--profile-only", action="store_true",
                        help="stop after create and profile (no pin, no verify)")
    args = parser.parse_args()
    count = 10_000 if args.quick else args.files
    if args.verify_only is not None:
        figures = compare(args.verify_only, os.cpu_count() or 1)
    elif args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
        figures = run(count, args.size, args.dir, profile_only=args.profile_only)
    else:
        with tempfile.TemporaryDirectory(prefix="bench-datasets-") as tmp:
            figures = run(count, args.size, Path(tmp), profile_only=args.profile_only)
    if args.json:
        json.dump(figures, sys.stdout, indent=2)
        print()
        return
    for name, value in figures.items():
        print(f"{name:24} {value}")


if __name__ == "__main__":
    main()
