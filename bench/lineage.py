"""Lineage at scale: ``lineage`` of an image in a 1,000,000-entry log with 100,000
derivation edges, ``descendants`` of 1,000 images, and the PROV export's peak memory.

How the store is built (appending 1M signed entries through the sequencer would take far
longer than the measurement): a real ledger is initialised (its keys are real signed
entries), then filler entries are written straight into the ledger's own tables in one
transaction: ``log_leaves`` (unsigned filler leaves, hashed like any leaf), ``tree_nodes``
(the Merkle nodes computed by the log's own tree code, so inclusion proofs and the guard's
consistency check hold), ``images`` (900,000 rows) and ``derivations`` (100,000 edges forming
one large tree over filler images). Then the measured image's own tree (an original, a
chain of 4 derivations, and 10 derivatives of the chain's middle image) is appended through
the real sequencer as signed image.registered / image.derived entries, so ``lineage`` reads
and checks real leaves (hash, signature, inclusion proof). ``verify`` would reject such a
store (the filler leaves are not entries): it is a store for timing queries, nothing else.

The PROV export is measured in a child process (peak RSS, ``ru_maxrss``) over the 100,000-edge
filler tree: the graph walk streams the edges from the database and the writer writes
each as it comes (step records synthesised, since filler leaves hold none), for 10,000 and
100,000 edges, so the two peaks show whether memory grows with the tree.

    .venv/bin/python bench/lineage.py [--entries N] [--edges N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from ledger.guard.state import Trusted  # noqa: E402
from ledger.lineage.graph import descendants, walk  # noqa: E402
from ledger.log.hashing import leaf_hash  # noqa: E402
from ledger.log.tree import appended_nodes, frontier, root_from_frontier  # noqa: E402
from ledger.service import Ledger  # noqa: E402
from ledger.service.lineageview import lineage  # noqa: E402
from ledger.store import locked_write, reading  # noqa: E402
from ledger.store.tables import DerivationRow, ImageRow  # noqa: E402

BATCH = 50_000
REAL_ENTRIES = 29  # the measured tree: 15 image.registered and 14 image.derived entries


def _hex(n: int, salt: str) -> str:
    return hashlib.sha256(f"{salt}{n}".encode()).hexdigest()


def facts(n: int) -> dict[str, Any]:
    """Valid image facts of a synthetic 8 x 8 PNG (no file behind them)."""
    return {"v": 1, "file_sha256": _hex(n, "real-f"), "file_size": 100, "format": "png",
            "pixel_sha256": _hex(n, "real-p"), "pixel_form": "|u1 1x8x8x1", "frame_sha256": [],
            "metadata": {}, "deid": {}, "pseudonyms": None, "fingerprints": {},
            "preamble": None}


def build(directory: Path, entries: int, edges: int) -> dict[str, Any]:
    ledger = Ledger.init(directory)
    ledger.add_key("curator", "curator")
    store = ledger.store
    rng = random.Random(19)
    with locked_write(store.engine) as conn:
        trusted = ledger.guard.check(store, conn)  # the key state, which filler leaves keep
        size, _ = store.tail(conn)
        first = size
        filler = entries - size - REAL_ENTRIES  # room for the measured tree
        derived_at = set(rng.sample(range(first + 1, first + filler), edges))
        tree_nodes = [first]  # filler images in the big tree (the first is its root)
        free: list[int] = []  # filler images not yet in the tree
        old = store.perfect_nodes(conn, frontier(size))
        stack = [old[c] for c in frontier(size)]
        for start in range(first, first + filler, BATCH):
            end = min(start + BATCH, first + filler)
            leaves, hashes, images, derivations = [], [], [], []
            for idx in range(start, end):
                leaf = b'{"filler":%d}' % idx
                digest = leaf_hash(leaf)
                kind = "image.derived" if idx in derived_at else "image.registered"
                leaves.append({"idx": idx, "leaf": leaf, "leaf_hash": digest,
                               "envelope_hash": hashlib.sha256(leaf).digest(), "kind": kind,
                               "actor": "0" * 64})
                hashes.append(digest)
                if kind == "image.registered":
                    images.append({"idx": idx, "file_sha256": _hex(idx, "f"),
                                   "pixel_sha256": _hex(idx, "p"), "source": "site-a",
                                   "dataset": None, "license": "CC-BY-4.0",
                                   "consent": "consented", "format": "png",
                                   "registered": "2026-12-07T00:00:00.000000Z",
                                   "dup_keys": None, "grid_sha256": None})
                    if idx != first:
                        free.append(idx)
                elif free:  # the latest free filler image becomes a child of a tree node
                    child = free.pop()
                    parent = rng.choice(tree_nodes[-5000:])
                    derivations.append({"idx": idx, "parent": parent, "child": child,
                                        "inferred": False})
                    tree_nodes.append(child)
            nodes = appended_nodes(size=start, frontier_hashes=stack, leaf_hashes=hashes)
            store.insert_leaves(conn, leaves)
            store.insert_nodes(conn, nodes)
            made = {(level, i): h for level, i, h in nodes}
            made.update({c: h for c, h in zip(frontier(start), stack, strict=True)})
            stack = [made[c] for c in frontier(end)]
            conn.execute(insert(ImageRow.__table__), images)  # type: ignore[attr-defined]
            if derivations:
                conn.execute(insert(DerivationRow.__table__), derivations)  # type: ignore[attr-defined]
        # Sign a checkpoint over the filler and record the guard's state there, as the
        # sequencer does after an append: the guard then never replays the filler leaves.
        end = first + filler
        root = root_from_frontier(end, stack)
        ledger._store_checkpoint(conn, end, root)
    ledger.guard.committed(Trusted(end, root, trusted.keys, trusted.policy))
    ledger.guard.keep_snapshot()
    measured = _real_tree(ledger)
    with reading(store.engine) as conn:
        total = store.count_leaves(conn)
        count = conn.exec_driver_sql("SELECT COUNT(*) FROM derivations").scalar()
    ledger.store.engine.dispose()
    return {"entries": total, "edges": count, "root": first, "big_tree": len(tree_nodes) - 1,
            **measured}


def _real_tree(ledger: Ledger) -> dict[str, Any]:
    key = ledger.signing_key("curator")

    def register(n: int) -> int:
        body = {"source": "site-a", "license": "CC-BY-4.0", "consent": "consented",
                "image": facts(n)}
        return ledger.submit([ledger.sign("image.registered", body, key=key)])[0].index

    def derive(parent: tuple[int, int], child: tuple[int, int]) -> None:
        refs = [{"index": idx, "file_sha256": facts(n)["file_sha256"],
                 "pixel_sha256": facts(n)["pixel_sha256"]} for idx, n in (parent, child)]
        body = {"parent": refs[0], "child": refs[1], "inferred": False,
                "steps": [{"term": "resize", "width": 8, "height": 8}]}
        ledger.submit([ledger.sign("image.derived", body, key=key)])

    chain = [(register(0), 0)]
    for n in range(1, 5):
        chain.append((register(n), n))
        derive(chain[-2], chain[-1])
    middle = chain[2]
    for n in range(5, 15):
        derive(middle, (register(n), n))
    return {"measured": middle[0], "original": chain[0][0]}


def time_lineage(directory: Path, image: int, runs: int = 21) -> list[float]:
    ledger = Ledger.open(directory)
    lineage(ledger, str(image)).require_verified()  # warm: the checkpoint is signed once
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        tree = lineage(ledger, str(image))
        times.append((time.perf_counter() - t0) * 1000)
    tree.require_verified()
    assert len(tree.back) == 2 and len(tree.forward) == 12, (len(tree.back), len(tree.forward))
    ledger.store.engine.dispose()
    return times


def time_descendants(directory: Path, roots: int) -> tuple[float, int]:
    ledger = Ledger.open(directory)
    with reading(ledger.store.engine) as conn:
        parents = [r[0] for r in conn.exec_driver_sql(
            "SELECT DISTINCT parent FROM derivations ORDER BY parent LIMIT ?", (roots,))]
    t0 = time.perf_counter()
    found = descendants(ledger.store, parents)
    took = (time.perf_counter() - t0) * 1000
    ledger.store.engine.dispose()
    return took, len(found)


def prov_child(directory: str, root: int, limit: int, target: str) -> None:
    """In a child process: stream ``limit`` edges of the big tree into a PROV-JSON file."""
    from itertools import islice

    from ledger.lineage.prov import Derivation, ImageNode, StepRecord, write_prov

    ledger = Ledger.open(Path(directory))
    with open("/proc/self/statm", encoding="ascii") as statm:  # before any edge is read
        start_rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    step = StepRecord("resize", {"width": 8, "height": 8}, [("113085", "Spatial resampling")],
                      "c2pa.resized")
    with reading(ledger.store.engine) as conn, open(target, "w", encoding="utf-8") as out:
        records = (Derivation(e.entry, "2026-12-07T00:00:00.000000Z", "0" * 64, "filler",
                              ImageNode(e.parent, _hex(e.parent, "f"), _hex(e.parent, "p")),
                              ImageNode(e.child, _hex(e.child, "f"), _hex(e.child, "p")),
                              [step], False, [], None)
                   for e in islice(walk(conn, root, "forward"), limit))
        count = write_prov(records, out, "json")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"activities": count, "peak_rss": peak, "start_rss": start_rss,
                      "bytes": os.path.getsize(target)}))


def measure_prov(directory: Path, root: int, limit: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        target = str(Path(tmp) / "tree.prov.json")
        t0 = time.perf_counter()
        run = subprocess.run([sys.executable, __file__, "--prov-child", str(directory),
                              str(root), str(limit), target],
                             capture_output=True, text=True, check=True)
        took = time.perf_counter() - t0
    return json.loads(run.stdout) | {"seconds": took}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--prov-child":
        prov_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "ledger"
        t0 = time.perf_counter()
        built = build(directory, args.entries, args.edges)
        print(f"built: {built['entries']:,} entries, {built['edges']:,} derivation edges "
              f"({built['big_tree']:,} in one tree) in {time.perf_counter() - t0:.0f} s")
        times = time_lineage(directory, built["measured"])
        print(f"lineage of entry {built['measured']} (2 edges back, 12 forward, 15 images, "
              f"every leaf checked): median {statistics.median(times):.1f} ms, "
              f"min {min(times):.1f} ms, max {max(times):.1f} ms over {len(times)} runs")
        took, found = time_descendants(directory, 1000)
        print(f"descendants of 1,000 images: {found:,} found in {took:.0f} ms")
        for limit in (10_000, 100_000):
            prov = measure_prov(directory, built["root"], limit)
            print(f"PROV-JSON of {prov['activities']:,} steps: {prov['bytes'] / 1e6:.0f} MB "
                  f"in {prov['seconds']:.1f} s, peak RSS {prov['peak_rss'] / 2**20:.0f} MiB "
                  f"(RSS before the first edge: {prov['start_rss'] / 2**20:.0f} MiB)", flush=True)


if __name__ == "__main__":
    main()
