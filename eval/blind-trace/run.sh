#!/usr/bin/env bash
# The blind trace, end to end: build gatehouse, and for every (seed, shape) generate a
# trace, import it into a fresh SQLite store, backtest every shipped rule that
# backtests, and score the result against the trace's ground truth.
#
#   eval/blind-trace/run.sh [--seeds 1,2,3] [--accounts 20000] [--shapes all|a,b]
#                           [--out DIR] [--release] [--keep] [--since 7d] [--end T]
#   GATEHOUSE_BIN=path/to/gatehouse eval/blind-trace/run.sh …   # judge a binary built elsewhere
#
# Prints the markdown tables of score.py and writes them to DIR/results.md (DIR
# defaults to target/blind-trace). Each run's directory keeps truth.json and the
# backtests' CSV and JSON reports; its store and trace files are deleted unless --keep.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# gen.py's own default end is "20 minutes ago"; the shapes are shapes.SHAPES.
TRACE_DIR="$here" TRACE_SEEDS="1,2,3" TRACE_END_DEFAULT="20 minutes ago" TRACE_SHAPES_MODULE=shapes \
  exec "$here/../lib/run-trace.sh" "$@"
