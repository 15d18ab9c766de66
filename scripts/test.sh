#!/usr/bin/env bash
# Installs everything the tests need on a fresh machine, then runs lint, types and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# A real PostgreSQL server for the tests marked `postgres` (the fixture starts its own cluster).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
# The watermark tests' oracle, without its torch dependency (tests load only its maxDct.py).
.venv/bin/pip install -q --disable-pip-version-check --no-deps 'invisible-watermark==0.2.0'

export MEDLEDGER_REQUIRE_POSTGRES=1
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/python -m ledger.model.schemas "$(mktemp -d)" >/dev/null

set +e
.venv/bin/pytest -q -n auto "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
