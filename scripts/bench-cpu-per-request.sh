#!/usr/bin/env bash
# CPU time per request, server and load generator, for GET /api/v1/me on
# `gatehouse serve` and for bare axum hello (BENCHMARKS.md, "After the hot-route
# table"). On a shared machine the rates swing with the load; the CPU a request
# costs each process moves much less, and says where a ratio can go.
#
#   scripts/bench-cpu-per-request.sh GATEHOUSE_BIN GATEHOUSE_BENCH_BIN [SECONDS]
#
# Starts both servers (SQLite, temporary data dir), creates one account and a
# session, then twice: wrk -t1 -c32 on hello, then on /me, reading the server's
# utime+stime from /proc/<pid>/stat before and after, and wrk's own with
# /usr/bin/time. Prints req/s and µs of CPU per answered request for each.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?gatehouse binary}; BENCH_BIN=${2:?gatehouse-bench binary}; SECS=${3:-8}
WORK=$(mktemp -d)
fp() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(fp); HPORT=$(fp)
BASE="http://127.0.0.1:$PORT"
BODY='{"email":"bench@example.com","password":"correct horse battery staple"}'
GATEHOUSE_LISTEN="127.0.0.1:$PORT" GATEHOUSE_DATA_DIR="$WORK/data" GATEHOUSE_PUBLIC_URL="$BASE" RUST_LOG=warn "$BIN" serve 2>"$WORK/server.log" &
SERVER=$!
"$BENCH_BIN" hello --listen "127.0.0.1:$HPORT" 2>/dev/null &
HELLO=$!
trap 'kill $SERVER $HELLO 2>/dev/null; wait $SERVER $HELLO 2>/dev/null; rm -rf $WORK' EXIT
for _ in $(seq 1 200); do curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 1 200); do curl -fsS -o /dev/null "http://127.0.0.1:$HPORT/" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null -H 'content-type: application/json' -d "$BODY" "$BASE/api/v1/accounts"
TOKEN="$(curl -fsS -H 'content-type: application/json' -d "$BODY" "$BASE/api/v1/sessions" | jq -r .token)"
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # pid url extra...
  local pid=$1; shift
  local b=$(cpu $pid)
  local out=$( { /usr/bin/time -f 'WRKCPU %U %S' wrk -t1 -c32 -d${SECS}s -s scripts/bench/rps.lua "$@" ; } 2>&1 )
  local a=$(cpu $pid)
  local n=$(grep '^{' <<<"$out" | jq .requests); local rps=$(grep '^{' <<<"$out" | jq .ok_per_second)
  local w=$(grep WRKCPU <<<"$out" | awk '{print $2+$3}')
  awk -v n=$n -v d=$((a-b)) -v w=$w -v r=$rps -v tck=$(getconf CLK_TCK) 'BEGIN{printf "rps %.0f  server %.2f us/req  wrk %.2f us/req\n", r, d/tck*1e6/n, w*1e6/n}'
}
wrk -t1 -c32 -d2s -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/me" >/dev/null
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
for i in 1 2; do
echo -n "hello: "; run $HELLO "http://127.0.0.1:$HPORT/"
echo -n "/me:   "; run $SERVER -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/me"
done
echo "answer bytes with headers: /me $(curl -s -i -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/me" | wc -c), hello $(curl -s -i "http://127.0.0.1:$HPORT/" | wc -c)"
