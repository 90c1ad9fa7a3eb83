#!/usr/bin/env python3
"""The `address_tried_others` findings of kept trace runs, takeovers against innocents.

    python3 eval/lib/ato_stats.py BIN DIR

DIR is a trace's `--out` directory of a `run.sh ... --keep` (one sub-directory per shape,
seed and size, each with `truth.json` and its store under `data/`). For every run it copies
the store to a temporary directory, records `BIN rules backtest account-takeover --since 7d
--record` there as shadow findings (the kept store is not touched), and reads each
finding's evidence. For the findings of the rule `address_tried_others` it prints how many
were real takeovers and how many innocents, split by whether the account had an earlier
success on record, with the distributions of the address's accounts tried, failure share
and attempts per account (`grain_attempts` / `address_accounts`): what a threshold on the
address's counts would keep and drop. `--since 7d` counts back from now, as run.sh's.
"""

import json
import os
import sys
from collections import Counter

from findings_evidence import record


def findings(binary, run):
    """The evidence of every account-takeover finding of a run, with the account's e-mail."""
    return [
        (email, json.loads(evidence))
        for email, rule, evidence in record(binary, run, "7d", ["account-takeover"])
        if rule == "account-takeover"
    ]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    binary, out_dir = sys.argv[1], sys.argv[2]
    runs = sorted(
        os.path.join(out_dir, d) for d in os.listdir(out_dir)
        if os.path.isfile(os.path.join(out_dir, d, "truth.json"))
    ) if os.path.isdir(out_dir) else []
    if not runs:
        sys.exit(f"ato_stats: no kept runs under {out_dir} (run.sh --keep --out {out_dir})")
    rows = []
    for run in runs:
        with open(os.path.join(run, "truth.json")) as f:
            taken = set(json.load(f)["taken_over"])
        for email, e in findings(binary, run):
            if e.get("rule") != "address_tried_others":
                continue
            accounts = e["address_accounts"]
            rows.append((
                email in taken,
                e.get("history", {}).get("earlier_successes", 0) == 0,
                round(accounts),
                round(100 * e["address_failure_share"]),
                round(e["grain_attempts"] / max(accounts, 1e-3), 2),
            ))
    for without_history in (True, False):
        for taken in (True, False):
            group = [r[2:] for r in rows if r[0] == taken and r[1] == without_history]
            print(
                f"{'without' if without_history else 'with'} history, "
                f"{'takeovers' if taken else 'innocents'}: {len(group)}; "
                f"accounts tried {dict(sorted(Counter(n for n, _, _ in group).items()))}; "
                f"failing % {sorted(p for _, p, _ in group)}; "
                f"attempts per account {sorted(a for _, _, a in group)}"
            )


if __name__ == "__main__":
    main()
