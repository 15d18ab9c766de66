"""Tables of consent and erasure: three projections of the log and two deletable side tables.

Projections (in ``PROJECTION_TABLES``; verify rebuilds and compares them):

* ``image_consent``: one row per image.registered entry: its subject pseudonym (v2 entries:
  keyed by the subject's own key), its demographics commitment, and its current image-level
  consent (updated by consent.changed entries naming the image).
* ``consent_events``: one row per target of each consent.changed entry (history).
* ``erased_subjects``: one row per subject.erased entry.

Side tables (not derivable from the log; erasure deletes their rows):

* ``subject_keys``: the random per-subject key, found by its lookup tag HMAC(secret, id).
  The entries commit to the key through the subject pseudonym, a MAC under the key.
* ``subject_demographics``: sex and age band with the salt of the commitment in the entry.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, LargeBinary
from sqlmodel import Field, SQLModel

from ledger.store.tables import ROWID_KEY


class ImageConsentRow(SQLModel, table=True):
    __tablename__ = "image_consent"

    # Named ``image``, not ``idx``: the audit compares tables keyed by ``idx`` alone by index
    # range, assuming no later entry updates their rows; consent.changed updates these.
    image: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    subject: str | None = Field(default=None, index=True)
    demographics: str | None = Field(default=None)  # "sha256:<hex>" commitment, or null
    status: str | None = Field(default=None)  # granted, restricted, withdrawn; null: none yet
    scope: str | None = Field(default=None)  # DUO codes, comma-separated
    changed_idx: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ConsentEventRow(SQLModel, table=True):
    __tablename__ = "consent_events"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    target: str = Field(primary_key=True)  # a subject pseudonym, or "image:<index>"
    status: str
    scope: str  # DUO codes, comma-separated ("" for none)
    reason: str | None = Field(default=None)


class ErasedSubjectRow(SQLModel, table=True):
    __tablename__ = "erased_subjects"

    subject: str = Field(primary_key=True)
    idx: int = Field(sa_column=Column(BigInteger, nullable=False))


class SubjectKeyRow(SQLModel, table=True):
    __tablename__ = "subject_keys"

    subject: str = Field(primary_key=True)
    tag: str = Field(unique=True)
    key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class SubjectDemographicsRow(SQLModel, table=True):
    __tablename__ = "subject_demographics"

    commitment: str = Field(primary_key=True)
    subject: str = Field(index=True)
    salt: str
    sex: str | None = Field(default=None)
    age_band: str | None = Field(default=None)


CONSENT_PROJECTION_TABLES = ("image_consent", "consent_events", "erased_subjects")
SUBJECT_SIDE_TABLES = ("subject_keys", "subject_demographics")
