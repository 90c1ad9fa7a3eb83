#!/usr/bin/env bash
# The fifth independent trace (Sahyog, a B2B SaaS workspace), end to end: for every
# (seed, shape) generate a trace, import it into a fresh SQLite store, backtest every
# shipped rule that backtests, score it with the blind trace's scorer
# (eval/blind-trace/score.py) and break the flagged innocents down with breakdown.py.
#
#   eval/fifth-trace/run.sh [--seeds 1,2] [--accounts 20000] [--shapes all|a,b]
#                           [--out DIR] [--release] [--keep] [--since 7d] [--end T]
#   GATEHOUSE_BIN=path/to/gatehouse eval/fifth-trace/run.sh …   # judge a binary built elsewhere
#
# Prints the markdown tables and writes them to DIR/results.md (DIR defaults to
# target/fifth-trace). Pass the same --end to judge two binaries on the same events.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TRACE_DIR="$here" TRACE_SEEDS="1,2" exec "$here/../lib/run-trace.sh" "$@"
