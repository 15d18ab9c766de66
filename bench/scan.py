"""Benchmark of the catch-up scan (`medledger scan`) on one process and on workers.

Prints figures; never asserts timings. ``--files`` of ``bench/register.py``'s 512x512 CT
phantoms (one body, jittered: every image is a candidate of every other, the scan's worst
case) are registered with ``--defer-duplicate-check`` into a new ledger per run, then the
command ``medledger scan --workers N --json`` is timed in its own process (interpreter
start, pool start and shutdown included). Runs alternate between the worker counts
(``--repeat``); each run's findings (dup_edges, dup_scans) are hashed, and the hashes must
agree.

    python bench/scan.py --files 300 --workers 1,2 --repeat 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
import register as regbench  # bench/register.py: the phantoms


def deferred_ledger(directory: Path, files: Path) -> int:
    from ledger.registration.pipeline import RegisterOptions
    from ledger.service.register import register

    led = regbench.new_ledger(directory)
    options = RegisterOptions(
        source=regbench.SOURCE,
        license="CC-BY-4.0",
        consent="waived",
        key=regbench.KEY,
        defer_duplicate_check=True,
    )
    try:
        summary = register(led, [files], options)
    finally:
        led.store.engine.dispose()
    return summary.registered


def findings_digest(ledger: Path) -> tuple[str, int, int]:
    with sqlite3.connect(ledger / "ledger.db") as db:
        edges = db.execute("select * from dup_edges order by idx, match_idx").fetchall()
        scans = db.execute("select idx, group_idx from dup_scans order by idx").fetchall()
    digest = hashlib.sha256(json.dumps([edges, scans]).encode()).hexdigest()[:16]
    return digest, len(edges), len({group for _, group in scans})


def timed_scan(ledger: Path, workers: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("medledger")),
            "scan",
            "--workers",
            str(workers),
            "--json",
            "--ledger",
            str(ledger),
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    digest, edges, groups = findings_digest(ledger)
    checked = json.loads(done.stdout)["checked"]
    return {"workers": workers, "seconds": seconds, "checked": checked,
            "images/s": checked / seconds, "edges": edges, "groups": groups,
            "findings": digest}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300, help="CT phantoms (300)")
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (1,2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count")
    parser.add_argument("--data", type=Path, help="folder for the phantoms, kept and reused")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    root = args.data or Path(tempfile.mkdtemp(prefix="scanbench-"))
    files = regbench.corpus(root, "ct", args.files, args.json)
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="scanbench-ledgers-") as scratch:
        for turn in range(args.repeat):
            for workers in counts:
                ledger = Path(scratch) / f"ledger-{turn}-{workers}"
                registered = deferred_ledger(ledger, files)
                load = os.getloadavg()[0]
                run = timed_scan(ledger, workers) | {"registered": registered, "load": load}
                runs.append(run)
                if not args.json:
                    print(f"workers {workers}: {run['checked']} images in {run['seconds']:.1f} s "
                          f"({run['images/s']:.2f}/s), {run['edges']} edges, {run['groups']} "
                          f"groups, findings {run['findings']}, load {load:.1f}")  # fmt: skip
    agree = len({r["findings"] for r in runs}) == 1
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "runs": runs, "findings_agree": agree}))
    else:
        print(f"{os.cpu_count()} cores; findings identical across runs: {agree}")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
