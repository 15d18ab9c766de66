"""Benchmark of image registration (issue 3, "Performance"): register against its floor.

Prints figures; never asserts timings. For each format the same synthetic files are
processed, in the same run, by two programs using the same number of processes:

* floor: read the bytes, SHA-256 them and decode them (pydicom ``dcmread`` +
  ``pixel_array``, or Pillow ``open`` + ``load``) on a ``ProcessPoolExecutor``
  (forkserver) of ``--workers`` processes, tasks of 8 files; nothing else.
* register: ``ledger.service.register.register`` into a new ledger with the
  same ``--workers``: analysis, signing, append, checkpoint, everything.

Each runs in a fresh Python process (so each starts its own forkserver and pools,
as the command does) and is timed from just before its first pool starts to its
last result, with the files in the page cache. The ratio of files/s,
register / floor, is the issue's target (>= 0.85); with ``--repeat N`` the pairs
are interleaved and the fastest of each is kept (other load on the machine only
ever slows a run down). The register's main process (signing, SQLite) and, in
long runs, the sequencer's signature-check pool share the cores with its
workers; that is part of what is measured, because the command pays it too.

Also reported, to say why: both programs' CPU seconds (main process and all
other processes, sampled from /proc) and their ratio, which does not depend on
other load; where the register's main process spends its wall time (waiting for
analyses, signing, the known-file check, appending, the final checkpoint);
where its analysis workers' time goes (busy, starting, starved between tasks,
done), from a log of every task; the CPU cost of each step of the floor and of
``analyse`` in one process; and the resulting per-file budget.

Formats (synthetic CT-like phantoms: ellipses of body, lungs, spine, heart,
nodules, plus noise; every file unique):

* ``ct``: 512x512 CT Image Storage, 16-bit words, 12 bits stored, Explicit VR Little
  Endian (uncompressed), rescale intercept -1024, a VOI window.
* ``j2k``: the same kind of image as JPEG 2000 lossless (pydicom 3
  ``Dataset.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")``, i.e.
  pylibjpeg-openjpeg).
* ``png``: 512x512 8-bit greyscale PNG (Pillow, default compression) of a windowed
  rendering of the same kind of phantom.

Memory: the ``medledger register`` command itself (a subprocess, progress bar
and all) registers ``--memory-files`` 64x64 PNGs from one flat folder while the
resident memory of its whole process tree (main process, forkserver, analysis
workers, signature-check workers) is sampled every 0.1 s: the peak of the sum of
VmRSS (counts shared pages once per process, so it overstates), the peak of the
sum of PSS (shares them out), and each process's own peak (VmHWM).

    python bench/register.py --quick                 # 200 files per format, 5,000 for memory
    python bench/register.py                         # 2,000 per format, 100,000 for memory
    python bench/register.py --data /tmp/regbench    # keep the generated files, reuse them
    python bench/register.py --formats ct --memory-files 0 --repeat 3 --json
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import multiprocessing
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Only what the floor needs at module level: worker processes re-run this module.
import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

FORMATS = ("ct", "j2k", "png")
# Colour photographs (the DWT-DCT watermark decoder runs on 8-bit colour images only), run on
# request: --formats rgb-png,rgb-jpeg
COLOUR_FORMATS = ("rgb-png", "rgb-jpeg")
CORPUS_VERSION = 1
TASK_FILES = 8
KEY = "bench"
SOURCE = "bench.example.org"
SECRET = b"bench-secret-0123456789abcdef"
SAMPLE_S = 0.1
TRACE_ENV = "REGBENCH_TRACE"  # set for register children: their workers log each task


def _trace_tasks(directory: str) -> None:
    """Log (start, end, files) of every analysis task, per process, into ``directory``.

    Runs at import of this module, which the register child's workers re-run as
    their main module (forkserver), so the wrapper is installed on both sides of
    the pickle: the parent submits it and the workers find it by the same name.
    """
    import functools

    import ledger.registration.pipeline as pipeline
    import ledger.registration.workers as workers

    original = workers.analyse_paths

    @functools.wraps(original)
    def analyse_paths(paths: list[str]) -> Any:
        start = time.time()
        out = original(paths)
        with open(os.path.join(directory, str(os.getpid())), "a") as log:
            log.write(f"{start} {time.time()} {len(paths)}\n")
        return out

    workers.analyse_paths = analyse_paths  # type: ignore[assignment]
    pipeline.analyse_paths = analyse_paths  # type: ignore[assignment]


if os.environ.get(TRACE_ENV):
    _trace_tasks(os.environ[TRACE_ENV])

# --- synthetic images ---------------------------------------------------------------------


def phantom(rng: np.random.Generator, size: int) -> np.ndarray:
    """A CT-like slice in Hounsfield units: air, body, two lungs, spine, nodules, noise."""
    axis = np.linspace(-1.0, 1.0, size)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    image = np.full((size, size), -1000.0)

    def ellipse(cx: float, cy: float, a: float, b: float, value: float) -> None:
        image[((xx - cx) / a) ** 2 + ((yy - cy) / b) ** 2 <= 1.0] = value

    jitter = rng.uniform(-0.04, 0.04, size=8)
    ellipse(jitter[0], jitter[1], 0.86 + jitter[2], 0.64 + jitter[3], 40.0)  # body
    ellipse(-0.38 + jitter[4], -0.05, 0.28, 0.42 + jitter[5], -820.0)  # lungs
    ellipse(0.38 + jitter[6], -0.05, 0.28, 0.42 + jitter[7], -820.0)
    ellipse(0.0, 0.45, 0.09, 0.08, 700.0)  # vertebra
    ellipse(0.0, 0.45, 0.04, 0.035, 250.0)  # canal
    ellipse(0.0, 0.0, 0.12, 0.1, 60.0)  # heart
    for _ in range(int(rng.integers(1, 5))):  # nodules
        ellipse(rng.uniform(-0.5, 0.5), rng.uniform(-0.3, 0.2), 0.03, 0.03, -100.0)
    return image + rng.normal(0.0, 18.0, size=(size, size))


def ct_stored(hu: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(hu + 1024.0), 0, 4095).astype(np.uint16)


def png_pixels(hu: np.ndarray) -> np.ndarray:
    lo, hi = -1000.0, 400.0  # a wide chest window
    return np.clip(np.rint((hu - lo) * 255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def ct_dataset(stored: np.ndarray, seed: int) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\x00" * 128)
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.FrameOfReferenceUID = generate_uid()
    ds.PatientID = f"BENCH{seed // 100:05d}"
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "synthetic phantom"
    ds.Modality = "CT"
    ds.Manufacturer = "medledger bench"
    ds.ManufacturerModelName = "phantom"
    ds.BodyPartExamined = "CHEST"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.KVP = "120"
    ds.SliceThickness = "1.25"
    ds.PixelSpacing = ["0.703125", "0.703125"]
    ds.InstanceNumber = seed
    ds.Rows, ds.Columns = stored.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    ds.PixelData = stored.tobytes()
    return ds


def _colour_photo(hu: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """A 512 x 512 8-bit RGB picture with a photograph's sensor noise: the phantom under
    three windows, one per channel."""
    windows = ((-1000.0, 400.0), (-400.0, 600.0), (-160.0, 240.0))
    channels = [np.clip((hu - lo) * 255.0 / (hi - lo) + rng.normal(0, 2.0, hu.shape), 0, 255)
                for lo, hi in windows]
    return Image.fromarray(np.rint(np.stack(channels, axis=-1)).astype(np.uint8), mode="RGB")


def _write_files(kind: str, directory: str, start: int, end: int) -> int:
    for index in range(start, end):
        kinds = (*FORMATS, *COLOUR_FORMATS)
        stream = kinds.index(kind) if kind in kinds else len(kinds)
        rng = np.random.default_rng([CORPUS_VERSION, stream, index])
        name = Path(directory) / f"{index:06d}"
        if kind == "small-png":
            Image.fromarray(png_pixels(phantom(rng, 64)), mode="L").save(f"{name}.png")
            continue
        hu = phantom(rng, 512)
        if kind in COLOUR_FORMATS:
            _colour_photo(hu, rng).save(f"{name}.png" if kind == "rgb-png" else f"{name}.jpg",
                                        **({} if kind == "rgb-png" else {"quality": 90}))
            continue
        if kind == "png":
            Image.fromarray(png_pixels(hu), mode="L").save(f"{name}.png")
            continue
        stored = ct_stored(hu)
        ds = ct_dataset(stored, index)
        if kind == "j2k":
            ds.compress(JPEG2000Lossless, stored, encoding_plugin="pylibjpeg")
        ds.save_as(f"{name}.dcm", enforce_file_format=True)
    return end - start


def corpus(root: Path, kind: str, count: int, quiet: bool) -> Path:
    """``count`` files of ``kind`` in ``root/kind-count``, generated unless already there."""
    directory = root / f"{kind}-{count}"
    stamp = directory / ".corpus.json"  # a dot file: register's walk skips it
    want = {"kind": kind, "count": count, "version": CORPUS_VERSION}
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        return directory
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    _log(quiet, f"generating {count} {kind} files in {directory}")
    t0 = time.perf_counter()
    step = 500 if kind == "small-png" else 25
    with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=_context("fork")) as pool:
        futures = [
            pool.submit(_write_files, kind, str(directory), a, min(count, a + step))
            for a in range(0, count, step)
        ]
        done = sum(f.result() for f in futures)
    stamp.write_text(json.dumps(want))
    _log(quiet, f"  {done} files, {_du(directory) / 1e6:.0f} MB, {time.perf_counter() - t0:.0f} s")
    return directory


# --- the floor (child process) ---------------------------------------------------------------


def floor_task(paths: list[str]) -> int:
    """Read, SHA-256 and decode each file; nothing else."""
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        hashlib.sha256(data).digest()
        if path.endswith(".dcm"):
            pydicom.dcmread(io.BytesIO(data)).pixel_array  # noqa: B018 - decoding is the point
        else:
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    return len(paths)


def child_floor(directory: Path, workers: int) -> dict[str, Any]:
    files = _files(directory)
    c0, t0 = time.process_time(), time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=_context("forkserver")) as pool:
        tasks = [files[i : i + TASK_FILES] for i in range(0, len(files), TASK_FILES)]
        done = sum(pool.map(floor_task, tasks))
    elapsed = time.perf_counter() - t0
    if done != len(files):
        raise RuntimeError(f"floor decoded {done} of {len(files)} files")
    return {"seconds": elapsed, "files": done, "main_cpu": time.process_time() - c0}


# --- register, instrumented (child process) ----------------------------------------------------


@dataclass
class MainProfile:
    """Wall seconds of the register's main process by activity."""

    waiting: float = 0.0  # blocked on the next analysis result
    signing: float = 0.0  # Ledger.sign: canonical JSON + Ed25519
    known: float = 0.0  # which files are already registered (one query per batch)
    append: float = 0.0  # sequencer: validate, verify signatures, SQLite, tree, checkpoint
    duplicates: float = 0.0  # exact and near-duplicate check per batch, where register has one
    checkpoint: float = 0.0  # the final checkpoint
    progress: float = 0.0
    first_result: float = 0.0  # (not a part) from the call to the first analysis result


def _add_time(profile: MainProfile, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            setattr(profile, name, getattr(profile, name) + time.perf_counter() - t0)

    return timed


@contextlib.contextmanager
def instrumented(led: Any, profile: MainProfile) -> Iterator[None]:
    """Time the register's main-process steps by wrapping what ``register`` calls.

    A name that ``register`` no longer uses is simply not timed (its time shows
    as "other").
    """
    import ledger.service.register as module

    saved = {name: getattr(module, name) for name in ("analysed_stream", "append", "check")
             if hasattr(module, name)}  # fmt: skip

    started = time.perf_counter()

    def timed_stream(*args: Any, **kwargs: Any) -> Iterator[Any]:
        items = saved["analysed_stream"](*args, **kwargs)
        while True:
            t0 = time.perf_counter()
            item = next(items, None)
            profile.waiting += time.perf_counter() - t0
            if not profile.first_result:
                profile.first_result = time.perf_counter() - started
            if item is None:
                return
            yield item

    if "analysed_stream" in saved:
        setattr(module, "analysed_stream", timed_stream)  # noqa: B010
    if "append" in saved:
        setattr(module, "append", _add_time(profile, "append", saved["append"]))  # noqa: B010
    if "check" in saved:
        setattr(module, "check", _add_time(profile, "duplicates", saved["check"]))  # noqa: B010
    # Instance attributes shadow the methods, for this ledger only.
    led.sign = _add_time(profile, "signing", led.sign)
    led.checkpoint = _add_time(profile, "checkpoint", led.checkpoint)
    led.store.known_images = _add_time(profile, "known", led.store.known_images)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def new_ledger(directory: Path) -> Any:
    from ledger.service import Ledger

    led = Ledger.init(directory)
    led.add_key(KEY, "submitter")
    return led


def child_register(
    directory: Path, workers: int, ledger_dir: Path, cprofile: bool, skip_dup_check: bool = False,
    screen: bool = True,
) -> dict[str, Any]:
    from ledger.registration.pipeline import RegisterOptions
    from ledger.service.register import register

    led = new_ledger(ledger_dir)
    options = RegisterOptions(
        source=SOURCE, license="CC-BY-4.0", consent="waived", key=KEY, workers=workers,
        screen=screen,
    )
    profile = MainProfile()
    outcomes: dict[str, int] = {}

    def progress(_path: str, outcome: str) -> None:
        t0 = time.perf_counter()
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        profile.progress += time.perf_counter() - t0

    if skip_dup_check:
        _skip_duplicate_check()
    profiler = cProfile.Profile() if cprofile else None
    with instrumented(led, profile):
        called = time.time()
        c0, t0 = time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        summary = register(led, [directory], options, progress=progress)
        if profiler:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    if summary.refused:
        raise RuntimeError(f"register refused files: {summary.refused[:3]}")
    main = asdict(profile)
    first = main.pop("first_result")
    main["other"] = elapsed - sum(main.values())
    main["first_result_after"] = first
    result: dict[str, Any] = {
        "seconds": elapsed,
        "files": summary.registered,
        "main_cpu": cpu,
        "main": main,
    }
    if os.environ.get(TRACE_ENV):
        result["workers"] = task_timeline(Path(os.environ[TRACE_ENV]), called, elapsed, workers)
    if profiler:
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.sort_stats("tottime").print_stats(25)
        result["cprofile"] = buffer.getvalue()
    return result


def _skip_duplicate_check() -> None:
    """--skip-dup-check: register's per-batch duplicate check reports nothing, at no cost.

    The synthetic phantoms are all near-duplicates of one another (one body, jittered),
    which is the duplicate check's worst case; this isolates the rest of registration.
    The index is still synced, as the check does first: the append then checks only the
    images another run appended since (none here), not every image of this run again.
    """
    import ledger.service.register as module

    def nothing_found(index: Any, items: list[Any], **_kw: Any) -> list[list[Any]]:
        index.sync()
        return [[] for _ in items]

    if hasattr(module, "check"):
        setattr(module, "check", nothing_found)  # noqa: B010


def task_timeline(directory: Path, called: float, elapsed: float, workers: int) -> dict[str, Any]:
    """Where the workers' time went, from the task logs: busy, starting, starved, done."""
    pool: list[list[tuple[float, float, int]]] = []
    inline = 0
    for log in directory.iterdir():
        tasks = sorted(tuple(map(float, line.split())) for line in log.read_text().splitlines())
        if int(log.name) == os.getpid():
            inline = sum(int(t[2]) for t in tasks)
        else:
            pool.append([(a, b, int(n)) for a, b, n in tasks])
    end = called + elapsed
    busy = sum(b - a for tasks in pool for a, b, _ in tasks)
    start = sum(tasks[0][0] - called for tasks in pool)
    gaps = sum(tasks[i + 1][0] - tasks[i][1] for tasks in pool for i in range(len(tasks) - 1))
    tail = sum(end - tasks[-1][1] for tasks in pool)
    total = workers * elapsed
    return {  # worker-seconds, and their share of workers x wall time
        "capacity_s": round(total, 2),
        "busy": round(busy / total, 3),
        "before_first_task": round(start / total, 3),
        "between_tasks": round(gaps / total, 3),
        "after_last_task": round(tail / total, 3),
        "files_analysed_inline": inline,
    }


# --- per-file steps in one process ------------------------------------------------------------


def stages(files: list[str]) -> dict[str, float]:
    """Mean CPU ms per file of each step of the floor and of ``analyse``, in this process."""
    from ledger.fingerprint.descriptor import describe
    from ledger.fingerprint.hashes import THUMBNAIL_SIZE, fingerprints
    from ledger.forensics.screen import screen_at_registration, screen_decoded
    from ledger.imaging.analyse import analyse
    from ledger.imaging.decode import decode
    from ledger.imaging.deid import deid_status
    from ledger.imaging.digest import pixel_digests
    from ledger.imaging.limits import DecodeLimits
    from ledger.imaging.metadata import dicom_metadata, photo_metadata
    from ledger.imaging.pseudonym import pseudonyms
    from ledger.imaging.readfile import read_file
    from ledger.imaging.render import thumbnail

    limits = DecodeLimits()
    sums: dict[str, float] = {}

    def clock(name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()  # CPU time: other load on the machine does not count
        value = fn(*args, **kwargs)
        sums[name] = sums.get(name, 0.0) + time.process_time() - t0
        return value

    def read_and_hash(path: str) -> bytes:
        with open(path, "rb") as handle:
            data = handle.read()
        hashlib.sha256(data).digest()
        return data

    def floor_decode(path: str, data: bytes) -> None:
        if path.endswith(".dcm"):
            pydicom.dcmread(io.BytesIO(data)).pixel_array  # noqa: B018
        else:
            with Image.open(io.BytesIO(data)) as image:
                image.load()

    for path in files:
        data = clock("floor: read + sha256", read_and_hash, path)
        clock("floor: decode", floor_decode, path, data)
        clock("analyse: read_file", read_file, path, max_bytes=limits.max_file_bytes)
        decoded = clock("analyse: decode (incl. read_file)", decode, path, limits=limits)
        pixels, bits, signed = decoded.pixels, decoded.bits_stored, decoded.signed
        clock("analyse: pixel_digests", pixel_digests, pixels, bits_stored=bits, signed=signed)
        if decoded.dataset is not None:
            status = clock("analyse: deid_status", deid_status, decoded.dataset)
            clock("analyse: metadata", dicom_metadata, decoded, status, keep_demographics=False)
            clock("analyse: pseudonyms", pseudonyms, decoded.dataset, secret=SECRET)
        else:
            clock("analyse: metadata", photo_metadata, decoded)
        thumb = clock("analyse: thumbnail", thumbnail, decoded, size=THUMBNAIL_SIZE)
        clock("analyse: fingerprints", fingerprints, thumb)
        clock("analyse: describe", describe, thumb)
        analysis = clock("analyse: whole analyse()", analyse, path, secret=SECRET, limits=limits)
        clock("analyse: to_json", analysis.to_json)
        clock("screen: screen_at_registration (issue 22)", screen_at_registration, decoded)
        clock("screen: screen_decoded, every module (inspect)", screen_decoded, decoded)
    return {name: 1000.0 * total / len(files) for name, total in sums.items()}


# --- process-tree sampling ---------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    """Every descendant of ``pid`` (one scan of /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        parents[int(entry)] = int(stat[stat.rfind(b")") + 2 :].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _cpu_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


def _status_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except (OSError, ValueError):
        return {}
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return 0
    return 0


class TreeSampler:
    """Samples memory and CPU time of a process and all its descendants."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_kb = self.peak_pss_kb = self.peak_processes = 0
        self.hwm_kb: dict[int, int] = {}
        self.ticks: dict[int, int] = {}
        self.first_seen: dict[int, float] = {}
        self._t0 = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = {self.pid} | _descendants(self.pid)
            rss = pss = 0
            for pid in pids:
                status = _status_kb(pid)
                rss += status.get("VmRSS", 0)
                if "VmHWM" in status:
                    self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), status["VmHWM"])
                pss += _pss_kb(pid)
                ticks = _cpu_ticks(pid)
                if ticks is not None:
                    self.ticks[pid] = ticks
                    self.first_seen.setdefault(pid, time.perf_counter() - self._t0)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self._stop.wait(SAMPLE_S)

    def figures(self) -> dict[str, Any]:
        others = [kb for pid, kb in self.hwm_kb.items() if pid != self.pid]
        hz = os.sysconf("SC_CLK_TCK")
        return {
            "peak_tree_rss_mb": round(self.peak_rss_kb / 1024, 1),
            "peak_tree_pss_mb": round(self.peak_pss_kb / 1024, 1),
            "main_peak_rss_mb": round(self.hwm_kb.get(self.pid, 0) / 1024, 1),
            "largest_other_peak_rss_mb": round(max(others, default=0) / 1024, 1),
            "processes": self.peak_processes,
            # CPU of every process but the main one (sampled: the last 0.1 s may be missed)
            "others_cpu": round(
                sum(t for pid, t in self.ticks.items() if pid != self.pid) / hz, 2
            ),
            # (seconds after start when first seen, CPU seconds), in order of appearance
            "per_process": [
                (round(self.first_seen[pid], 1), round(self.ticks[pid] / hz, 2))
                for pid in sorted(self.first_seen, key=self.first_seen.__getitem__)
            ],
        }


def run_sampled(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, str, dict[str, Any]]:
    """Run ``command``, sampling its process tree; (wall seconds, stdout, sampled figures)."""
    t0 = time.perf_counter()
    pipe = subprocess.PIPE
    with subprocess.Popen(command, stdout=pipe, stderr=pipe, env=env) as proc:
        with TreeSampler(proc.pid) as sampler:
            stdout, stderr = proc.communicate()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = stderr.decode(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(command[:3])} failed ({proc.returncode}):\n{tail}")
    return elapsed, stdout.decode(), sampler.figures()


def run_child(args: list[str]) -> dict[str, Any]:
    env = None
    trace = None
    if args[0] == "register":
        trace = tempfile.mkdtemp(prefix="regbench-trace-")
        env = {**os.environ, TRACE_ENV: trace}
    try:
        _wall, stdout, sampled = run_sampled([sys.executable, __file__, "--child", *args], env)
    finally:
        if trace:
            shutil.rmtree(trace, ignore_errors=True)
    result: dict[str, Any] = json.loads(stdout)
    result.update(sampled)
    return result


def run_cli(
    directory: Path, workers: int, work: Path, skip_dup_check: bool = False
) -> dict[str, Any]:
    """``medledger register`` on ``directory``: wall time, outcome, memory, CPU.

    With ``skip_dup_check`` the command runs in a child of this script that first
    disables the duplicate check (``_skip_duplicate_check``), then calls the CLI."""
    ledger_dir = Path(tempfile.mkdtemp(dir=work, prefix="ledger-cli-"))
    new_ledger(ledger_dir).store.engine.dispose()
    exe = Path(sys.executable).with_name("medledger")
    prefix = [sys.executable, __file__, "--child", "cli"] if skip_dup_check else [str(exe)]
    command = [
        *prefix, "register", str(directory), "--source", SOURCE, "--license", "CC-BY-4.0",
        "--consent", "waived", "--key", KEY, "--workers", str(workers),
        "--ledger", str(ledger_dir), "--json",
    ]  # fmt: skip
    elapsed, stdout, sampled = run_sampled(command)
    summary = json.loads(stdout)
    shutil.rmtree(ledger_dir, ignore_errors=True)
    return {
        "seconds": round(elapsed, 2),
        "registered": summary["registered"],
        "refused": len(summary["refused"]),
        **sampled,
    }


# --- the run ---------------------------------------------------------------------------------


def _files(directory: Path) -> list[str]:
    return sorted(str(p) for p in directory.iterdir() if not p.name.startswith("."))


def _du(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.iterdir())


def _warm(files: list[str]) -> None:
    for path in files:
        with open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass


def _context(method: str) -> Any:
    return multiprocessing.get_context(method)


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _log(quiet: bool, text: str) -> None:
    if not quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def bench_format(kind: str, args: argparse.Namespace, data: Path, work: Path) -> dict[str, Any]:
    directory = corpus(data, kind, args.files, args.json)
    files = _files(directory)
    _warm(files)
    floors: list[dict[str, Any]] = []
    registers: list[dict[str, Any]] = []
    unscreened: list[dict[str, Any]] = []  # --screening-cost: the same run without screening
    for attempt in range(args.repeat):
        floors.append(run_child(["floor", str(directory), str(args.workers)]))
        _log(args.json, f"{kind}: floor {len(files) / floors[-1]['seconds']:.1f} files/s")
        ledger_dir = Path(tempfile.mkdtemp(dir=work, prefix="ledger-"))
        child = ["register", str(directory), str(args.workers), str(ledger_dir)]
        child += ["--cprofile"] if args.cprofile else []
        child += ["--skip-dup-check"] if args.skip_dup_check else []
        registers.append(run_child(child))
        shutil.rmtree(ledger_dir, ignore_errors=True)
        if args.screening_cost:
            unscreened.append(run_child([*child, "--no-screen"]))
            shutil.rmtree(ledger_dir, ignore_errors=True)
            _log(args.json, f"{kind}: register without screening "
                 f"{len(files) / unscreened[-1]['seconds']:.1f} files/s")
        if registers[-1]["files"] != len(files):
            raise RuntimeError(f"registered {registers[-1]['files']} of {len(files)} files")
        ratio = floors[-1]["seconds"] / registers[-1]["seconds"]
        _log(args.json, f"{kind}: register {len(files) / registers[-1]['seconds']:.1f} "
             f"files/s (ratio {ratio:.3f}, run {attempt + 1}, load {_load()})")  # fmt: skip
    best_floor = min(floors, key=lambda r: r["seconds"])
    best = min(registers, key=lambda r: r["seconds"])
    floor_rate, register_rate = len(files) / best_floor["seconds"], len(files) / best["seconds"]
    result: dict[str, Any] = {
        "format": kind,
        "files": len(files),
        "mean_file_kb": round(_du(directory) / len(files) / 1024, 1),
        "floor_files_per_s": round(floor_rate, 1),
        "register_files_per_s": round(register_rate, 1),
        "ratio": round(register_rate / floor_rate, 3),
        "runs": [
            {"floor_s": round(f["seconds"], 3), "register_s": round(r["seconds"], 3)}
            for f, r in zip(floors, registers, strict=True)
        ],
        "cpu_s": {
            "floor_main": round(best_floor["main_cpu"], 2),
            "floor_others": best_floor["others_cpu"],
            "register_main": round(best["main_cpu"], 2),
            "register_others": best["others_cpu"],
        },
        # What the ratio would be with every core busy all the time in both programs.
        "cpu_ratio": round(
            (best_floor["main_cpu"] + best_floor["others_cpu"])
            / (best["main_cpu"] + best["others_cpu"]),
            3,
        ),
        "register_main_process_s": {k: round(v, 3) for k, v in best["main"].items()},
        "register_workers": best.get("workers"),
        "processes_cpu": {"floor": best_floor["per_process"], "register": best["per_process"]},
        "register_memory": {
            k: best[k] for k in ("peak_tree_rss_mb", "peak_tree_pss_mb", "processes")
        },
    }
    if "cprofile" in registers[0]:
        result["cprofile"] = registers[0]["cprofile"]
    if unscreened:
        fastest = min(r["seconds"] for r in unscreened)
        result["screening"] = {
            "register_no_screen_files_per_s": round(len(files) / fastest, 1),
            "register_s": round(best["seconds"], 3),
            "register_no_screen_s": round(fastest, 3),
            "added_fraction": round(best["seconds"] / fastest - 1, 3),  # issue 22: <= 0.20
        }
    if args.stages:
        sample = files[: min(len(files), args.stages)]
        steps = stages(sample)
        result["stages_ms_per_file"] = {k: round(v, 3) for k, v in steps.items()}
        # The per-file CPU budget: what the target allows against what register spends.
        floor_ms = steps["floor: read + sha256"] + steps["floor: decode"]
        analyse_ms = steps["analyse: whole analyse()"]
        result["screening_cpu_fraction_of_analyse"] = round(
            steps["screen: screen_at_registration (issue 22)"] / analyse_ms, 3
        )
        result["screening_all_modules_cpu_fraction_of_analyse"] = round(
            steps["screen: screen_decoded, every module (inspect)"] / analyse_ms, 3
        )
        # The main process also analyses the first files itself while workers start.
        inline = (best.get("workers") or {}).get("files_analysed_inline", 0)
        main_ms = (1000.0 * best["main_cpu"] - inline * analyse_ms) / len(files)
        result["budget_ms_per_file"] = {
            "floor": round(floor_ms, 3),
            "register_max_for_0.85": round(floor_ms / 0.85, 3),
            "analyse": round(analyse_ms, 3),
            "main_process": round(main_ms, 3),
            "bound_ratio": round(floor_ms / (analyse_ms + main_ms), 3),
        }
    if args.cli:
        cli = run_cli(directory, args.workers, work, args.skip_dup_check)
        cli["files_per_s"] = round(len(files) / cli["seconds"], 1)
        cli["ratio"] = round(cli["files_per_s"] / floor_rate, 3)
        result["cli"] = cli
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="regbench-data-"))
    work = Path(tempfile.mkdtemp(prefix="regbench-"))
    load_before = _load()
    try:
        results = [bench_format(kind, args, data, work) for kind in args.formats]
        memory = None
        if args.memory_files:
            directory = corpus(data, "small-png", args.memory_files, args.json)
            _warm(_files(directory))
            _log(args.json, f"memory: medledger register of {args.memory_files} files")
            memory = run_cli(directory, args.workers, work, args.skip_dup_check)
            memory["files"] = args.memory_files
            memory["files_per_s"] = round(args.memory_files / memory["seconds"], 1)
        return {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "load_before": load_before,
                "load_after": _load(),
            },
            "workers": args.workers,
            "repeat": args.repeat,
            "skip_dup_check": args.skip_dup_check,
            "formats": results,
            "memory": memory,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not args.data:
            shutil.rmtree(data, ignore_errors=True)


def print_text(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(
        f"register vs floor: {m['cpus']} CPUs, {report['workers']} worker processes, "
        f"Python {m['python']}, best of {report['repeat']}, "
        f"{'duplicate check skipped, ' if report.get('skip_dup_check') else ''}load average "
        f"{m['load_before']} before, {m['load_after']} after"
    )
    print(f"{'format':7} {'files':>6} {'KB/file':>8} {'floor/s':>9} {'register/s':>11} "
          f"{'ratio':>6}  target >= 0.85")  # fmt: skip
    for r in report["formats"]:
        print(
            f"{r['format']:7} {r['files']:6d} {r['mean_file_kb']:8.1f} "
            f"{r['floor_files_per_s']:9.1f} {r['register_files_per_s']:11.1f} "
            f"{r['ratio']:6.3f}  {'met' if r['ratio'] >= 0.85 else 'MISSED'}"
        )
    for r in report["formats"]:
        if "screening" in r:
            cost = r["screening"]
            print(
                f"{r['format']:7} screening adds {100 * cost['added_fraction']:.1f}% "
                f"({cost['register_s']} s with, {cost['register_no_screen_s']} s without; "
                f"target <= 20%: {'met' if cost['added_fraction'] <= 0.20 else 'MISSED'})"
            )
    formats = report["formats"]
    if formats:
        header = f"{'':24}" + "".join(f"{r['format']:>9}" for r in formats)
        print("\nCPU seconds (main process / all other processes):")
        print(header)
        for name in formats[0]["cpu_s"]:
            print(f"{name:24}" + "".join(f"{r['cpu_s'][name]:9.2f}" for r in formats))
        print(f"{'cpu_ratio (floor/reg.)':24}" + "".join(f"{r['cpu_ratio']:9.3f}" for r in formats))
        print("\nregister's main process, wall seconds:")
        print(header)
        for name in formats[0]["register_main_process_s"]:
            values = "".join(f"{r['register_main_process_s'][name]:9.3f}" for r in formats)
            print(f"{name:24}{values}")
        if all(r.get("register_workers") for r in formats):
            print("register's analysis workers, share of workers x wall time:")
            for name in formats[0]["register_workers"]:
                print(f"{name:24}" + "".join(f"{r['register_workers'][name]:9}" for r in formats))
        print("register process tree, peak:")
        for name in formats[0]["register_memory"]:
            print(f"{name:24}" + "".join(f"{r['register_memory'][name]:9}" for r in formats))
    if any("budget_ms_per_file" in r for r in formats):
        print("\nper-file CPU budget (ms): the floor's steps and analyse() timed in one")
        print("process; the main process's CPU in the run (its own analyses taken out) per")
        print("file; bound_ratio = floor / (analyse + main process): the best ratio with every")
        print("core busy and no start-up (the sequencer's pool is not counted)")
        names = next(r["budget_ms_per_file"] for r in formats if "budget_ms_per_file" in r)
        print(f"{'':24}" + "".join(f"{r['format']:>9}" for r in formats))
        for name in names:
            row = [r.get("budget_ms_per_file", {}).get(name) for r in formats]
            print(f"{name:24}" + "".join(f"{v:9.3f}" if v is not None else " " * 9 for v in row))
    if any("stages_ms_per_file" in r for r in formats):
        print("\nper-file steps in one process (CPU ms per file):")
        for r in formats:
            for name, ms in r.get("stages_ms_per_file", {}).items():
                print(f"  {r['format']:5} {name:40} {ms:8.3f}")
    for r in formats:
        if "cli" in r:
            c = r["cli"]
            print(
                f"\n{r['format']}: the medledger register command, end to end: "
                f"{c['files_per_s']} files/s (ratio to the floor {c['ratio']:.3f}), "
                f"peak tree RSS {c['peak_tree_rss_mb']} MB"
            )
        if "cprofile" in r:
            print(f"\n{r['format']}: cProfile of register's main process\n{r['cprofile']}")
    mem = report["memory"]
    if mem:
        print(
            f"\nmemory: medledger register of {mem['files']} 64x64 PNGs in one folder: "
            f"{mem['seconds']} s ({mem['files_per_s']} files/s), {mem['registered']} registered"
        )
        print(
            f"  peak of the process tree: RSS {mem['peak_tree_rss_mb']} MB, "
            f"PSS {mem['peak_tree_pss_mb']} MB ({mem['processes']} processes); "
            f"main process {mem['main_peak_rss_mb']} MB, largest other "
            f"{mem['largest_other_peak_rss_mb']} MB; target <= 1024 MB: "
            f"{'met' if mem['peak_tree_rss_mb'] <= 1024 else 'MISSED'}"
        )


def child_main(argv: list[str]) -> int:
    if argv[0] == "cli":  # the command, its duplicate check disabled
        from cli.main import run as cli_run

        _skip_duplicate_check()
        cli_run(argv[1:])
        return 0
    kind, directory, workers = argv[0], Path(argv[1]), int(argv[2])
    if kind == "floor":
        result = child_floor(directory, workers)
    else:
        result = child_register(
            directory, workers, Path(argv[3]), "--cprofile" in argv, "--skip-dup-check" in argv,
            screen="--no-screen" not in argv,
        )
    print(json.dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="files per format (2,000)")
    parser.add_argument(
        "--memory-files", type=int, default=100_000,
        help="64x64 PNGs for the memory run (100,000; 0 skips it)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="200 per format, 5,000 for memory")
    parser.add_argument("--formats", default=",".join(FORMATS),
                        help="subset of ct,j2k,png,rgb-png,rgb-jpeg")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1,
        help="processes for both floor and register (default: every core)",
    )  # fmt: skip
    parser.add_argument(
        "--repeat", type=int, default=1,
        help="floor/register pairs per format, interleaved; the fastest of each is shown",
    )  # fmt: skip
    parser.add_argument(
        "--stages", type=int, default=50,
        help="files per format timed step by step in one process (0: skip)",
    )  # fmt: skip
    parser.add_argument("--cli", action="store_true", help="also time the command per format")
    parser.add_argument("--cprofile", action="store_true", help="profile register's main process")
    parser.add_argument(
        "--skip-dup-check", action="store_true",
        help="register's duplicate check finds nothing at no cost (the phantoms are all "
        "near-duplicates of one another: its worst case); timed separately otherwise",
    )  # fmt: skip
    parser.add_argument(
        "--screening-cost", action="store_true",
        help="also register each format without the forensic screening (--no-screen) and "
        "report the time the screening adds (issue 22: at most 20%%)",
    )  # fmt: skip
    parser.add_argument("--data", help="folder for the generated files, kept and reused")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.memory_files = 200, min(args.memory_files, 5000)
    args.formats = [f for f in args.formats.split(",") if f]
    unknown = set(args.formats) - set(FORMATS) - set(COLOUR_FORMATS)
    if unknown:
        parser.error(f"unknown formats: {', '.join(sorted(unknown))}")
    report = run(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
