#!/usr/bin/env python3
"""Two binaries' backtests of the very same kept stores, side by side.

    python3 eval/lib/compare.py A_DIR B_DIR [A_DIR B_DIR ...] [--markdown] [--by-shape]

Each DIR is an OUTDIR of `eval/lib/rebacktest.sh` (or a trace's `run.sh --out`): one
sub-directory per run, each with `truth.json` and `backtest/`. A_DIR and B_DIR hold the
same runs, backtested by binary A and binary B. Prints, per run, the accounts taken over,
and for each binary those it found and the innocents it flagged (precision / recall),
marking the runs that changed, then the totals over every pair. With `--markdown`, the
table BENCHMARKS.md uses (changed rows in bold). With `--by-shape`, the runs summed per
shape, trace and size instead (the trace named by the set directory, `<tag>_<trace>-s<seed>`
or `<trace>-s<seed>`): the table of where the issue's per-shape goal stands. Scores with
eval/blind-trace/score.py, so what counts as found and as innocent is that scorer's.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blind-trace"))
from score import ScoreError, score_run  # noqa: E402


def scores(out_dir):
    """{(shape, seed, accounts): (taken over, found, innocents)} of one OUTDIR's runs."""
    runs = sorted(
        os.path.join(out_dir, d)
        for d in os.listdir(out_dir)
        if os.path.isfile(os.path.join(out_dir, d, "truth.json"))
    )
    if not runs:
        sys.exit(f"compare: no run (a sub-directory with truth.json) in {out_dir}")
    try:
        results = [score_run(run) for run in runs]
    except ScoreError as e:
        sys.exit(f"compare: {e}")
    return {
        (r["shape"], r["seed"], r["accounts"]): (
            r["taken_over"],
            r["true_positives"],
            r["false_positives"],
        )
        for r in results
    }


def cell(taken, found, innocents):
    precision = f"{found / (found + innocents):.2f}" if found + innocents else "—"
    recall = f"{found / taken:.2f}" if taken else "—"
    return f"{found}, {innocents} ({precision} / {recall})"


def paired(a_dir, b_dir):
    """Both binaries' scores of one set, which must hold the same runs."""
    a, b = scores(a_dir), scores(b_dir)
    missing = sorted(set(a) ^ set(b))
    if missing:
        sys.exit(f"compare: {a_dir} and {b_dir} do not hold the same runs: {missing}")
    return a, b


def trace_of(set_dir):
    """The trace a set directory holds: `ho20b_second-s24` and `second-s24` are `second`."""
    name = re.sub(r"-s\d+$", "", os.path.basename(os.path.normpath(set_dir)))
    return name.rsplit("_", 1)[-1]


def by_shape(pairs):
    """The runs of every pair summed per (shape, trace, accounts), as a markdown table."""
    sums = {}
    for a_dir, b_dir in pairs:
        a, b = paired(a_dir, b_dir)
        for key in sorted(a):
            row = sums.setdefault((key[0], trace_of(b_dir), key[2]), [0, 0, 0, 0, 0, 0])
            for i, v in enumerate((1, a[key][0], a[key][1], a[key][2], b[key][1], b[key][2])):
                row[i] += v
    print("| shape | trace | accounts | runs | taken over | A: found, innocents (P / R) | B |")
    print("|---|---|---|---|---|---|---|")
    for (shape, trace, accounts), (runs, taken, fa, ia, fb, ib) in sorted(sums.items()):
        a, b = cell(taken, fa, ia), cell(taken, fb, ib)
        print(
            f"| {shape} | {trace} | {accounts} | {runs} | {taken} | {a} | "
            + (f"**{b}** |" if (fa, ia) != (fb, ib) else f"{b} |")
        )


def main():
    flags = {"--markdown", "--by-shape"}
    args = [a for a in sys.argv[1:] if a not in flags]
    markdown = "--markdown" in sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    if "--by-shape" in sys.argv[1:]:
        by_shape(list(zip(args[::2], args[1::2])))
        return
    if markdown:
        print("| set | shape | seed | accounts | taken over | A: found, innocents (P / R) | B |")
        print("|---|---|---|---|---|---|---|")
    totals = [0, 0, 0, 0, 0]
    for a_dir, b_dir in zip(args[::2], args[1::2]):
        a, b = paired(a_dir, b_dir)
        name = os.path.basename(os.path.normpath(b_dir))
        for key in sorted(a):
            taken, fa, ia = a[key]
            _, fb, ib = b[key]
            changed = (fa, ia) != (fb, ib)
            if markdown:
                new = cell(taken, fb, ib)
                print(
                    f"| {name} | {key[0]} | {key[1]} | {key[2]} | {taken} | {cell(taken, fa, ia)} | "
                    + (f"**{new}** |" if changed else f"{new} |")
                )
            else:
                print(
                    f"{name:28} {key[0]:16} {key[1]:>4} {key[2]:>7} taken {taken:5}"
                    f"   A {fa:5} {ia:5}   B {fb:5} {ib:5}" + ("  *" if changed else "")
                )
            for i, v in enumerate((taken, fa, ia, fb, ib)):
                totals[i] += v
    taken, fa, ia, fb, ib = totals
    end = "\n" if markdown else ""
    print(f"{end}total: {taken} taken over; A found {fa}, innocents {ia}; B found {fb}, innocents {ib}")


if __name__ == "__main__":
    main()
