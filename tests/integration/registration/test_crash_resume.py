"""Stopping a registration run half-way, then running it again.

800 small PNGs are four batches (256, 256, 256, 32): the run is stopped once
the first batch (SIGKILL) or the first two (Ctrl-C, so that the append workers
are up) are in the database, watched with plain sqlite3, read-only. After a
SIGKILL nothing can be cleaned up; after a Ctrl-C the run stops itself (exit
130). Either way only whole batches are in the log, ``verify`` passes, and a
rerun registers exactly the rest: every image once.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import pytest

from .data import make_pngs
from .support import RunCli, count_images, image_entries, register_args, start, wait_for_images

IMAGES = 800
BATCH = 256

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pngs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    folder = tmp_path_factory.mktemp("pngs")
    paths = make_pngs(folder / "images", IMAGES)
    return folder / "images", {hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def assert_every_image_once(cli: RunCli, ledger: Path, digests: set[str]) -> None:
    images = image_entries(cli, ledger)
    assert len(images) == IMAGES
    assert {e["image"]["file_sha256"] for e in images} == digests
    assert count_images(ledger) == IMAGES
    verified = cli("verify", "--json", ledger=ledger)
    assert verified.rc == 0, verified.stderr


def test_sigkill_mid_run_then_rerun(
    pngs: tuple[Path, set[str]], reg_ledger: Path, tmp_path: Path, run_cli: RunCli, cli: RunCli
) -> None:
    folder, digests = pngs
    run = start(register_args(folder, workers=2), reg_ledger, tmp_path / "logs")
    try:
        wait_for_images(reg_ledger, run, at_least=BATCH)
        run.proc.send_signal(signal.SIGKILL)
        assert run.wait() == -signal.SIGKILL
    finally:
        run.end_group()
    kept = count_images(reg_ledger)
    assert kept % BATCH == 0 and BATCH <= kept < IMAGES, kept  # whole batches only
    after_crash = cli("verify", "--json", ledger=reg_ledger)
    assert after_crash.rc == 0, after_crash.stderr

    rerun = run_cli(*register_args(folder, workers=2), ledger=reg_ledger)
    assert rerun.rc == 0, rerun.stderr
    summary = rerun.json()
    assert (summary["registered"], summary["already_known"]) == (IMAGES - kept, kept)
    assert summary["refused"] == [] and summary["interrupted"] is False
    assert_every_image_once(cli, reg_ledger, digests)


def test_ctrl_c_mid_run_exits_130_then_rerun(
    pngs: tuple[Path, set[str]], reg_ledger: Path, tmp_path: Path, run_cli: RunCli, cli: RunCli
) -> None:
    folder, digests = pngs
    run = start(register_args(folder, workers=2), reg_ledger, tmp_path / "logs")
    try:
        wait_for_images(reg_ledger, run, at_least=2 * BATCH)
        os.killpg(run.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        code = run.wait()
        run.settle()  # whatever the workers print on their way out goes to stderr too
    finally:
        run.end_group()
    assert code == 130, run.stderr
    summary = json.loads(run.stdout)
    kept = count_images(reg_ledger)
    assert summary["interrupted"] is True
    assert summary["registered"] == kept  # committed batches are kept, and reported
    assert kept % BATCH == 0 and 2 * BATCH <= kept < IMAGES, kept
    assert cli("verify", ledger=reg_ledger).rc == 0

    rerun = run_cli(*register_args(folder), ledger=reg_ledger)
    assert rerun.rc == 0, rerun.stderr
    assert (rerun.json()["registered"], rerun.json()["already_known"]) == (IMAGES - kept, kept)
    assert_every_image_once(cli, reg_ledger, digests)
    # Last, as it does not change the outcome: Ctrl-C is one clean stop, not a traceback
    # from every worker process.
    assert "Traceback" not in run.stderr, f"Ctrl-C printed tracebacks:\n{run.stderr}"


LONG_RUN = 4900  # past the 4096 entries after which the sequencer checks batches on workers


def test_ctrl_c_on_a_long_run_is_one_clean_stop(
    tmp_path: Path, reg_ledger: Path, cli: RunCli
) -> None:
    """Long runs also start the ledger's append-checking workers; Ctrl-C reaches them too."""
    folder = tmp_path / "many"
    make_pngs(folder, LONG_RUN, seed=1)
    # The screening is not what this test is about; without it the long run is shorter.
    run = start(register_args(folder, workers=2, extra=("--no-screen",)), reg_ledger,
                tmp_path / "logs")
    try:
        wait_for_images(reg_ledger, run, at_least=4096 + 2 * BATCH, timeout=600)
        os.killpg(run.proc.pid, signal.SIGINT)
        code = run.wait()
        run.settle()
    finally:
        run.end_group()
    assert code == 130, run.stderr
    assert cli("verify", ledger=reg_ledger).rc == 0
    summary, kept = json.loads(run.stdout), count_images(reg_ledger)
    assert summary["interrupted"] is True and kept < LONG_RUN
    problems = []
    if "Traceback" in run.stderr:
        problems.append(f"Ctrl-C printed tracebacks:\n{run.stderr}")
    if summary["registered"] != kept:
        problems.append(f"summary: {summary['registered']} registered; the log holds {kept}")
    assert not problems, "\n".join(problems)
