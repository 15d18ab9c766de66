"""Cost of the rollback guard (issue 17): the pre-append check against the log's size.

Prints figures; never asserts timings. For each log size N, the median time of
``LogGuard.check`` (inside a read transaction) in three cases:

* same process: the state this process committed is the base (what every append after
  the first pays);
* new process: a fresh guard reads DIR/state.json (the first append of a command);
* unsigned tail: a fresh guard whose snapshot and last signed checkpoint lie TAIL entries
  back, so those entries are re-checked in full (signatures included).

The check is O(log n) node reads plus the tail; compare the rows across N.

    python bench/guard.py                    # N = 1,000, 10,000, 50,000; tail 100
    python bench/guard.py --sizes 1000 5000 --tail 50 --json
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from log import BENCH_KINDS, BENCH_PROJECTIONS, _sign_range  # bench/log.py: bench entries

from ledger.guard.check import LogGuard
from ledger.sequencer import append
from ledger.service import Ledger
from ledger.store import reading


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def measure(sizes: list[int], tail: int, repeat: int) -> list[dict[str, Any]]:
    ledger = Ledger.init(Path(tempfile.mkdtemp(prefix="medledger-guard-")) / "ledger",
                         kinds=BENCH_KINDS, projections=BENCH_PROJECTIONS)
    ledger.add_key("bench", "submitter")
    seed = ledger.signing_key("bench").private_bytes_raw()
    rows = []
    for n in sizes:
        have = ledger.size()
        envelopes = _sign_range(seed, ledger.log_id, have, n + tail)
        signed, unsigned = envelopes[: n - have], envelopes[n - have :]
        for start in range(0, len(signed), 1000):
            ledger.submit(signed[start : start + 1000])

        def new_guard() -> LogGuard:  # a new process's guard
            return LogGuard(ledger.dir.path, ledger.verifier, kinds=ledger.kinds)

        def check(guard: LogGuard) -> Callable[[], object]:
            def run() -> object:
                with reading(ledger.store.engine) as conn:
                    return guard.check(ledger.store, conn)
            return run

        row = {"size": n, "same_process_ms": _median_ms(check(ledger.guard), repeat),
               "new_process_ms": _median_ms(
                   lambda: check(new_guard())(), repeat)}
        append(ledger.store, unsigned, log_id=ledger.log_id, guard=ledger.guard,  # no checkpoint
               kinds=ledger.kinds, projections=ledger.projections)
        row["tail"] = len(unsigned)
        row["unsigned_tail_ms"] = _median_ms(
            lambda: check(new_guard())(), max(3, repeat // 5))
        ledger.checkpoint()  # signs over the tail: the next size starts clean
        rows.append(row)
    ledger.store.engine.dispose()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--tail", type=int, default=100, help="unsigned entries re-checked")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes = sorted(args.sizes)
    if sizes[0] < 3 or any(b - a <= args.tail for a, b in itertools.pairwise(sizes)):
        sys.exit("sizes must be at least 3 and further apart than --tail")
    rows = measure(sizes, args.tail, args.repeat)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'log size':>10}  {'same process':>13}  {'new process':>12}  {'unsigned tail':>18}")
    for r in rows:
        print(f"{r['size']:>10,}  {r['same_process_ms']:>10.2f} ms  {r['new_process_ms']:>9.2f} ms"
              f"  {r['unsigned_tail_ms']:>8.1f} ms ({r['tail']})")


if __name__ == "__main__":
    main()
