#!/usr/bin/env bash
# Reproduces the figures in BENCHMARKS.md, end to end, on this machine.
#
#   scripts/bench.sh
#
# Builds the release binaries (`gatehouse`, and `gatehouse-bench` from
# crates/bench for the baselines and the load generator), starts `gatehouse
# serve` on a temporary data dir and a free loopback port (plus
# `gatehouse-bench hello` as the cheap-call baseline), creates one account,
# then runs each measurement RUNS times (default 3), each one paired with its
# baseline in the same run, and prints medians and ratios. Raw JSON lines go to $BENCH_OUT (default
# $CARGO_TARGET_DIR/bench-results/<timestamp>).
#
# Knobs (environment):
#   CARGO_TARGET_DIR   build dir (default: target)
#   RUNS               repetitions of each measurement (default 3)
#   ARGON2_SECONDS     seconds per raw argon2 run (default 10)
#   LOGIN_SECONDS      seconds per closed-loop login run (default 10)
#   LOGIN_CONNECTIONS  wrk connections for the login run (default 4)
#   UNLOADED_RATE      open-loop rate for the unloaded p99 (default 5)
#   UNLOADED_SECONDS   (default 30)
#   OVERLOAD_FACTOR    overload rate = factor x raw argon2 rate (default 4)
#   OVERLOAD_SECONDS   (default 20, after 3 s of warm-up)
#   ME_SECONDS         seconds per wrk run on /me and on hello (default 10)
#   WRK_THREADS, WRK_CONNECTIONS   wrk for /me and hello (default 1, 32)
#   GATEHOUSE_BIN      use this gatehouse binary instead of building one
#   GATEHOUSE_BENCH_BIN  use this gatehouse-bench binary instead of building one
#   GATEHOUSE_HASH_*, GATEHOUSE_SESSION_CACHE_SECONDS   passed through to the server
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
RUNS="${RUNS:-3}"
ARGON2_SECONDS="${ARGON2_SECONDS:-10}"
LOGIN_SECONDS="${LOGIN_SECONDS:-10}"
LOGIN_CONNECTIONS="${LOGIN_CONNECTIONS:-4}"
UNLOADED_RATE="${UNLOADED_RATE:-5}"
UNLOADED_SECONDS="${UNLOADED_SECONDS:-30}"
OVERLOAD_FACTOR="${OVERLOAD_FACTOR:-4}"
OVERLOAD_SECONDS="${OVERLOAD_SECONDS:-20}"
ME_SECONDS="${ME_SECONDS:-10}"
WRK_THREADS="${WRK_THREADS:-1}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-32}"

need() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
    if ! need "$1"; then
        echo "installing $2 with apt-get" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null; }
    fi
}
apt_install wrk wrk
apt_install jq jq
apt_install curl curl

# Two binaries: the server as shipped, and the benchmarks (kept out of it).
if [ -z "${GATEHOUSE_BIN:-}" ] || [ -z "${GATEHOUSE_BENCH_BIN:-}" ]; then
    cargo build --release -p gatehouse -p gatehouse-bench
fi
BIN="${GATEHOUSE_BIN:-$CARGO_TARGET_DIR/release/gatehouse}"
BENCH_BIN="${GATEHOUSE_BENCH_BIN:-$CARGO_TARGET_DIR/release/gatehouse-bench}"

WORK="$(mktemp -d -t gatehouse-bench.XXXXXX)"
BENCH_OUT="${BENCH_OUT:-$CARGO_TARGET_DIR/bench-results/$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$BENCH_OUT"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

free_port() {
    # Ask the kernel for a free port: bind to :0 and read it back.
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null && return
    local p
    while :; do
        p=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}
wait_http() {
    for _ in $(seq 1 200); do
        curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "server at $1 did not come up" >&2
    return 1
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b+0==0) print "nan"; else printf "%.3f\n", a/b}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

PORT="$(free_port)"
HPORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"
HELLO="http://127.0.0.1:$HPORT/"

"$BENCH_BIN" hello --listen "127.0.0.1:$HPORT" 2>"$WORK/hello.log" &
PIDS+=("$!")
wait_http "$HELLO"

export BENCH_EMAIL="bench@example.com"
export BENCH_PASSWORD="correct horse battery staple"
BODY="{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}"

# A fresh server (new process, new database) for each run, so that no state
# left by one run (hash-queue counters, sessions, malloc arenas) shapes the next.
SERVER=""
start_server() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$WORK/data"
    GATEHOUSE_LISTEN="127.0.0.1:$PORT" GATEHOUSE_DATA_DIR="$WORK/data" GATEHOUSE_PUBLIC_URL="$BASE" RUST_LOG="${RUST_LOG:-warn}" \
        "$BIN" serve 2>>"$WORK/server.log" &
    SERVER=$!
    PIDS+=("$SERVER")
    wait_http "$BASE/healthz"
    curl -fsS -o /dev/null -H 'content-type: application/json' -d "$BODY" "$BASE/api/v1/accounts"
    TOKEN="$(curl -fsS -H 'content-type: application/json' -d "$BODY" "$BASE/api/v1/sessions" | jq -r .token)"
    [ -n "$TOKEN" ] && [ "$TOKEN" != null ] || { echo "login failed" >&2; exit 1; }
    RSS_START="$(rss_kib "$SERVER")"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(rustc --version)" | tee "$BENCH_OUT/machine.txt"
echo "server on $BASE, hello on $HELLO, results in $BENCH_OUT, $RUNS runs" >&2

for run in $(seq 1 "$RUNS"); do
    echo "== run $run/$RUNS (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    echo "run $run: load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$BENCH_OUT/loadavg.txt"

    start_server

    # 1a. Raw argon2 verify rate (2 threads): the baseline for 1 and the rate for 2.
    A="$("$BENCH_BIN" argon2 --threads 2 --seconds "$ARGON2_SECONDS")"
    echo "$A" >>"$BENCH_OUT/argon2.jsonl"
    argon2_rate="$(jq -r .verifies_per_second <<<"$A")"
    echo "  argon2 $argon2_rate verifies/s" >&2

    # 2. Overload: unloaded p99 at a low rate, then FACTOR x the argon2 rate, open loop.
    U="$("$BENCH_BIN" load --url "$BASE/api/v1/sessions" --method POST --body "$BODY" \
        --rate "$UNLOADED_RATE" --duration "$UNLOADED_SECONDS" --warmup 1 --connections 8)"
    echo "$U" >>"$BENCH_OUT/unloaded.jsonl"
    over_rate="$(awk -v r="$argon2_rate" -v f="$OVERLOAD_FACTOR" 'BEGIN {printf "%.0f", r*f}')"
    rss_before="$(rss_kib "$SERVER")"
    (while kill -0 "$SERVER" 2>/dev/null; do rss_kib "$SERVER"; sleep 0.5; done) >"$WORK/rss.txt" &
    SAMPLER=$!
    O="$("$BENCH_BIN" load --url "$BASE/api/v1/sessions" --method POST --body "$BODY" \
        --rate "$over_rate" --duration "$OVERLOAD_SECONDS" --warmup 3 --connections 128)"
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    rss_during="$(sort -n "$WORK/rss.txt" | tail -n1)"
    sleep 5
    rss_after="$(rss_kib "$SERVER")"
    jq -c --argjson s "$RSS_START" --argjson b "$rss_before" --argjson d "$rss_during" --argjson a "$rss_after" \
        '. + {rss_kib: {start: $s, before: $b, max_during: $d, after_5s: $a}}' <<<"$O" >>"$BENCH_OUT/overload.jsonl"
    echo "  unloaded p99 $(jq -r .ok_latency_ms.p99 <<<"$U") ms; overload $over_rate/s: $(jq -c .status <<<"$O"), 2xx p99 $(jq -r .ok_latency_ms.p99 <<<"$O") ms, 503 p99 $(jq -r .rejected_latency_ms.p99 <<<"$O") ms, RSS $rss_before/$rss_during/$rss_after KiB" >&2

    # 1b. Login throughput (closed loop, wrk). Runs after the overload: wrk drops
    # the requests still queued when it stops (see BENCHMARKS.md).
    L="$(wrk -t1 -c"$LOGIN_CONNECTIONS" -d"${LOGIN_SECONDS}s" -s scripts/bench/login.lua "$BASE/api/v1/sessions" | grep '^{')"
    echo "$L" >>"$BENCH_OUT/login.jsonl"
    echo "  login $(jq -r .ok_per_second <<<"$L")/s ($(jq -r .not_ok <<<"$L") not ok)" >&2

    # 3. Cheap authenticated call vs bare axum hello, same binary, same wrk settings.
    H="$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${ME_SECONDS}s" -s scripts/bench/rps.lua "$HELLO" | grep '^{')"
    echo "$H" >>"$BENCH_OUT/hello.jsonl"
    M="$(wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${ME_SECONDS}s" -s scripts/bench/rps.lua \
        -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/me" | grep '^{')"
    echo "$M" >>"$BENCH_OUT/me.jsonl"
    echo "  hello $(jq -r .ok_per_second <<<"$H")/s; /me $(jq -r .ok_per_second <<<"$M")/s ($(jq -r .not_ok <<<"$M") not ok)" >&2
done

# ---- summary (medians over the runs; ratios are medians of the per-run ratios)
col() { jq -r "$2" "$BENCH_OUT/$1.jsonl"; }
per_run_ratio() { paste <(col "$1" "$2") <(col "$3" "$4") | awk '{ if ($2+0==0) print "nan"; else printf "%.4f\n", $1/$2 }'; }

argon2_med="$(col argon2 .verifies_per_second | median)"
login_med="$(col login .ok_per_second | median)"
login_ratio="$(per_run_ratio login .ok_per_second argon2 .verifies_per_second | median)"

unl_p99="$(col unloaded .ok_latency_ms.p99 | median)"
ov_p99="$(col overload .ok_latency_ms.p99 | median)"
ov_ratio="$(paste <(col overload .ok_latency_ms.p99) <(col unloaded .ok_latency_ms.p99) | awk '{printf "%.4f\n", $1/$2}' | median)"
ov_rate="$(col overload .rate | median)"
ov_ok_rate="$(col overload .ok_per_second | median)"
ov_503_share="$(jq -r '((.status["503"] // 0) / .sent)' "$BENCH_OUT/overload.jsonl" | median)"
ov_503_p99="$(col overload '.rejected_latency_ms.p99 // "nan"' | median)"
ov_other="$(jq -r '[.status | to_entries[] | select(.key != "201" and .key != "503") | .value] | add // 0' "$BENCH_OUT/overload.jsonl" | awk '{s+=$1} END {print s+0}')"
ov_err="$(jq -r '.errors + .unfinished' "$BENCH_OUT/overload.jsonl" | awk '{s+=$1} END {print s+0}')"
rss_b="$(col overload .rss_kib.before | median)"
rss_d="$(col overload .rss_kib.max_during | median)"
rss_a="$(col overload .rss_kib.after_5s | median)"

hello_med="$(col hello .ok_per_second | median)"
me_med="$(col me .ok_per_second | median)"
me_ratio="$(per_run_ratio me .ok_per_second hello .ok_per_second | median)"

meets() { awk -v v="$1" -v g="$2" -v op="$3" 'BEGIN { if (v=="nan") print "n/a"; else if ((op==">=" && v>=g) || (op=="<=" && v<=g)) print "met"; else print "NOT met" }'; }

cat <<EOF | tee "$BENCH_OUT/summary.txt"

Gatehouse benchmarks — $(cat "$BENCH_OUT/machine.txt"); medians of $RUNS runs
results: $BENCH_OUT

1. Login throughput (wrk closed loop, -t1 -c$LOGIN_CONNECTIONS, ${LOGIN_SECONDS}s) vs raw argon2 verify (2 threads, ${ARGON2_SECONDS}s)
   argon2 verifies/s: $argon2_med   logins (201)/s: $login_med   ratio: $login_ratio   goal >= 0.9: $(meets "$login_ratio" 0.9 ">=")

2. Overload at ${OVERLOAD_FACTOR}x the argon2 rate (open loop, ~$ov_rate req/s, ${OVERLOAD_SECONDS}s) vs unloaded ($UNLOADED_RATE req/s, ${UNLOADED_SECONDS}s)
   unloaded 2xx p99: $unl_p99 ms   overload 2xx p99: $ov_p99 ms   ratio: $ov_ratio   goal <= 3: $(meets "$ov_ratio" 3 "<=")
   admitted 2xx/s: $ov_ok_rate   503 share: $ov_503_share   503 p99: $ov_503_p99 ms   other statuses: $ov_other   errors+unfinished: $ov_err
   server VmRSS KiB before / max during / 5 s after the overload run: $rss_b / $rss_d / $rss_a
   per run (fresh server after one login / before / max / after): $(jq -r '"\(.rss_kib.start)/\(.rss_kib.before)/\(.rss_kib.max_during)/\(.rss_kib.after_5s)"' "$BENCH_OUT/overload.jsonl" | paste -sd' ')

3. GET /api/v1/me (wrk -t$WRK_THREADS -c$WRK_CONNECTIONS, ${ME_SECONDS}s) vs bare axum hello (same binary, same wrk settings)
   hello req/s: $hello_med   /me req/s: $me_med   ratio: $me_ratio   goal >= 0.5: $(meets "$me_ratio" 0.5 ">=")

load average (1/5/15 min) at the start of each run: $(cut -d: -f2 "$BENCH_OUT/loadavg.txt" | paste -sd';')
EOF
