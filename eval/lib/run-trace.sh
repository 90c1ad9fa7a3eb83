#!/usr/bin/env bash
# The plumbing shared by the independent traces' run.sh (eval/blind-trace, second-trace,
# third-trace): for every (seed, shape), generate the trace with the trace's own gen.py,
# import it into a fresh SQLite store, backtest every shipped rule that backtests, and
# score the result with eval/blind-trace/score.py (and the trace's breakdown.py, if it has
# one). Each trace's run.sh sets TRACE_DIR (its directory: gen.py, and the module whose
# SHAPES names the shapes: TRACE_SHAPES_MODULE, default attacks), TRACE_SEEDS (its default seeds) and, optionally,
# TRACE_END_DEFAULT (a `date -d` phrase for the default trace end; "now" unless set), and
# passes its arguments on; see a trace's run.sh for them.
set -euo pipefail

here="${TRACE_DIR:?run.sh of a trace sets TRACE_DIR}"
root="$(cd "$here/../.." && pwd)"
seeds="${TRACE_SEEDS:-1,2}"
accounts=20000
shapes="all"
out="$root/target/$(basename "$here")"
profile="debug"
keep=0
since="7d"
end=""
all_shapes="$(python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); m = __import__(sys.argv[2]); print(",".join(m.SHAPES))' "$here" "${TRACE_SHAPES_MODULE:-attacks}")"

die() { echo "run.sh: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --seeds) seeds="${2:?--seeds needs a value}"; shift 2 ;;
    --accounts) accounts="${2:?--accounts needs a value}"; shift 2 ;;
    --shapes) shapes="${2:?--shapes needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a value}"; shift 2 ;;
    --since) since="${2:?--since needs a value}"; shift 2 ;;
    --end) end="${2:?--end needs a value}"; shift 2 ;;
    --release) profile="release"; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,12p' "$here/run.sh"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
[[ "$shapes" == "all" ]] && shapes="$all_shapes"
[[ "$accounts" =~ ^[0-9]+$ ]] || die "--accounts: not a number: $accounts"
[[ "$seeds" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--seeds: expected numbers separated by commas: $seeds"
IFS=, read -r -a shape_list <<<"$shapes"
for shape in "${shape_list[@]}"; do
  [[ ",$all_shapes," == *",$shape,"* ]] || die "unknown shape: $shape (one of $all_shapes)"
done

if [[ -n "${GATEHOUSE_BIN:-}" ]]; then
  # A binary built elsewhere (another checkout, an older commit for a before/after).
  gh="$GATEHOUSE_BIN"
else
  echo "building gatehouse ($profile)…" >&2
  if [[ "$profile" == "release" ]]; then
    (cd "$root" && nice -n 19 cargo build --release -q -p gatehouse) || die "cargo build --release failed"
  else
    (cd "$root" && cargo build -q -p gatehouse) || die "cargo build failed"
  fi
  gh="$root/target/$profile/gatehouse"
fi
[[ -x "$gh" ]] || die "no binary at $gh after the build"

# Only this script's own data directory counts: a database URL or configuration file
# from the caller's environment would send the imports elsewhere.
unset GATEHOUSE_DATABASE_URL GATEHOUSE_CONFIG
export RUST_LOG="${RUST_LOG:-warn}"

# step NAME LOG CMD...: run a step, and on failure show its log and stop.
step() {
  local name="$1" log="$2"
  shift 2
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [[ $rc != 0 ]]; then
    echo "run.sh: $name failed (exit $rc): $*" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
}

# One end for every trace of this invocation: each seed's innocents are then the same
# events under every shape (gen.py's default end is "now", which moves between runs).
# --end T pins it, so that two binaries are judged on the very same events (within
# the backtest's --since of now).
[[ -n "$end" ]] || end="$(date -u -d "${TRACE_END_DEFAULT:-now}" +%Y-%m-%dT%H:%M:00Z)"

mkdir -p "$out"
runs=()
IFS=, read -r -a seed_list <<<"$seeds"
IFS=, read -r -a shape_list <<<"$shapes"
for seed in "${seed_list[@]}"; do
  for shape in "${shape_list[@]}"; do
    run="$out/$shape-s$seed-k$accounts"
    rm -rf "$run"
    mkdir -p "$run/backtest" "$run/data"
    export GATEHOUSE_DATA_DIR="$run/data"
    started=$SECONDS
    step "migrate" "$run/migrate.log" "$gh" migrate
    key="$("$gh" events fingerprint-key 2>/dev/null)" || die "gatehouse events fingerprint-key failed"
    step "gen.py" "$run/gen.log" nice -n 19 python3 "$here/gen.py" --seed "$seed" --accounts "$accounts" \
      --shape "$shape" --out "$run" --fingerprint-key "$key" --end "$end"
    step "accounts import" "$run/import-accounts.log" nice -n 19 "$gh" accounts import --strict --quiet "$run/accounts.jsonl"
    step "events import" "$run/import-events.log" nice -n 19 "$gh" events import --strict --quiet "$run/events.jsonl"
    "$gh" rules list --json >"$run/rules.json" 2>"$run/rules.log" || { cat "$run/rules.log" >&2; die "rules list failed"; }
    mapfile -t rules < <(python3 -c 'import json,sys; [print(r["id"]) for r in json.load(open(sys.argv[1]))]' "$run/rules.json")
    for rule in "${rules[@]}"; do
      if ! nice -n 19 "$gh" rules backtest "$rule" --since "$since" --json --csv "$run/backtest/$rule.csv" \
        >"$run/backtest/$rule.json" 2>"$run/backtest/$rule.log"; then
        # The breached and leaked checks act at login and in scans: no backtest, by design.
        if grep -q "cannot be backtested" "$run/backtest/$rule.log"; then
          rm -f "$run/backtest/$rule.json" "$run/backtest/$rule.csv"
          continue
        fi
        cat "$run/backtest/$rule.log" >&2
        die "rules backtest $rule failed on $run"
      fi
    done
    [[ $keep == 1 ]] || rm -rf "$run/data" "$run/events.jsonl" "$run/accounts.jsonl"
    echo "$(tail -n 1 "$run/gen.log") [$((SECONDS - started)) s]" >&2
    runs+=("$run")
  done
done

python3 "$root/eval/blind-trace/score.py" "${runs[@]}" | tee "$out/results.md"
python3 "$root/eval/blind-trace/score.py" --json "${runs[@]}" >"$out/results.json"
if [[ -f "$here/breakdown.py" ]]; then
  echo | tee -a "$out/results.md"
  python3 "$here/breakdown.py" "${runs[@]}" | tee -a "$out/results.md"
fi
echo "wrote $out/results.md and results.json" >&2
