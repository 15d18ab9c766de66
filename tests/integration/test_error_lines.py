"""Refusals are one escaped line and exit 2: no traceback, no forged line, no echoed file."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import InputError, printable

from .builders import RunCli, build, snapshot


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("small") / "ledger", upto=2)


def test_printable_escapes_every_control_character() -> None:
    assert printable("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert printable("\x1b[31mred\x7f\u2028\u202e") == "\\x1b[31mred\\x7f\\u2028\\u202e"
    assert printable(printable("x\ny")) == "x\\ny"  # idempotent
    assert InputError("no\nsuch", subject="f\nmedledger: ok").diagnostics() == (
        "f\\nmedledger: ok: no\\nsuch")


def test_a_file_name_with_a_newline_cannot_forge_a_line(
    tmp_path: Path, run_cli: RunCli, small: Path
) -> None:
    from ledger.service import Ledger

    ledger = Ledger.open(small)
    vkey = ledger.verifier.vkey
    ledger.store.engine.dispose()
    name = tmp_path / "x\nmedledger: ok: log of 99 entries verified"
    result = run_cli("verify", "--bundle", name, "--pubkey", vkey)
    assert result.rc == 2
    line = result.error_line()  # one line
    assert "x\\nmedledger: ok" in line
    exported = run_cli("bundle", "export", tmp_path / "no dir\n" / "b.json", ledger=small)
    assert exported.rc == 2
    assert "no dir\\n" in exported.error_line()


def test_register_refusal_lines_escape_file_names(tmp_path: Path, cli: RunCli) -> None:
    from .registration.data import make_photos
    from .registration.support import make_ledger, register_args

    directory = make_ledger(tmp_path / "ledger")
    folder = tmp_path / "in"
    photo = make_photos(folder)[0]
    (folder / "evil\nrefused: forged.txt").write_text("not an image")
    result = cli(*register_args(folder, json=False), ledger=directory)
    assert result.rc == 0, result.stderr
    refusals = result.stderr.strip("\n").split("\n")
    assert len(refusals) == 1 and refusals[0].startswith("refused: ")
    assert "evil\\nrefused: forged.txt" in refusals[0]
    assert photo.exists()


def test_pubkey_file_is_never_echoed(tmp_path: Path, cli: RunCli, small: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text("root:$6$saltsalt$HASHHASHHASH:19000:0:99999:7:::\n")
    binary = tmp_path / "binary.key"
    binary.write_bytes(bytes(range(256)))
    for path in (shadow, binary):
        for args in (("verify", "--pubkey", path), ("checkpoint", "verify", path)):
            if args[0] == "verify":
                result = cli(*args, ledger=small)
            else:
                result = cli(*args, "--pubkey", path)
            assert result.rc == 2, (args, result.stderr)
            line = result.error_line()
            assert str(path) in line and "not a verifier key file" in line
            assert "saltsalt" not in line and "root:" not in line


def test_deeply_nested_bundle(tmp_path: Path, cli: RunCli) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    result = cli("verify", "--bundle", path, "--pubkey", "k+00000000+AAAA")
    assert result.rc == 2
    result.error_line()
    vkey = tmp_path / "v"
    build(tmp_path / "l", upto=1)
    from ledger.service import Ledger

    ledger = Ledger.open(tmp_path / "l")
    vkey.write_text(ledger.verifier.vkey)
    ledger.store.engine.dispose()
    result = cli("verify", "--bundle", path, "--pubkey", vkey)
    assert result.rc == 2
    assert "nested too deeply" in result.error_line()


@pytest.mark.parametrize("start", ["1e19", str(10**19), str(2**63)])
def test_log_entries_beyond_any_index(small: Path, cli: RunCli, start: str) -> None:
    result = cli("log", "entries", "--start", start, ledger=small)
    assert result.rc == 2
    assert "--start" in result.error_line()


@pytest.mark.parametrize("licence", ["<", "MIT AND <", "it's", "CC-BY-4.0'"])
def test_licence_that_crashed_the_spdx_parser(tmp_path: Path, cli: RunCli, licence: str) -> None:
    from .registration.data import make_photos
    from .registration.support import make_ledger, register_args

    directory = make_ledger(tmp_path / "ledger")
    photo = make_photos(tmp_path / "photos")[0]
    args = register_args(photo)
    args[args.index("--license") + 1] = licence
    before = snapshot(directory)
    result = cli(*args, ledger=directory)
    assert result.rc == 2
    assert "not an SPDX licence expression" in result.error_line()
    assert snapshot(directory) == before


def test_checkpoint_lock_that_is_a_directory(tmp_path: Path, cli: RunCli) -> None:
    directory = build(tmp_path / "ledger", upto=1)
    (directory / "checkpoint.lock").unlink(missing_ok=True)
    (directory / "checkpoint.lock").mkdir()
    result = cli("checkpoint", ledger=directory)
    assert result.rc == 2
    assert "checkpoint.lock" in result.error_line()


def test_bundle_export_to_a_missing_directory(
    tmp_path: Path, run_cli: RunCli, small: Path
) -> None:
    before = snapshot(tmp_path)
    result = run_cli("bundle", "export", "/missing/dir/x.bundle", ledger=small)
    assert result.rc == 2
    assert "/missing/dir" in result.error_line()
    assert snapshot(tmp_path) == before


def test_bundle_export_to_an_unwritable_place(tmp_path: Path, cli: RunCli, small: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x")
    result = cli("bundle", "export", target / "x.bundle", ledger=small)
    assert result.rc == 2
    assert "does not exist" in result.error_line()
    result = cli("bundle", "export", tmp_path, ledger=small)  # a directory
    assert result.rc == 2
    assert "already exists" in result.error_line()


def test_dups_lines_escape_file_names(tmp_path: Path, cli: RunCli) -> None:
    from .registration.data import make_photos
    from .registration.support import make_ledger

    directory = make_ledger(tmp_path / "ledger")
    folder = tmp_path / "in"
    photo = make_photos(folder)[0]
    twin = folder / f"copy\ngroup 9: 0 images{photo.suffix}"
    twin.write_bytes(photo.read_bytes())
    (folder / "bad\nrefused: forged.txt").write_text("not an image")
    result = cli("dups", folder, ledger=directory)
    assert result.rc == 0, result.stderr
    assert "copy\\ngroup 9: 0 images" in result.stdout
    assert not any(line.startswith("group 9") for line in result.stdout.split("\n"))
    assert result.stderr.count("\n") == 1 and "bad\\nrefused: forged.txt" in result.stderr
