"""The use cases behind the command line: signing, appending, keys, proofs, checkpoints."""

from __future__ import annotations

import base64
import copy
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from ledger.crypto.keys import SigningKey
from ledger.errors import InputError, PolicyError, StorageError, VerificationError
from ledger.model.entry import MAX_ENVELOPE_BYTES
from ledger.model.kinds import kind
from ledger.model.registry import DEFAULT_KINDS
from ledger.model.roles import Role
from ledger.sequencer import PARALLEL_FROM, append
from ledger.service import Ledger
from ledger.store import Store, reading, sqlite_url

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    text: str


# ``test.note``, signable by submitters (and admins): the default kinds and this one
NOTE_KINDS = DEFAULT_KINDS.with_kinds(
    kind("test.note", Note, roles=[Role.SUBMITTER], description="a test note")
)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    made = Ledger.init(tmp_path / "ledger")
    yield made
    made.store.engine.dispose()


@pytest.fixture
def note_ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A ledger that also accepts (and audits) ``test.note`` entries."""
    made = Ledger.init(tmp_path / "ledger", kinds=NOTE_KINDS)
    yield made
    made.store.engine.dispose()


def state(ledger: Ledger) -> tuple[int, int, int, list[Any]]:
    """(size, checkpoints, keys, key rows): what a refused call must leave alone."""
    with reading(ledger.store.engine) as conn:
        return (ledger.size(), len(ledger.store.checkpoints(conn)), len(ledger.list_keys()),
                ledger.list_keys())


def key_added(ledger: Ledger, name: str, role: str, *, by: SigningKey,
              new: SigningKey | None = None) -> dict[str, Any]:
    pub = (new or SigningKey.generate()).public_key
    body = {"name": name, "role": role, "public_key": pub.to_b64(), "key_id": pub.key_id}
    return ledger.sign("key.added", body, key=by)


# --- init -------------------------------------------------------------------------------


def test_init_makes_a_ledger_with_its_genesis(ledger: Ledger) -> None:
    assert ledger.size() == 1
    [admin] = ledger.list_keys()
    assert (admin.name, admin.role, admin.added_index) == ("admin", "admin", 0)
    genesis = ledger.entries()[0]["leaf"]["envelope"]["entry"]
    assert genesis["actor"] == genesis["body"]["key_id"] == admin.key_id
    for private in [ledger.dir.log_key, ledger.dir.key_file("admin"), ledger.dir.secret_file]:
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    assert ledger.dir.seen_checkpoint() == ledger.checkpoint()
    assert ledger.verify().size == 1


def test_origin_and_verifier_key(tmp_path: Path) -> None:
    made = Ledger.init(tmp_path / "l", origin="example.org/log")
    try:
        assert made.origin == "example.org/log"
        assert made.verifier.vkey.startswith("example.org/log+")
        assert made.checkpoint().startswith("example.org/log\n1\n")
    finally:
        made.store.engine.dispose()


def test_passphrase_protects_the_keys(tmp_path: Path) -> None:
    made = Ledger.init(tmp_path / "l", passphrase=b"correct horse")
    made.store.engine.dispose()
    assert b"correct horse" not in made.dir.key_file("admin").read_bytes()
    locked = Ledger.open(tmp_path / "l")
    try:
        with pytest.raises(InputError):
            locked.add_key("x", "verifier")
        assert locked.size() == 1
    finally:
        locked.store.engine.dispose()
    unlocked = Ledger.open(tmp_path / "l", passphrase=b"correct horse")
    try:
        assert unlocked.add_key("x", "verifier").added_index == 1
    finally:
        unlocked.store.engine.dispose()


# --- appending --------------------------------------------------------------------------


def test_submitting_an_envelope_twice_returns_the_existing_index(ledger: Ledger) -> None:
    admin = ledger.signing_key("admin")
    envelope = key_added(ledger, "alice", "curator", by=admin)
    [first] = ledger.submit([envelope])
    before = state(ledger)
    [again] = ledger.submit([copy.deepcopy(envelope)])
    assert (again.index, again.leaf_hash, again.existing) == (first.index, first.leaf_hash, True)
    assert first.existing is False
    assert state(ledger) == before


def test_an_envelope_twice_in_one_batch_is_stored_once(ledger: Ledger) -> None:
    admin = ledger.signing_key("admin")
    envelope = key_added(ledger, "alice", "curator", by=admin)
    results = ledger.submit([envelope, copy.deepcopy(envelope)])
    assert results[0] == results[1]
    assert ledger.size() == 2


def test_a_re_encoded_signature_is_not_a_second_copy(note_ledger: Ledger) -> None:
    """The same signature in another base64 spelling (non-zero padding bits) is the
    same signed entry: never a second leaf."""
    ledger = note_ledger
    admin = ledger.signing_key("admin")
    envelope = ledger.sign("test.note", {"text": "once"}, key=admin)
    ledger.submit([envelope])
    twin = copy.deepcopy(envelope)
    sig = envelope["sig"]
    twin["sig"] = sig[:85] + B64[B64.index(sig[85]) ^ 1] + "=="
    assert twin["sig"] != sig and base64.b64decode(twin["sig"]) == base64.b64decode(sig)
    try:
        results = ledger.submit([twin])
    except InputError:
        results = None  # refused outright: fine too
    if results is not None:
        assert results[0].existing and results[0].index == 1
    assert ledger.size() == 2


def _padded_note(ledger: Ledger, size: int, key: SigningKey) -> dict[str, Any]:
    from ledger.model.canonical import canonical_json

    envelope = ledger.sign("test.note", {"text": ""}, key=key)
    base = len(canonical_json(envelope))
    envelope = ledger.sign("test.note", {"text": "x" * (size - base)}, key=key)
    assert len(canonical_json(envelope)) == size
    return envelope


def test_entry_size_limit(note_ledger: Ledger) -> None:
    ledger = note_ledger
    admin = ledger.signing_key("admin")
    before = state(ledger)
    with pytest.raises(InputError, match=f"limit is {MAX_ENVELOPE_BYTES}") as caught:
        ledger.submit([_padded_note(ledger, MAX_ENVELOPE_BYTES + 1, admin)])
    assert caught.value.diagnostics().startswith("envelope 0: ")
    assert state(ledger) == before
    [ok] = ledger.submit([_padded_note(ledger, MAX_ENVELOPE_BYTES, admin)])
    assert ok.index == 1
    with pytest.raises(InputError, match="limit"):
        ledger.submit([ledger.sign("key.revoked", {"key_id": "0" * 64, "pad": "x" * 70000},
                                   key=admin)])


def test_batch_is_all_or_nothing(ledger: Ledger) -> None:
    admin = ledger.signing_key("admin")
    newcomer = SigningKey.generate()
    good = [
        key_added(ledger, "second", "admin", by=admin, new=newcomer),
        # signed by a key the same batch adds: fine, it is active from the next index
        key_added(ledger, "third", "verifier", by=newcomer),
    ]
    bad = key_added(ledger, "fourth", "verifier", by=admin)
    bad["sig"] = base64.b64encode(bytes(64)).decode()
    before = state(ledger)
    with pytest.raises(VerificationError) as caught:
        ledger.submit([*good, bad])
    assert caught.value.diagnostics().startswith("envelope 2: ")
    assert state(ledger) == before
    assert [r.index for r in ledger.submit(good)] == [1, 2]
    assert ledger.verify().size == 3


def test_a_failure_after_the_rows_are_written_rolls_back(ledger: Ledger) -> None:
    admin = ledger.signing_key("admin")
    before = state(ledger)

    def crash(*_: object) -> None:
        raise StorageError("disk on fire")

    with pytest.raises(StorageError, match="disk on fire"):
        append(ledger.store, [key_added(ledger, "a", "verifier", by=admin)],
               log_id=ledger.log_id, guard=ledger.guard, after=crash)
    assert state(ledger) == before
    assert ledger.verify().size == 1


@pytest.mark.slow
def test_large_batches_are_all_or_nothing_too(ledger: Ledger) -> None:
    """Large batches are checked on worker processes; the result must not change."""
    admin = ledger.signing_key("admin")
    batch = [key_added(ledger, f"k{i}", "verifier", by=admin) for i in range(PARALLEL_FROM + 20)]
    spoiled = copy.deepcopy(batch)
    spoiled[-3]["entry"]["body"]["role"] = "admin"  # signature no longer matches
    before = state(ledger)
    with pytest.raises(VerificationError) as caught:
        ledger.submit(spoiled)
    assert caught.value.diagnostics().startswith(f"envelope {len(batch) - 3}: ")
    assert state(ledger) == before
    results = ledger.submit(batch)
    assert [r.index for r in results] == list(range(1, len(batch) + 1))
    assert ledger.verify(workers=1).size == len(batch) + 1


@pytest.mark.slow
def test_worker_processes_check_the_ledger_s_own_kinds(note_ledger: Ledger) -> None:
    """The audit's and the sequencer's worker processes get the ledger's kinds with their
    tasks: a kind outside the default registry is accepted there, and only there."""
    from concurrent.futures import ProcessPoolExecutor

    from ledger.processes import forkserver_context
    from ledger.sequencer import _check_envelopes

    ledger = note_ledger
    admin = ledger.signing_key("admin")
    notes = [ledger.sign("test.note", {"text": f"note {i}"}, key=admin) for i in range(300)]
    ledger.submit(notes)
    report = ledger.verify(workers=2)
    assert (report.size, report.kinds["test.note"]) == (301, 300)
    with ProcessPoolExecutor(1, mp_context=forkserver_context()) as pool:
        checked = pool.submit(_check_envelopes, notes[:3], {}, NOTE_KINDS).result()
        refused = pool.submit(_check_envelopes, notes[:3], {}, DEFAULT_KINDS).result()
    assert all(item is not None for item in checked)
    assert refused == [None, None, None]


def test_the_guard_replays_an_unsigned_tail_with_the_ledger_s_kinds(
    note_ledger: Ledger,
) -> None:
    """A note appended with no checkpoint is replayed by the next process's guard: with the
    ledger's kinds it is accepted; a ledger opened with the default kinds refuses it."""
    ledger = note_ledger
    admin = ledger.signing_key("admin")
    note = ledger.sign("test.note", {"text": "unsigned tail"}, key=admin)
    append(ledger.store, [note], log_id=ledger.log_id, guard=ledger.guard, kinds=ledger.kinds)
    plain = Ledger.open(ledger.dir.path)
    try:
        before = state(plain)
        with pytest.raises(VerificationError, match=r"unknown entry kind 'test\.note'"):
            plain.submit([key_added(plain, "late", "verifier", by=admin)])
        assert state(plain) == before
    finally:
        plain.store.engine.dispose()
    reopened = Ledger.open(ledger.dir.path, kinds=NOTE_KINDS)
    try:
        reopened.submit([reopened.sign("test.note", {"text": "next"}, key=admin)])
        assert reopened.size() == 3
        assert reopened.verify().kinds["test.note"] == 2
    finally:
        reopened.store.engine.dispose()


# --- who may sign -----------------------------------------------------------------------------


def test_revoked_key_cannot_sign_after_its_revocation(ledger: Ledger) -> None:
    admin = ledger.signing_key("admin")
    second = SigningKey.generate()
    ledger.submit([key_added(ledger, "second", "admin", by=admin, new=second)])
    signed_before = key_added(ledger, "early", "verifier", by=second)
    ledger.submit([ledger.sign("key.revoked", {"key_id": second.public_key.key_id,
                                               "reason": ""}, key=admin)])
    before = state(ledger)
    # Signed while the key was active, submitted after: the log position decides.
    with pytest.raises(PolicyError, match="revoked at index 2"):
        ledger.submit([signed_before])
    with pytest.raises(PolicyError, match="revoked at index 2"):
        ledger.submit([key_added(ledger, "late", "verifier", by=second)])
    assert state(ledger) == before


def test_unknown_key_cannot_sign(ledger: Ledger) -> None:
    stranger = SigningKey.generate()
    before = state(ledger)
    with pytest.raises(PolicyError, match="unknown key"):
        ledger.submit([key_added(ledger, "x", "verifier", by=stranger)])
    # Not even to add itself.
    with pytest.raises(PolicyError, match="unknown key"):
        ledger.submit([key_added(ledger, "me", "admin", by=stranger, new=stranger)])
    assert state(ledger) == before


@pytest.mark.parametrize(
    ("role", "allowed"),
    [("admin", True), ("submitter", True), ("curator", False), ("verifier", False)],
)
def test_roles_decide_who_signs_a_kind(note_ledger: Ledger, role: str, allowed: bool) -> None:
    ledger = note_ledger
    ledger.add_key("someone", role)
    envelope = ledger.sign("test.note", {"text": "hi"}, key=ledger.signing_key("someone"))
    if allowed:
        assert ledger.submit([envelope])[0].index == 2
        assert ledger.verify().kinds["test.note"] == 1
    else:
        with pytest.raises(PolicyError, match=f"role {role}; test.note needs one of"):
            ledger.submit([envelope])
        assert ledger.size() == 2


def test_submitter_cannot_add_keys(ledger: Ledger) -> None:
    ledger.add_key("alice", "submitter")
    before = state(ledger)
    with pytest.raises(PolicyError, match="role submitter"):
        ledger.add_key("eve", "admin", by="alice")
    assert state(ledger) == before
    assert not ledger.dir.key_file("eve").exists()


def test_last_admin_cannot_be_revoked(ledger: Ledger) -> None:
    with pytest.raises(PolicyError, match="last active admin"):
        ledger.revoke_key("admin")
    ledger.add_key("backup", "admin")
    ledger.add_key("alice", "curator")
    assert ledger.revoke_key("admin", by="backup").revoked_index == 3
    with pytest.raises(PolicyError, match="last active admin"):
        ledger.revoke_key("backup", by="backup")
    assert ledger.revoke_key("alice", by="backup").revoked_index == 4


def test_unknown_role_and_key_names(ledger: Ledger) -> None:
    before = state(ledger)
    with pytest.raises(InputError, match="unknown role 'owner'"):
        ledger.add_key("x", "owner")
    with pytest.raises(InputError, match="no active key named ghost"):
        ledger.revoke_key("ghost")
    with pytest.raises(InputError, match="no key named ghost"):
        ledger.key_info("ghost")
    with pytest.raises(InputError, match="invalid key name"):
        ledger.signing_key("../admin")
    assert state(ledger) == before


# --- genesis on a bare store --------------------------------------------------------------------


BARE_LOG = "ab" * 32  # the bare store's log id (no log key: the sequencer only compares)


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[Store]:
    store = Store.create(sqlite_url(tmp_path / "bare.db"))
    yield store
    store.engine.dispose()


def _sign(kind: str, body: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    from ledger.crypto.signing import encode_sig, sign_entry
    from ledger.model.canonical import canonical_json
    from ledger.model.entry import utc_now

    entry = {"v": 2, "log": BARE_LOG, "kind": kind, "time": utc_now(),
             "actor": key.public_key.key_id, "body": body}
    return {"entry": entry, "sig": encode_sig(sign_entry(key, canonical_json(entry)))}


def _body(name: str, role: str, key: SigningKey) -> dict[str, Any]:
    return {"name": name, "role": role, "public_key": key.public_key.to_b64(),
            "key_id": key.public_key.key_id}


def test_genesis_rules(bare: Store, tmp_path: Path) -> None:
    from ledger.crypto.note import NoteSigner, NoteVerifier
    from ledger.guard.check import LogGuard

    vkey = NoteSigner("bare.test", SigningKey.generate()).verifier_key
    guard = LogGuard(tmp_path, NoteVerifier.from_vkey(vkey))
    a, b = SigningKey.generate(), SigningKey.generate()
    refused = [
        (_sign("key.added", _body("cur", "curator", a), a), "must add an admin key"),
        (_sign("key.added", _body("adm", "admin", a), b), "signed by the admin key it adds"),
        (_sign("key.revoked", {"key_id": a.public_key.key_id}, a), "must add an admin key"),
    ]
    for envelope, message in refused:
        with pytest.raises(PolicyError, match=message):
            append(bare, [envelope], log_id=BARE_LOG, guard=guard)
        with reading(bare.engine) as conn:
            assert bare.tail(conn) == (0, None)
    [genesis] = append(bare, [_sign("key.added", _body("adm", "admin", a), a)],
                       log_id=BARE_LOG, guard=guard)
    assert genesis.index == 0


# --- proofs and checkpoints ---------------------------------------------------------------------


def test_proof_bounds(ledger: Ledger) -> None:
    ledger.add_key("a", "verifier")
    with pytest.raises(InputError, match="index 2 is outside the tree of size 2"):
        ledger.inclusion_proof(2)
    with pytest.raises(InputError, match=r"outside 0\.\.2"):
        ledger.inclusion_proof(0, size=3)
    with pytest.raises(InputError, match="between 0 and the new size 1"):
        ledger.consistency_proof(2, 1)
    assert ledger.consistency_proof(0).to_json() == {"hashes": [], "old_size": 0, "new_size": 2}
    assert ledger.consistency_proof(2).hashes == []


def test_checkpoint_follows_the_log(ledger: Ledger) -> None:
    first = ledger.checkpoint()
    assert ledger.checkpoint() == first  # nothing new: the same note
    ledger.add_key("a", "verifier")
    second = ledger.checkpoint()
    assert second.split("\n")[1] == "2"
    assert ledger.dir.seen_checkpoint() == second
    report = ledger.verify()
    assert report.checkpoints >= 3  # database checkpoints and the directory's


def test_tree_only_verification(ledger: Ledger) -> None:
    ledger.add_key("a", "verifier")
    report = ledger.verify(tree_only=True)
    assert (report.size, report.signatures) == (2, 0)
