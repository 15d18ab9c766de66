"""Ed25519 keys, key ids, bulk verification and key files."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.crypto import keys
from ledger.crypto.keys import (
    PublicKey,
    SigningKey,
    key_id_of,
    read_private_key,
    read_public_key,
    verify_many,
    write_private_key,
    write_public_key,
)
from ledger.errors import InputError, LedgerError, VerificationError

# RFC 8032 §7.1, TEST 1: secret key, public key, empty message, signature.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUB = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIG = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
    "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def one_line(exc: pytest.ExceptionInfo[LedgerError]) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# --- PublicKey / SigningKey ------------------------------------------------------


def test_rfc8032_test1() -> None:
    key = SigningKey.from_private_bytes_raw(RFC8032_SEED)
    assert key.public_key.raw == RFC8032_PUB
    assert key.sign(b"") == RFC8032_SIG
    key.public_key.verify(b"", RFC8032_SIG)
    assert key.private_bytes_raw() == RFC8032_SEED


def test_key_id_covers_the_algorithm_byte() -> None:
    pub = PublicKey(RFC8032_PUB)
    assert pub.key_id == hashlib.sha256(b"\x01" + RFC8032_PUB).hexdigest()
    assert pub.key_id == key_id_of(RFC8032_PUB)
    assert pub.key_id != hashlib.sha256(RFC8032_PUB).hexdigest()
    assert len(pub.key_id) == 64
    assert pub.key_id == pub.key_id.lower()


@pytest.mark.parametrize("raw", [b"", b"\x00" * 31, b"\x00" * 33])
def test_public_key_must_be_32_bytes(raw: bytes) -> None:
    with pytest.raises(InputError, match="32 bytes"):
        PublicKey(raw)


def test_public_key_rejects_non_bytes() -> None:
    with pytest.raises(InputError):
        PublicKey("d75a980182b10ab7d54bfed3c964073a")  # type: ignore[arg-type]


def test_public_key_is_frozen_value() -> None:
    a, b = PublicKey(RFC8032_PUB), PublicKey(bytearray(RFC8032_PUB))  # type: ignore[arg-type]
    assert a == b
    assert hash(a) == hash(b)
    assert isinstance(b.raw, bytes)
    with pytest.raises(AttributeError):
        a.raw = b"\x00" * 32  # type: ignore[misc]


def test_b64_round_trip_and_strictness() -> None:
    pub = PublicKey(RFC8032_PUB)
    text = pub.to_b64()
    assert len(text) == 44
    assert PublicKey.from_b64(text) == pub
    for bad in [text[:-1], text + "=", text.replace("=", ""), " " + text, text[:-2] + "*="]:
        with pytest.raises(InputError):
            PublicKey.from_b64(bad)


def test_verify_raises_naming_the_key() -> None:
    key = SigningKey.generate()
    sig = key.sign(b"data")
    key.public_key.verify(b"data", sig)
    with pytest.raises(VerificationError) as exc:
        key.public_key.verify(b"datA", sig)
    assert key.public_key.key_id in one_line(exc)
    for bad_sig in [b"", sig[:-1], sig + b"\x00", bytes(64)]:
        with pytest.raises(VerificationError):
            key.public_key.verify(b"data", bad_sig)


def test_signing_key_repr_hides_the_secret() -> None:
    key = SigningKey.from_private_bytes_raw(RFC8032_SEED)
    text = repr(key)
    assert key.public_key.key_id in text
    assert RFC8032_SEED.hex() not in text


def test_private_bytes_raw_size_checked() -> None:
    with pytest.raises(InputError, match="32 bytes"):
        SigningKey.from_private_bytes_raw(b"\x00" * 31)


# --- verify_many ---------------------------------------------------------------


def _items(count: int) -> tuple[list[tuple[bytes, bytes, bytes]], list[int]]:
    signers = [SigningKey.from_private_bytes_raw(bytes([i]) * 32) for i in range(1, 4)]
    items: list[tuple[bytes, bytes, bytes]] = []
    bad: list[int] = []
    for i in range(count):
        key = signers[i % 3]
        data = b"entry %d" % i
        sig = key.sign(data)
        raw = key.public_key.raw
        if i % 7 == 3:
            sig = sig[:-1] + bytes([sig[-1] ^ 1])
            bad.append(i)
        elif i % 11 == 5:
            data += b"!"
            bad.append(i)
        elif i % 13 == 6:
            raw = raw[:31]  # malformed key: a failure, not an exception
            bad.append(i)
        elif i % 17 == 8:
            raw = signers[(i + 1) % 3].public_key.raw
            bad.append(i)
        items.append((raw, data, sig))
    return items, bad


def test_verify_many_reports_positions() -> None:
    items, bad = _items(120)
    assert bad
    assert verify_many(items) == bad
    assert verify_many([]) == []


@pytest.mark.parametrize("workers", [2, 3])
def test_verify_many_threads_agree(monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    monkeypatch.setattr(keys, "_CHUNK", 7)  # many chunks, several in flight
    items, bad = _items(150)
    assert verify_many(items, workers=workers) == bad


def test_verify_many_streams_an_iterator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys, "_CHUNK", 5)
    items, bad = _items(60)
    consumed = 0

    def stream() -> Iterator[tuple[bytes, bytes, bytes]]:
        nonlocal consumed
        for item in items:
            consumed += 1
            yield item

    assert verify_many(stream(), workers=2) == bad
    assert consumed == len(items)


def test_verify_many_agrees_with_public_key_verify() -> None:
    items, _ = _items(40)
    slow = []
    for index, (raw, data, sig) in enumerate(items):
        try:
            PublicKey(raw).verify(data, sig)
        except (InputError, VerificationError):
            slow.append(index)
    assert verify_many(items) == slow


def test_verify_many_workers_checked() -> None:
    with pytest.raises(InputError):
        verify_many([], workers=0)


# --- private key files -------------------------------------------------------------


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.from_private_bytes_raw(RFC8032_SEED)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o277])
def test_private_key_file_is_0600_whatever_the_umask(
    tmp_path: Path, key: SigningKey, umask: int
) -> None:
    path = tmp_path / "k.pem"
    old = os.umask(umask)
    try:
        write_private_key(path, key, passphrase=None)
    finally:
        os.umask(old)
    assert mode_of(path) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    loaded = read_private_key(path, passphrase=None)
    assert loaded.private_bytes_raw() == RFC8032_SEED


def test_private_key_file_is_standard_pkcs8(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, passphrase=None)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(loaded, Ed25519PrivateKey)
    assert loaded.private_bytes_raw() == RFC8032_SEED


def test_passphrase_round_trip(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, passphrase=b"correct horse")
    data = path.read_bytes()
    assert data.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert RFC8032_SEED not in data
    assert mode_of(path) == 0o600
    loaded = read_private_key(path, passphrase=b"correct horse")
    assert loaded.public_key == key.public_key


def test_wrong_passphrase(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, passphrase=b"correct horse")
    with pytest.raises(InputError) as exc:
        read_private_key(path, passphrase=b"battery staple")
    text = one_line(exc)
    assert str(path) in text
    assert "wrong passphrase" in text
    assert "battery" not in text and "horse" not in text


@pytest.mark.parametrize("passphrase", [None, b""])
def test_missing_passphrase(tmp_path: Path, key: SigningKey, passphrase: bytes | None) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, passphrase=b"pw")
    with pytest.raises(InputError) as exc:
        read_private_key(path, passphrase=passphrase)
    assert one_line(exc) == f"{path}: key is encrypted; give its passphrase"


def test_passphrase_for_unencrypted_key(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, passphrase=None)
    with pytest.raises(InputError, match="not encrypted"):
        read_private_key(path, passphrase=b"pw")


def test_empty_passphrase_refused_on_write(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pem"
    with pytest.raises(InputError, match="empty"):
        write_private_key(path, key, passphrase=b"")
    assert not path.exists()


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644, 0o660])
def test_group_or_other_access_refused(tmp_path: Path, key: SigningKey, mode: int) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, passphrase=None)
    path.chmod(mode)
    with pytest.raises(InputError) as exc:
        read_private_key(path, passphrase=None)
    text = one_line(exc)
    assert str(path) in text
    assert f"{mode:04o}" in text


def test_owner_read_only_accepted(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, passphrase=None)
    path.chmod(0o400)
    assert read_private_key(path, passphrase=None).public_key == key.public_key


def test_overwrite_refused(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pem"
    write_private_key(path, key, passphrase=None)
    before = path.read_bytes()
    with pytest.raises(InputError) as exc:
        write_private_key(path, SigningKey.generate(), passphrase=None)
    assert str(path) in one_line(exc)
    assert "overwrite" in str(exc.value)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_dangling_symlink_not_followed(tmp_path: Path, key: SigningKey) -> None:
    target = tmp_path / "elsewhere.pem"
    link = tmp_path / "k.pem"
    link.symlink_to(target)
    with pytest.raises(InputError, match="overwrite"):
        write_private_key(link, key, passphrase=None)
    assert not target.exists()


def test_missing_directory(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "no" / "k.pem"
    with pytest.raises(InputError) as exc:
        write_private_key(path, key, passphrase=None)
    assert str(path) in one_line(exc)


def write_0600(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.pem"
    with pytest.raises(InputError) as exc:
        read_private_key(path, passphrase=None)
    assert one_line(exc) == f"{path}: no such file"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a PEM PKCS#8 private key"),
        (b"hello\n", "not a PEM PKCS#8 private key"),
        (b"\xff\xfe" * 40, "not a PEM PKCS#8 private key"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "damaged"),
        (b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "PKCS#8"),
    ],
)
def test_garbage_private_key(tmp_path: Path, data: bytes, reason: str) -> None:
    path = write_0600(tmp_path / "k.pem", data)
    with pytest.raises(InputError) as exc:
        read_private_key(path, passphrase=None)
    text = one_line(exc)
    assert text.startswith(f"{path}: ")
    assert reason in text


def test_not_an_ed25519_key(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    pem = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = write_0600(tmp_path / "k.pem", pem)
    with pytest.raises(InputError, match="not an Ed25519 private key"):
        read_private_key(path, passphrase=None)


def test_directory_and_oversized_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a regular file"):
        read_private_key(tmp_path, passphrase=None)
    big = write_0600(tmp_path / "big.pem", b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 70_000)
    with pytest.raises(InputError, match="too large"):
        read_private_key(big, passphrase=None)


# --- public key files ------------------------------------------------------------------


def test_public_key_file_round_trip(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pub"
    write_public_key(path, key.public_key)
    assert path.read_text() == f"ed25519 {key.public_key.to_b64()}\n"
    assert mode_of(path) == 0o644
    assert read_public_key(path) == key.public_key
    with pytest.raises(InputError, match="overwrite"):
        write_public_key(path, key.public_key)


def test_public_key_file_accepts_pem_spki(tmp_path: Path, key: SigningKey) -> None:
    pem = (
        Ed25519PrivateKey.from_private_bytes(RFC8032_SEED)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    path = tmp_path / "k.pem"
    path.write_bytes(pem)
    assert read_public_key(path) == key.public_key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ed25519\n",
        "ssh-ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n",
        "ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo\n",
        "ed25519 11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo= extra\n",
        "ed25519 AAAA\n",
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    ],
)
def test_bad_public_key_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "k.pub"
    path.write_text(text)
    with pytest.raises(InputError) as exc:
        read_public_key(path)
    assert one_line(exc).startswith(f"{path}: ")


def test_public_key_file_with_crlf_is_read(tmp_path: Path, key: SigningKey) -> None:
    path = tmp_path / "k.pub"
    path.write_bytes(f"ed25519 {key.public_key.to_b64()}\r\n".encode())
    assert read_public_key(path) == key.public_key
