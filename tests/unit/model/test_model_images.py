"""image.registered facts: frame digests listed up to 512 frames, a frame tree for any count.

The reference Merkle root here is RFC 9162 §2.1.1 written out with hashlib, independent of
``ledger.log``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.errors import InputError
from ledger.model.canonical import canonical_json
from ledger.model.entry import MAX_ENVELOPE_BYTES
from ledger.model.images import MAX_FRAMES_LISTED, ImageFacts
from ledger.model.registry import validate_body


def mth(digests: list[bytes]) -> bytes:
    """RFC 9162 MTH, leaf = SHA-256(0x00 || d), node = SHA-256(0x01 || l || r), recursively."""
    if len(digests) == 1:
        return hashlib.sha256(b"\x00" + digests[0]).digest()
    k = 1 << ((len(digests) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(digests[:k]) + mth(digests[k:])).digest()


def frame_digests(count: int) -> list[str]:
    return [hashlib.sha256(f"frame {i}".encode()).hexdigest() for i in range(count)]


def facts(frames: int, *, listed: bool | None = None, tree: bool = True) -> dict[str, Any]:
    """Facts of a ``frames``-frame image as registration writes them (``listed``: override)."""
    digests = frame_digests(frames) if frames > 1 else []
    out: dict[str, Any] = {
        "v": 1, "file_sha256": "a" * 64, "file_size": 1, "format": "dicom",
        "pixel_sha256": "b" * 64, "pixel_form": f"|u1 {frames}x8x8x1",
        "frame_sha256": digests if (listed if listed is not None else frames <= 512) else [],
        "metadata": {}, "deid": {}, "pseudonyms": None, "fingerprints": {}, "preamble": None,
    }  # fmt: skip
    if tree and frames > 1:
        root = mth([bytes.fromhex(d) for d in digests]).hex()
        out["frame_tree"] = {"alg": "rfc9162-sha256", "count": frames, "root": root}
    return out


def body(image: dict[str, Any]) -> dict[str, Any]:
    return {"source": "site-a", "license": "CC0-1.0", "consent": "waived", "image": image}


def refused(image: dict[str, Any]) -> str:
    with pytest.raises(InputError) as caught:
        validate_body("image.registered", body(image))
    return caught.value.message


def test_the_listing_cut_off_is_512() -> None:
    assert MAX_FRAMES_LISTED == 512


@pytest.mark.parametrize("frames", [1, 2, 3, 10, 512, 513, 600, 5000])
def test_registration_shaped_facts_validate(frames: int) -> None:
    parsed = ImageFacts.model_validate(facts(frames))
    if frames == 1:
        assert parsed.frame_tree is None
    else:
        assert parsed.frame_tree is not None
        assert parsed.frame_tree.count == frames
    assert len(parsed.frame_sha256) == (frames if 1 < frames <= 512 else 0)


@pytest.mark.parametrize("frames", [1, 2, 512])
def test_entries_from_before_the_frame_tree_still_validate(frames: int) -> None:
    old = facts(frames, tree=False)
    assert "frame_tree" not in old
    validate_body("image.registered", body(old))
    assert "frame_tree" not in canonical_json(old).decode()  # nothing added to the signed bytes


def test_more_than_512_listed_digests_are_still_refused() -> None:
    assert "frame_sha256" in refused(facts(513, listed=True, tree=False))
    assert "frame_sha256" in refused(facts(513, listed=True))


def test_above_512_frames_no_digest_is_listed() -> None:
    message = refused(facts(600, listed=True) | {"frame_sha256": frame_digests(600)[:512]})
    assert "frame_sha256 must be empty above 512 frames, got 512 for 600" in message


def test_up_to_512_frames_every_digest_is_listed() -> None:
    assert "lists 0 digests for 10 frames" in refused(facts(10, listed=False))
    some = facts(10)
    some["frame_sha256"] = some["frame_sha256"][:9]
    assert "lists 9 digests for 10 frames" in refused(some)


def test_the_root_must_match_the_listed_digests() -> None:
    image = facts(5)
    good = image["frame_tree"]["root"]
    image["frame_tree"] = image["frame_tree"] | {"root": "0" * 64}
    message = refused(image)
    assert f"frame_tree.root {'0' * 64} does not match" in message
    assert f"calculated {good}" in message
    swapped = facts(5)
    digests = swapped["frame_sha256"]
    digests[0], digests[1] = digests[1], digests[0]
    assert "does not match the listed frame digests" in refused(swapped)


def test_a_multi_frame_image_without_tree_or_listing_is_refused() -> None:
    assert "a 600-frame image needs frame_tree" in refused(facts(600, tree=False))


def test_the_count_must_match_the_pixel_form() -> None:
    image = facts(600) | {"pixel_form": "|u1 601x8x8x1"}
    assert "frame_tree.count is 600 but pixel_form has 601 frames" in refused(image)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"count": 1}, "count"),
        ({"count": True}, "count"),
        ({"count": "600"}, "count"),
        ({"alg": "sha256"}, "alg"),
        ({"root": "AB" * 32}, "root"),
        ({"root": "ab" * 31}, "root"),
        ({"extra": 1}, "extra"),
    ],
)
def test_malformed_frame_trees_are_refused(change: dict[str, Any], where: str) -> None:
    image = facts(600)
    image["frame_tree"] = image["frame_tree"] | change
    assert f"image.frame_tree.{where}" in refused(image)


def test_a_null_frame_tree_is_refused() -> None:
    # One encoding per fact: absent, never null.
    assert "frame_tree is omitted, never null" in refused(facts(1) | {"frame_tree": None})
    with pytest.raises(ValidationError):
        ImageFacts.model_validate(facts(600) | {"frame_tree": None})


def test_listed_frame_digests_are_hex_digests() -> None:
    image = facts(3, tree=False)
    image["frame_sha256"][1] = "not a digest"
    assert "image.frame_sha256.1" in refused(image)


def test_the_longest_listing_leaves_room_in_an_entry() -> None:
    # 512 digests and the tree take about 34 KiB of the 64 KiB entry limit, leaving at
    # least 16 KiB for metadata, de-identification status and fingerprints.
    size = len(canonical_json(body(facts(MAX_FRAMES_LISTED))))
    assert size < MAX_ENVELOPE_BYTES - 16 * 1024
