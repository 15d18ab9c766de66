"""The projection audit's own cost, on a ledger made by ``bench/log.py`` (issue 18).

``bench/log.py`` times the whole ``verify``, projection audit included; on a loaded shared
machine its before/after difference drowns in noise. This script measures the audit's
parts in CPU seconds (``time.process_time``, insensitive to other processes), against the
CPU of the full verify's dominant work, Ed25519 verification of the same signatures:

* worker side: ``project_rows`` over every leaf (the extra work the audit workers do),
  parsing each leaf itself and (``worker_project_given_s``) from the entries the fast path
  parsed, as the workers run it since the one-parse change; and pickling its result to the
  main process and back;
* main process: applying the rows to the scratch file, copying the stored tables and
  joining them (``ProjectionAudit.add`` + ``compare``).

    python bench/log.py --entries 100000 --dir /tmp/b    # makes /tmp/b/ledger
    python bench/projection_audit.py /tmp/b/ledger [--ab 2]

``--ab N`` also times the full verify (two workers) with the audit and without it (the log
alone, as before issue 18), alternately, N times each: wall seconds on this machine.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import log as bench_log

from ledger.audit.projections import project_rows
from ledger.audit.replay import audit_log
from ledger.checkpoints import open_checkpoint
from ledger.crypto.keys import PublicKey
from ledger.crypto.signing import decode_sig, verify_entry
from ledger.model.canonical import canonical_json
from ledger.projections import projection_audit
from ledger.service.ledger import Ledger, _public_keys
from ledger.store import reading
from ledger.store.projected import stored_rows

CHUNK = 4096


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _verify_log_only(ledger: Ledger) -> None:
    """``Ledger.verify`` as it was before the projection audit: the log alone."""
    opened = [open_checkpoint(r.note, [ledger.verifier]) for r in ledger._stored_checkpoints()]
    with reading(ledger.store.engine) as conn:
        audit_log(
            ledger.store.iter_leaves(conn),
            log_id=ledger.log_id,
            public_keys=_public_keys(ledger.store, conn),
            checkpoints=[(c.size, c.root) for c in opened],
            stored_nodes=lambda a, b: ledger.store.nodes_completed_in(conn, start=a, end=b),
            workers=2,
            kinds=ledger.kinds,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ledger", type=Path)
    parser.add_argument("--ed25519-sample", type=int, default=20_000)
    parser.add_argument("--ab", type=int, default=0,
                        help="also time full verify with and without the audit, N times each")
    args = parser.parse_args()
    ledger = Ledger.open(args.ledger, kinds=bench_log.BENCH_KINDS,
                         projections=bench_log.BENCH_PROJECTIONS)
    out: dict[str, float] = {}
    with reading(ledger.store.engine) as conn:
        rows = list(ledger.store.iter_leaves(conn))
        keys = _public_keys(ledger.store, conn)
        n = len(rows)
        with projection_audit(ledger.projections) as projector:
            t0 = time.process_time()
            chunks = [project_rows(rows[a : a + CHUNK], projector.plan)
                      for a in range(0, n, CHUNK)]
            out["worker_project_s"] = time.process_time() - t0
            # As the workers now run it: the entries handed over by the fast path's parse.
            parsed = [[json.loads(row[1])["envelope"]["entry"] for row in rows[a : a + CHUNK]]
                      for a in range(0, n, CHUNK)]
            t0 = time.process_time()
            given = [project_rows(rows[a : a + CHUNK], projector.plan, entries=parsed[i])
                     for i, a in enumerate(range(0, n, CHUNK))]
            out["worker_project_given_s"] = time.process_time() - t0
            if given != chunks:
                raise SystemExit("rows projected from the handed entries differ")
            del parsed, given
            t0 = time.process_time()
            chunks = [pickle.loads(pickle.dumps(c)) for c in chunks]  # noqa: S301 - own data
            out["transfer_s"] = time.process_time() - t0
            t0 = time.process_time()
            for changes in chunks:
                projector.add(changes)
            out["main_add_s"] = time.process_time() - t0
            t1 = time.process_time()
            projector.compare(lambda name: stored_rows(conn, name), sqlite_order=True)
            out["main_compare_s"] = time.process_time() - t1
            out["rows"] = projector.rows
    sample = rows[: args.ed25519_sample]
    items = []
    for _idx, leaf, *_ in sample:
        envelope = json.loads(leaf)["envelope"]
        items.append((PublicKey(keys[envelope["entry"]["actor"]]),
                      canonical_json(envelope["entry"]), decode_sig(envelope["sig"]),
                      envelope["entry"]["v"]))
    t0 = time.process_time()
    for public, entry, sig, version in items:
        verify_entry(public, entry, sig, version=version)
    out["ed25519_cpu_s"] = (time.process_time() - t0) * n / len(sample)
    out["entries"] = n
    audit = (out["worker_project_given_s"] + out["transfer_s"] + out["main_add_s"]
             + out["main_compare_s"])
    out["audit_cpu_per_entry_us"] = audit / n * 1e6
    out["audit_cpu_ratio_to_ed25519_cpu"] = audit / out["ed25519_cpu_s"]
    for run in range(args.ab):  # wall time, alternating, so both see the same load
        out[f"verify_with_s_{run}"] = _timed(lambda: ledger.verify(workers=2))
        out[f"verify_without_s_{run}"] = _timed(lambda: _verify_log_only(ledger))
    print(json.dumps(out, indent=2))
    ledger.store.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
