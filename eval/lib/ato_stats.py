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
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter


def findings(binary, run):
    """The evidence of every account-takeover finding of a run, with the account's e-mail."""
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        shutil.copytree(os.path.join(run, "data"), data)
        env = {k: v for k, v in os.environ.items() if k not in ("GATEHOUSE_DATABASE_URL", "GATEHOUSE_CONFIG")}
        env.update(GATEHOUSE_DATA_DIR=data, RUST_LOG="warn")
        subprocess.run(
            [binary, "rules", "backtest", "account-takeover", "--since", "7d", "--record", "--json"],
            env=env, check=True, stdout=subprocess.DEVNULL,
        )
        db = sqlite3.connect(os.path.join(data, "gatehouse.db"))
        try:
            rows = db.execute(
                "SELECT a.email, f.evidence FROM findings f JOIN accounts a ON a.id = f.account_id "
                "WHERE f.rule_id = 'account-takeover'"
            ).fetchall()
        finally:
            db.close()
    return [(email, json.loads(evidence)) for email, evidence in rows]


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
