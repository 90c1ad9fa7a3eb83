#!/usr/bin/env bash
# The whole test suite, from a fresh machine: README.md names this command and
# .ci/run calls it. It starts its own throwaway PostgreSQL so every store and
# HTTP test runs on SQLite *and* PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test: installing PostgreSQL server binaries" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --workspace --no-fail-fast)
else
  runner=(cargo test --workspace --no-fail-fast)
fi

scripts/with-postgres.sh "${runner[@]}" "$@"
# Doc tests: nextest does not run them.
if [ "${runner[1]}" = nextest ]; then cargo test --workspace --doc --quiet; fi
