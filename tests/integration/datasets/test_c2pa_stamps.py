"""stamp --c2pa-cert/--c2pa-key: a C2PA manifest over the stamped PNG or JPEG, read by check.

The signing chain is made here (bench/c2pa_chain.py: a CA and a leaf it issued, with
cryptography); the manifest is read back with c2pa-python itself, offline, for the
expectations that do not go through medledger's reader.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import c2pa
import pytest

from ledger.datasets import c2pastamp, stampfile
from ledger.datasets.stamp import pixel_digest, read
from ledger.errors import InputError, PolicyError
from ledger.service import Ledger, stamps

from ..builders import RunCli
from .conftest import MR_SMALL, Pinned

MIMES = {"img0.png": "image/png", "photo.jpg": "image/jpeg"}
SOURCES = {"img0.png": "img0.png", "photo.jpg": "scans/photo.jpg", "img1.png": "img1.png"}


def _chain_module() -> ModuleType:
    """bench/c2pa_chain.py, loaded from its file (bench/ is scripts, not a package)."""
    path = Path(__file__).resolve().parents[3] / "bench" / "c2pa_chain.py"
    spec = importlib.util.spec_from_file_location("bench_c2pa_chain", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def credentials(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(chain PEM file, leaf key PEM file), made now."""
    chain, key = _chain_module().signer_chain()
    folder = tmp_path_factory.mktemp("c2pa-signer")
    (folder / "chain.pem").write_bytes(chain)
    (folder / "leaf.key").write_bytes(key)
    return folder / "chain.pem", folder / "leaf.key"


@pytest.fixture(scope="module")
def ledger(pinned: Pinned, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """One copy of the pinned ledger for the module (stamping only adds checkpoints)."""
    opened = Ledger.open(shutil.copytree(pinned.ledger, tmp_path_factory.mktemp("c2pa") / "l"))
    yield opened
    opened.store.engine.dispose()


def _copy(pinned: Pinned, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copyfile(pinned.data / SOURCES[name], target)
    return target


def _store(path: Path, mime: str) -> dict[str, object]:
    """The manifest store as c2pa-python reads it, offline (remote fetch and OCSP off)."""
    context = c2pa.Context.from_dict(
        {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}})
    with c2pa.Reader(mime, io.BytesIO(path.read_bytes()), context=context) as reader:
        store: dict[str, object] = json.loads(reader.json())
    return store


@pytest.mark.parametrize("name", sorted(MIMES))
def test_stamp_with_c2pa_then_check_reports_it_valid_pixels_untouched(
        pinned: Pinned, ledger: Ledger, credentials: tuple[Path, Path], tmp_path: Path,
        name: str) -> None:  # fmt: skip
    path = _copy(pinned, tmp_path, name)
    pixels = pixel_digest(path)
    cert, key = credentials
    [done] = stamps.stamp(ledger, [path], c2pa_cert=cert, c2pa_key=key)
    assert done.c2pa_signer is not None and "Test signer" in done.c2pa_signer
    assert pixel_digest(path) == pixels  # the canonical pixel digest is unchanged

    store = _store(path, MIMES[name])
    assert store["validation_state"] == "Valid"
    manifests = store["manifests"]
    assert isinstance(manifests, dict)
    active = manifests[store["active_manifest"]]
    labels = {a["label"]: a["data"] for a in active["assertions"]}
    provenance = labels["org.medledger.provenance"]
    stamp = json.loads(read(path.read_bytes(), name) or "{}")
    assert provenance["index"] == done.index
    assert provenance["origin"] == ledger.origin == stamp["log"]["origin"]
    assert provenance["pixel_sha256"] == pixels
    assert provenance["tlog_proof"] == stamp["proof"]
    actions = [a["action"] for a in next(v for k, v in labels.items()
                                         if k.startswith("c2pa.actions"))["actions"]]
    assert actions == ["c2pa.opened", "c2pa.edited.metadata"]
    assert "thumbnail" not in active  # no rendered copy of the image in the manifest
    assert name not in json.dumps(store)  # nor the file's name

    result = stamps.check([path], pubkeys=[str(pinned.vkey)])
    result.require_all()
    [checked] = result.checked
    assert checked.c2pa is not None
    assert (checked.c2pa.state, checked.c2pa.medledger) == ("valid", "agrees")

    stamps.stamp(ledger, [path], c2pa_cert=cert, c2pa_key=key)  # again: a new manifest
    [again] = stamps.check([path], pubkeys=[str(pinned.vkey)]).checked
    assert again.c2pa is not None and again.c2pa.state == "valid"
    assert pixel_digest(path) == pixels


def test_one_changed_byte_in_the_manifest_is_refused(
        pinned: Pinned, ledger: Ledger, credentials: tuple[Path, Path], tmp_path: Path,
        cli: RunCli) -> None:  # fmt: skip
    path = _copy(pinned, tmp_path, "photo.jpg")  # JPEG segments have no CRC to mend
    cert, key = credentials
    stamped = cli("stamp", path, "--c2pa-cert", cert, "--c2pa-key", key, "--json",
                  ledger=ledger.dir.path)
    assert stamped.rc == 0, stamped.stderr
    [done] = stamped.json()
    assert "CN=Test signer" in done["c2pa_signer"]
    good = cli("check", path, "--pubkey", pinned.vkey)
    assert good.rc == 0, good.stderr
    assert f"photo.jpg: registered in {ledger.origin} at index {done['index']}" in good.stdout
    assert "photo.jpg: C2PA manifest valid (by medledger), medledger assertion agrees" \
        in good.stdout
    data = bytearray(path.read_bytes())
    box = data.index(b"org.medledger.provenance")  # the assertion's JUMBF box, not the XMP
    at = data.index(done["pixel_sha256"].encode(), box)
    data[at] = ord("0") if data[at] != ord("0") else ord("1")  # still a hex digit
    path.write_bytes(bytes(data))
    assert pixel_digest(path) == done["pixel_sha256"]  # the stamp alone still holds
    result = cli("check", path, "--pubkey", pinned.vkey)
    assert result.rc == 1
    assert "C2PA manifest is invalid" in result.error_line()
    assert "assertion.hashedURI.mismatch" in result.error_line()


def test_a_manifest_that_disagrees_with_the_stamp_is_refused(
        pinned: Pinned, ledger: Ledger, credentials: tuple[Path, Path], tmp_path: Path
        ) -> None:  # fmt: skip
    """A validly signed manifest whose medledger assertion is another file's stamp."""
    from ledger.datasets.c2pasigner import load

    path, other = _copy(pinned, tmp_path, "img0.png"), _copy(pinned, tmp_path, "img1.png")
    stamps.stamp(ledger, [path, other])
    foreign = read(other.read_bytes(), "img1.png")
    assert foreign is not None
    data = path.read_bytes()
    path.write_bytes(c2pastamp.seal(data, data, foreign, credentials=load(*credentials),
                                    where="img0.png"))
    assert _store(path, "image/png")["validation_state"] == "Valid"  # the signature is good
    result = stamps.check([path], pubkeys=[str(pinned.vkey)])
    assert not result.checked
    [(_, reason)] = result.failed
    assert reason.startswith("C2PA manifest's medledger assertion disagrees with the stamp "
                             "on index")


def test_a_signing_key_not_matching_the_chain_is_refused(
        pinned: Pinned, ledger: Ledger, credentials: tuple[Path, Path], tmp_path: Path,
        cli: RunCli) -> None:  # fmt: skip
    _, stranger = _chain_module().signer_chain()  # another leaf's key
    (key := tmp_path / "other.key").write_bytes(stranger)
    path = _copy(pinned, tmp_path, "photo.jpg")
    before = path.read_bytes()
    result = cli("stamp", path, "--c2pa-cert", credentials[0], "--c2pa-key", key,
                 ledger=ledger.dir.path)
    assert result.rc == 2
    assert "signing key does not match the chain's first certificate" in result.error_line()
    assert path.read_bytes() == before
    with pytest.raises(InputError, match="give both or neither"):
        stamps.stamp(ledger, [path], c2pa_cert=credentials[0])
    assert path.read_bytes() == before


def _leaf_der(chain_pem: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_pem_x509_certificates(chain_pem)[0].public_bytes(Encoding.DER)


def test_a_manifest_whose_signature_is_not_its_certificates_is_refused(
        pinned: Pinned, ledger: Ledger, credentials: tuple[Path, Path], tmp_path: Path
        ) -> None:  # fmt: skip
    """The manifest's leaf certificate swapped for another's of the same length: the claim
    signature (made with the first key) no longer matches the chain the manifest carries."""
    path = _copy(pinned, tmp_path, "photo.jpg")
    stamps.stamp(ledger, [path], c2pa_cert=credentials[0], c2pa_key=credentials[1])
    ours = _leaf_der(credentials[0].read_bytes())
    for _ in range(500):  # DER lengths vary by a byte or two with the serial and signature
        other = _leaf_der(_chain_module().signer_chain()[0])
        if len(other) == len(ours):
            break
    assert len(other) == len(ours) and other != ours
    data = path.read_bytes()
    assert data.count(ours) == 1
    path.write_bytes(data.replace(ours, other))
    result = stamps.check([path], pubkeys=[str(pinned.vkey)])
    [(_, reason)] = result.failed
    assert reason.startswith("C2PA manifest is invalid")
    assert "claimSignature.mismatch" in reason


def test_without_the_options_nothing_c2pa_is_written(pinned: Pinned, ledger: Ledger,
                                                     tmp_path: Path) -> None:
    paths = [_copy(pinned, tmp_path, name) for name in sorted(MIMES)]
    stamps.stamp(ledger, paths)
    for path in paths:
        data = path.read_bytes()
        if path.suffix == ".png":  # C2PA's PNG chunk is caBX; its JPEG segments are APP11
            assert b"caBX" not in {kind for kind, _ in stampfile._png_chunks(data, "png")}
        else:
            assert 0xEB not in {marker for marker, _ in stampfile._jpeg_segments(data, "j")[0]}
        assert c2pastamp.read_store_or_damaged(data) is None
    result = stamps.check(paths, pubkeys=[str(pinned.vkey)])
    result.require_all()
    assert [c.c2pa for c in result.checked] == [None, None]


def test_dicom_is_refused_and_a_manifest_is_never_broken_silently(
        pinned: Pinned, ledger: Ledger, credentials: tuple[Path, Path], tmp_path: Path
        ) -> None:  # fmt: skip
    dicom = tmp_path / "mr.dcm"
    shutil.copyfile(MR_SMALL, dicom)
    with pytest.raises(InputError, match="not applicable to DICOM"):
        stamps.stamp(ledger, [dicom], c2pa_cert=credentials[0], c2pa_key=credentials[1])
    assert dicom.read_bytes() == MR_SMALL.read_bytes()
    path = _copy(pinned, tmp_path, "img0.png")
    stamps.stamp(ledger, [path], c2pa_cert=credentials[0], c2pa_key=credentials[1])
    signed = path.read_bytes()
    with pytest.raises(PolicyError, match="carries a C2PA manifest that the stamp would "
                                          "invalidate"):
        stamps.stamp(ledger, [path])  # without the options: refused, not broken
    assert path.read_bytes() == signed
