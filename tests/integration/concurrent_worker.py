"""One of several processes appending to the same ledger at once (see test_concurrency.py).

    python concurrent_worker.py LEDGER_DIR TAG COUNT

Waits for LEDGER_DIR/../go to exist, then appends COUNT key.added entries signed
by the admin key, alternating single envelopes and batches of three.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ledger.crypto.keys import SigningKey
from ledger.service import Ledger


def main(directory: Path, tag: str, count: int) -> None:
    ledger = Ledger.open(directory)
    admin = ledger.signing_key("admin")
    go = directory.parent / "go"
    while not go.exists():
        time.sleep(0.005)
    done = 0
    while done < count:
        batch = []
        for _ in range(min(3 if done % 2 else 1, count - done)):
            pub = SigningKey.generate().public_key
            body = {"name": f"{tag}-{done}", "role": "verifier",
                    "public_key": pub.to_b64(), "key_id": pub.key_id}
            batch.append(ledger.sign("key.added", body, key=admin))
            done += 1
        results = ledger.submit(batch)
        assert [r.existing for r in results] == [False] * len(batch)
    ledger.store.engine.dispose()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]))
