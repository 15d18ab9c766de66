"""Bodies of consent.changed and subject.erased, and their projections.

consent.changed names its target: a subject (the v2 or v1 subject pseudonym that registration
wrote as ``pseudonyms.PatientID``) or a list of registered images (entry indexes). Its scope
is a list of GA4GH Data Use Ontology codes (docs/consent.md lists those interpreted); its
reason is a code, never free text (free text could carry PHI). subject.erased names the
subject pseudonym only: the pseudonym is a MAC under the subject's own key, which erasure
deletes, so it links to no one afterwards.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ledger.model.kinds import kind
from ledger.model.projection import Change, Insert, Projection, Update
from ledger.model.roles import Role

# A subject pseudonym: v2 (per-subject key) or v1 (repository secret, entries made before v2).
SUBJECT_PATTERN = r"^(skey-hmac-sha256|hmac-sha256):[0-9a-f]{64}$"
STATUSES = ("granted", "restricted", "withdrawn")
MAX_IMAGES = 1000

# The GA4GH DUO codes accepted in a scope: code -> (shorthand, label). docs/consent.md says how
# each is interpreted; a code outside this table is refused, never stored unread.
DUO_CODES: dict[str, tuple[str, str]] = {
    "DUO:0000004": ("NRES", "no restriction"),
    "DUO:0000042": ("GRU", "general research use"),
    "DUO:0000006": ("HMB", "health or medical or biomedical research"),
    "DUO:0000007": ("DS", "disease specific research"),
    "DUO:0000011": ("POA", "population origins or ancestry research only"),
    "DUO:0000043": ("CC", "clinical care use"),
    "DUO:0000015": ("NMDS", "no general methods research"),
    "DUO:0000016": ("GSO", "genetic studies only"),
    "DUO:0000018": ("NPUNCU", "not for profit, non commercial use only"),
    "DUO:0000045": ("NPU", "not for profit organisation use only"),
    "DUO:0000046": ("NCU", "non-commercial use only"),
    "DUO:0000019": ("PUB", "publication required"),
    "DUO:0000020": ("COL", "collaboration required"),
    "DUO:0000021": ("IRB", "ethics approval required"),
    "DUO:0000022": ("GS", "geographical restriction"),
    "DUO:0000024": ("MOR", "publication moratorium"),
    "DUO:0000025": ("TS", "time limit on use"),
    "DUO:0000026": ("US", "user specific restriction"),
    "DUO:0000027": ("PS", "project specific restriction"),
    "DUO:0000028": ("IS", "institution specific restriction"),
    "DUO:0000029": ("RTN", "return to database or resource"),
}
# Reasons are codes: what prompted the change, never who said what.
REASONS = ("subject-request", "guardian-request", "ethics-decision", "legal-requirement",
           "study-ended", "data-quality", "correction", "other")  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ConsentChanged(_Strict):
    """A subject's, or some images', consent: status and DUO scope, from this entry on."""

    subject: str | None = Field(default=None, pattern=SUBJECT_PATTERN,
                                description="the subject pseudonym (pseudonyms.PatientID)")
    images: list[int] | None = Field(default=None, min_length=1, max_length=MAX_IMAGES,
                                     description="entry indexes of image.registered entries")
    status: Literal["granted", "restricted", "withdrawn"]
    scope: list[str] = Field(default_factory=list, max_length=len(DUO_CODES),
                             description="GA4GH DUO codes (DUO:0000042 ...), sorted")
    reason: Literal[REASONS] | None = Field(default=None)  # type: ignore[valid-type]

    @field_validator("images")
    @classmethod
    def _sorted_images(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (value != sorted(set(value)) or value[0] < 0):
            raise ValueError("images must be entry indexes, sorted and without repeats")
        return value

    @field_validator("scope")
    @classmethod
    def _duo_codes(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in DUO_CODES]
        if unknown:
            raise ValueError(f"{unknown[0][:20]} is not a DUO code this ledger interprets")
        if value != sorted(set(value)):
            raise ValueError("scope must be sorted and without repeats")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> ConsentChanged:
        if (self.subject is None) == (self.images is None):
            raise ValueError("name exactly one target: subject or images")
        return self


class SubjectErased(_Strict):
    """The subject's keys and side data were deleted: nothing links its entries to anyone."""

    subject: str = Field(pattern=SUBJECT_PATTERN)
    reason: Literal[REASONS] | None = Field(default=None)  # type: ignore[valid-type]


KINDS = (
    kind("consent.changed", ConsentChanged, roles=(Role.CONSENT_OFFICER,),
         description="a subject's or images' consent status and DUO scope"),
    kind("subject.erased", SubjectErased, roles=(Role.CONSENT_OFFICER,),
         description="a subject's key and side data were deleted (crypto-shredding)"),
)


def image_target(index: int) -> str:
    return f"image:{index}"


def _consent_changed(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    scope = ",".join(body.get("scope", []))
    common = {"status": body["status"], "scope": scope, "reason": body.get("reason")}
    if body.get("subject") is not None:
        return [Insert("consent_events", {"idx": index, "target": body["subject"], **common})]
    changes: list[Change] = []
    for image in body["images"]:
        changes.append(Insert("consent_events", {"idx": index, "target": image_target(image),
                                                 **common}))
    for image in body["images"]:
        changes.append(Update("image_consent", {"image": image}, {
            "status": body["status"], "scope": scope, "changed_idx": index}))
    return changes


def _subject_erased(index: int, entry: dict[str, Any]) -> list[Change]:
    return [Insert("erased_subjects", {"subject": entry["body"]["subject"], "idx": index})]


def image_consent_row(index: int, image: dict[str, Any]) -> Insert:
    """The image_consent row of an image.registered entry (its projection adds it)."""
    names = image.get("pseudonyms") or {}
    subject = names.get("PatientID")
    return Insert("image_consent", {
        "image": index,
        "subject": subject if isinstance(subject, str) else None,
        "demographics": names.get("Demographics") if isinstance(names.get("Demographics"),
                                                                str) else None,
        "status": None, "scope": None, "changed_idx": None,
    })  # fmt: skip


PROJECTIONS: dict[str, Projection] = {
    "consent.changed": _consent_changed,
    "subject.erased": _subject_erased,
}
