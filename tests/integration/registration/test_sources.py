"""Who may register under a source, and who may add to a dataset (issue 18, part 3).

A declared source (``medledger source add``) accepts image.registered entries only from
its listed keys and admin keys; a dataset name belongs to the key that first used it. Both
are rules of the log: refused at append (exit 2, nothing written) and, when entries that
break them are forced into the database anyway, reported by ``verify`` at their index.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.audit.sourcestate import SourceState
from ledger.service import Ledger

from ..builders import snapshot
from .data import pydicom_file
from .support import SUBMITTER, RunCli, image_entries, log_size, register_args

MGH = "Mass General"
OTHER = "other-site"  # a second submitter key


@pytest.fixture
def ledger(reg_ledger: Path) -> Path:
    opened = Ledger.open(reg_ledger)
    try:
        opened.add_key(OTHER, "submitter")
    finally:
        opened.store.engine.dispose()
    return reg_ledger


def declare(cli: RunCli, ledger: Path, *keys: str, name: str = MGH) -> None:
    args = [a for k in keys for a in ("--key", k)]
    result = cli("source", "add", name, *args, "--json", ledger=ledger)
    assert result.rc == 0, result.stderr


def test_help_shows_an_example(cli: RunCli) -> None:
    result = cli("source", "--help")
    assert result.rc == 0
    assert "Example: medledger source add" in " ".join(result.stdout.split())


def test_declared_source_and_list(ledger: Path, cli: RunCli) -> None:
    declare(cli, ledger, SUBMITTER)
    listed = cli("source", "list", "--json", ledger=ledger).json()
    assert [(s["name"], [k["name"] for k in s["keys"]]) for s in listed] == [(MGH, [SUBMITTER])]
    assert listed[0]["added_index"] == log_size(ledger) - 1


def test_unauthorised_key_is_refused_and_nothing_appended(
    ledger: Path, run_cli: RunCli, cli: RunCli
) -> None:
    declare(cli, ledger, SUBMITTER)
    before = snapshot(ledger)
    result = run_cli(*register_args(pydicom_file("MR_small.dcm"), source=MGH, key=OTHER,
                                    json=False), ledger=ledger)  # fmt: skip
    assert result.rc == 2
    assert result.error_line() == (
        f"medledger: key {OTHER} may not register under source '{MGH}'"
    )
    assert snapshot(ledger) == before


def test_authorised_and_admin_keys_register(ledger: Path, cli: RunCli) -> None:
    declare(cli, ledger, SUBMITTER)
    ok = cli(*register_args(pydicom_file("MR_small.dcm"), source=MGH), ledger=ledger)
    assert ok.rc == 0, ok.stderr
    assert ok.json()["registered"] == 1
    admin = cli(*register_args(pydicom_file("CT_small.dcm"), source=MGH, key="admin"),
                ledger=ledger)  # fmt: skip
    assert admin.rc == 0, admin.stderr
    assert [e["source"] for e in image_entries(cli, ledger)] == [MGH, MGH]
    assert cli("verify", ledger=ledger).rc == 0


def test_undeclared_sources_and_earlier_entries_are_accepted(ledger: Path, cli: RunCli) -> None:
    early = cli(*register_args(pydicom_file("MR_small.dcm"), source=MGH, key=OTHER),
                ledger=ledger)  # fmt: skip
    assert early.rc == 0, early.stderr  # before the source is declared: unclaimed name
    declare(cli, ledger, SUBMITTER)
    late = cli(*register_args(pydicom_file("CT_small.dcm"), source=MGH, key=OTHER),
               ledger=ledger)  # fmt: skip
    assert late.rc == 2
    elsewhere = cli(*register_args(pydicom_file("CT_small.dcm"), source="site-b", key=OTHER),
                    ledger=ledger)  # fmt: skip
    assert elsewhere.rc == 0, elsewhere.stderr
    assert cli("verify", ledger=ledger).rc == 0  # the grandfathered entry verifies


def test_change_replaces_the_allowed_keys(ledger: Path, cli: RunCli) -> None:
    declare(cli, ledger, SUBMITTER)
    changed = cli("source", "change", MGH, "--key", OTHER, "--json", ledger=ledger)
    assert changed.rc == 0, changed.stderr
    assert [k["name"] for k in changed.json()["keys"]] == [OTHER]
    assert cli(*register_args(pydicom_file("MR_small.dcm"), source=MGH), ledger=ledger).rc == 2
    other = cli(*register_args(pydicom_file("MR_small.dcm"), source=MGH, key=OTHER),
                ledger=ledger)  # fmt: skip
    assert other.rc == 0, other.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("add", MGH, "--key", SUBMITTER, "--by", SUBMITTER), "has role submitter"),
        (("add", MGH, "--key", "nobody"), "no key named nobody"),
        (("add", "bad\nname", "--key", SUBMITTER), "is not a valid name"),
        (("change", "never-added", "--key", SUBMITTER), "was never declared"),
    ],
)
def test_bad_source_commands(ledger: Path, cli: RunCli, args: tuple[str, ...], reason: str
                             ) -> None:  # fmt: skip
    size = log_size(ledger)
    result = cli("source", *args, ledger=ledger)
    assert result.rc == 2
    assert reason in result.error_line()
    assert log_size(ledger) == size


def test_a_source_is_added_once(ledger: Path, cli: RunCli) -> None:
    declare(cli, ledger, SUBMITTER)
    again = cli("source", "add", MGH, "--key", OTHER, ledger=ledger)
    assert again.rc == 2
    assert "already declared" in again.error_line()


@pytest.mark.parametrize("label", ["bad@@name", "a b", "x@0", "x@1.2", "-lead", "n" * 65, "é@1"])
def test_bad_dataset_label_is_refused_up_front(ledger: Path, cli: RunCli, label: str) -> None:
    size = log_size(ledger)
    result = cli(*register_args(pydicom_file("MR_small.dcm"), json=False,
                                extra=("--dataset", label)), ledger=ledger)  # fmt: skip
    assert result.rc == 2
    assert "is not a valid dataset label" in result.error_line()
    assert log_size(ledger) == size


def test_another_key_may_not_add_to_a_dataset(ledger: Path, cli: RunCli) -> None:
    first = cli(*register_args(pydicom_file("MR_small.dcm"), extra=("--dataset", "cohort@1")),
                ledger=ledger)  # fmt: skip
    assert first.rc == 0, first.stderr
    size = log_size(ledger)
    for label in ("cohort@2", "cohort"):
        other = cli(*register_args(pydicom_file("CT_small.dcm"), key=OTHER, source="b",
                                   extra=("--dataset", label)), ledger=ledger)  # fmt: skip
        assert other.rc == 2
        assert other.error_line() == (
            f"medledger: dataset 'cohort' belongs to key {SUBMITTER}; "
            f"key {OTHER} may not add to it"
        )
    assert log_size(ledger) == size
    lookalike = cli(*register_args(pydicom_file("CT_small.dcm"), key=OTHER,
                                   extra=("--dataset", "cohortX@1")), ledger=ledger)  # fmt: skip
    assert lookalike.rc == 0, lookalike.stderr  # another name, not a version of cohort
    admin = cli(*register_args(pydicom_file("JPEG2000.dcm"), key="admin",
                               extra=("--dataset", "cohort@2")), ledger=ledger)  # fmt: skip
    assert admin.rc == 0, admin.stderr
    mine = cli(*register_args(pydicom_file("emri_small.dcm"), extra=("--dataset", "cohort@2")),
               ledger=ledger)  # fmt: skip
    assert mine.rc == 0, mine.stderr


def _without_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that skips the rules (a tampered sequencer, direct database access)."""
    from ledger import sequencer
    from ledger.service import register

    monkeypatch.setattr(sequencer, "source_state", lambda *_args: SourceState())
    monkeypatch.setattr(register, "check_may_register", lambda *_a, **_k: None)


def test_forced_unauthorised_registration_fails_verify_at_its_index(
    ledger: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    declare(cli, ledger, SUBMITTER)
    assert cli("verify", ledger=ledger).rc == 0
    with monkeypatch.context() as patch:
        _without_rules(patch)
        forced = cli(*register_args(pydicom_file("MR_small.dcm"), source=MGH, key=OTHER),
                     ledger=ledger)  # fmt: skip
        assert forced.rc == 0, forced.stderr
    index = forced.json()["entries"]["first"]
    result = cli("verify", ledger=ledger)
    assert result.rc == 1
    assert result.error_line() == (
        f"medledger: entry {index}: key {OTHER} may not register under source '{MGH}'"
    )


def test_forced_addition_to_anothers_dataset_fails_verify_at_its_index(
    ledger: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    owned = cli(*register_args(pydicom_file("MR_small.dcm"), extra=("--dataset", "cohort@1")),
                ledger=ledger)  # fmt: skip
    assert owned.rc == 0, owned.stderr
    with monkeypatch.context() as patch:
        _without_rules(patch)
        forced = cli(*register_args(pydicom_file("CT_small.dcm"), key=OTHER,
                                    extra=("--dataset", "cohort@2")), ledger=ledger)  # fmt: skip
        assert forced.rc == 0, forced.stderr
    index = forced.json()["entries"]["first"]
    result = cli("verify", ledger=ledger)
    assert result.rc == 1
    assert result.error_line() == (
        f"medledger: entry {index}: dataset 'cohort' belongs to key {SUBMITTER}; "
        f"key {OTHER} may not add to it"
    )


def _wildcard_names_are_literal(ledger: Path, cli: RunCli) -> None:
    """"co_1" is its own name: "_" (a LIKE wildcard) must not match the "X" of "coX1"."""
    owner = cli(*register_args(pydicom_file("MR_small.dcm"), extra=("--dataset", "coX1@1")),
                ledger=ledger)  # fmt: skip
    assert owner.rc == 0, owner.stderr
    other = cli(*register_args(pydicom_file("CT_small.dcm"), key=OTHER,
                               extra=("--dataset", "co_1@1")), ledger=ledger)  # fmt: skip
    assert other.rc == 0, other.stderr
    again = cli(*register_args(pydicom_file("JPEG2000.dcm"), key=OTHER,
                               extra=("--dataset", "coX1@2")), ledger=ledger)  # fmt: skip
    assert again.rc == 2


def test_dataset_names_are_matched_literally(ledger: Path, cli: RunCli) -> None:
    _wildcard_names_are_literal(ledger, cli)
    assert cli("verify", ledger=ledger).rc == 0


@pytest.mark.postgres
def test_the_rules_on_postgresql(tmp_path: Path, postgres_url: str, cli: RunCli) -> None:
    from .support import make_ledger

    ledger = make_ledger(tmp_path / "pg", database_url=postgres_url)
    opened = Ledger.open(ledger)
    try:
        opened.add_key(OTHER, "submitter")
    finally:
        opened.store.engine.dispose()
    declare(cli, ledger, SUBMITTER)
    refused = cli(*register_args(pydicom_file("emri_small.dcm"), source=MGH, key=OTHER,
                                 json=False), ledger=ledger)  # fmt: skip
    assert refused.rc == 2
    assert "may not register under source" in refused.error_line()
    _wildcard_names_are_literal(ledger, cli)
    assert [s["name"] for s in cli("source", "list", "--json", ledger=ledger).json()] == [MGH]
    assert cli("verify", ledger=ledger).rc == 0
