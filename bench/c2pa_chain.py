"""A throw-away C2PA signing chain made offline, and a PNG signed with it.

Shared by bench/forensics.py and tests/unit/forensics/test_c2pa.py. The c2pa SDK refuses
self-signed leaves, so the chain is a CA and a leaf it issued (ECDSA P-256, valid from a day
ago for 30 days, email-protection EKU). No trust list is configured: a good manifest
validates as "Valid", never "Trusted".
"""

from __future__ import annotations

import datetime
import io

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "medledger tests")])


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
        crl_sign=not sign, encipher_only=False, decipher_only=False,
    )


def signer_chain() -> tuple[bytes, bytes]:
    """(certificate chain PEM, leaf private key PEM): a CA and a leaf it issued."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder().subject_name(_name("Test CA")).issuer_name(_name("Test CA"))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder().subject_name(_name("Test signer")).issuer_name(ca.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(
        serialization.Encoding.PEM)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return chain, private


def sign_png(png: bytes, chain: tuple[bytes, bytes], source_type: str) -> bytes:
    """``png`` with a C2PA manifest whose c2pa.created action has IPTC ``source_type``."""
    manifest = {
        "claim_generator_info": [{"name": "medledger-test-generator", "version": "1"}],
        "title": "test.png",
        "format": "image/png",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}]}}],
    }
    certificates, private = chain
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, certificates, private, None)
    out = io.BytesIO()
    c2pa.Builder(manifest).sign(c2pa.Signer.from_info(info), "image/png", io.BytesIO(png), out)
    return out.getvalue()
