"""ledger.consent.replay: an image's consent is the later of its own and its subject's latest
consent.changed; an erased subject ends it for all its images."""

from __future__ import annotations

from typing import Any

from ledger.consent.replay import ended, subject_of

SUBJECT = "skey-hmac-sha256:" + "ab" * 32
OTHER = "skey-hmac-sha256:" + "cd" * 32


def _changed(status: str, *, subject: str | None = None, images: tuple[int, ...] = ()
             ) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {"status": status, "scope": []}
    body.update({"subject": subject} if subject else {"images": list(images)})
    return {"kind": "consent.changed", "time": "2026-01-01T00:00:00Z", "actor": "k",
            "body": body}


def _erased(subject: str) -> dict[str, Any]:
    return {"kind": "subject.erased", "time": "2026-01-01T00:00:00Z", "actor": "k",
            "body": {"subject": subject}}


def test_the_later_of_image_and_subject_decides() -> None:
    entries = [
        (10, _changed("withdrawn", images=(1,))),
        (11, _changed("granted", subject=SUBJECT)),  # later: image 1 is granted again
        (12, _changed("granted", images=(2,))),
        (13, _changed("withdrawn", subject=SUBJECT)),  # later than image 2's own grant
        (14, _changed("withdrawn", images=(3,))),
        (15, _changed("restricted", images=(4,))),
    ]
    subjects = {1: SUBJECT, 2: SUBJECT, 3: None, 4: None, 5: OTHER}
    found = {(e.image, e.status, e.since) for e in ended(entries, subjects)}
    # image 1: subject withdrawn at 13 is its latest; image 2 likewise; 3 its own at 14
    assert found == {(1, "withdrawn", 13), (2, "withdrawn", 13), (3, "withdrawn", 14)}


def test_order_of_the_input_does_not_matter_and_erasure_ends_all_images() -> None:
    entries = [(20, _erased(OTHER)), (8, _changed("granted", subject=OTHER)),
               (9, _changed("withdrawn", images=(6,)))]
    found = ended(reversed(entries), {5: OTHER, 6: OTHER, 7: SUBJECT})
    assert [(e.image, e.status, e.since) for e in found] == [(5, "erased", 20), (6, "erased", 20)]


def test_no_entries_end_nothing_and_a_photo_has_no_subject() -> None:
    assert ended([], {1: SUBJECT}) == []
    assert subject_of({"kind": "image.registered", "body": {"image": {"pseudonyms": None}}}) is None
    assert subject_of({"body": {"image": {"pseudonyms": {"PatientID": SUBJECT}}}}) == SUBJECT
