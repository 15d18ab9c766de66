#!/usr/bin/env python3
"""Regenerate the Merkle-tree test vectors in tests/vectors/ from published data.

    python tests/vectors/generate.py           # rewrite the files
    python tests/vectors/generate.py --check   # exit 1 if a file would change

The DATA below is copied, not the code: hashes, proofs and tree sizes come from

* transparency-dev/merkle (Apache-2.0): ``testonly/constants.go`` (the 8-leaf
  reference tree), ``cmd/proofgen/main.go`` (base proofs, mutations and the
  static probes that produced ``testdata/inclusion`` and
  ``testdata/consistency``), ``rfc6962/rfc6962_test.go`` (hasher answers);
* google/certificate-transparency (Apache-2.0):
  ``python/ct/crypto/merkle_test.py`` (hasher answers, and an audit path from
  a real CT log: leaf 848049 of a tree of 3630887);
* C2SP/C2SP: ``tlog-witness.md`` (consistency from the empty tree),
  ``tlog-checkpoint.md`` and ``tlog-proof.md`` (format examples).

Each file is named after the mutation it applies and carries ``desc``,
``want_error`` and ``source``; every case names its upstream file. The
mutations reproduce proofgen's one by one, so the upstream cases are the same
probes as upstream's JSON files (hashes in hex here). Where medledger decides
differently from upstream the file says so in ``upstream_want_error``.

This script must not import the code under test.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
UINT64 = 1 << 64

TD = "transparency-dev/merkle"
CT = "google/certificate-transparency"
C2SP = "C2SP/C2SP"
TD_CONSTANTS = f"{TD} testonly/constants.go"
TD_PROOFGEN = f"{TD} cmd/proofgen/main.go"
CT_MERKLE_TEST = f"{CT} python/ct/crypto/merkle_test.py"

# --- transparency-dev/merkle testonly/constants.go --------------------------------

LEAF_INPUTS = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
]
NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]
EMPTY_ROOT = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ROOTS = [  # indexed by tree size, 0..8
    EMPTY_ROOT,
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# CompactTrees(): the frontier of every tree size, as (level, index) into NODE_HASHES.
COMPACT_TREES = [
    [],
    [(0, 0)],
    [(1, 0)],
    [(1, 0), (0, 2)],
    [(2, 0)],
    [(2, 0), (0, 4)],
    [(2, 0), (1, 2)],
    [(2, 0), (1, 2), (0, 6)],
    [(3, 0)],
]

# --- transparency-dev/merkle cmd/proofgen/main.go ----------------------------------

SOME_HASH = "abacaba000000000000000000000000000000000000000000060061e00123456"
# (1-based leaf index, tree size, proof), as in proofgen's inclusionProofs.
INCLUSION_PROOFS: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        2,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
# (size1, size2, proof), as in proofgen's consistencyProofs.
CONSISTENCY_PROOFS: list[tuple[int, int, list[str]]] = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]
# Root and leaf hash of the one-entry tree over b"data" (testdata/inclusion/single-entry).
DATA_LEAF_HASH = "0d3aed023148ffd2a259fbd0cdc7fb3cf975658760d3775b82af6f90aacc2dfc"
WRONG_LEAF = b"WrongLeaf".hex()
WRONG_ROOT = b"WrongRoot".hex()
DONT_CARE_1 = b"don't care 1".hex()
DONT_CARE_2 = b"don't care 2".hex()

# --- google/certificate-transparency python/ct/crypto/merkle_test.py ---------------

CT_AUDIT: dict[str, Any] = {
    "index": 848049,
    "size": 3630887,
    "leaf_hash": "7a395c866d5ecdb0cccb623e011dbc392cd348d1d1d72776174e127a24b09c78",
    "root": "78316a05c9bcf14a3a4548f5b854a9adfcd46a4c034401b3ce7eb7ac2f1d0ecb",
    "proof": [
        "1a208aeebcd1b39fe2de247ee8db9454e1e93a312d206b87f6ca9cc6ec6f1ddd",
        "0a1b78b383f580856f433c01a5741e160d451c185910027f6cc9f828687a40c4",
        "3d1745789bc63f2da15850de1c12a5bf46ed81e1cc90f086148b1662e79aab3d",
        "9095b61e14d8990acf390905621e62b1714fb8e399fbb71de5510e0aef45affe",
        "0a332b91b8fab564e6afd1dd452449e04619b18accc0ff9aa8393cd4928451f2",
        "2336f0181d264aed6d8f3a6507ca14a8d3b3c3a23791ac263e845d208c1ee330",
        "b4ce56e300590500360c146c6452edbede25d4ed83919278749ee5dbe178e048",
        "933f6ddc848ea562e4f9c5cfb5f176941301dad0c6fdb9d1fbbe34fac1be6966",
        "b95a6222958a86f74c030be27c44f57dbe313e5e7c7f4ffb98bcbd3a03bb52f2",
        "daeeb3ce5923defd0faeb8e0c210b753b85b809445d7d3d3cd537a9aabaa9c45",
        "7fadd0a13e9138a2aa6c3fdec4e2275af233b94812784f66bcca9aa8e989f2bc",
        "1864e6ba3e32878610546539734fb5eeae2529991f130c575c73a7e25a2a7c56",
        "12842d1202b1dc6828a17ab253c02e7ce9409b5192430feba44189f39cc02d66",
        "29af64b16fa3053c13d02ac63aa75b23aa468506e44c3a2315edc85d2dc22b11",
        "b527b99934a0bd9edd154e449b0502e2c499bba783f3bc3dfe23364b6b532009",
        "4584db8ae8e351ace08e01f306378a92bfd43611714814f3d834a2842d69faa8",
        "86a9a41573b0d6e4292f01e93243d6cc65b30f06606fc6fa57390e7e90ed580f",
        "a88b98fbe84d4c6aae8db9d1605dfac059d9f03fe0fcb0d5dff1295dacba09e6",
        "06326dc617a6d1f7021dc536026dbfd5fffc6f7c5531d48ef6ccd1ed1569f2a1",
        "f41fe8fdc3a2e4e8345e30216e7ebecffee26ff266eeced208a6c2a3cf08f960",
        "40cf5bde8abb76983f3e98ba97aa36240402975674e120f234b3448911090f8d",
        "b3222dc8658538079883d980d7fdc2bef9285344ea34338968f736b04aeb387a",
    ],
}

HASHER_CASES = [
    # (desc, kind, inputs in hex, want, source)
    ("empty tree", "empty", [], EMPTY_ROOT, f"{TD} rfc6962/rfc6962_test.go"),
    (
        "empty leaf",
        "leaf",
        [""],
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        f"{TD} rfc6962/rfc6962_test.go",
    ),
    (
        'leaf "L123456"',
        "leaf",
        [b"L123456".hex()],
        "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56",
        f"{TD} rfc6962/rfc6962_test.go",
    ),
    (
        'node "N123" "N456"',
        "node",
        [b"N123".hex(), b"N456".hex()],
        "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb",
        f"{TD} rfc6962/rfc6962_test.go",
    ),
    (
        "leaf 16 bytes",
        "leaf",
        ["101112131415161718191a1b1c1d1e1f"],
        "3bfb960453ebaebf33727da7a1f4db38acc051d381b6da20d6d4e88f0eabfd7a",
        CT_MERKLE_TEST,
    ),
    (
        "node of two 32-byte hashes",
        "node",
        [
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
        ],
        "1a378704c17da31e2d05b6d121c2bb2c7d76f6ee6fa8f983e596c2d034963c57",
        CT_MERKLE_TEST,
    ),
]

# --- C2SP/C2SP ----------------------------------------------------------------------

CHECKPOINT_EXAMPLE = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeO"
    "oRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
)
TLOG_PROOF_EXAMPLE = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    "\u2014 example.com/fancylog hI2DJw[...]1roloI=\n"
    "\u2014 witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    "\u2014 witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    "\u2014 witness3.example S4X82uH5[...]3oEcROGLFQ==\n"
)

# --- mutations (proofgen's, one by one) --------------------------------------------

Case = dict[str, Any]


def _file_name(desc: str) -> str:
    # proofgen's fileName(): the upstream file each probe came from.
    for old, new in ((" - ", "-"), ("(", ""), (")", ""), (" ", "-")):
        desc = desc.replace(old, new)
    return desc + ".json"


def _flip(hex_hash: str, mask: int) -> str:
    raw = bytearray.fromhex(hex_hash)
    raw[0] ^= mask
    return raw.hex()


def _inclusion_mutations(
    index: int, size: int, leaf: str, proof: list[str], root: str
) -> Iterator[tuple[str, str, Case]]:
    """(slug, upstream desc, case) for proofgen's happy path and invalidInclusionProof."""

    def case(
        i: int = index, n: int = size, lh: str = leaf, p: list[str] = proof, r: str = root
    ) -> Case:
        return {"index": i % UINT64, "size": n % UINT64, "leaf_hash": lh, "proof": p, "root": r}

    yield "happy-path", "happy path", case()
    yield "leafIdx-sub-@1", "leafIdx sub @1", case(i=index - 1)
    yield "leafIdx-plus-@1", "leafIdx plus @1", case(i=index + 1)
    yield "leafIdx-XOR-@2", "leafIdx XOR @2", case(i=index ^ 2)
    yield "treeSize-mul-@2", "treeSize mul @2", case(n=size * 2)
    yield "treeSize-div-@2", "treeSize div @2", case(n=size // 2)
    yield "wrong-leaf", "wrong leaf", case(lh=WRONG_LEAF)
    yield "empty-root", "empty root", case(r=EMPTY_ROOT)
    yield "random-root", "random root", case(r=SOME_HASH)
    yield "trailing-garbage", "trailing garbage", case(p=[*proof, ""])
    yield "trailing-root", "trailing root", case(p=[*proof, root])
    yield "preceding-garbage", "preceding garbage", case(p=["", *proof])
    yield "preceding-root", "preceding root", case(p=[root, *proof])
    for i in range(len(proof)):
        flipped = [*proof[:i], _flip(proof[i], 8), *proof[i + 1 :]]
        yield f"modified-proof@{i}-bit", f"modified proof[{i}] bit @3", case(p=flipped)
    if proof:
        yield "removed-component", "removed component", case(p=proof[:-1])
    if len(proof) > 1:
        inserted = [proof[0], SOME_HASH, *proof[1:]]
        yield "inserted-component", "inserted component", case(p=inserted)


def _consistency_mutations(
    size1: int, size2: int, root1: str, root2: str, proof: list[str]
) -> Iterator[tuple[str, str, Case]]:
    """(slug, upstream desc, case) for proofgen's happy path and invalidConsistencyProof."""

    def case(
        m: int = size1, n: int = size2, r1: str = root1, r2: str = root2, p: list[str] = proof
    ) -> Case:
        return {
            "old_size": m % UINT64,
            "new_size": n % UINT64,
            "old_root": r1,
            "new_root": r2,
            "proof": p,
        }

    yield "happy-path", "happy path", case()
    if not proof:  # proofgen mutates only non-trivial proofs
        return
    yield "size1-sub-@1", "size1 sub @1", case(m=size1 - 1)
    yield "size1-plus-@1", "size1 plus @1", case(m=size1 + 1)
    yield "size1-XOR-@2", "size1 XOR @2", case(m=size1 ^ 2)
    yield "size2-mul-@2", "size2 mul @2", case(n=size2 * 2)
    yield "size2-div-@2", "size2 div @2", case(n=size2 // 2)
    yield "wrong-root1", "wrong root1", case(r1=WRONG_ROOT)
    yield "wrong-root2", "wrong root2", case(r2=WRONG_ROOT)
    yield "swapped-roots", "swapped roots", case(r1=root2, r2=root1)
    yield "empty-proof", "empty proof", case(p=[])
    yield "trailing-garbage", "trailing garbage", case(p=[*proof, ""])
    yield "trailing-root1", "trailing root1", case(p=[*proof, root1])
    yield "trailing-root2", "trailing root2", case(p=[*proof, root2])
    yield "preceding-garbage", "preceding garbage", case(p=["", *proof])
    yield "preceding-root1", "preceding root1", case(p=[root1, *proof])
    yield "preceding-root2", "preceding root2", case(p=[root2, *proof])
    yield "preceding-proof-@0", "preceding proof @0", case(p=[proof[0], *proof])
    yield "truncated-proof", "truncated proof", case(p=proof[:-1])
    for i in range(len(proof)):
        flipped = [*proof[:i], _flip(proof[i], 16), *proof[i + 1 :]]
        yield f"modified-proof@{i}-bit", f"modified proof@{i} bit @4", case(p=flipped)


# Plain-words descriptions of the mutation families, for each file's desc.
INCLUSION_DESC = {
    "happy-path": "valid inclusion proofs",
    "leafIdx-sub-@1": "leaf index decremented by one (uint64 arithmetic)",
    "leafIdx-plus-@1": "leaf index incremented by one",
    "leafIdx-XOR-@2": "bit 1 of the leaf index flipped",
    "treeSize-mul-@2": "tree size doubled",
    "treeSize-div-@2": "tree size halved",
    "wrong-leaf": 'leaf hash replaced by the 9 bytes "WrongLeaf"',
    "empty-root": "root replaced by the empty-tree root",
    "random-root": "root replaced by an unrelated hash",
    "trailing-garbage": "an empty hash appended to the proof",
    "trailing-root": "the root appended to the proof",
    "preceding-garbage": "an empty hash prepended to the proof",
    "preceding-root": "the root prepended to the proof",
    "removed-component": "last proof hash removed (truncated proof)",
    "inserted-component": "an unrelated hash inserted after the first proof hash",
}
CONSISTENCY_DESC = {
    "happy-path": "valid consistency proofs",
    "size1-sub-@1": "old size decremented by one",
    "size1-plus-@1": "old size incremented by one",
    "size1-XOR-@2": "bit 1 of the old size flipped",
    "size2-mul-@2": "new size doubled",
    "size2-div-@2": "new size halved",
    "wrong-root1": 'old root replaced by the 9 bytes "WrongRoot"',
    "wrong-root2": 'new root replaced by the 9 bytes "WrongRoot"',
    "swapped-roots": "old and new roots swapped",
    "empty-proof": "proof emptied",
    "trailing-garbage": "an empty hash appended to the proof",
    "trailing-root1": "the old root appended to the proof",
    "trailing-root2": "the new root appended to the proof",
    "preceding-garbage": "an empty hash prepended to the proof",
    "preceding-root1": "the old root prepended to the proof",
    "preceding-root2": "the new root prepended to the proof",
    "preceding-proof-@0": "the first proof hash repeated in front",
    "truncated-proof": "last proof hash removed",
}


DEEP = 3  # upstream proofs have at most 3 hashes


def _describe(table: dict[str, str], slug: str) -> str:
    if slug == "modified-proof@deep-bit":
        return f"one bit flipped in proof hash [{DEEP}] or deeper of the CT log audit path"
    if slug.startswith("modified-proof@"):
        i = slug.split("@")[1].split("-")[0]
        return f"one bit flipped in proof hash [{i}]"
    return table[slug]


def _vector(desc: str, want_error: bool, source: str, cases: list[Case], **more: Any) -> Any:
    return {"desc": desc, "want_error": want_error, "source": source, **more, "cases": cases}


def _inclusion_files() -> dict[str, Any]:
    families: dict[str, list[Case]] = {}
    uses_ct = set()
    for number, (leaf_index, size, proof) in enumerate(INCLUSION_PROOFS):
        index = leaf_index - 1
        leaf = NODE_HASHES[0][index]
        for slug, upstream, case in _inclusion_mutations(index, size, leaf, proof, ROOTS[size]):
            src = f"{TD} testdata/inclusion/{number}/{_file_name(upstream)}"
            families.setdefault(slug, []).append({"source": src, **case})
    ct = CT_AUDIT
    for slug, _, case in _inclusion_mutations(
        ct["index"], ct["size"], ct["leaf_hash"], ct["proof"], ct["root"]
    ):
        if slug.startswith("modified-proof@") and int(slug[15:].split("-")[0]) >= DEEP:
            slug = "modified-proof@deep-bit"  # one file, not one per level of a 22-hash path
        src = CT_MERKLE_TEST + ("" if slug == "happy-path" else " (mutated by generate.py)")
        families.setdefault(slug, []).append({"source": src, **case})
        uses_ct.add(slug)
    files: dict[str, Any] = {}
    for slug, cases in families.items():
        source = f"{TD_PROOFGEN} (testdata/inclusion)" + (
            f"; {CT_MERKLE_TEST}" if slug in uses_ct else ""
        )
        desc = _describe(INCLUSION_DESC, slug)
        files[f"inclusion/{slug}.json"] = _vector(desc, slug != "happy-path", source, cases)

    # proofgen's staticInclusionProbes (testdata/inclusion/additional/N).
    static: dict[str, list[Case]] = {}
    for number, (index, size) in enumerate([(0, 0), (0, 1), (1, 0), (2, 1)]):
        for slug, leaf, root in (
            ("random-leaf", SOME_HASH, ""),
            ("empty-root", "", EMPTY_ROOT),
            ("empty-root-and-random-leaf", SOME_HASH, EMPTY_ROOT),
        ):
            src = f"{TD} testdata/inclusion/additional/{number}/{slug}.json"
            static.setdefault(slug, []).append(
                {
                    "source": src,
                    "index": index,
                    "size": size,
                    "leaf_hash": leaf,
                    "proof": [],
                    "root": root,
                }
            )
    static_desc = {
        "random-leaf": "index beyond or at the size edge, zero-length root",
        "empty-root": "index beyond or at the size edge, zero-length leaf hash",
        "empty-root-and-random-leaf": "empty-tree root with an unrelated leaf hash",
    }
    for slug, cases in static.items():
        files[f"inclusion/additional-{slug}.json"] = _vector(
            static_desc[slug], True, f"{TD_PROOFGEN} (testdata/inclusion/additional)", cases
        )

    # proofgen's singleEntryInclusionProbes: a one-leaf tree over b"data".
    for slug, leaf, root, want_error, desc in (
        (
            "matching-root-and-leaf",
            DATA_LEAF_HASH,
            DATA_LEAF_HASH,
            False,
            "one-leaf tree: the root is the leaf hash and the proof is empty",
        ),
        ("empty-leaf", "", DATA_LEAF_HASH, True, "one-leaf tree, zero-length leaf hash"),
        ("empty-root", DATA_LEAF_HASH, "", True, "one-leaf tree, zero-length root"),
        ("empty-root-and-leaf", "", "", True, "one-leaf tree, zero-length leaf and root"),
    ):
        src = f"{TD} testdata/inclusion/single-entry/{slug}.json"
        case = {"source": src, "index": 0, "size": 1, "leaf_hash": leaf, "proof": [], "root": root}
        files[f"inclusion/single-entry-{slug}.json"] = _vector(
            desc, want_error, f"{TD_PROOFGEN} (testdata/inclusion/single-entry)", [case]
        )
    return files


def _consistency_files() -> dict[str, Any]:
    families: dict[str, list[Case]] = {}
    for number, (size1, size2, proof) in enumerate(CONSISTENCY_PROOFS):
        for slug, upstream, case in _consistency_mutations(
            size1, size2, ROOTS[size1], ROOTS[size2], proof
        ):
            src = f"{TD} testdata/consistency/{number}/{_file_name(upstream)}"
            families.setdefault(slug, []).append({"source": src, **case})
    files: dict[str, Any] = {}
    for slug, cases in families.items():
        desc = _describe(CONSISTENCY_DESC, slug)
        files[f"consistency/{slug}.json"] = _vector(
            desc, slug != "happy-path", f"{TD_PROOFGEN} (testdata/consistency)", cases
        )

    # proofgen's staticConsistencyProbes (testdata/consistency/additional).
    d1, d2, empty = DONT_CARE_1, DONT_CARE_2, EMPTY_ROOT
    static = [
        (0, 0, d1, d2, [], "sizes are equal (zero) but roots are not", True),
        (1, 1, d1, d2, [], "sizes are equal (one) but roots are not", True),
        (0, 0, d1, d1, [], "sizes are equal (zero) and proof is empty", True),
        (0, 1, d1, d2, [], "size1 is zero and does not equal size2", True),
        (1, 1, d2, d2, [], "sizes are equal (one) and proof is empty", False),
        (1, 0, d1, d2, [], "size1 is greater than size2", True),
        (2, 1, d1, d2, [], "size1 is greater than size2 again", True),
        (1, 2, d1, d2, [], "sizes do not watch and proof is empty", True),
        (0, 0, empty, d2, [], "roots do not match and sizes are zero", True),
        (1, 1, empty, d2, [], "roots do not not match and sizes are one", True),
        (
            0,
            0,
            empty,
            empty,
            [empty],
            "sizes match but proof is not empty and sizes are zero",
            True,
        ),
        (1, 1, empty, empty, [empty], "sizes match but proof is not empty and sizes are one", True),
        (0, 1, empty, d2, [], "size1 is zero and size2 is not zero", True),
        (
            0,
            1,
            empty,
            empty,
            [empty],
            "consistency check on empty tree (size1 is zero) is useless",
            True,
        ),
    ]
    for size1, size2, root1, root2, proof, upstream, upstream_error in static:
        slug = _file_name(upstream)[: -len(".json")]
        case = {
            "source": f"{TD} testdata/consistency/additional/{slug}.json",
            "old_size": size1,
            "new_size": size2,
            "old_root": root1,
            "new_root": root2,
            "proof": proof,
        }
        more: dict[str, Any] = {}
        want_error = upstream_error
        if slug == "sizes-are-equal-one-and-proof-is-empty":
            # medledger checks every hash length before comparing: 12-byte "roots" are refused.
            want_error = True
            more["upstream_want_error"] = False
            more["note"] = (
                "medledger refuses roots that are not 32 bytes before comparing them; "
                "upstream accepts equal 12-byte roots at equal sizes"
            )
        files[f"consistency/additional-{slug}.json"] = _vector(
            upstream,
            want_error,
            f"{TD_PROOFGEN} (testdata/consistency/additional)",
            [case],
            **more,
        )

    # medledger's decision for the empty old tree (C2SP tlog-witness), on the reference tree.
    witness = f"{C2SP} tlog-witness.md (old size 0); roots from {TD_CONSTANTS}"
    files["consistency/empty-old-tree.json"] = _vector(
        'consistency from the empty tree: empty proof, old root SHA-256("")',
        False,
        witness,
        [
            {
                "source": witness,
                "old_size": 0,
                "new_size": n,
                "old_root": EMPTY_ROOT,
                "new_root": ROOTS[n],
                "proof": [],
            }
            for n in range(9)
        ],
    )
    files["consistency/empty-old-tree-trailing-garbage.json"] = _vector(
        "consistency from the empty tree with any hash in the proof is refused",
        True,
        witness,
        [
            {
                "source": witness,
                "old_size": 0,
                "new_size": n,
                "old_root": EMPTY_ROOT,
                "new_root": ROOTS[n],
                "proof": [ROOTS[n]],
            }
            for n in (0, 1, 8)
        ],
    )
    files["consistency/empty-old-tree-wrong-old-root.json"] = _vector(
        'a tree of size 0 whose root is not SHA-256("") is refused',
        True,
        witness,
        [
            {
                "source": witness,
                "old_size": 0,
                "new_size": n,
                "old_root": ROOTS[1],
                "new_root": ROOTS[n],
                "proof": [],
            }
            for n in (0, 1, 8)
        ],
    )
    return files


def _tree_files() -> dict[str, Any]:
    return {
        "tree/reference-8-leaves.json": {
            "desc": "the 8-leaf RFC 6962 reference tree: leaf inputs, every perfect node, "
            "the root and the frontier at every size 0..8",
            "want_error": False,
            "source": TD_CONSTANTS,
            "leaf_inputs": LEAF_INPUTS,
            "perfect_nodes": [
                {"level": level, "index": i, "hash": value}
                for level, row in enumerate(NODE_HASHES)
                for i, value in enumerate(row)
            ],
            "roots": [{"size": n, "root": root} for n, root in enumerate(ROOTS)],
            "frontiers": [
                {"size": n, "nodes": [list(node) for node in nodes]}
                for n, nodes in enumerate(COMPACT_TREES)
            ],
        },
        "hashing/rfc6962-hasher.json": _vector(
            "RFC 6962 / RFC 9162 leaf, node and empty-tree hashes",
            False,
            f"{TD} rfc6962/rfc6962_test.go; {CT_MERKLE_TEST}",
            [
                {"source": source, "desc": desc, "kind": kind, "inputs": inputs, "want": want}
                for desc, kind, inputs, want, source in HASHER_CASES
            ],
        ),
    }


def _c2sp_files() -> dict[str, Any]:
    return {
        "c2sp/spec-examples.json": {
            "desc": "format examples from the C2SP specifications, verbatim; the tlog-proof "
            "example elides its signatures with [...], so it parses only once they are "
            "replaced",
            "want_error": False,
            "source": f"{C2SP} tlog-checkpoint.md; {C2SP} tlog-proof.md",
            "checkpoint_note": CHECKPOINT_EXAMPLE,
            "checkpoint": {
                "origin": "example.com/behind-the-sofa",
                "size": 20852163,
                "root_base64": "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
            },
            "tlog_proof": TLOG_PROOF_EXAMPLE,
        }
    }


GENERATORS: list[Callable[[], dict[str, Any]]] = [
    _tree_files,
    _inclusion_files,
    _consistency_files,
    _c2sp_files,
]
#: The folders this script owns; any other .json file in them is stale.
OWNED_DIRS = ("c2sp", "consistency", "hashing", "inclusion", "tree")


def render() -> dict[str, str]:
    """Every vector file, relative path -> exact text."""
    out: dict[str, str] = {}
    for generator in GENERATORS:
        for path, content in generator().items():
            out[path] = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    return dict(sorted(out.items()))


def drift(root: Path = HERE) -> list[str]:
    """Paths that differ from what :func:`render` makes, or that it would not make."""
    want = render()
    bad = [
        p
        for p, text in want.items()
        if not (root / p).is_file() or (root / p).read_text(encoding="utf-8") != text
    ]
    for folder in OWNED_DIRS:
        for path in sorted((root / folder).glob("*.json")):
            rel = path.relative_to(root).as_posix()
            if rel not in want:
                bad.append(rel)
    return bad


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        bad = drift()
        for path in bad:
            print(f"drift: {path}", file=sys.stderr)
        return 1 if bad else 0
    for folder in OWNED_DIRS:
        for stale in (HERE / folder).glob("*.json"):
            stale.unlink()
    for rel, text in render().items():
        target = HERE / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
