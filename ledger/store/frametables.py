"""``frame_keys``: a projection of image.registered, one row per described frame of a
multi-frame image registered with ``frame_grids`` (issue 21).

The near-duplicate index loads these rows instead of the image's own ``images.dup_keys``
when an image has them, so every described frame is searchable and a match names its
frame. The grids live in ``descriptor_grids`` by digest, as the images' grids do.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary
from sqlmodel import Field, SQLModel


class FrameKeyRow(SQLModel, table=True):
    __tablename__ = "frame_keys"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    frame: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    dup_keys: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    grid_sha256: str
