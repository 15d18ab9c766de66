"""The public API is what ``ledger/__init__.py`` lists in ``__all__``."""

from __future__ import annotations

import ledger


def public_names() -> list[str]:
    names = getattr(ledger, "__all__", None)
    assert names is not None, "ledger/__init__.py must list the public names in a sorted __all__"
    return list(names)


def test_all_is_sorted() -> None:
    names = public_names()
    assert names == sorted(names), "keep ledger.__all__ sorted"
    assert len(set(names)) == len(names), "ledger.__all__ lists a name twice"


def test_every_public_name_resolves() -> None:
    for name in public_names():
        assert getattr(ledger, name) is not None, name


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from ledger import *", namespace)  # noqa: S102 - a fixed statement
    assert sorted(k for k in namespace if k != "__builtins__") == sorted(public_names())
