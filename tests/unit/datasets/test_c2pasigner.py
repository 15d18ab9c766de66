"""C2PA signing credentials are refused before any file is touched, with the reason."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from ledger.datasets.c2pasigner import load
from ledger.errors import InputError, PolicyError, show_path

NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit signer")])
CA = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "unit CA")])


def _pem_key(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
             password: bytes | None = None) -> bytes:  # fmt: skip
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password
        else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             encryption)


def _cert(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, *, issuer: x509.Name,
          signer: ec.EllipticCurvePrivateKey, days: tuple[int, int] = (-1, 30)) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(NAME).issuer_name(issuer)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now + datetime.timedelta(days=days[0]))
            .not_valid_after(now + datetime.timedelta(days=days[1]))
            .sign(signer, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _write(tmp_path: Path, chain: bytes, key: bytes) -> tuple[Path, Path]:
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "leaf.key").write_bytes(key)
    return tmp_path / "chain.pem", tmp_path / "leaf.key"


@pytest.fixture(scope="module")
def ca_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def test_good_credentials_pick_the_algorithm_from_the_key(
        tmp_path: Path, ca_key: ec.EllipticCurvePrivateKey) -> None:  # fmt: skip
    for key, algorithm in [(ec.generate_private_key(ec.SECP384R1()), "ES384"),
                           (ed25519.Ed25519PrivateKey.generate(), "ED25519")]:
        cert, pem = _write(tmp_path, _cert(key, issuer=CA, signer=ca_key), _pem_key(key))
        loaded = load(cert, pem)
        assert loaded is not None
        assert (loaded.algorithm, loaded.subject) == (algorithm, "CN=unit signer")
    assert load(None, None) is None


def test_bad_credentials_are_refused_with_the_reason(
        tmp_path: Path, ca_key: ec.EllipticCurvePrivateKey) -> None:  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    good = _cert(key, issuer=CA, signer=ca_key)
    cases: list[tuple[bytes, bytes, type[Exception], str]] = [
        (good, _pem_key(ec.generate_private_key(ec.SECP256R1())), PolicyError,
         "leaf.key: the signing key does not match the chain's first certificate"),
        (_cert(key, issuer=NAME, signer=key), _pem_key(key), PolicyError,
         "chain.pem: the chain's first certificate is self-signed"),
        (_cert(key, issuer=CA, signer=ca_key, days=(-30, -1)), _pem_key(key), PolicyError,
         "chain.pem: the signing certificate is not valid now"),
        (good, _pem_key(key, b"secret"), InputError, "leaf.key: the signing key is encrypted"),
        (b"not a certificate", _pem_key(key), InputError, "chain.pem: not a PEM certificate"),
        (good, b"not a key", InputError, "leaf.key: not a PEM private key"),
    ]
    for chain, pem, error, reason in cases:
        cert, keyfile = _write(tmp_path, chain, pem)
        with pytest.raises(error) as raised:
            load(cert, keyfile)
        assert isinstance(raised.value, InputError | PolicyError)
        file, text = reason.split(": ", 1)
        assert raised.value.subject == show_path(tmp_path / file)
        assert raised.value.message.startswith(text), raised.value.message
    with pytest.raises(InputError, match="give both or neither"):
        load(None, tmp_path / "leaf.key")
    with pytest.raises(InputError, match="cannot read the certificate chain"):
        load(tmp_path / "absent.pem", tmp_path / "leaf.key")
