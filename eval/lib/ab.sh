#!/usr/bin/env bash
# Judge a detection change on stores nobody has looked at, in one command: generate fresh
# runs of the independent traces (seeds no pass was designed on), import them with binary
# A and keep them, backtest the very same stores with A and with B (same start and end),
# and print the two side by side (eval/lib/compare.py).
#
#   eval/lib/ab.sh A_BIN B_BIN OUT [--seeds 23,24,25] [--accounts 20000]
#                  [--traces second,third,fourth,fifth] [--shapes LIST] [--end T]
#
# --shapes (default: quiet,residential,low_and_slow,mobile_proxy,patch_cover,fireprox_spray)
# is taken per trace as far as the trace has the shape. A 20,000-account run is well under a
# minute of generating and importing; the default (three seeds, four traces: 45 runs) takes
# about 35 minutes on two cores, one run after another, the backtests included (estimated
# from 45-second runs). Writes OUT/stores/<trace>-s<seed>/
# (the kept runs), OUT/a/ and OUT/b/ (each binary's backtests) and OUT/compare.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
die() { echo "ab.sh: $*" >&2; exit 1; }
[[ $# -ge 3 ]] || { sed -n '2,15p' "$0"; exit 2; }
a_bin="$1"; b_bin="$2"; out="$3"; shift 3
seeds="23,24,25"; accounts=20000; traces="second,third,fourth,fifth"
shapes="quiet,residential,low_and_slow,mobile_proxy,patch_cover,fireprox_spray"
end="$(date -u -d '1 hour ago' +%Y-%m-%dT%H:00:00Z)"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="${2:?--seeds needs a value}"; shift 2 ;;
    --accounts) accounts="${2:?--accounts needs a value}"; shift 2 ;;
    --traces) traces="${2:?--traces needs a value}"; shift 2 ;;
    --shapes) shapes="${2:?--shapes needs a value}"; shift 2 ;;
    --end) end="${2:?--end needs a value}"; shift 2 ;;
    *) die "unknown argument: $1" ;;
  esac
done
for b in "$a_bin" "$b_bin"; do [[ -x "$b" ]] || die "not an executable: $b"; done
# The backtests' window: from midnight a week before the end (as the passes' tables).
since="$(date -u -d "$(date -u -d "$end" '+%Y-%m-%d %H:%M') 7 days ago" +%Y-%m-%dT00:00:00Z)" || die "--end: not a time: $end"
mkdir -p "$out/stores" "$out/a" "$out/b"
pairs=()
IFS=, read -r -a trace_list <<<"$traces"
IFS=, read -r -a seed_list <<<"$seeds"
for trace in "${trace_list[@]}"; do
  dir="$root/eval/$trace-trace"
  [[ -x "$dir/run.sh" ]] || die "no trace at $dir"
  module=attacks; [[ -f "$dir/attacks.py" ]] || module=shapes
  has="$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); m = __import__(sys.argv[2]); print(",".join(m.SHAPES))' "$dir" "$module")"
  mine=()
  IFS=, read -r -a wanted <<<"$shapes"
  for s in "${wanted[@]}"; do [[ ",$has," == *",$s,"* ]] && mine+=("$s"); done
  [[ ${#mine[@]} -gt 0 ]] || { echo "ab.sh: $trace has none of $shapes; skipped" >&2; continue; }
  for seed in "${seed_list[@]}"; do
    set_name="$trace-s$seed"
    echo "ab.sh: $set_name (${mine[*]})" >&2
    GATEHOUSE_BIN="$a_bin" "$dir/run.sh" --seeds "$seed" --accounts "$accounts" \
      --shapes "$(IFS=,; echo "${mine[*]}")" --out "$out/stores/$set_name" --keep --end "$end" >/dev/null
    # A again too: run.sh's own backtest counts back from now and ends now; both sides
    # get the same fixed window (start and end), as the passes' tables did.
    for side in a b; do
      bin="$a_bin"; [[ $side == b ]] && bin="$b_bin"
      REBACKTEST_SINCE="$since" REBACKTEST_UNTIL="$end" "$root/eval/lib/rebacktest.sh" "$bin" \
        "$out/$side/$set_name" "$trace-trace" "$out/stores/$set_name"/*-k"$accounts" >/dev/null
    done
    pairs+=("$out/a/$set_name" "$out/b/$set_name")
  done
done
[[ ${#pairs[@]} -gt 0 ]] || die "nothing was run"
python3 "$root/eval/lib/compare.py" "${pairs[@]}"
python3 "$root/eval/lib/compare.py" --markdown "${pairs[@]}" >"$out/compare.md"
echo "ab.sh: wrote $out/compare.md" >&2
