"""The user's C2PA signing credentials: a PEM certificate chain and the leaf's private key.

Checked before any file is touched, so a bad credential is one clear line (exit 2) rather than
an SDK error after the work: the chain must parse, its first certificate (the leaf) must hold
the public half of the key, must not be self-signed (the C2PA SDK refuses such leaves) and
must be valid now. The algorithm follows the key: EC P-256/384/521 -> ES256/384/512,
Ed25519 -> Ed25519, RSA -> PS256. Encrypted keys are refused (no passphrase prompt here).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError, PolicyError, show_path

MAX_PEM_BYTES = 1 << 20


@dataclass(frozen=True)
class C2paCredentials:
    chain_pem: bytes
    key_pem: bytes
    algorithm: str  # a c2pa.C2paSigningAlg member name: ES256, PS256, ED25519, ...
    subject: str  # the leaf's subject, for messages


def _read(path: Path, what: str) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PEM_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read the {what}: {exc.strerror or exc}",
                         subject=show_path(path)) from None
    if len(data) > MAX_PEM_BYTES:
        raise InputError(f"the {what} is larger than {MAX_PEM_BYTES} bytes",
                         subject=show_path(path))
    return data


def load(cert: Path | None, key: Path | None) -> C2paCredentials | None:
    """The credentials named by ``--c2pa-cert`` and ``--c2pa-key`` (both or neither)."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InputError("--c2pa-cert and --c2pa-key go together: give both or neither")
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    chain_pem, key_pem = _read(cert, "certificate chain"), _read(key, "signing key")
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise InputError("not a PEM certificate chain", subject=show_path(cert)) from None
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise InputError("the signing key is encrypted: give an unencrypted PEM key",
                         subject=show_path(key)) from None
    except ValueError:
        raise InputError("not a PEM private key", subject=show_path(key)) from None
    leaf = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    pem = serialization.Encoding.PEM
    if leaf.public_key().public_bytes(pem, public) != private.public_key().public_bytes(
            pem, public):
        raise PolicyError(f"the signing key does not match the chain's first certificate "
                          f"({leaf.subject.rfc4514_string()[:80]})", subject=show_path(key))
    if leaf.issuer == leaf.subject:
        raise PolicyError("the chain's first certificate is self-signed: C2PA needs a leaf "
                          "issued by a CA, followed by that CA", subject=show_path(cert))
    now = datetime.datetime.now(datetime.UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise PolicyError(f"the signing certificate is not valid now (valid "
                          f"{leaf.not_valid_before_utc:%Y-%m-%d} to "
                          f"{leaf.not_valid_after_utc:%Y-%m-%d})", subject=show_path(cert))
    return C2paCredentials(chain_pem, key_pem, _algorithm(private, show_path(key)),
                           leaf.subject.rfc4514_string()[:120])


def _algorithm(private: object, where: str) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(private, ec.EllipticCurvePrivateKey):
        by_curve = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
        if private.curve.name in by_curve:
            return by_curve[private.curve.name]
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "ED25519"
    if isinstance(private, rsa.RSAPrivateKey):
        return "PS256"
    raise InputError("the signing key's type is not one C2PA signs with (EC P-256/384/521, "
                     "Ed25519, RSA)", subject=where)
