"""Bodies of the entries that change what the ledger accepts, or how its log continues.

``policy.changed`` sets one setting; the log, not an editable table, is where a
decision reads it. ``log.recovered`` records that the database was restored behind
(or forked from) a checkpoint the log had signed, and which tree it continues from.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger.model.entry import HEX64
from ledger.model.kinds import register_kind

REQUIRE_DEIDENTIFIED = "require_deidentified"
DUP_THRESHOLDS = "dup_thresholds"
THRESHOLD_FIELDS = frozenset({"min_correlation", "max_worst_block", "min_overlap"})

Setting = Literal["require_deidentified", "dup_thresholds"]


class PolicyChanged(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    setting: Setting
    value: bool | dict[str, float] = Field(
        description="require_deidentified: a boolean; dup_thresholds: the three thresholds"
    )

    @model_validator(mode="after")
    def _value_fits_setting(self) -> PolicyChanged:
        if self.setting == REQUIRE_DEIDENTIFIED and not isinstance(self.value, bool):
            raise ValueError("require_deidentified takes true or false")
        if self.setting == DUP_THRESHOLDS and (
            not isinstance(self.value, dict) or set(self.value) != THRESHOLD_FIELDS
        ):
            raise ValueError("dup_thresholds takes " + ", ".join(sorted(THRESHOLD_FIELDS)))
        return self


class LogRecovered(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    lost_size: int = Field(ge=1, description="size of the signed checkpoint that was lost")
    lost_root: str = Field(pattern=HEX64)
    from_size: int = Field(ge=0, description="size of the tree this log continues from")
    from_root: str = Field(pattern=HEX64)
    reason: str = Field(min_length=1, max_length=500)


POLICY_CHANGED = register_kind(
    "policy.changed", PolicyChanged, roles=(), description="an admin changes a ledger setting"
)
LOG_RECOVERED = register_kind(
    "log.recovered",
    LogRecovered,
    roles=(),
    description="the log continues from a restored tree; a signed checkpoint was lost",
)


def policy_value(body: dict[str, Any]) -> tuple[str, Any]:
    return str(body["setting"]), body["value"]
