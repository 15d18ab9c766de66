"""Peak memory of ``medledger register`` on decompression bombs (issue 17, part 4).

Builds each bomb with the test builders (``tests/integration/registration/bombs.py``),
registers it into a fresh ledger with ``--workers 1`` (the file is analysed in the
command's own process) from a Python process whose only child is the command, and
prints the command's exit code, its peak resident memory (``RUSAGE_CHILDREN``
``ru_maxrss``) and its error line, next to the unpatched file's peak and what the
bomb would decode or inflate to. Also prints a registration worker's address space
after start-up, which the worker memory ceiling is counted from.

    .venv/bin/python bench/bombs.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.registration.bombs import (  # noqa: E402
    BOMB,
    SIZE,
    deflated_dicom,
    j2k_image,
    jpeg_image,
    jpeg_ls_image,
    patch_codestream,
)
from tests.integration.registration.support import make_ledger, medledger, register_args  # noqa: E402

MIB = 1024 * 1024
_MEASURE = (
    "import json, resource, subprocess, sys\n"
    "run = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(json.dumps({'rc': run.returncode, 'peak': peak, 'stderr': run.stderr}))\n"
)
_WORKER = (
    "from ledger.imaging.limits import DecodeLimits\n"
    "from ledger.processguard import address_space\n"
    "from ledger.registration.pipeline import Workers\n"
    "from ledger.registration.workers import WorkerSettings\n"
    "settings = WorkerSettings(b's' * 32, DecodeLimits(), False, False, memory_headroom=0)\n"
    "with Workers(settings, workers=2) as pool:\n"
    "    print(pool.pool.submit(address_space).result() // (1024 * 1024))\n"
)


def measure(path: Path, folder: Path) -> dict[str, object]:
    ledger = make_ledger(folder / f"ledger-{path.stem}")
    argv = [medledger(), *register_args(path, json=False), "--ledger", str(ledger)]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="medledger-bombs-") as tmp:
        folder = Path(tmp)
        rows = []
        for name, build, decoded in (
            ("J2K SIZ 40000x40000", j2k_image, BOMB * BOMB * 2),
            ("JPEG SOF0 40000x40000", jpeg_image, BOMB * BOMB),
            ("JPEG-LS SOF55 40000x40000", jpeg_ls_image, BOMB * BOMB * 2),
        ):
            good = build(folder / f"good-{build.__name__}.dcm")
            bomb = patch_codestream(build(folder / f"bomb-{build.__name__}.dcm"))
            rows.append((name, bomb, decoded, measure(good, folder)["peak"]))
        ob = deflated_dicom(folder / "deflate-ob.dcm", rows=SIZE, columns=SIZE, private_ob=1 << 30)
        big = deflated_dicom(folder / "deflate-big.dcm", rows=20_000, columns=20_000)
        small = deflated_dicom(folder / "deflate-small.dcm", rows=SIZE, columns=SIZE)
        small_peak = measure(small, folder)["peak"]
        rows.append(("deflate, 1 GiB private OB", ob, 1 << 30, small_peak))
        rows.append(("deflate, declares 20000x20000", big, 20_000 * 20_000, small_peak))
        print("| bomb | file bytes | would decode/inflate to | exit | peak RSS | unpatched peak |")
        print("|---|---|---|---|---|---|")
        for name, path, decoded, good_peak in rows:
            got = measure(path, folder)
            print(
                f"| {name} | {path.stat().st_size:,} | {decoded / MIB:,.0f} MiB | {got['rc']} | "
                f"{int(str(got['peak'])) / MIB:.0f} MiB | {int(str(good_peak)) / MIB:.0f} MiB |"
            )
            print(f"{name}: {str(got['stderr']).strip()}", file=sys.stderr)
        worker = subprocess.run(
            [sys.executable, "-c", _WORKER], capture_output=True, text=True, check=True
        )
        print(f"registration worker address space after start-up: {worker.stdout.strip()} MiB")


if __name__ == "__main__":
    main()
