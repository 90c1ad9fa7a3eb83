#!/usr/bin/env bash
# Reproduces the notice figures in BENCHMARKS.md: enqueue rate (rows/s) and
# delivery throughput into Postfix's smtp-sink on loopback, next to Postfix's
# own smtp-source at the same concurrency in the same rounds, on SQLite and
# on a throwaway PostgreSQL cluster.
#
#   scripts/bench-delivery.sh
#
# Knobs (environment): COUNT (notices per round, default 5000), CONCURRENCY
# (SMTP connections, default 4), WRITERS (concurrent enqueuers, default 4),
# ROUNDS (default 3), GATEHOUSE_BENCH_BIN (use this gatehouse-bench binary
# instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-smtp-sink.sh

COUNT="${COUNT:-5000}"
CONCURRENCY="${CONCURRENCY:-4}"
WRITERS="${WRITERS:-4}"
ROUNDS="${ROUNDS:-3}"
# The benchmarks are their own binary (crates/bench), not part of `gatehouse`.
if [ -z "${GATEHOUSE_BENCH_BIN:-}" ]; then
  cargo build --release -p gatehouse-bench >&2
  GATEHOUSE_BENCH_BIN="${CARGO_TARGET_DIR:-target}/release/gatehouse-bench"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$(id -u)" = 0 ]; then sink_user=(-u nobody); else sink_user=(); fi
# No -d: the sink discards what it receives, so the disk is not what is measured.
/usr/sbin/smtp-sink "${sink_user[@]}" "127.0.0.1:$port" 256 &
sink_pid=$!
trap 'kill $sink_pid 2>/dev/null || true' EXIT
sleep 0.3

args=(delivery --smtp-url "smtp://127.0.0.1:$port" --count "$COUNT"
  --concurrency "$CONCURRENCY" --writers "$WRITERS" --rounds "$ROUNDS")
echo "SQLite:" >&2
"$GATEHOUSE_BENCH_BIN" "${args[@]}"
echo "PostgreSQL:" >&2
scripts/with-postgres.sh bash -c '"$@" --database-url "$GATEHOUSE_TEST_PG_URL"' bench "$GATEHOUSE_BENCH_BIN" "${args[@]}"
