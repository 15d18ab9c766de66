"""The ``access_grants`` projection (ledger/model/access.py): one row per
dataset.access_granted entry, its ``revoked_idx`` set by the dataset.access_revoked entry
that ends it. In ``PROJECTION_TABLES``: verify rebuilds and compares it, rebuild refills it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from ledger.store.tables import ROWID_KEY


class AccessGrantRow(SQLModel, table=True):
    __tablename__ = "access_grants"

    # Named ``grant_idx``, not ``idx``: a later entry (the revocation) updates the row, so the
    # audit must not compare it by index range (see ImageConsentRow).
    grant_idx: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    granter: str
    grantee: str = Field(index=True)
    name: str = Field(index=True)
    version: int | None = Field(default=None)  # null: every version of the dataset
    purpose: str
    not_after: str
    granted: str  # the grant entry's time
    revoked_idx: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
