#!/usr/bin/env python3
"""Were a backtest's `password-spraying` findings people whose own password failed?

    python3 eval/lib/own_failures.py BACKTEST_RUN_DIR [EVENTS_RUN_DIR]

BACKTEST_RUN_DIR holds a run's `truth.json` and `backtest/password-spraying.json` (a kept run
of `run.sh ... --keep`, or the copy `rebacktest.sh` writes); EVENTS_RUN_DIR the run's
`events.jsonl` (default: the same directory). For each spraying finding in the backtest's
sample, it takes the failures on the finding's password (`evidence.attacker.password_digest`,
the first 16 hex digits of the events' `password_fingerprint`) in the finding's window, and
sorts them by what the account's last success before each failure had signed in with: the
same password (the site failing, or a stale device: `own_password_failures`), another
one, or no success on record (crates/detect/README.md, "Twelfth pass"). Exact counts over
the events, not the detector's 8-bit tags.
"""

import json
import os
import sys


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    run = sys.argv[1]
    events_dir = sys.argv[2] if len(sys.argv) == 3 else run
    path = os.path.join(run, "backtest", "password-spraying.json")
    try:
        report = json.load(open(path))
    except FileNotFoundError:
        sys.exit(f"{path}: no password-spraying backtest here")
    findings = []
    for s in report.get("sample") or []:
        ev = s["evidence"]
        findings.append({
            "email": s["email"],
            "digest": ev["attacker"]["password_digest"],
            "start": ev["window"]["start"],
            "end": ev["window"]["end"],
            "own": set(), "other": set(), "none": set(), "counts": [0, 0, 0],
        })
    if not findings:
        print(f"{run}: no password-spraying finding")
        return
    digests = {f["digest"] for f in findings}
    last = {}  # account -> fingerprint of its last success so far
    events = os.path.join(events_dir, "events.jsonl")
    with open(events) as fh:
        for line in fh:
            e = json.loads(line)
            fp = e.get("password_fingerprint") or ""
            account = e["account"]
            if e["outcome"] == "success":
                last[account] = fp
                continue
            if e["outcome"] != "wrong_password" or fp[:16] not in digests:
                continue
            for f in findings:
                if fp[:16] != f["digest"] or not (f["start"] <= e["time"] <= f["end"]):
                    continue
                kind = 2 if account not in last else (0 if last[account] == fp else 1)
                f["counts"][kind] += 1
                f[("own", "other", "none")[kind]].add(account)
    for f in findings:
        own, other, none = f["counts"]
        print(f"{f['email']}: password #{f['digest']}, {f['start']} – {f['end']}: "
              f"{own + other + none} wrong-password failures — {own} with the account's last good "
              f"password ({len(f['own'])} accounts), {other} with another ({len(f['other'])}), "
              f"{none} on accounts with no success on record ({len(f['none'])})")


if __name__ == "__main__":
    main()
