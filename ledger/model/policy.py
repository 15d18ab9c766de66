"""Bodies of the entries that change what the ledger accepts, or how its log continues.

``policy.changed`` sets one setting; the log, not an editable table, is where a
decision reads it. ``log.recovered`` records that the database was restored behind
(or forked from) a checkpoint the log had signed, and which tree it continues from.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ledger.model.entry import HEX64
from ledger.model.kinds import kind
from ledger.model.projection import Change, Insert, Projection

REQUIRE_DEIDENTIFIED = "require_deidentified"
DUP_THRESHOLDS = "dup_thresholds"
THRESHOLD_FIELDS = frozenset({"min_correlation", "max_worst_block", "min_overlap"})

DECIMAL = r"-?[0-9]{1,6}(\.[0-9]{1,12})?"

Setting = Literal["require_deidentified", "dup_thresholds"]


class PolicyChanged(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    setting: Setting
    value: bool | dict[str, str] = Field(
        description="require_deidentified: a boolean; dup_thresholds: the three thresholds as "
        "decimal strings (entries hold no floats)"
    )

    @model_validator(mode="after")
    def _value_fits_setting(self) -> PolicyChanged:
        if self.setting == REQUIRE_DEIDENTIFIED and not isinstance(self.value, bool):
            raise ValueError("require_deidentified takes true or false")
        if self.setting == DUP_THRESHOLDS and (
            not isinstance(self.value, dict)
            or set(self.value) != THRESHOLD_FIELDS
            or not all(re.fullmatch(DECIMAL, v) for v in self.value.values())
        ):
            raise ValueError(
                "dup_thresholds takes " + ", ".join(sorted(THRESHOLD_FIELDS)) + " as decimals"
            )
        return self


class LogRecovered(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    lost_size: int = Field(ge=1, description="size of the signed checkpoint that was lost")
    lost_root: str = Field(pattern=HEX64)
    from_size: int = Field(ge=0, description="size of the tree this log continues from")
    from_root: str = Field(pattern=HEX64)
    reason: str = Field(min_length=1, max_length=500)


KINDS = (
    kind("policy.changed", PolicyChanged, roles=(),
         description="an admin changes a ledger setting"),
    kind("log.recovered", LogRecovered, roles=(),
         description="the log continues from a restored tree; a signed checkpoint was lost"),
)


def _policy_changed(index: int, entry: dict[str, Any]) -> list[Change]:
    body = entry["body"]
    value = json.dumps(body["value"], sort_keys=True)
    return [Insert("policies", {"idx": index, "setting": body["setting"], "value": value})]


PROJECTIONS: dict[str, Projection] = {"policy.changed": _policy_changed}


def decimals(values: dict[str, float]) -> dict[str, str]:
    """Numbers as the decimal strings an entry holds (never floats: see docs/decisions.md)."""
    return {name: format(Decimal(repr(float(v))), "f") for name, v in values.items()}


def numbers(values: dict[str, str]) -> dict[str, float]:
    return {name: float(v) for name, v in values.items()}
