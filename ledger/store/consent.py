"""Queries behind consent and erasure: the consent projections and the subject side tables.

Functions over an open connection, so that the sequencer's ``within`` hook can run them in
the append transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, text

from ledger.store.consenttables import (
    ConsentEventRow,
    ErasedSubjectRow,
    ImageConsentRow,
    SubjectDemographicsRow,
    SubjectKeyRow,
)
from ledger.store.tables import DatasetMemberRow, DatasetVersionRow, ImageRow

_IMAGES = ImageConsentRow.__table__  # type: ignore[attr-defined]
_EVENTS = ConsentEventRow.__table__  # type: ignore[attr-defined]
_ERASED = ErasedSubjectRow.__table__  # type: ignore[attr-defined]
_KEYS = SubjectKeyRow.__table__  # type: ignore[attr-defined]
_DEMOGRAPHICS = SubjectDemographicsRow.__table__  # type: ignore[attr-defined]
_CHUNK = 500
_SCAN_FROM = 2_000  # more values than this: scan the table instead of IN lists


def _chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


# --- subject keys (side table) ------------------------------------------------------------------

def keys_by_tag(conn: Connection, tags: Iterable[str]) -> dict[str, tuple[str, bytes]]:
    """tag -> (subject pseudonym, key) of the subjects that have a key."""
    found: dict[str, tuple[str, bytes]] = {}
    for part in _chunks(sorted(set(tags))):
        rows = conn.execute(select(_KEYS.c.tag, _KEYS.c.subject, _KEYS.c.key)
                            .where(_KEYS.c.tag.in_(part)))
        found.update({r.tag: (r.subject, bytes(r.key)) for r in rows})
    return found


def insert_keys(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(_KEYS), list(rows))


def insert_demographics(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(_DEMOGRAPHICS), list(rows))


def subject_key_rows(conn: Connection) -> list[tuple[str, str, bytes]]:
    """(subject, tag, key) of every subject key present."""
    rows = conn.execute(select(_KEYS.c.subject, _KEYS.c.tag, _KEYS.c.key).order_by(_KEYS.c.subject))
    return [(r.subject, r.tag, bytes(r.key)) for r in rows]


def demographics_rows(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(_DEMOGRAPHICS).order_by(_DEMOGRAPHICS.c.commitment))
    return [dict(r._mapping) for r in rows]


def delete_subject_side_rows(conn: Connection, subject: str) -> tuple[int, int]:
    """Delete the subject's key and demographics; (keys, demographics) rows deleted."""
    keys = conn.execute(delete(_KEYS).where(_KEYS.c.subject == subject)).rowcount
    demo = conn.execute(delete(_DEMOGRAPHICS).where(_DEMOGRAPHICS.c.subject == subject)).rowcount
    return int(keys), int(demo)


def settle_deletion(engine: Engine) -> None:
    """Leave no copy of deleted side rows behind. SQLite (secure_delete is on, so the
    database pages are zeroed): fold the write-ahead log into the database and truncate it.
    PostgreSQL keeps dead tuples until vacuumed: vacuum the side tables."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("subject_keys", "subject_demographics"):
            conn.execute(text(f"VACUUM FULL {table}"))


# --- consent projections --------------------------------------------------------------------------

def images_of_subject(conn: Connection, subject: str, *, upto: int | None = None) -> list[int]:
    query = select(_IMAGES.c.image).where(_IMAGES.c.subject == subject)
    if upto is not None:
        query = query.where(_IMAGES.c.image <= upto)
    return [int(i) for i in conn.execute(query.order_by(_IMAGES.c.image)).scalars()]


def image_rows(conn: Connection, indexes: Sequence[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for part in _chunks(sorted(set(indexes))):
        for r in conn.execute(select(_IMAGES).where(_IMAGES.c.image.in_(part))):
            found[int(r.image)] = dict(r._mapping)
    return found


def subject_known(conn: Connection, subject: str) -> bool:
    query = select(func.count()).select_from(_IMAGES).where(_IMAGES.c.subject == subject)
    return int(conn.execute(query).scalar_one()) > 0


def erased_at(conn: Connection, subjects: Iterable[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in _chunks(sorted(set(subjects))):
        rows = conn.execute(select(_ERASED).where(_ERASED.c.subject.in_(part)))
        found.update({r.subject: int(r.idx) for r in rows})
    return found


def events_of(conn: Connection, targets: Sequence[str]) -> list[dict[str, Any]]:
    """The consent_events rows naming any of ``targets``, in log order."""
    found: list[dict[str, Any]] = []
    for part in _chunks(sorted(set(targets))):
        rows = conn.execute(select(_EVENTS).where(_EVENTS.c.target.in_(part)))
        found += [dict(r._mapping) for r in rows]
    return sorted(found, key=lambda r: (r["idx"], r["target"]))


def all_events(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(_EVENTS).order_by(_EVENTS.c.idx))]


def all_erased(conn: Connection) -> dict[str, int]:
    return {r.subject: int(r.idx) for r in conn.execute(select(_ERASED))}


def first_images(conn: Connection, subjects: Iterable[str]) -> dict[str, int]:
    """subject -> the index of its first image, for those of ``subjects`` that have one."""
    found: dict[str, int] = {}
    for part in _chunks(sorted(set(subjects))):
        query = (select(_IMAGES.c.subject, func.min(_IMAGES.c.image))
                 .where(_IMAGES.c.subject.in_(part)).group_by(_IMAGES.c.subject))
        found.update({s: int(i) for s, i in conn.execute(query)})
    return found


def image_demographics(conn: Connection) -> dict[str, tuple[int, str | None]]:
    """commitment -> (image index, subject) of every image with a demographics commitment."""
    query = select(_IMAGES.c.demographics, _IMAGES.c.image, _IMAGES.c.subject).where(
        _IMAGES.c.demographics.is_not(None))
    return {r.demographics: (int(r.image), r.subject) for r in conn.execute(query)}


def dataset_labels(conn: Connection, indexes: Sequence[int]) -> list[str]:
    """The distinct dataset labels of these images (images projection) and the dataset
    versions (NAME@V) whose member lists hold any of them, sorted."""
    images = ImageRow.__table__  # type: ignore[attr-defined]
    versions = DatasetVersionRow.__table__  # type: ignore[attr-defined]
    members = DatasetMemberRow.__table__  # type: ignore[attr-defined]
    labels: set[str] = set()
    for part in _chunks(sorted(set(indexes))):
        query = select(images.c.dataset).where(images.c.idx.in_(part),
                                               images.c.dataset.is_not(None)).distinct()
        labels.update(str(v) for v in conn.execute(query).scalars())
        held = (select(versions.c.name, versions.c.version)
                .join(members, members.c.version_idx == versions.c.idx)
                .where(members.c.entry.in_(part)).distinct())
        labels.update(f"{name}@{version}" for name, version in conn.execute(held))
    return sorted(labels)


def withdrawn_among(conn: Connection, indexes: Sequence[int]) -> set[int]:
    """The images among ``indexes`` whose effective consent is withdrawn: the later of the
    image's own latest consent.changed and its subject's latest one says ``withdrawn``, or
    whose subject was erased (erasure ends consent for good)."""
    images: dict[int, tuple[str | None, str | None, int]] = {}
    wanted = set(indexes)
    many = len(wanted) > _SCAN_FROM  # one pass over each table beats hundreds of IN lists
    for part in [None] if many else _chunks(sorted(wanted)):
        query = select(_IMAGES.c.image, _IMAGES.c.subject, _IMAGES.c.status,
                       _IMAGES.c.changed_idx)
        for image, subject, status, changed in conn.execute(
                query if part is None else query.where(_IMAGES.c.image.in_(part))):
            if part is not None or image in wanted:
                images[int(image)] = (subject, status, -1 if changed is None else int(changed))
    subjects = {s for s, _status, _at in images.values() if s is not None}
    events = ([e for e in all_events(conn) if e["target"] in subjects] if many
              else events_of(conn, sorted(subjects)))
    latest: dict[str, tuple[int, str]] = {}
    for row in events:  # log order: the last one wins
        latest[row["target"]] = (int(row["idx"]), row["status"])
    erased = all_erased(conn) if many else erased_at(conn, subjects)
    withdrawn = set()
    for image, (subject, status, at) in images.items():
        if subject is not None and subject in erased:
            withdrawn.add(image)
            continue
        by_subject = latest.get(subject or "")
        if by_subject is not None and by_subject[0] > at:
            status = by_subject[1]
        if status == "withdrawn":
            withdrawn.add(image)
    return withdrawn


def demographics_of(conn: Connection, commitments: Iterable[str]
                    ) -> list[tuple[str, str, str | None, str | None]]:  # fmt: skip
    """(commitment, salt, sex, age band) of the subject_demographics rows of the given
    commitments (absent ones: erased)."""
    wanted = set(commitments)
    c = _DEMOGRAPHICS.c
    query = select(c.commitment, c.salt, c.sex, c.age_band)
    if len(wanted) > _SCAN_FROM:
        return [(r[0], r[1], r[2], r[3]) for r in conn.execute(query) if r[0] in wanted]
    found: list[tuple[str, str, str | None, str | None]] = []
    for part in _chunks(sorted(wanted)):
        found.extend((r[0], r[1], r[2], r[3]) for r in conn.execute(
            query.where(c.commitment.in_(part))))
    return found
