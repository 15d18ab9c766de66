"""SQLModel tables. The log tables are append-only; the rest are projections of the log.

Tree nodes are the perfect subtrees of the Merkle tree keyed by one integer,
``level << 48 | index``, so SQLite keeps them in its rowid b-tree with no
second index (about 2 nodes per leaf).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Integer, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

NODE_INDEX_BITS = 48
# 64-bit keys everywhere, but INTEGER on SQLite so the key is the rowid (no second index).
ROWID_KEY = BigInteger().with_variant(Integer(), "sqlite")


def node_key(level: int, index: int) -> int:
    return (level << NODE_INDEX_BITS) | index


class LogLeaf(SQLModel, table=True):
    __tablename__ = "log_leaves"

    idx: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    envelope_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, unique=True))
    kind: str = Field(index=True)
    actor: str


class TreeNode(SQLModel, table=True):
    __tablename__ = "tree_nodes"

    key: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class CheckpointRow(SQLModel, table=True):
    __tablename__ = "checkpoints"

    id: int | None = Field(default=None, primary_key=True)
    size: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str
    created: str


class KeyRow(SQLModel, table=True):
    """Projection of key.added / key.revoked entries."""

    __tablename__ = "keys"

    key_id: str = Field(primary_key=True)
    name: str = Field(index=True)
    role: str
    public_key: str
    added_idx: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_idx: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class Meta(SQLModel, table=True):
    """Ledger-wide settings: origin, log verifier key, policies, schema version."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str


APPEND_ONLY_TABLES = ("log_leaves", "tree_nodes", "checkpoints")

# Tables that are a pure function of the log: written only through a registered
# projection (ledger/projections.py), rebuilt and compared row for row by ``verify``,
# recreated by ``rebuild``. A feature that adds such a table adds its name here.
PROJECTION_TABLES: tuple[str, ...] = ("keys", "images", "sources", "policies",
                                      *("image_consent", "consent_events", "erased_subjects"),
                                      *("derivations", "image_uids"), "dataset_versions",
                                      "access_grants", "frame_keys")

# Duplicate findings: computed from the descriptor grids (a side table), not from the
# log alone. ``verify`` re-checks every stored row; ``rebuild`` clears and rescans them.
FINDING_TABLES: tuple[str, ...] = ("dup_scans", "dup_edges")


class PolicyRow(SQLModel, table=True):
    """Projection of policy.changed entries, for display: one row per entry (the latest
    ``idx`` of a setting is in force). Decisions read the signed log (ledger.guard), never
    this table; verify compares it with the log like every projection."""

    __tablename__ = "policies"

    idx: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    setting: str = Field(index=True)
    value: str  # JSON


class ImageRow(SQLModel, table=True):
    """Projection of image.registered: one row per (file, registering source)."""

    __tablename__ = "images"
    __table_args__ = (UniqueConstraint("file_sha256", "source", name="uq_image_file_source"),)

    idx: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    file_sha256: str = Field(index=True)
    pixel_sha256: str = Field(index=True)
    source: str = Field(index=True)
    dataset: str | None = Field(default=None, index=True)
    license: str
    consent: str
    format: str
    registered: str
    # The near-duplicate index keys (6 x uint64 little-endian) and the digest of the grid
    # they come from; null for an image registered without a descriptor.
    dup_keys: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    grid_sha256: str | None = Field(default=None)


class DescriptorGridRow(SQLModel, table=True):
    """The 32 x 32 near-duplicate grids, by digest. Private to this repository and not part
    of the log (only the digest is signed), so a grid can be purged without touching it."""

    __tablename__ = "descriptor_grids"

    grid_sha256: str = Field(primary_key=True)
    grid: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class DupScanRow(SQLModel, table=True):
    """One row per image checked against the images registered before it.

    ``group_idx`` is the earliest image it duplicates (through its matches' groups), or its
    own index: images sharing it are one duplicate group, and it is the token the
    dataset sketches hash."""

    __tablename__ = "dup_scans"

    idx: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    group_idx: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))


class DupEdgeRow(SQLModel, table=True):
    """A confirmed duplicate: image ``idx`` (later) of image ``match_idx`` (earlier)."""

    __tablename__ = "dup_edges"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    match_idx: int = Field(
        sa_column=Column(BigInteger, primary_key=True, autoincrement=False, index=True)
    )
    kind: str  # exact (same pixel digest) or near
    distance: int  # Hamming distance of the closest index keys; 0 for exact copies
    detail: str  # the verifier's explanation; numbers and transform names only


class SourceRow(SQLModel, table=True):
    """Projection of source.added / source.changed: the keys that may register under a source."""

    __tablename__ = "sources"

    name: str = Field(primary_key=True)
    keys: str  # the allowed key ids, sorted, comma-separated
    added_idx: int = Field(sa_column=Column(BigInteger, nullable=False))
    changed_idx: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


# The access_grants projection (ledger/model/access.py) lives in its own module.
from ledger.store import accesstables as _accesstables  # noqa: E402, F401 - registers it

# Consent and erasure tables (projections and deletable side tables) live in their own module.
from ledger.store import consenttables as _consenttables  # noqa: E402, F401 - registers them
from ledger.store import frametables as _frametables  # noqa: E402, F401 - registers it


class DerivationRow(SQLModel, table=True):
    """Projection of image.derived: one edge of the derivation graph per entry. ``parent``
    and ``child`` are the entry indexes of the two images' image.registered entries."""

    __tablename__ = "derivations"

    idx: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    parent: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    child: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    inferred: bool = Field(sa_column=Column(Boolean, nullable=False))


class ImageUidRow(SQLModel, table=True):
    """Projection of image.registered: the SOP Instance UID pseudonym of a DICOM image, so
    that a derived DICOM's Source Image Sequence finds its parent (inferred edges)."""

    __tablename__ = "image_uids"

    idx: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    sop_uid: str = Field(index=True)

class DatasetVersionRow(SQLModel, table=True):
    """Projection of dataset.versioned: one row per version (ledger/model/datasets.py)."""

    __tablename__ = "dataset_versions"

    idx: int = Field(sa_column=Column(ROWID_KEY, primary_key=True, autoincrement=False))
    name: str = Field(index=True)
    version: int
    owner: str
    tier: str
    members: int = Field(sa_column=Column(BigInteger, nullable=False))
    members_root: str
    previous: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    withdrawn: int  # how many members left out for withdrawn consent
    created: str


class DatasetMemberRow(SQLModel, table=True):
    """A version's member records: a side table (not a projection), committed to by the
    version entry's ``members_root``. ``verify`` re-hashes every list present; a list that
    is absent is reported as purged."""

    __tablename__ = "dataset_members"

    version_idx: int = Field(
        sa_column=Column(BigInteger, primary_key=True, autoincrement=False)
    )
    entry: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    file_sha256: str
    file_size: int = Field(sa_column=Column(BigInteger, nullable=False))
    pixel_sha256: str
    pixel_form: str
    encoding: str
    path: str | None = Field(default=None)
