"""Worker processes: they die with a killed ``register``, and they stop at a memory ceiling.

The process table is read from /proc: the run's descendants (its fork server, the
workers the fork server forked, multiprocessing's resource tracker) are listed
while it runs, then the run is SIGKILLed and each of them must be gone (or a
zombie waiting to be reaped) within a bounded wait.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ledger.errors import InputError
from ledger.imaging.limits import DecodeLimits
from ledger.registration.pipeline import Workers
from ledger.registration.workers import WorkerSettings, analyse_paths, memory_headroom

from .data import make_pngs
from .support import RunCli, make_ledger, register_args, start

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

MIB = 1024 * 1024
GONE_WITHIN = 30.0  # seconds: the fork server looks at its parent every 0.2 s


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of ``pid``, or None once it has gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """Every live descendant of ``root``: pid -> start time."""
    parents: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (found := _stat(int(entry))) is not None:
            parents[int(entry)] = (found[0], found[2])
    out: dict[int, int] = {}
    frontier = {root}
    while frontier:
        frontier = {pid for pid, (ppid, _) in parents.items() if ppid in frontier} - out.keys()
        out.update({pid: parents[pid][1] for pid in frontier})
    return out


def _alive(pid: int, started: int) -> bool:
    found = _stat(pid)
    return found is not None and found[2] == started and found[1] != "Z"


@pytest.mark.slow
def test_killed_register_leaves_no_workers(tmp_path: Path) -> None:
    images = make_pngs(tmp_path / "images", 400)
    ledger = make_ledger(tmp_path / "ledger")
    run = start(register_args(images[0].parent, workers=2), ledger, tmp_path / "logs")
    try:
        deadline = time.monotonic() + 120
        family: dict[int, int] = {}
        while time.monotonic() < deadline and run.proc.poll() is None:
            family = _descendants(run.proc.pid)
            grandchildren = [p for p in family if (_stat(p) or (0,))[0] != run.proc.pid]
            if len(grandchildren) >= 2:  # the fork server's workers are running
                break
            time.sleep(0.05)
        assert run.proc.poll() is None, "the run ended before its workers were seen"
        assert len(family) >= 3, family  # fork server and two workers at least
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait(timeout=30)
        deadline = time.monotonic() + GONE_WITHIN
        while time.monotonic() < deadline:
            left = [pid for pid, started in family.items() if _alive(pid, started)]
            if not left:
                break
            time.sleep(0.1)
        assert left == [], {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in left}
    finally:
        with contextlib.suppress(ProcessLookupError):
            run.end_group()


# --- the memory ceiling ----------------------------------------------------------------------


def _address_space_limit() -> int:
    return resource.getrlimit(resource.RLIMIT_AS)[0]


def _linear_algebra() -> float:
    """numpy and its BLAS at work under the ceiling."""
    matrix = np.random.default_rng(0).standard_normal((200, 200))
    return float(np.linalg.svd(matrix @ matrix.T, compute_uv=False)[0])


@pytest.mark.slow
def test_a_worker_over_its_memory_ceiling_refuses_one_file(tmp_path: Path) -> None:
    big = tmp_path / "big.png"  # 6000 x 6000 RGB: Pillow holds 144 MB, over a 96 MiB headroom
    Image.new("RGB", (6000, 6000), (10, 20, 30)).save(big)
    small = make_pngs(tmp_path / "small", 1)[0]
    settings = WorkerSettings(b"s" * 32, DecodeLimits(), False, False, memory_headroom=96 * MIB)
    with Workers(settings, workers=2) as pool:
        executor = pool.pool
        assert executor is not None
        limit = executor.submit(_address_space_limit).result(timeout=120)
        assert limit != resource.RLIM_INFINITY
        assert executor.submit(_linear_algebra).result(timeout=120) > 0
        results = executor.submit(analyse_paths, [str(big), str(small)]).result(timeout=300)
        assert [r.path for r in results] == [str(big), str(small)]
        assert results[0].facts is None
        assert results[0].refusal == f"exceeded the worker memory ceiling ({limit // MIB} MiB)"
        assert results[1].facts is not None, results[1].refusal  # the worker carries on
    # Without a ceiling the same file is analysed: the refusal was the ceiling's.
    unlimited = WorkerSettings(b"s" * 32, DecodeLimits(), False, False, memory_headroom=0)
    with Workers(unlimited, workers=2) as pool:
        assert pool.pool is not None
        [result] = pool.pool.submit(analyse_paths, [str(big)]).result(timeout=300)
        assert result.facts is not None, result.refusal


def test_worker_memory_option_is_validated(tmp_path: Path, cli: RunCli) -> None:
    ledger = make_ledger(tmp_path / "ledger")
    image = make_pngs(tmp_path / "images", 1)[0]
    result = cli(*register_args(image, extra=("--worker-memory-mb", "-1")), ledger=ledger)
    assert result.rc == 2
    assert "--worker-memory-mb" in result.stderr
    result = cli(*register_args(image, extra=("--worker-memory-mb", "0")), ledger=ledger)
    assert result.rc == 0, result.stderr
    assert result.json()["registered"] == 1


def test_memory_headroom_defaults_to_the_decode_limits() -> None:
    limits = DecodeLimits(max_decoded_bytes=100 * MIB)
    assert memory_headroom(None, limits) == 400 * MIB + 1024 * MIB
    assert memory_headroom(0, limits) == 0
    assert memory_headroom(5 * MIB, limits) == 5 * MIB
    with pytest.raises(InputError):
        memory_headroom(-1, limits)
