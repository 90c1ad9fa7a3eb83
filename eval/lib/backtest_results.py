"""What `eval/lib/run-trace.sh` leaves in a run directory, read back: each rule's action
(rules.json, `gatehouse rules list --json`) and every account the backtests flagged
(backtest/<rule>.csv). Shared by the traces' `breakdown.py`: the product's output
formats are plumbing, not part of any trace's independent model."""

import csv
import datetime as dt
import json
import os


def hours(t):
    """An RFC 3339 time as hours since the epoch."""
    return dt.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() / 3600


def rule_actions(run_dir, missing="unknown"):
    """Each rule's action ({} when the run left no rules.json)."""
    path = os.path.join(run_dir, "rules.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        rules = json.load(f)
    if isinstance(rules, dict):
        rules = rules.get("rules", [])
    return {r.get("id"): r.get("action", missing) for r in rules if isinstance(r, dict)}


def flagged(run_dir):
    """email -> (first_seen hours, rule, first_seen text, explanation, {every rule that
    flagged it}): the earliest finding over the rules, and all of them."""
    out = {}
    bdir = os.path.join(run_dir, "backtest")
    for name in sorted(os.listdir(bdir)):
        if not name.endswith(".csv"):
            continue
        rule = name[:-4]
        with open(os.path.join(bdir, name), newline="") as f:
            for r in csv.DictReader(f):
                e = r["email"].lower()
                h = hours(r["first_seen"]) if r.get("first_seen") else float("inf")
                prev = out.get(e)
                rules = (prev[4] if prev else set()) | {rule}
                if prev is None or h < prev[0]:
                    out[e] = (h, rule, r.get("first_seen", ""), r.get("explanation", ""), rules)
                else:
                    out[e] = prev[:4] + (rules,)
    return out
