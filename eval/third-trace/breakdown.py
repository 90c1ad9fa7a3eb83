#!/usr/bin/env python3
"""Where and by which rule the innocents of third-trace runs were flagged.

    breakdown.py RUN_DIR [RUN_DIR ...] [--list]

For each run (truth.json, rules.json and backtest/<rule>.csv as run.sh leaves them):
how many innocent accounts were flagged, how many of them by a rule whose action is
`force_reset` (what enforcing the shipped rules would reset), how many of those are
behind a NAT or CGNAT or travelling (issue 15 wants none), and in which period each
one's first flagged sign-in fell: the attack (its window and the 6 hours after), the
outage (and the 3 hours after), the season patch's rush (the 36 hours after it), or
elsewhere (the shortest of them when they overlap); then which rule flagged them
first. A quiet run's force-reset count is the issue's "no force-reset finding on a day
without an attack". `--list` also prints every flagged innocent: classes, rule, time,
period and the rule's explanation.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from backtest_results import flagged, hours, rule_actions  # noqa: E402

PERIODS = ["attack", "outage", "patch", "elsewhere"]
# Issue 15 asks for none of these to be force-reset: people behind a shared address
# (carrier or ISP CGNAT, office, campus, café) and people travelling.
GOAL_CLASSES = {"carrier_cgnat", "home_cgnat", "office_nat", "campus_nat", "internet_cafe", "traveller"}


def period(truth, h):
    """The shortest period holding hour h: a day-long attack (low-and-slow, spraying) must
    not swallow the outage or the patch inside it, and an attack inside the patch's rush
    (patch_cover) is named for itself."""
    spans = []
    a = truth.get("attack") or {}
    if a.get("window_start"):
        spans.append(("attack", hours(a["window_start"]), hours(a["window_end"]) + 6))
    o = truth.get("outage") or {}
    if o.get("start"):
        spans.append(("outage", hours(o["start"]), hours(o["end"]) + 3))
    p = truth.get("patch") or {}
    if p.get("start"):
        spans.append(("patch", hours(p["start"]), hours(p["end"])))
    inside = [(e - s, name) for name, s, e in spans if s <= h < e]
    return min(inside)[1] if inside else "elsewhere"


def analyse(run_dir):
    with open(os.path.join(run_dir, "truth.json")) as f:
        truth = json.load(f)
    actions = rule_actions(run_dir)
    taken = {e.lower() for e in truth["taken_over"]}
    classes = {}
    for cls, emails in truth["innocents_by_class"].items():
        for e in emails:
            classes.setdefault(e.lower(), []).append(cls)
    rows = []
    for e, (h, rule, seen, why, rules) in sorted(flagged(run_dir).items()):
        if e in taken:
            continue
        force = any(actions.get(r) == "force_reset" for r in rules)
        rows.append({"email": e, "rule": rule, "rules": sorted(rules), "first_seen": seen, "force_reset": force,
                     "period": period(truth, h), "classes": sorted(classes.get(e, [])), "explanation": why})
    return truth, rows


def table(runs):
    lines = [
        "| shape | seed | accounts | innocents flagged | of them by a force_reset rule | of those behind a NAT/CGNAT or travelling | in the attack (+6 h) | in the outage (+3 h) | in the patch rush (36 h) | elsewhere | first flagged by |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    quiet = []
    for d in runs:
        truth, rows = analyse(d)
        per = {p: sum(1 for r in rows if r["period"] == p) for p in PERIODS}
        by_rule = {}
        for r in rows:
            by_rule[r["rule"]] = by_rule.get(r["rule"], 0) + 1
        force = sum(1 for r in rows if r["force_reset"])
        goal = sum(1 for r in rows if r["force_reset"] and GOAL_CLASSES & set(r["classes"]))
        lines.append("| %s | %s | %d | %d | %d | %d | %d | %d | %d | %d | %s |" % (
            truth["shape"], truth["seed"], truth["accounts"], len(rows), force, goal, per["attack"], per["outage"],
            per["patch"], per["elsewhere"], ", ".join("%s %d" % kv for kv in sorted(by_rule.items())) or "—"))
        if truth["shape"] == "quiet":
            quiet.append("quiet day, seed %s, %d accounts: %s" % (
                truth["seed"], truth["accounts"],
                "no force-reset finding" if force == 0 else "%d innocent accounts with a force-reset finding" % force))
    return "\n".join(lines + [""] + ["- " + q for q in quiet])


def listing(runs):
    out = []
    for d in runs:
        truth, rows = analyse(d)
        out.append("\n%s seed %s (%d accounts): %d innocents flagged" % (truth["shape"], truth["seed"], truth["accounts"], len(rows)))
        for r in rows:
            out.append("  %s  %s  %-9s %-20s %s | %s" % (r["first_seen"], r["email"], r["period"], r["rule"],
                                                        ",".join(r["classes"]), r["explanation"][:300]))
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--list", action="store_true", help="also list every flagged innocent")
    args = ap.parse_args(argv)
    print(table(args.runs))
    if args.list:
        print(listing(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
