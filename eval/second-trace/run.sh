#!/usr/bin/env bash
# The second independent trace, end to end: build gatehouse, and for every (seed, shape)
# generate a trace, import it into a fresh SQLite store, backtest every shipped rule that
# backtests, and score the result against the trace's ground truth (with the blind
# trace's scorer, eval/blind-trace/score.py: truth.json has the fields it reads).
#
#   eval/second-trace/run.sh [--seeds 1,2] [--accounts 20000] [--shapes all|a,b]
#                            [--out DIR] [--release] [--keep] [--since 7d] [--end T]
#   GATEHOUSE_BIN=path/to/gatehouse eval/second-trace/run.sh …   # judge a binary built elsewhere
#
# Prints the markdown tables and writes them to DIR/results.md (DIR defaults to
# target/second-trace). Each run's directory keeps truth.json, gen.log and the
# backtests' CSV and JSON reports; its store and trace files are deleted unless --keep.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TRACE_DIR="$here" TRACE_SEEDS="1,2" exec "$here/../lib/run-trace.sh" "$@"
