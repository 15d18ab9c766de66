"""Shared fixtures: fresh ledgers, the real ``medledger`` command, a throw-away PostgreSQL.

* ``ledger_dir``: a directory holding a fresh ``Ledger.init`` (genesis entry only).
* ``run_cli``: runs the installed ``medledger`` console script in a subprocess,
  with ``--ledger DIR`` appended when given; returns a :class:`CliResult`.
* ``cli``: the same through ``cli.main.run`` in this process (fast; no new
  interpreter), for the many calls where the process boundary adds nothing.
  The commands leave their database engines to process exit, so the fixture
  disposes of every engine a command made once it returns, as exit would.
* ``file_modes_bind``: runs a function in a forked child in which file modes
  bind even when the tests run as root (CI): the child drops the capabilities
  that let root ignore them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a
  mode-0 file is unreadable to it as to anyone. Not root: runs it directly.
* ``postgres_server`` (session): a real PostgreSQL cluster made with ``initdb``
  in a temporary directory, listening on a free loopback port and a unix socket
  in that directory, trust auth for loopback only, run as the ``postgres`` OS
  user when the tests run as root. ``postgres_url`` gives each test a fresh
  database on it. Without the binaries the tests skip with the reason, unless
  ``MEDLEDGER_REQUIRE_POSTGRES=1`` (CI), where they fail.
"""

from __future__ import annotations

import itertools
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.service import Ledger

CLI_TIMEOUT_S = 180


# --- results of the command line -------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    rc: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def error_line(self) -> str:
        """The one ``medledger: ...`` line a failing command prints; asserts its shape."""
        assert "Traceback" not in self.stderr, self.stderr
        lines = self.stderr.strip("\n").split("\n")
        assert len(lines) == 1, f"want one line on stderr, got:\n{self.stderr}"
        assert lines[0].startswith("medledger: "), self.stderr
        return lines[0]


def medledger_executable() -> str:
    """The console script installed next to this interpreter (the venv), else on PATH."""
    here = Path(sys.executable).parent / "medledger"
    if here.is_file():
        return str(here)
    found = shutil.which("medledger")
    if found is None:
        pytest.fail("the medledger console script is not installed (pip install -e .)")
    return found


def _clean_env(extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
    env.update({"NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"})
    env.update(extra or {})
    return env


RunCli = Callable[..., CliResult]


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """``run_cli("keys", "list", "--json", ledger=DIR)`` runs the real console script."""
    exe = medledger_executable()
    workdir = tmp_path / "cwd"
    workdir.mkdir(exist_ok=True)

    def run(
        *args: str | Path,
        ledger: Path | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> CliResult:
        argv = [exe, *map(str, args)]
        if ledger is not None:
            argv += ["--ledger", str(ledger)]
        proc = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            env=_clean_env(env),
            cwd=cwd or workdir,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> RunCli:
    """In-process twin of ``run_cli``: ``cli.main.run`` with captured output."""
    from cli.main import run as cli_main
    from ledger.store import repository

    made: list[Any] = []
    make_engine = repository.make_engine

    def recording_make_engine(url: str) -> Any:
        engine = make_engine(url)
        made.append(engine)
        return engine

    monkeypatch.setattr(repository, "make_engine", recording_make_engine)
    workdir = tmp_path / "cwd"
    workdir.mkdir(exist_ok=True)
    monkeypatch.chdir(workdir)
    for name in list(os.environ):
        if name.startswith("MEDLEDGER_"):
            monkeypatch.delenv(name)

    def run(*args: str | Path, ledger: Path | None = None) -> CliResult:
        argv = [str(a) for a in args]
        if ledger is not None:
            argv += ["--ledger", str(ledger)]
        capsys.readouterr()
        code: int | str | None = 0
        try:
            cli_main(argv)
        except SystemExit as exc:
            code = exc.code
        finally:
            while made:
                made.pop().dispose()
        captured = capsys.readouterr()
        rc = code if isinstance(code, int) else (0 if code is None else 1)
        return CliResult(rc, captured.out, captured.err)

    return run


# --- ledgers ------------------------------------------------------------------------


def close_ledger(ledger: Ledger) -> None:
    """Release the ledger's database connections (so SQLite folds its WAL back)."""
    ledger.store.engine.dispose()


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Path:
    """A fresh ledger (SQLite, genesis entry only) in ``tmp_path / "ledger"``."""
    directory = tmp_path / "ledger"
    close_ledger(Ledger.init(directory))
    return directory


# --- file modes that bind, even for root ------------------------------------------------

_CAP_VERSION_3 = 0x20080522
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _drop_dac_capabilities() -> None:
    """capset(2) without the two capabilities that make root ignore file modes."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    header = (ctypes.c_uint32 * 2)(_CAP_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # {effective, permitted, inheritable} x 2 words
    if libc.capget(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    mask = ~((1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
    for word in (0, 1, 2):  # the first 32 capabilities live in the first triple
        data[word] &= mask
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _run_where_modes_bind(fn: Callable[[], Any]) -> Any:
    if os.geteuid() != 0:
        return fn()
    import pickle
    import traceback

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            _drop_dac_capabilities()
            outcome: tuple[str, Any] = ("ok", fn())
        except BaseException:  # reported to the parent, which raises it
            outcome = ("error", traceback.format_exc())
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(pickle.dumps(outcome))
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)  # noqa: S301 - from our own child
    if kind == "error":
        raise AssertionError(f"in the child where file modes bind:\n{value}")
    return value


@pytest.fixture
def file_modes_bind() -> Callable[[Callable[[], Any]], Any]:
    """``file_modes_bind(fn)``: ``fn()``'s result, computed where file modes bind for root too."""
    return _run_where_modes_bind


# --- a real PostgreSQL ----------------------------------------------------------------


@dataclass
class PostgresServer:
    host: str
    port: int
    socket_dir: Path
    _counter: Iterator[int]

    def url(self, database: str) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"medledger_test_{next(self._counter)}"
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found is not None:
        bindir = Path(found).resolve().parent
        if (bindir / "pg_ctl").exists():
            return bindir

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in re.findall(r"\d+", path.parent.name))

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for bindir in candidates:
        if (bindir / "initdb").exists() and (bindir / "pg_ctl").exists():
            return bindir
    return None


def _no_postgres(reason: str) -> None:
    if os.environ.get("MEDLEDGER_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"MEDLEDGER_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = _postgres_bindir()
    if bindir is None:
        _no_postgres("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        raise AssertionError("unreachable")
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="medledger-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(base)
            _no_postgres("tests run as root and there is no 'postgres' OS user to run the server")
            raise AssertionError("unreachable") from None
        os.chown(base, user.pw_uid, user.pw_gid)
        runuser = shutil.which("runuser")
        prefix = [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-c"]

    def as_server_user(argv: list[str]) -> list[str]:
        if prefix and prefix[0] == "su":
            return [*prefix, " ".join(map(_shell_quote, argv))]
        return [*prefix, *argv]

    data, log = base / "data", base / "server.log"
    subprocess.run(
        as_server_user([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]),
        check=True, capture_output=True, timeout=120,
    )
    # Trust only the unix socket in our own directory and loopback TCP.
    (data / "pg_hba.conf").write_text(
        "local all all trust\nhost all all 127.0.0.1/32 trust\n"
    )
    port = 0
    for _ in range(3):
        port = _free_port()
        options = (f"-c listen_addresses=127.0.0.1 -p {port} -k {base} "
                   "-c fsync=off -c synchronous_commit=off -c max_connections=200")
        started = subprocess.run(
            as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                            "-t", "60", "-o", options, "start"]),
            capture_output=True, text=True, timeout=120, check=False,
        )
        if started.returncode == 0:
            break
    else:
        text = log.read_text() if log.exists() else started.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start:\n{text}")
    try:
        yield PostgresServer("127.0.0.1", port, base, itertools.count())
    finally:
        subprocess.run(
            as_server_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                            "-w", "stop"]),
            capture_output=True, timeout=120, check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


def _shell_quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql://postgres@127.0.0.1:PORT/DB`` of a fresh, empty database."""
    return postgres_server.create_database()
