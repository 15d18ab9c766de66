"""C2PA manifests signed offline here, with a throw-away CA and leaf made with cryptography.

The SDK refuses self-signed leaves, so the chain is a CA and a leaf it issued. No trust list
is configured: a good manifest validates as "Valid" (never "Trusted").
"""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from pathlib import Path

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from ledger.forensics.signal import Level

from .samples import named, screened

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


@pytest.fixture(scope="module")
def signer_pem() -> tuple[bytes, bytes]:
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


def signed_png(signer_pem: tuple[bytes, bytes], source_type: str, seed: int = 1) -> bytes:
    """A small PNG with a C2PA manifest whose c2pa.created action has ``source_type``."""
    pixels = (np.random.default_rng(seed).random((48, 64, 3)) * 255).astype(np.uint8)
    plain = io.BytesIO()
    Image.fromarray(pixels).save(plain, "PNG")
    plain.seek(0)
    manifest = {
        "claim_generator_info": [{"name": "medledger-test-generator", "version": "1"}],
        "title": "test.png",
        "format": "image/png",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}]}}],
    }
    chain, private = signer_pem
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, private, None)
    out = io.BytesIO()
    c2pa.Builder(manifest).sign(c2pa.Signer.from_info(info), "image/png", plain, out)
    return out.getvalue()


def test_generated_media_declared_in_a_valid_manifest_is_flagged_high(
    signer_pem: tuple[bytes, bytes], tmp_path: Path
) -> None:
    path = tmp_path / "generated.png"
    path.write_bytes(signed_png(signer_pem, "trainedAlgorithmicMedia"))
    screening = screened(path)
    [declared] = named(screening, "c2pa.digital_source_type")
    assert declared.level == Level.HIGH
    assert "trainedAlgorithmicMedia" in declared.evidence
    [manifest] = named(screening, "c2pa.manifest")
    assert manifest.level == Level.NONE and ": valid" in manifest.evidence
    assert "medledger-test-generator" in manifest.evidence
    assert "Test signer" not in manifest.evidence  # the signer is a person's name at times
    assert screening.level == Level.HIGH


def test_tampered_pixels_make_the_manifest_invalid(
    signer_pem: tuple[bytes, bytes], tmp_path: Path
) -> None:
    signed = signed_png(signer_pem, "digitalCapture")
    path = tmp_path / "tampered.png"
    path.write_bytes(with_other_pixels(signed))  # a valid PNG whose pixels changed after signing
    screening = screened(path)
    [manifest] = named(screening, "c2pa.manifest")
    assert manifest.level == Level.MEDIUM
    assert "invalid" in manifest.evidence
    [declared] = named(screening, "c2pa.digital_source_type")
    assert declared.level == Level.NONE  # a camera capture is recorded, not flagged


def with_other_pixels(png: bytes) -> bytes:
    """``png`` with its IDAT replaced by other pixels of the same size (CRCs made right)."""
    chunks, pos = [], 8
    while pos < len(png):
        length, kind = struct.unpack_from(">I4s", png, pos)
        chunks.append((kind, png[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    width, height = struct.unpack_from(">II", chunks[0][1])
    raw = b"".join(b"\x00" + bytes([200]) * (width * 3) for _ in range(height))
    out = [png[:8]]
    for kind, body in chunks:
        if kind == b"IDAT":
            body = zlib.compress(raw)
        out.append(struct.pack(">I", len(body)) + kind + body
                   + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)


def test_enhanced_and_computational_capture_are_recorded_low(
    signer_pem: tuple[bytes, bytes], tmp_path: Path
) -> None:
    for term in ("algorithmicallyEnhanced", "computationalCapture"):
        path = tmp_path / f"{term}.png"
        path.write_bytes(signed_png(signer_pem, term))
        [declared] = named(screened(path), "c2pa.digital_source_type")
        assert declared.level == Level.LOW, term


def test_composite_and_algorithmic_media_are_flagged(
    signer_pem: tuple[bytes, bytes], tmp_path: Path
) -> None:
    for term in ("compositeWithTrainedAlgorithmicMedia", "algorithmicMedia"):
        path = tmp_path / f"{term}.png"
        path.write_bytes(signed_png(signer_pem, term))
        assert screened(path).level == Level.HIGH, term


def test_a_png_without_a_manifest_has_no_c2pa_signal(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    screening = screened(path)
    assert not [s for s in screening.signals if s.name.startswith("c2pa.")]
