#!/usr/bin/env bash
# Runs fuzz targets one after another, each for SECONDS (default 600), at the
# lowest priority, from the committed corpora; then minimises each corpus.
#   fuzz/run.sh [--seconds N] [TARGET...]      (default: every target)
# Needs `cargo install cargo-fuzz` and a nightly toolchain. Logs go to
# fuzz/logs/<target>.log; the last lines hold libFuzzer's final figures
# (executions, exec/s, coverage), which FUZZING.md records.
set -euo pipefail
cd "$(dirname "$0")"
seconds=600
if [ "${1:-}" = --seconds ]; then seconds=$2; shift 2; fi
all=(email_password breach_line breach_index login_event rules import_lines forms notice_render)
[ $# -gt 0 ] && targets=("$@") || targets=("${all[@]}")
mkdir -p logs
nice -n 19 cargo +nightly fuzz build --features server
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "fuzz: $t for ${seconds}s" >&2
  # -rss_limit_mb: the index target maps files; 2 GB is libFuzzer's default.
  nice -n 19 cargo +nightly fuzz run --features server "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 >"logs/$t.log" 2>&1 \
    || echo "fuzz: $t FAILED (see fuzz/logs/$t.log and fuzz/artifacts/$t/)" >&2
  nice -n 19 cargo +nightly fuzz cmin --features server "$t" "corpus/$t" >"logs/$t.cmin.log" 2>&1 || true
  grep -E "^(#[0-9]+.*DONE|stat::|Done)" "logs/$t.log" | tail -n 12 >&2 || true
done
