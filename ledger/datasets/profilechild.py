"""The second core for a large profile: one child process tallying a share of the members.

A plain ``python -m ledger.datasets.profileworker`` child, not a multiprocessing worker: a
spawned or fork-server worker first re-imports the command's ``__main__`` (for the CLI, the
whole application: seconds), this child imports only the worker module. It is started before
the member list is read, so that its start-up overlaps that work; the entries it counts are
written to it from a thread (a pipe holds 64 KiB, the child reads only once it has started).
A child that fails in any way other than finding tamper costs only time: the caller counts
that share itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import orjson

import ledger
from ledger.datasets.profiletally import Tally
from ledger.errors import VerificationError

_PACKAGE_ROOT = str(Path(ledger.__file__).resolve().parent.parent)


class ProfileChild:
    """A started worker process; ``send`` its share once known, then ``result``."""

    def __init__(self, database: str) -> None:
        self.database = database
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH"))
                                            if p)  # fmt: skip
        self._process = subprocess.Popen(
            [sys.executable, "-P", "-m", "ledger.datasets.profileworker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self._writer: threading.Thread | None = None

    def send(self, entries: list[int]) -> None:
        request = orjson.dumps({"database": self.database, "entries": entries})

        def write() -> None:
            stdin = self._process.stdin
            assert stdin is not None  # noqa: S101 - opened with PIPE
            try:
                stdin.write(request)
                stdin.close()
            except OSError:
                pass  # the child died: result() says so

        self._writer = threading.Thread(target=write, daemon=True)
        self._writer.start()

    def result(self) -> Tally | None:
        """The child's settled tally; None if it failed (the caller counts the share);
        VerificationError for tamper it found."""
        if self._writer is None:
            self.stop()
            return None
        self._writer.join()
        stdout = self._process.stdout
        assert stdout is not None  # noqa: S101 - opened with PIPE
        with stdout:
            out = stdout.read()
        if self._process.wait() != 0:
            return None
        try:
            answer = orjson.loads(out)
            if answer["error"] is not None:
                raise VerificationError(str(answer["error"]), index=answer["index"])
            return Tally.from_json(answer["tally"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def stop(self) -> None:
        """End the child if it still runs (the command failed or no longer needs it)."""
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
