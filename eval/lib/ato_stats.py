#!/usr/bin/env python3
"""The `address_tried_others` findings of kept trace runs, takeovers against innocents.

    python3 eval/lib/ato_stats.py DIR

DIR is a trace's `--out` directory of a `run.sh ... --keep` (one sub-directory per shape,
seed and size, each with `truth.json` and `backtest/account-takeover.csv`). For every
`account-takeover` finding whose explanation is the rule `address_tried_others` ("that
address had tried about N accounts, P% of its attempts failing"), it prints how many were
real takeovers and how many innocents, split by whether the account had an earlier
success on record, with the distribution of N and P of each group: what a threshold on
the address's counts would keep and drop.
"""

import csv
import glob
import json
import os
import re
import sys
from collections import Counter

RULE = re.compile(r"that address had tried about (\d+) accounts?, (\d+)% of its attempts failing")


def findings(out_dir):
    """(taken over, without history, accounts tried, failing %) per finding of the rule."""
    runs = sorted(glob.glob(os.path.join(out_dir, "*-k*")))
    if not runs:
        sys.exit(f"ato_stats: no kept runs under {out_dir} (run.sh --keep --out {out_dir})")
    for run in runs:
        with open(os.path.join(run, "truth.json")) as f:
            taken = set(json.load(f)["taken_over"])
        with open(os.path.join(run, "backtest", "account-takeover.csv")) as f:
            for row in csv.DictReader(f):
                m = RULE.search(row["explanation"])
                if m:
                    without_history = "no earlier successful sign-in" in row["explanation"]
                    yield row["email"] in taken, without_history, int(m.group(1)), int(m.group(2))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = list(findings(sys.argv[1]))
    for without_history in (True, False):
        for taken in (True, False):
            group = [(n, p) for t, w, n, p in rows if t == taken and w == without_history]
            print(
                f"{'without' if without_history else 'with'} history, "
                f"{'takeovers' if taken else 'innocents'}: {len(group)}; "
                f"accounts tried {dict(sorted(Counter(n for n, _ in group).items()))}; "
                f"failing % {sorted(p for _, p in group)}"
            )


if __name__ == "__main__":
    main()
