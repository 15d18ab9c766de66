"""C2PA manifests signed offline here, with a throw-away CA and leaf made with cryptography.

The SDK refuses self-signed leaves, so the chain (bench/c2pa_chain.py, shared with the
benchmark) is a CA and a leaf it issued. No trust list is configured: a good manifest
validates as "Valid" (never "Trusted").
"""

from __future__ import annotations

import importlib.util
import io
import struct
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from ledger.forensics.signal import Level

from .samples import named, screened


def _chain_module() -> ModuleType:
    """bench/c2pa_chain.py, loaded from its file (bench/ is scripts, not a package)."""
    path = Path(__file__).resolve().parents[3] / "bench" / "c2pa_chain.py"
    spec = importlib.util.spec_from_file_location("bench_c2pa_chain", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


chain = _chain_module()

@pytest.fixture(scope="module")
def signer_pem() -> tuple[bytes, bytes]:
    """(certificate chain PEM, leaf private key PEM): a CA and a leaf it issued."""
    pem: tuple[bytes, bytes] = chain.signer_chain()
    return pem


def signed_png(signer_pem: tuple[bytes, bytes], source_type: str, seed: int = 1) -> bytes:
    """A small PNG with a C2PA manifest whose c2pa.created action has ``source_type``."""
    pixels = (np.random.default_rng(seed).random((48, 64, 3)) * 255).astype(np.uint8)
    plain = io.BytesIO()
    Image.fromarray(pixels).save(plain, "PNG")
    signed: bytes = chain.sign_png(plain.getvalue(), signer_pem, source_type)
    return signed


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
