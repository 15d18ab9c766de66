from __future__ import annotations

import pytest

from ledger.errors import InputError, VerificationError
from ledger.log.chain import GENESIS_PREV, check_link, make_leaf

PREV = "ab" * 32


def test_make_leaf() -> None:
    envelope = {"entry": {"v": 1}, "sig": "x"}
    assert make_leaf(prev=GENESIS_PREV, envelope=envelope) == {
        "prev": "0" * 64,
        "envelope": envelope,
    }


@pytest.mark.parametrize("prev", ["", "0" * 63, "AB" * 32, "g" * 64, "0" * 65])
def test_make_leaf_refuses_a_malformed_prev(prev: str) -> None:
    with pytest.raises(InputError, match="prev must be 64 lowercase hex digits"):
        make_leaf(prev=prev, envelope={})


def test_check_link() -> None:
    check_link(index=3, expected_prev=PREV, leaf={"prev": PREV, "envelope": {}})
    with pytest.raises(
        VerificationError, match=f"leaf 3: prev is '{GENESIS_PREV}', expected '{PREV}'"
    ) as caught:
        check_link(index=3, expected_prev=PREV, leaf={"prev": GENESIS_PREV, "envelope": {}})
    assert caught.value.index == 3
    with pytest.raises(VerificationError, match="prev is None"):
        check_link(index=0, expected_prev=GENESIS_PREV, leaf={"envelope": {}})
