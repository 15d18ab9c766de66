from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.log.checkpoint import Checkpoint

ROOT = bytes(range(32))
ROOT_B64 = base64.b64encode(ROOT).decode()
GOOD = f"example.com/log\n42\n{ROOT_B64}\n"

# Lines of a note: no control characters but may hold any other Unicode (no surrogates).
line = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\n"), min_size=1
).filter(lambda s: all(ord(c) >= 0x20 for c in s))


def test_to_text_is_the_spec_layout() -> None:
    cp = Checkpoint(origin="example.com/log", size=42, root=ROOT, extensions=("ext one", "x"))
    assert cp.to_text() == GOOD + "ext one\nx\n"
    assert Checkpoint.parse(GOOD) == Checkpoint(origin="example.com/log", size=42, root=ROOT)


@given(
    line,
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
    st.lists(line, max_size=3),
)
def test_round_trip(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin=origin, size=size, root=root, extensions=tuple(extensions))
    assert Checkpoint.parse(cp.to_text()) == cp


def test_empty_tree() -> None:
    text = "log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    assert Checkpoint.parse(text).size == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD[:-1], "text does not end with a newline"),
        ("", "text does not end with a newline"),
        ("example.com/log\n42\n", r"2 line\(s\), want at least origin, tree size and root hash"),
        (f"\n42\n{ROOT_B64}\n", "empty origin line"),
        (f"log\n042\n{ROOT_B64}\n", "invalid tree size '042'"),
        (f"log\n+42\n{ROOT_B64}\n", "invalid tree size '\\+42'"),
        (f"log\n-1\n{ROOT_B64}\n", "invalid tree size '-1'"),
        (f"log\n4_2\n{ROOT_B64}\n", "invalid tree size '4_2'"),
        (f"log\n 42\n{ROOT_B64}\n", "invalid tree size ' 42'"),
        (f"log\n\u0664\u0662\n{ROOT_B64}\n", "invalid tree size"),
        (f"log\n18446744073709551616\n{ROOT_B64}\n", "invalid tree size '18446744073709551616'"),
        (f"log\n\n{ROOT_B64}\n", "invalid tree size ''"),
        ("log\n42\nAAAA\n", "invalid root hash 'AAAA' \\(want canonical base64 of 32 bytes\\)"),
        (f"log\n42\n{ROOT_B64[:-1]}\n", "invalid root hash"),
        (f"log\n42\n{ROOT_B64[:-2]}9=\n", "invalid root hash"),  # non-zero trailing bits
        (f"log\n42\n{ROOT_B64.replace('A', '-', 1)}\n", "invalid root hash"),  # URL-safe
        (f"log\n42\n{ROOT_B64} \n", "invalid root hash"),
        ("log\n42\n\n", "invalid root hash ''"),
        (GOOD + "\n", "empty line 4 \\(extension lines must be non-empty\\)"),
        (GOOD + "ext\n\nmore\n", "empty line 5"),
        (GOOD + "\n\u2014 log AAAA\n", "empty line 4"),  # a whole signed note is not a body
        (f"log\r\n42\n{ROOT_B64}\n", "origin 'log\\\\r' contains control character"),
        (GOOD.replace("example.com/log", "a\tb"), "origin 'a\\\\tb' contains control character"),
        (GOOD + "ext\x00\n", "extension line 'ext\\\\x00' contains control character"),
    ],
)
def test_malformations_are_named(text: str, message: str) -> None:
    with pytest.raises(InputError, match="malformed checkpoint: " + message):
        Checkpoint.parse(text)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"origin": ""}, "empty origin"),
        ({"origin": "a\nb"}, "origin 'a\\\\nb' contains a newline"),
        ({"size": -1}, "invalid tree size -1"),
        ({"size": 2**64}, "invalid tree size"),
        ({"root": b"x" * 31}, "invalid root hash: 31 bytes, want 32"),
        ({"extensions": ("",)}, "empty extension line"),
        ({"extensions": ("a\nb",)}, "extension line 'a\\\\nb' contains a newline"),
    ],
)
def test_an_invalid_checkpoint_cannot_be_built(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"origin": "log", "size": 1, "root": ROOT}
    args.update(kwargs)
    with pytest.raises(InputError, match="malformed checkpoint: " + message):
        Checkpoint(**args)  # type: ignore[arg-type]
