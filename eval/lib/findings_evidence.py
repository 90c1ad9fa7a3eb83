#!/usr/bin/env python3
"""Every finding of a kept trace run, with its evidence, taken over or innocent.

    python3 eval/lib/findings_evidence.py BIN RUN_DIR OUT.jsonl [SINCE] [--summary]

RUN_DIR is one kept run of a trace's `run.sh ... --keep` (its `truth.json`, `rules.json` and
store under `data/`). The store is copied to a temporary directory (the kept one is not
touched), and there `BIN rules backtest RULE --since SINCE --record` records the results of
every rule in `rules.json` as shadow findings. Each finding is written as one JSON line:
`{"email", "taken", "rule", "ev"}`, `ev` being the finding's evidence as the console shows
it (for `account-takeover`: the rule, grain, corroboration, history, `judged_after_secs`…).
A backtest's JSON pages its accounts; this gives all of them, to sort the innocents by why
they were flagged (crates/detect/README.md, "Thirteenth pass").

SINCE is an RFC 3339 time (default 2026-11-29T00:00:00Z, the start `rebacktest.sh` runs
use). With `--summary` it also prints the findings counted by rule, takeover rule, grain,
corroboration, judged later than 15 minutes or not, and taken over (T) or innocent (I).
"""

import collections
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile


def record(binary, run, since, rules=None):
    """(email, rule id, evidence) of every finding the run's rules (or `rules`, a list
    of rule ids) record over a copy of its store."""
    if rules is None:
        with open(os.path.join(run, "rules.json")) as f:
            rules = [r["id"] for r in json.load(f)]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        shutil.copytree(os.path.join(run, "data"), data)
        env = {k: v for k, v in os.environ.items() if k not in ("GATEHOUSE_DATABASE_URL", "GATEHOUSE_CONFIG")}
        env.update(GATEHOUSE_DATA_DIR=data, RUST_LOG="warn")
        for rule in rules:
            done = subprocess.run(
                [binary, "rules", "backtest", rule, "--since", since, "--record", "--json"],
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            )
            if done.returncode != 0 and "cannot be backtested" not in done.stderr:
                sys.exit(f"findings_evidence: backtest of {rule} failed:\n{done.stderr}")
        db = sqlite3.connect(os.path.join(data, "gatehouse.db"))
        try:
            return db.execute(
                "SELECT a.email, f.rule_id, f.evidence FROM findings f JOIN accounts a ON a.id = f.account_id"
            ).fetchall()
        finally:
            db.close()


def main():
    args = [a for a in sys.argv[1:] if a != "--summary"]
    if len(args) not in (3, 4):
        sys.exit(__doc__)
    binary, run, out = args[:3]
    since = args[3] if len(args) == 4 else "2026-11-29T00:00:00Z"
    for need in ("truth.json", "rules.json", "data"):
        if not os.path.exists(os.path.join(run, need)):
            sys.exit(f"findings_evidence: {run} has no {need} (a kept run of run.sh --keep?)")
    with open(os.path.join(run, "truth.json")) as f:
        taken = set(json.load(f)["taken_over"])
    rows = [
        {"email": email, "taken": email in taken, "rule": rule, "ev": json.loads(evidence)}
        for email, rule, evidence in record(binary, run, since)
    ]
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    flagged = {}
    for r in rows:
        flagged[r["email"]] = r["taken"]
    found = sum(flagged.values())
    print(f"{len(rows)} findings on {len(flagged)} accounts: {found} taken over, {len(flagged) - found} innocents")
    if "--summary" in sys.argv[1:]:
        counts = collections.Counter(
            (
                r["rule"],
                r["ev"].get("rule"),
                r["ev"].get("grain"),
                r["ev"].get("corroboration"),
                "late" if r["ev"].get("judged_after_secs", 0) > 900 else "young",
                "T" if r["taken"] else "I",
            )
            for r in rows
        )
        for key, n in counts.most_common():
            print(n, " ".join(str(k) for k in key))


if __name__ == "__main__":
    main()
