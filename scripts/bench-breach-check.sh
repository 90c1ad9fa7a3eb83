#!/usr/bin/env bash
# Throughput of POST /api/v1/breach/check under wrk on loopback, each run next to
# its baselines (BENCHMARKS.md, "Breach check over HTTP").
#
#   scripts/bench-breach-check.sh
#
# Generates a synthetic corpus of KEYS hashes in the downloader's format and
# imports it (`gatehouse breach bench --keys KEYS --dir BREACH_DIR`, reused when
# BREACH_DIR already holds an index of that size), starts `gatehouse serve` with
# GATEHOUSE_BREACH_INDEX pointing at it (SQLite, temporary data dir) and
# `gatehouse-bench hello` (bare axum, crates/bench), creates an operator, then per run:
#   hello            GET / on the bare axum server
#   favicon          GET /favicon.ico on gatehouse (204: the full middleware stack, no handler work)
#   healthz          GET /healthz on gatehouse (one database ping)
#   check_absent     POST /api/v1/breach/check, a SHA-1 not in the corpus
#   check_present    POST /api/v1/breach/check, a SHA-1 in the corpus (exact tier consulted)
# and prints medians and ratios. Raw JSON lines go to $BENCH_OUT.
#
# Knobs: KEYS (default 10000000), BREACH_DIR (default $CARGO_TARGET_DIR/breach-bench-KEYS),
# RUNS (3), SECONDS_PER (10), WRK_THREADS (1), WRK_CONNECTIONS (32),
# GATEHOUSE_BIN and GATEHOUSE_BENCH_BIN (binaries built beforehand: no build step),
# CARGO_TARGET_DIR (default target).
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
KEYS="${KEYS:-10000000}"
BREACH_DIR="${BREACH_DIR:-$CARGO_TARGET_DIR/breach-bench-$KEYS}"
RUNS="${RUNS:-3}"
SECONDS_PER="${SECONDS_PER:-10}"
WRK_THREADS="${WRK_THREADS:-1}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-32}"

for tool in wrk jq curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (apt-get install $tool)" >&2; exit 1; }
done

# Two binaries: the server as shipped, and the benchmarks (kept out of it).
if [ -z "${GATEHOUSE_BIN:-}" ] || [ -z "${GATEHOUSE_BENCH_BIN:-}" ]; then
    cargo build --release -p gatehouse -p gatehouse-bench
fi
BIN="${GATEHOUSE_BIN:-$CARGO_TARGET_DIR/release/gatehouse}"
BENCH_BIN="${GATEHOUSE_BENCH_BIN:-$CARGO_TARGET_DIR/release/gatehouse-bench}"

INDEX="$BREACH_DIR/bench.ghbi"
if ! "$BIN" breach stats --index "$INDEX" 2>/dev/null | grep -Eq "^keys +$KEYS\$"; then
    echo "building a $KEYS-key index in $BREACH_DIR" >&2
    "$BIN" breach bench --keys "$KEYS" --dir "$BREACH_DIR" | tee "$BREACH_DIR.bench.txt" >&2
fi

WORK="$(mktemp -d -t gatehouse-breach-bench.XXXXXX)"
BENCH_OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results/breach-check-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$BENCH_OUT"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server at $1 did not come up" >&2
    return 1
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f\n", a/b}'; }

PORT="$(free_port)"
HPORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
HELLO="http://127.0.0.1:$HPORT/"
export GATEHOUSE_LISTEN="127.0.0.1:$PORT" GATEHOUSE_DATA_DIR="$WORK/data" GATEHOUSE_PUBLIC_URL="$BASE"
export GATEHOUSE_BREACH_INDEX="$INDEX" RUST_LOG="${RUST_LOG:-warn}"

"$BENCH_BIN" hello --listen "127.0.0.1:$HPORT" 2>"$WORK/hello.log" &
PIDS+=("$!")
"$BIN" serve 2>"$WORK/server.log" &
PIDS+=("$!")
wait_http "$HELLO"
wait_http "$BASE/healthz"
grep -m1 "Breach checks are on" "$WORK/server.log" >&2 || { cat "$WORK/server.log" >&2; exit 1; }

export BENCH_KEY
BENCH_KEY="$(env -u GATEHOUSE_BREACH_INDEX "$BIN" operator create --email bench-ops@example.com 2>/dev/null)"
PRESENT="$(head -c 40 "$BREACH_DIR/corpus.txt")"
ABSENT="$(printf 'a password that is not in any corpus' | sha1sum | cut -c1-40)"
verdict() {
    curl -fsS -H "authorization: Bearer $BENCH_KEY" -H 'content-type: application/json' \
        -d "{\"sha1\":\"$1\"}" "$BASE/api/v1/breach/check"
}
[ "$(verdict "$PRESENT" | jq -r .breached)" = true ] || { echo "present key not reported breached" >&2; exit 1; }
[ "$(verdict "$ABSENT" | jq -r .breached)" = false ] || { echo "absent key reported breached" >&2; exit 1; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" | tee "$BENCH_OUT/machine.txt" >&2
"$BIN" breach stats --index "$INDEX" >"$BENCH_OUT/index-stats.txt"

wrk_run() { # name url [script]
    local name="$1" url="$2" script="${3:-scripts/bench/rps.lua}"
    wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${SECONDS_PER}s" -s "$script" "$url" | tail -n1 |
        jq -c --arg name "$name" --argjson run "$run" '. + {name: $name, run: $run}' |
        tee -a "$BENCH_OUT/wrk.jsonl" >&2
}
for run in $(seq 1 "$RUNS"); do
    echo "== run $run/$RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    echo "run $run: load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_OUT/loadavg.txt"
    wrk_run hello "$HELLO"
    wrk_run favicon "$BASE/favicon.ico"
    wrk_run healthz "$BASE/healthz"
    BENCH_SHA1="$ABSENT" wrk_run check_absent "$BASE/api/v1/breach/check" scripts/bench/breach_check.lua
    BENCH_SHA1="$PRESENT" wrk_run check_present "$BASE/api/v1/breach/check" scripts/bench/breach_check.lua
done

rate() { jq -r --arg n "$1" 'select(.name == $n) | .ok_per_second' "$BENCH_OUT/wrk.jsonl" | median; }
errors() { jq -r --arg n "$1" 'select(.name == $n) | .not_ok + .socket_errors' "$BENCH_OUT/wrk.jsonl" | paste -sd+ | bc; }
hello="$(rate hello)"; favicon="$(rate favicon)"; healthz="$(rate healthz)"
absent="$(rate check_absent)"; present="$(rate check_present)"
echo
echo "medians over $RUNS runs, $KEYS keys, wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${SECONDS_PER}s (req/s with status < 400):"
printf '  %-28s %10s\n' "bare axum hello" "$hello" "GET /favicon.ico" "$favicon" "GET /healthz" "$healthz" \
    "breach/check, absent key" "$absent" "breach/check, present key" "$present"
# Ratios are taken within each run (same load on the shared machine), then the median.
per_run_ratio() { # numerator denominator
    jq -rs --arg a "$1" --arg b "$2" 'group_by(.run)[] | (map(select(.name == $a))[0].ok_per_second / map(select(.name == $b))[0].ok_per_second)' \
        "$BENCH_OUT/wrk.jsonl" | median | xargs printf "%.3f\n"
}
echo "per-run ratios, median:"
echo "  check absent / favicon   $(per_run_ratio check_absent favicon)"
echo "  check absent / hello     $(per_run_ratio check_absent hello)"
echo "  check present / hello    $(per_run_ratio check_present hello)"
echo "  check absent (median) / 87,000 (the Bloom-filter peer's figure)  $(ratio "$absent" 87000)"
echo "  non-2xx + socket errors in the check runs: $(errors check_absent) + $(errors check_present)"
echo "raw results: $BENCH_OUT"
