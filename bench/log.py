"""Benchmark of the core ledger (issue 9): append, full audit, tree check, proofs, storage.

Prints figures; never asserts timings. Every figure comes with a floor measured
in the same run on the same machine, and the ratio between the two, so that the
result says something beyond this machine's speed:

* append: entries/s through ``Ledger.submit`` (validation, signer check, Ed25519
  verification of every entry, chaining, hashing, tree nodes, one durable
  SQLite transaction per batch, a signed checkpoint per batch), with pre-signed
  envelopes sent by ``--submitters`` threads in batches of ``--batch``.
  Floors: Ed25519 verification + SHA-256 of the same entries in one process and
  on every core, and raw ``sqlite3`` executemany of the same rows into the same
  schema with an fsync per batch.
* full ``verify``: seconds for N entries, including the projection audit (each entry
  projects an ``images`` row, which verify rebuilds from the log and compares); floor:
  Ed25519 verification of the same N signatures spread over every core.
* ``verify(tree_only=True)``: entries/s; floor: reading the same rows with plain
  ``sqlite3`` and SHA-256 of each leaf, in one process.
* inclusion proofs at N: produced (``Ledger.inclusion_proof``) and verified
  (``verify_inclusion``), median and p95 over random indexes.
* tlog-proof size at 10**9 entries, and storage per entry beyond the entry.

    python bench/log.py --quick              # 20,000 entries, about a minute
    python bench/log.py --entries 1000000    # the issue's figures, a few minutes
    python bench/log.py --quick --json
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.crypto.keys import PublicKey, SigningKey, read_private_key
from ledger.crypto.note import NoteSigner
from ledger.crypto.signing import ENTRY_DOMAIN, decode_sig, encode_sig, sign_entry
from ledger.log.proofs import inclusion_proof_size, verify_inclusion
from ledger.log.tlog_proof import format_tlog_proof
from ledger.model.canonical import canonical_json
from ledger.model.kinds import kind
from ledger.model.projection import Change, Insert
from ledger.model.registry import DEFAULT_KINDS, DEFAULT_PROJECTIONS, projections_of
from ledger.model.roles import Role
from ledger.processes import forkserver_context, ready_pool
from ledger.sequencer import WORKERS_AFTER
from ledger.service import Ledger

KIND = "bench.note"
HEX64 = r"^[0-9a-f]{64}$"


class BenchNote(BaseModel):
    """A body shaped like an image registration: digests and small metadata (~300 bytes)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    file_sha256: str = Field(pattern=HEX64)
    pixel_sha256: str = Field(pattern=HEX64)
    phash: str = Field(pattern=r"^[0-9a-f]{16}$")
    source: str = Field(max_length=64)
    license: str = Field(max_length=32)
    consent: str = Field(max_length=32)
    format: str = Field(max_length=16)
    modality: str = Field(max_length=8)
    seq: int = Field(ge=0)


def bench_projection(index: int, entry: dict[str, Any]) -> list[Change]:
    """An ``images`` row per entry, as wide as a registration's: so that the full verify
    times the projection audit (rebuilding and comparing the table) at full scale."""
    body = entry["body"]
    digest = bytes.fromhex(body["file_sha256"])
    return [Insert("images", {
        "idx": index, "file_sha256": body["file_sha256"], "pixel_sha256": body["pixel_sha256"],
        "source": body["source"], "dataset": None, "license": body["license"],
        "consent": body["consent"], "format": body["format"], "registered": entry["time"],
        "dup_keys": (digest + digest)[:48], "grid_sha256": body["pixel_sha256"],
    })]


# The default kinds and projections plus the benchmark's, given to the ledger (worker
# processes get the kinds with each task; they import this module as their __main__).
BENCH_KINDS = DEFAULT_KINDS.with_kinds(
    kind(KIND, BenchNote, roles=[Role.SUBMITTER], description="benchmark entry")
)
BENCH_PROJECTIONS = projections_of(DEFAULT_PROJECTIONS, {KIND: bench_projection})


def bench_body(seq: int) -> dict[str, Any]:
    digest = hashlib.sha256(seq.to_bytes(8, "big")).hexdigest()
    return {
        "file_sha256": digest,
        "pixel_sha256": hashlib.sha256(digest.encode()).hexdigest(),
        "phash": digest[:16],
        "source": "repo.example.org/collections/chest-ct-2024",
        "license": "CC-BY-4.0",
        "consent": "DUO:0000042",
        "format": "DICOM",
        "modality": "CT",
        "seq": seq,
    }


# --- helpers -----------------------------------------------------------------------


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=forkserver_context())


def _sign_range(seed: bytes, log_id: str, start: int, end: int) -> list[dict[str, Any]]:
    key = SigningKey.from_private_bytes_raw(seed)
    actor = key.public_key.key_id
    out = []
    for seq in range(start, end):
        entry = {"v": 2, "log": log_id, "kind": KIND, "time": _utc_now(), "actor": actor,
                 "body": bench_body(seq)}
        out.append({"entry": entry, "sig": encode_sig(sign_entry(key, canonical_json(entry)))})
    return out


def _verify_items(raw: bytes, items: list[tuple[bytes, bytes]]) -> int:
    """Ed25519 verification + SHA-256 of (entry bytes, sig) pairs; returns how many passed."""
    public = PublicKey(raw)
    ok = 0
    for entry_bytes, sig in items:
        public.verify(ENTRY_DOMAIN + entry_bytes, sig)
        hashlib.sha256(entry_bytes).digest()
        ok += 1
    return ok


def _verify_floor(raw: bytes, items: Sequence[tuple[bytes, bytes]], workers: int) -> float:
    """Seconds to verify ``items`` on ``workers`` processes (1: in this process)."""
    if workers <= 1:
        t0 = time.perf_counter()
        _verify_items(raw, list(items))
        return time.perf_counter() - t0
    with _pool(workers) as pool:
        list(pool.map(_verify_items, [raw] * workers, [[items[0]]] * workers))  # warm up
        t0 = time.perf_counter()
        futures = [pool.submit(_verify_items, raw, list(items[a:b]))
                   for a, b in _chunks(len(items), 2048)]
        done = sum(f.result() for f in futures)
        elapsed = time.perf_counter() - t0
    assert done == len(items)
    return elapsed


def _read_hash_floor(db: Path) -> float:
    """Seconds to read every stored row (the columns the audit reads) with plain sqlite3
    and hash each leaf: what any tree check must at least do, in one process."""
    sha = hashlib.sha256
    conn = sqlite3.connect(db)
    t0 = time.perf_counter()
    cursor = conn.execute(
        "SELECT idx, leaf, leaf_hash, kind, actor FROM log_leaves ORDER BY idx")
    while rows := cursor.fetchmany(20_000):
        for row in rows:
            sha(b"\x00" + row[1]).digest()
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def _sqlite_floor(db: Path, ddl: list[str], rows: list[tuple[Any, ...]], batch: int) -> float:
    """Raw sqlite3 executemany of the same leaf rows and 2 tree nodes per leaf, into the
    same schema, WAL with synchronous=FULL, one transaction (fsync) per batch."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    for statement in ddl:
        conn.execute(statement)
    nodes = [(i, hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(2 * len(rows))]
    t0 = time.perf_counter()
    for a, b in _chunks(len(rows), batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO log_leaves VALUES (?, ?, ?, ?, ?, ?)", rows[a:b])
        conn.executemany("INSERT INTO tree_nodes VALUES (?, ?)", nodes[2 * a : 2 * b])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def _percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def _log(quiet: bool, text: str) -> None:
    if not quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- the run -------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    n, batch, workers = args.entries, args.batch, os.cpu_count() or 1
    quiet = args.json
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="medledger-bench-"))
    ledger = Ledger.init(base / "ledger", kinds=BENCH_KINDS, projections=BENCH_PROJECTIONS)
    ledger.add_key("bench", "submitter")
    key = ledger.signing_key("bench")
    out: dict[str, Any] = {"entries": n, "batch": batch, "submitters": args.submitters,
                           "machine": _machine(), "date": _utc_now()[:10]}

    # 1. pre-sign (the submitter's cost, not timed as append)
    _log(quiet, f"signing {n:,} envelopes on {workers} processes")
    seed = key.private_bytes_raw()
    parts_n = len(range(0, n, 5000))
    with _pool(workers) as pool:
        t_sign, parts = _timed(lambda: list(pool.map(
            _sign_range, [seed] * parts_n, [ledger.log_id] * parts_n,
            *zip(*_chunks(n, 5000), strict=True))))
    envelopes = [env for part in parts for env in part]
    out["sign_per_s"] = n / t_sign

    # 2. append
    _log(quiet, f"appending in batches of {batch:,} from {args.submitters} submitter thread(s)")
    # Warm-up, not timed: enough large batches for the sequencer to start its worker
    # pool (a process that appends a few batches never starts one), then its start.
    warm = min(n // 2, max(batch, WORKERS_AFTER + batch))
    for a, b in _chunks(warm, batch):
        ledger.submit(envelopes[a:b])
    deadline = time.monotonic() + 60
    while ready_pool() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    batches = iter([envelopes[warm + a : warm + b] for a, b in _chunks(n - warm, batch)])
    lock = threading.Lock()
    errors: list[BaseException] = []

    def submitter() -> None:
        while True:
            with lock:
                chunk = next(batches, None)
            if chunk is None:
                return
            try:
                ledger.submit(chunk)
            except BaseException as exc:  # report, never hang the other threads
                errors.append(exc)
                return

    t_start_iso = _utc_now()
    threads = [threading.Thread(target=submitter) for _ in range(args.submitters)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    t_append = time.perf_counter() - t0
    if errors:
        raise errors[0]
    appended = n - warm
    out["append_per_s"] = appended / t_append if appended else 0.0
    out["checkpoint_max_gap_s"] = _checkpoint_gap(ledger, since=t_start_iso)
    size = ledger.size()
    out["log_size"] = size

    # floors for append, on the same entries
    _log(quiet, "append floors")
    sample = envelopes[: min(n, args.floor_sample)]
    items = [(canonical_json(e["entry"]), decode_sig(e["sig"])) for e in sample]
    raw = key.public_key.raw
    t_v1 = _verify_floor(raw, items, 1)
    t_v2 = _verify_floor(raw, items, workers)
    leaves = [leaf for _, leaf, *_ in _iter_rows(ledger, len(sample))]
    ddl = _schema(ledger)
    rows = [(i, leaf, hashlib.sha256(b"\x00" + leaf).digest(), hashlib.sha256(leaf).digest(),
             KIND, key.public_key.key_id) for i, leaf in enumerate(leaves)]
    t_sql = _sqlite_floor(base / "floor.db", ddl, rows, batch)
    m = len(items)
    out["floor_verify_1proc_per_s"] = m / t_v1
    out["floor_verify_allcores_per_s"] = m / t_v2
    out["floor_sqlite_per_s"] = len(rows) / t_sql
    out["floor_append_1proc_per_s"] = 1 / (t_v1 / m + t_sql / len(rows))
    out["append_ratio_to_1proc_floor"] = out["append_per_s"] / out["floor_append_1proc_per_s"]
    out["append_ratio_to_allcores_verify"] = (
        out["append_per_s"] / out["floor_verify_allcores_per_s"])

    # 3. full verify and its floor
    _log(quiet, f"full verify of {size:,} entries on {workers} workers")
    t_verify, report = _timed(lambda: ledger.verify(workers=workers))
    out["verify_s"] = t_verify
    out["verify_per_s"] = size / t_verify
    out["verify_signatures"] = report.signatures
    out["verify_projection_rows"] = report.projection_rows
    _log(quiet, "verify floor: Ed25519 of every signature on every core")
    all_items = [(canonical_json(e["entry"]), decode_sig(e["sig"])) for e in envelopes]
    t_vfloor = _verify_floor(raw, all_items, workers) * size / len(all_items)
    out["floor_verify_s"] = t_vfloor
    out["verify_ratio"] = t_verify / t_vfloor
    del all_items

    # 4. tree-only
    _log(quiet, "tree-only verify")
    t_tree, _ = _timed(lambda: ledger.verify(tree_only=True))
    out["tree_only_per_s"] = size / t_tree
    out["floor_read_sha256_per_s"] = size / _read_hash_floor(_db_path(ledger))
    out["tree_only_ratio"] = out["floor_read_sha256_per_s"] / out["tree_only_per_s"]

    # 5. proofs
    _log(quiet, f"inclusion proofs over {args.proofs} random indexes")
    out |= _proofs(ledger, size, args.proofs)

    # 6. sizes
    out |= _sizes(ledger, size)
    out["ledger_dir"] = str(base)
    out["loadavg_at_end"] = os.getloadavg()[0]
    return out


def _iter_rows(ledger: Ledger, limit: int) -> list[tuple[int, bytes, bytes, str, str]]:
    from ledger.store import reading

    with reading(ledger.store.engine) as conn:
        return list(ledger.store.iter_leaves(conn, start=0, end=limit))


def _db_path(ledger: Ledger) -> Path:
    url = str(ledger.store.engine.url)
    return Path(url.split("sqlite:///", 1)[1])


def _schema(ledger: Ledger) -> list[str]:
    with sqlite3.connect(_db_path(ledger)) as conn:
        return [sql for (sql,) in conn.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('log_leaves', 'tree_nodes') "
            "AND type IN ('table', 'index') AND sql IS NOT NULL "
            "ORDER BY type = 'index', rowid")]


def _checkpoint_gap(ledger: Ledger, *, since: str) -> float:
    with sqlite3.connect(_db_path(ledger)) as conn:
        created = [c for (c,) in conn.execute(
            "SELECT created FROM checkpoints WHERE created >= ? ORDER BY id", (since,))]
    stamps = [datetime.strptime(c, "%Y-%m-%dT%H:%M:%S.%fZ") for c in created]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]
    return max(gaps, default=0.0)


def _proofs(ledger: Ledger, size: int, samples: int) -> dict[str, Any]:
    from ledger.checkpoints import open_checkpoint

    note = ledger.checkpoint()
    root = open_checkpoint(note, [ledger.verifier]).root
    rng = random.Random(9)
    indexes = [rng.randrange(size) for _ in range(samples)]
    for i in indexes[:20]:
        ledger.inclusion_proof(i, size=size)  # warm caches
    produce, check = [], []
    proofs = []
    for i in indexes:
        t0 = time.perf_counter()
        proof = ledger.inclusion_proof(i, size=size)
        produce.append(time.perf_counter() - t0)
        proofs.append(proof)
    for i, proof in zip(indexes, proofs, strict=True):
        assert proof.leaf_hash is not None
        t0 = time.perf_counter()
        verify_inclusion(index=i, size=size, leaf_hash=proof.leaf_hash, proof=proof.hashes,
                         root=root)
        check.append(time.perf_counter() - t0)
    p50, p95 = _percentiles(produce)
    v50, v95 = _percentiles(check)
    return {"proof_samples": samples, "proof_produce_ms_p50": p50 * 1e3,
            "proof_produce_ms_p95": p95 * 1e3, "proof_verify_ms_p50": v50 * 1e3,
            "proof_verify_ms_p95": v95 * 1e3,
            "tlog_proof_bytes_at_n": len(ledger.tlog_proof(indexes[0]).encode())}


def _sizes(ledger: Ledger, size: int) -> dict[str, Any]:
    big = 10**9
    worst = max(inclusion_proof_size(index=i, size=big) for i in (0, big // 2, big - 1, 2**29 - 1))
    signer = NoteSigner(ledger.origin, read_private_key(ledger.dir.log_key, passphrase=None))
    from ledger.checkpoints import sign_checkpoint

    note = sign_checkpoint(signer, origin=ledger.origin, size=big, root=bytes(32))
    text = format_tlog_proof(index=big - 1, proof=[bytes(32)] * worst, checkpoint_note=note)
    db = _db_path(ledger)
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        leaf_bytes = conn.execute("SELECT SUM(LENGTH(leaf)) FROM log_leaves").fetchone()[0]
    files = sum(Path(f"{db}{s}").stat().st_size for s in ("", "-wal") if Path(f"{db}{s}").exists())
    return {"tlog_proof_hashes_at_1e9": worst, "tlog_proof_bytes_at_1e9": len(text.encode()),
            "db_bytes": files, "leaf_bytes": leaf_bytes,
            "leaf_bytes_per_entry": leaf_bytes / size,
            "storage_overhead_per_entry": (files - leaf_bytes) / size}


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform(),
            "loadavg_at_start": os.getloadavg()[0]}


# --- output --------------------------------------------------------------------------


def table(r: dict[str, Any]) -> str:
    n = r["entries"]
    rows = [
        (f"append (submit, batches of {r['batch']:,}, {r['submitters']} thread(s))",
         f"{r['append_per_s']:,.0f} entries/s",
         f"1-proc verify+sha256+sqlite {r['floor_append_1proc_per_s']:,.0f}/s; "
         f"verify on all cores {r['floor_verify_allcores_per_s']:,.0f}/s",
         f"x{r['append_ratio_to_1proc_floor']:.2f} / x{r['append_ratio_to_allcores_verify']:.2f}",
         ">= 10,000/s"),
        ("  checkpoint gap under load (max)", f"{r['checkpoint_max_gap_s']:.2f} s", "", "",
         "<= 1 s"),
        (f"full verify of {r['log_size']:,} entries", f"{r['verify_s']:.1f} s",
         f"Ed25519 on all cores {r['floor_verify_s']:.1f} s", f"x{r['verify_ratio']:.2f}",
         "<= 75 s at 1M"),
        ("tree-only verify", f"{r['tree_only_per_s']:,.0f} entries/s",
         f"sqlite3 read + leaf SHA-256 {r['floor_read_sha256_per_s']:,.0f}/s",
         f"x{r['tree_only_ratio']:.2f}", ">= 500,000/s"),
        (f"inclusion proof produced (p50 / p95, n={n:,})",
         f"{r['proof_produce_ms_p50']:.3f} / {r['proof_produce_ms_p95']:.3f} ms", "", "",
         "<= 2 ms"),
        ("inclusion proof verified (p50 / p95)",
         f"{r['proof_verify_ms_p50']:.4f} / {r['proof_verify_ms_p95']:.4f} ms", "", "",
         "<= 0.2 ms"),
        ("tlog-proof with checkpoint at 10^9 entries",
         f"{r['tlog_proof_bytes_at_1e9']:,} bytes ({r['tlog_proof_hashes_at_1e9']} hashes)", "",
         "", "<= 2 KB"),
        ("storage beyond the entry",
         f"{r['storage_overhead_per_entry']:,.0f} bytes/entry",
         f"entry (leaf) {r['leaf_bytes_per_entry']:,.0f} bytes", "", "<= 1 KB"),
    ]
    head = ("figure", "measured", "floor (same run)", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [head, *rows]) for i in range(5)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    m = r["machine"]
    lines.append(f"\n{m['cpus']} CPUs ({m['cpu']}), Python {m['python']}, SQLite {m['sqlite']}, "
                 f"{r['date']}; load average {m['loadavg_at_start']:.1f} at start, "
                 f"{r['loadavg_at_end']:.1f} at end; signing {r['sign_per_s']:,.0f} envelopes/s "
                 "(not timed as append)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000, help="log size (default 1M)")
    parser.add_argument("--quick", action="store_true", help="20,000 entries")
    parser.add_argument("--batch", type=int, default=1000, help="envelopes per submit")
    parser.add_argument("--submitters", type=int, default=2, help="concurrent submit threads")
    parser.add_argument("--proofs", type=int, default=2000, help="random proof indexes")
    parser.add_argument("--floor-sample", type=int, default=50_000,
                        help="entries used for the append floors")
    parser.add_argument("--dir", help="work directory (default: a new temporary one)")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    if args.quick:
        args.entries = 20_000
    if args.entries < 2:
        parser.error("--entries must be at least 2")
    result = run(args)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
