#!/usr/bin/env bash
# Reproduces the login event ingestion figures in BENCHMARKS.md: events/s over
# HTTP (POST /api/v1/events/login, batches of 1,000, keep-alive clients) next to
# the store's own insert rate and the engine's fastest bulk load (PostgreSQL
# COPY, SQLite one multi-row INSERT per batch) of the same kind of batches, in
# the same rounds, on SQLite and on a throwaway PostgreSQL cluster. Medians of
# ROUNDS rounds; the goal's figure is "ratio_bulk" (HTTP ÷ bulk load).
#
#   scripts/bench-events.sh
#
# Knobs (environment): BATCHES (per round and path, default 100), CLIENTS
# (default 4), ROUNDS (default 3), GATEHOUSE_BENCH_BIN (use this gatehouse-bench
# binary instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."

BATCHES="${BATCHES:-100}"
CLIENTS="${CLIENTS:-4}"
ROUNDS="${ROUNDS:-3}"
# The benchmarks are their own binary (crates/bench), not part of `gatehouse`.
if [ -z "${GATEHOUSE_BENCH_BIN:-}" ]; then
  cargo build --release -p gatehouse-bench >&2
  GATEHOUSE_BENCH_BIN="${CARGO_TARGET_DIR:-target}/release/gatehouse-bench"
fi

args=(events --batches "$BATCHES" --clients "$CLIENTS" --rounds "$ROUNDS")
echo "SQLite:" >&2
"$GATEHOUSE_BENCH_BIN" "${args[@]}"
echo "PostgreSQL:" >&2
scripts/with-postgres.sh bash -c '"$@" --database-url "$GATEHOUSE_TEST_PG_URL"' bench "$GATEHOUSE_BENCH_BIN" "${args[@]}"
