"""Benchmark of the Merkle tree's growth (``ledger.log.tree.grow``), the one implementation
the sequencer, the audit's fast path and its per-leaf replay share.

Prints CPU seconds (``time.process_time``, best of ``--repeat``), so that other work on the
machine counts less than with wall time; never asserts timings.

* chunked: the audit's fast path, 4096 leaves per call, every new node compared with a
  stored copy as ``audit/fastpath.advance`` does;
* per leaf: the audit's per-leaf replay (chunks holding key entries or damage), one call
  per leaf through ``append_leaves``;
* floor: SHA-256 of every new node alone, the hashing no implementation can avoid.

    python bench/tree.py                 # 262,144 leaves
    python bench/tree.py --leaves 1048576 --json
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from hashlib import sha256

from ledger.log.hashing import NODE_PREFIX
from ledger.log.tree import append_leaves, grow

CHUNK = 4096


def best(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leaves", type=int, default=262_144)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    n = args.leaves
    leaves = [sha256(i.to_bytes(8, "little")).digest() for i in range(n)]
    made, _ = append_leaves(size=0, frontier_hashes=[], leaf_hashes=leaves)
    stored = {(level, index): value for level, index, value in made}

    def chunked() -> None:
        stack: list[bytes] = []
        for start in range(0, n, CHUNK):
            runs, stack = grow(
                size=start, frontier_hashes=stack, leaf_hashes=leaves[start : start + CHUNK]
            )
            got = stored.get
            for level, first, hashes in runs:
                if [got((level, first + i)) for i in range(len(hashes))] != hashes:
                    raise AssertionError("a node differs")

    def per_leaf() -> None:
        stack: list[bytes] = []
        for size, value in enumerate(leaves):
            _, stack = append_leaves(size=size, frontier_hashes=stack, leaf_hashes=[value])

    # A tree of n leaves has n - 1 interior nodes, each one SHA-256 of 65 bytes.
    inputs = [NODE_PREFIX + leaves[i] + leaves[i ^ 1] for i in range(n - 1)]

    def floor() -> None:
        for data in inputs:
            sha256(data).digest()

    figures = {
        "leaves": n,
        "chunked_us_per_leaf": best(chunked, args.repeat) / n * 1e6,
        "per_leaf_us_per_leaf": best(per_leaf, max(1, args.repeat // 2)) / n * 1e6,
        "floor_sha256_us_per_leaf": best(floor, args.repeat) / n * 1e6,
    }
    floor_us = figures["floor_sha256_us_per_leaf"]
    figures["chunked_ratio_to_floor"] = figures["chunked_us_per_leaf"] / floor_us
    if args.json:
        print(json.dumps(figures))
        return
    for name, value in figures.items():
        print(f"{name:28} {value:.3f}" if isinstance(value, float) else f"{name:28} {value}")


if __name__ == "__main__":
    main()
