#!/usr/bin/env bash
# Backtest the stores a trace's run.sh kept (--keep) again with another binary: the very
# same events, no generation or import (a 20,000-account run is minutes of generating and
# importing on a loaded machine, its backtests seconds). Judge two binaries back to back:
#
#   eval/lib/rebacktest.sh BIN OUTDIR TRACE RUN_DIR...   # TRACE: fourth-trace, third-trace, …
#
# Writes OUTDIR/<run name>/{truth.json,rules.json,backtest/} and OUTDIR/results.md (score.py,
# then the trace's breakdown.py if it has one). `--since 7d` counts back from now, as run.sh's;
# REBACKTEST_SINCE=<RFC 3339 time> fixes the start and REBACKTEST_UNTIL=<RFC 3339 time> the end
# (default now), so two binaries see the same events. Results still vary by an account or two
# from run to run: the server hashes account keys under a random key per process.
# REBACKTEST_DRAFT=<rule id>=<TOML file> backtests that rule as the draft (`rules backtest
# --draft`) instead of the version the store holds: how a change to a shipped rule's
# settings is judged, as the stores keep the rules they were generated with. E.g.
#   REBACKTEST_DRAFT=password-spraying=hour.toml eval/lib/rebacktest.sh $BIN A fifth-trace runs…
#   REBACKTEST_DRAFT=password-spraying=six-hours.toml eval/lib/rebacktest.sh $BIN B fifth-trace runs…
#   python3 eval/lib/compare.py A B
set -euo pipefail
bin="$1"; out="$2"; trace="$3"; shift 3
since="${REBACKTEST_SINCE:-7d}"
until=()
[[ -n "${REBACKTEST_UNTIL:-}" ]] && until=(--until "$REBACKTEST_UNTIL")
draft_rule=; draft_file=
if [[ -n "${REBACKTEST_DRAFT:-}" ]]; then
  draft_rule="${REBACKTEST_DRAFT%%=*}"; draft_file="${REBACKTEST_DRAFT#*=}"
  [[ -n "$draft_rule" && "$draft_file" != "$REBACKTEST_DRAFT" && -f "$draft_file" ]] \
    || { echo "rebacktest: REBACKTEST_DRAFT must be <rule id>=<existing TOML file>: $REBACKTEST_DRAFT" >&2; exit 2; }
  draft_file="$(cd "$(dirname "$draft_file")" && pwd)/$(basename "$draft_file")"
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
unset GATEHOUSE_DATABASE_URL GATEHOUSE_CONFIG
export RUST_LOG=warn
runs=()
for run in "$@"; do
  name=$(basename "$run"); dst="$out/$name"
  rm -rf "$dst"; mkdir -p "$dst/backtest"
  cp "$run/truth.json" "$run/rules.json" "$dst/"
  export GATEHOUSE_DATA_DIR="$run/data"
  mapfile -t rules < <(python3 -c 'import json,sys; [print(r["id"]) for r in json.load(open(sys.argv[1]))]' "$run/rules.json")
  for rule in "${rules[@]}"; do
    draft=()
    [[ "$rule" == "$draft_rule" ]] && draft=(--draft "$draft_file")
    if ! nice -n 5 "$bin" rules backtest "$rule" "${draft[@]}" --since "$since" "${until[@]}" --json --csv "$dst/backtest/$rule.csv" >"$dst/backtest/$rule.json" 2>"$dst/backtest/$rule.log"; then
      if grep -q "cannot be backtested" "$dst/backtest/$rule.log"; then rm -f "$dst/backtest/$rule.json" "$dst/backtest/$rule.csv"; continue; fi
      cat "$dst/backtest/$rule.log" >&2; exit 1
    fi
  done
  runs+=("$dst")
done
python3 "$root/eval/blind-trace/score.py" "${runs[@]}" | tee "$out/results.md"
if [[ -f "$root/eval/$trace/breakdown.py" ]]; then python3 "$root/eval/$trace/breakdown.py" "${runs[@]}" | tee -a "$out/results.md"; fi
