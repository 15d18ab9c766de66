"""The signed entry, its envelope, and the log's leaf.

entry    = {"v": 2, "log", "kind", "time", "actor", "body"}  signed by the actor
envelope = {"entry": entry, "sig": base64(Ed25519 sig)}     what a submitter sends
leaf     = {"prev": hex leaf hash, "envelope": envelope}     what the sequencer stores

``log`` (v2) is the key id of the log's checkpoint key: the signature binds the entry
to one log. v1 entries (no ``log``) are still read in logs that began before v2.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from ledger.errors import InputError
from ledger.model.canonical import canonical_json

MAX_ENVELOPE_BYTES = 64 * 1024
HEX64 = r"^[0-9a-f]{64}$"
KIND_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"
SIG_PATTERN = r"^[A-Za-z0-9+/]{86}==$"


def utc_now() -> str:
    """The entry time format: RFC 3339, UTC, microseconds, ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _log_id(value: object) -> str:
    if not isinstance(value, str) or re.fullmatch(HEX64, value) is None:
        raise ValueError("log must be 64 lowercase hex digits (the log's key id)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Entry(_Strict):
    """What the actor signs. ``body`` is validated against the kind's model."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        json_schema_extra={
            "if": {"properties": {"v": {"const": 2}}},
            "then": {"required": ["log"]},
            "else": {"not": {"required": ["log"]}},
        },
    )

    v: Literal[1, 2]
    log: Annotated[
        str | None,
        PlainValidator(_log_id),
        WithJsonSchema({"type": "string", "pattern": HEX64}),
    ] = Field(default=None, description="v2 only, and required there: key id of the log")
    kind: str = Field(pattern=KIND_PATTERN, max_length=64)
    time: str = Field(pattern=TIME_PATTERN)
    actor: str = Field(pattern=HEX64, description="key id of the signing key")
    body: dict[str, Any]

    @field_validator("v", mode="before")
    @classmethod
    def _not_bool(cls, value: object) -> object:
        if isinstance(value, bool):
            raise ValueError("v must be the integer 1 or 2")
        return value

    @model_validator(mode="after")
    def _log_by_version(self) -> Entry:
        if self.v == 2 and self.log is None:
            raise ValueError("a v2 entry names its log (the log's key id)")
        if self.v == 1 and "log" in self.model_fields_set:
            raise ValueError("a v1 entry has no log field")
        return self

    @field_validator("time")
    @classmethod
    def _real_time(cls, value: str) -> str:
        datetime.fromisoformat(value)  # the pattern fixed the form; this checks the date
        return value


class Envelope(_Strict):
    entry: Entry
    sig: str = Field(pattern=SIG_PATTERN, description="base64 Ed25519 signature")


class Leaf(_Strict):
    prev: str = Field(pattern=HEX64, description="hex leaf hash of the previous leaf")
    envelope: Envelope


def parse_envelope(value: Any, *, subject: str | None = None) -> Envelope:
    """Validate an envelope given as a JSON-decoded object."""
    try:
        envelope = Envelope.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "envelope"
        raise InputError(f"malformed envelope: {where}: {first['msg']}", subject=subject) from exc
    size = len(canonical_json(value))
    if size > MAX_ENVELOPE_BYTES:
        raise InputError(
            f"entry is {size} bytes; the limit is {MAX_ENVELOPE_BYTES} (entries hold digests "
            "and small metadata, never image bytes)",
            subject=subject,
        )
    return envelope


# ``settled_envelope``: the model's rules restated over plain values (ASCII digits only, no
# more permissive than pydantic's Unicode ``\d``), for the audit's fast path.
_HEX64_RE = re.compile("[0-9a-f]{64}")
_KIND_RE = re.compile("[a-z][a-z0-9_]*(?:\\.[a-z][a-z0-9_]*)+")
_TIME_RE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z")
_SIG_RE = re.compile("[A-Za-z0-9+/]{86}==")
_V1_KEYS = frozenset(("v", "kind", "time", "actor", "body"))
_V2_KEYS = _V1_KEYS | {"log"}


def settled_envelope(value: Any, *, size: int) -> bool:
    """True only if ``parse_envelope(value)`` would accept this envelope, as ``json.loads``
    gives it (object keys are strings) and whose canonical form is ``size`` bytes; False
    when unsure (then ``parse_envelope`` decides and words the error). The audit's fast path
    checks every leaf this way, a fraction of the model's cost; a test keeps it no more
    permissive than the model, and the model's schema pinned.
    """
    if type(value) is not dict or len(value) != 2 or size > MAX_ENVELOPE_BYTES:
        return False
    entry, sig = value.get("entry"), value.get("sig")
    if type(entry) is not dict or type(sig) is not str or _SIG_RE.fullmatch(sig) is None:
        return False
    version = entry.get("v")
    if type(version) is not int or entry.keys() != (_V2_KEYS if version == 2 else _V1_KEYS):
        return False
    if version == 2:
        log = entry["log"]
        if type(log) is not str or _HEX64_RE.fullmatch(log) is None:
            return False
    elif version != 1:
        return False
    kind, time, actor = entry["kind"], entry["time"], entry["actor"]
    if type(kind) is not str or len(kind) > 64 or _KIND_RE.fullmatch(kind) is None:
        return False
    if type(actor) is not str or _HEX64_RE.fullmatch(actor) is None:
        return False
    if type(time) is not str or _TIME_RE.fullmatch(time) is None:
        return False
    try:
        datetime.fromisoformat(time)
    except ValueError:
        return False
    return type(entry["body"]) is dict
