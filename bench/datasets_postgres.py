"""Dataset commands at scale on PostgreSQL (issue 20): prints figures, never asserts.

The same synthetic set as bench/datasets.py (``--files`` files of ``--size`` random bytes,
registered as signed entries without decoding), in a ledger on the PostgreSQL database
given by ``--database-url`` (an empty database), then: ``dataset create`` from the folder,
a second version removing one member, ``diff``, ``pin``, ``verify`` of the copy against the
lock, ``profile`` and the ledger's own ``verify`` (which re-hashes every member list).
Times are seconds for each step; they are about the member side table's bulk inserts and
reads on PostgreSQL, not about hashing speed.

    python bench/datasets_postgres.py --database-url postgresql://postgres@127.0.0.1:5432/b
    python bench/datasets_postgres.py --database-url URL --files 50000 --json
    python bench/datasets_postgres.py                          # the same on SQLite
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import KEY, register, write_files

from ledger.service import Ledger
from ledger.service import datasets as service
from ledger.service.datasetcopy import verify_copy


def run(count: int, size: int, url: str | None, root: Path) -> dict[str, Any]:
    folder = root / "data"
    digests = write_files(folder, count, size)  # (path, file SHA-256) of each
    timings: dict[str, float] = {}

    def timed(name: str, action: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = action()
        timings[f"{name}_s"] = round(time.perf_counter() - start, 2)
        return result

    ledger = Ledger.init(root / "ledger", database_url=url)
    try:
        ledger.add_key(KEY, "curator")
        timed("register", lambda: register(ledger, digests, size))
        first = timed("create", lambda: service.create(ledger, "bench", key=KEY,
                                                       folder=folder))
        one = service.members(ledger, first.version)[0]["entry"]
        timed("create_v2", lambda: service.create(ledger, "bench", key=KEY,
                                                  from_version="bench@1", remove=(str(one),)))
        changes = timed("diff", lambda: service.diff(ledger, "bench@1", "bench@2").changes)
        lock = timed("pin", lambda: service.pin(ledger, "bench@1"))
        timed("profile", lambda: service.profile(ledger, "bench@2"))
        timed("ledger_verify", ledger.verify)
        vkey = ledger.verifier.vkey
    finally:
        ledger.store.engine.dispose()
    (root / "bench.lock").write_bytes(lock)
    copy = timed("verify_copy", lambda: verify_copy(root / "bench.lock", folder,
                                                    pubkeys=[vkey]))
    return {"database": "postgresql" if url else "sqlite", "files": count,
            "members_v1": first.version.members, "diff_changes": len(changes),
            "copy_ok": copy.report.counts()["ok"], **timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: the "
                        "SQLite file in a temporary ledger directory, for comparison)")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ds-postgres-") as tmp:
        figures = run(args.files, args.size, args.database_url, Path(tmp))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(", ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
