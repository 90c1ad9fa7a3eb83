#!/usr/bin/env python3
"""Score the shipped rules' backtests against a blind trace's ground truth.

    score.py RUN_DIR [RUN_DIR ...] [--json]

Each RUN_DIR holds truth.json (from gen.py) and backtest/<rule>.csv, the file `gatehouse
rules backtest <rule> --csv` wrote (every flagged account; header
account_id,email,findings,score,first_seen,explanation). An account counts as flagged
when any rule flagged it: what an operator enforcing every shipped rule would reset.
Prints one markdown row per run, then one per shape summed over its seeds.
"""

import argparse
import csv
import json
import os
import sys


class ScoreError(Exception):
    pass


def flagged_by_rule(run_dir):
    bdir = os.path.join(run_dir, "backtest")
    if not os.path.isdir(bdir):
        raise ScoreError("%s: no backtest/ directory (run the backtests first)" % run_dir)
    out = {}
    for name in sorted(os.listdir(bdir)):
        if not name.endswith(".csv"):
            continue
        with open(os.path.join(bdir, name), newline="") as f:
            rows = list(csv.DictReader(f))
        if rows and "email" not in rows[0]:
            raise ScoreError("%s/%s: no 'email' column (header %s)" % (bdir, name, list(rows[0])))
        out[name[:-4]] = {r["email"].lower() for r in rows}
    if not out:
        raise ScoreError("%s: backtest/ holds no <rule>.csv" % run_dir)
    return out


def attack_windows(run_dir):
    """The hours the backtests called attack windows (the same for every rule: they are
    the period's, judged on attempts at unknown addresses), as 'HH:MM' starts."""
    bdir = os.path.join(run_dir, "backtest")
    seen = set()
    for name in sorted(os.listdir(bdir)):
        if name.endswith(".json"):
            with open(os.path.join(bdir, name)) as f:
                for w in json.load(f).get("attack_windows") or []:
                    seen.add(w.get("start") if isinstance(w, dict) else str(w))
    return sorted(s for s in seen if s)


def _hours(t):
    import datetime as dt

    return dt.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() / 3600


def _first_seen(run_dir):
    """Each flagged account's earliest first_seen over the rules."""
    out = {}
    bdir = os.path.join(run_dir, "backtest")
    for name in sorted(os.listdir(bdir)):
        if name.endswith(".csv"):
            with open(os.path.join(bdir, name), newline="") as f:
                for r in csv.DictReader(f):
                    if r.get("first_seen"):
                        e, h = r["email"].lower(), _hours(r["first_seen"])
                        out[e] = min(out.get(e, h), h)
    return out


def score_run(run_dir):
    path = os.path.join(run_dir, "truth.json")
    try:
        with open(path) as f:
            truth = json.load(f)
    except OSError as e:
        raise ScoreError("%s: %s" % (path, e.strerror))
    rules = flagged_by_rule(run_dir)
    flagged = set().union(*rules.values())
    taken = {e.lower() for e in truth["taken_over"]}
    tp = len(flagged & taken)
    # A sign-in can only be judged by what came before it. Count the innocents flagged
    # for a sign-in made in the 12 hours before a burst (the attack or the outage) began,
    # outside every burst and the day after it: nothing unusual had happened yet.
    bursts = []
    if truth.get("outage"):
        bursts.append((_hours(truth["outage"]["start"]), _hours(truth["outage"]["end"])))
    a = truth.get("attack") or {}
    if a.get("window_start"):
        bursts.append((_hours(a["window_start"]), _hours(a["window_start"]) + a.get("window_minutes", 0) / 60))
    seen = _first_seen(run_dir)

    def ahead(h):
        return any(s - 12 <= h < s for s, _ in bursts) and not any(s <= h < e + 24 for s, e in bursts)

    before = sum(1 for e in flagged - taken if e in seen and ahead(seen[e]))
    by_class = {}
    for cls, emails in truth["innocents_by_class"].items():
        n = len(flagged & {e.lower() for e in emails})
        by_class[cls] = {"flagged": n, "of": len(emails)}
    return {
        "shape": truth["shape"],
        "seed": truth["seed"],
        "accounts": truth["accounts"],
        "taken_over": len(taken),
        "flagged": len(flagged),
        "true_positives": tp,
        "false_positives": len(flagged - taken),
        "per_rule": {r: {"flagged": len(s), "taken_over": len(s & taken)} for r, s in rules.items()},
        "innocents_flagged_by_class": by_class,
        "innocents_flagged_ahead_of_a_burst": before,
        "attack_windows": attack_windows(run_dir),
        "truth_window": (truth.get("attack") or {}).get("window_start"),
        "outage": truth.get("outage", {}).get("start"),
    }


def _ratio(a, b):
    return "—" if b == 0 else "%.2f" % (a / b)


def _classes(by_class):
    parts = ["%s %d/%d" % (c, v["flagged"], v["of"]) for c, v in sorted(by_class.items()) if v["flagged"]]
    return ", ".join(parts) if parts else "none"


def _rules(per_rule):
    return ", ".join("%s %d (%d)" % (r, v["flagged"], v["taken_over"]) for r, v in sorted(per_rule.items()) if v["flagged"]) or "none"


def markdown(results):
    lines = [
        "| shape | seed | accounts | taken over | flagged | precision | recall | innocents flagged, by class (flagged/in class) | flagged per rule (of them taken over) | of them in the 12 h before a burst | attack windows reported |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append("| %s | %s | %d | %d | %d | %s | %s | %s | %s | %d | %d |" % (
            r["shape"], r["seed"], r["accounts"], r["taken_over"], r["flagged"],
            _ratio(r["true_positives"], r["flagged"]), _ratio(r["true_positives"], r["taken_over"]),
            _classes(r["innocents_flagged_by_class"]), _rules(r["per_rule"]),
            r["innocents_flagged_ahead_of_a_burst"], len(r["attack_windows"])))
    shapes = {}
    for r in results:
        shapes.setdefault((r["shape"], r["accounts"]), []).append(r)
    lines += ["", "| shape | accounts | seeds | taken over | flagged | precision | recall | innocents flagged |", "|---|---|---|---|---|---|---|---|"]
    for (shape, k), rs in shapes.items():
        taken = sum(r["taken_over"] for r in rs)
        fl = sum(r["flagged"] for r in rs)
        tp = sum(r["true_positives"] for r in rs)
        lines.append("| %s | %d | %s | %d | %d | %s | %s | %d |" % (
            shape, k, ",".join(str(r["seed"]) for r in rs), taken, fl, _ratio(tp, fl), _ratio(tp, taken), fl - tp))
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run directories (truth.json + backtest/*.csv)")
    p.add_argument("--json", action="store_true", help="print the scores as JSON instead")
    args = p.parse_args(argv)
    try:
        results = [score_run(d) for d in args.runs]
    except ScoreError as e:
        print("score.py: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(results, indent=1) if args.json else markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
