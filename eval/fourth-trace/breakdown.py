#!/usr/bin/env python3
"""Which rule flagged each innocent of fourth-trace runs, and when.

    breakdown.py RUN_DIR [RUN_DIR ...] [--list]

Reads what run.sh leaves in a run directory: truth.json, rules.json (`gatehouse rules
list --json`, for each rule's action) and backtest/<rule>.csv (every flagged account, its
first_seen and explanation). For each run: the innocents flagged, those flagged by a
`force_reset` rule, those of them behind a shared address or travelling (issue 15 wants
none), those who pay through the payment-initiation service, whether an explanation names
the service's network, and the period in which each one's first flagged sign-in fell:

- attack: the attack's window and the 6 hours after it;
- outage: the outage and the 3 hours after it;
- forced change: the 36 hours from the bank's mandatory password change;
- shopping: Black Friday and Cyber Monday (local days), the payment service's busiest;
- elsewhere.

When periods overlap, the shortest one containing the time is named (a days-long attack
does not swallow the outage). Then the rule that flagged each first. A quiet run's count of
force-reset innocents is the issue's "no force-reset finding on a day without an attack".
`--list` prints every flagged innocent: classes, rule, time, period and explanation.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from backtest_results import flagged, hours, rule_actions  # noqa: E402

PERIODS = ["attack", "outage", "forced_change", "shopping", "elsewhere"]
SHARED_OR_TRAVELLING = {"carrier_cgnat", "other_carrier", "dslite_cgnat", "office_nat", "campus_nat", "traveller"}


def periods(truth):
    """[(name, start hours, end hours)] of the run."""
    out = []
    a = truth.get("attack")
    if a and a.get("window_start"):
        out.append(("attack", hours(a["window_start"]), hours(a["window_end"]) + 6))
    o = truth.get("outage")
    if o:
        out.append(("outage", hours(o["start"]), hours(o["end"]) + 3))
    fc = truth.get("forced_change")
    if fc:
        out.append(("forced_change", hours(fc["start"]), hours(fc["rush_end"])))
    for d in truth.get("black_friday", []):
        out.append(("shopping", hours(d), hours(d) + 24))
    return out


def period_of(h, spans):
    inside = [(e - s, name) for name, s, e in spans if s <= h < e]
    return min(inside)[1] if inside else "elsewhere"


def names_pis(explanation, truth):
    pis = truth.get("pis") or {}
    nets = {ip.rsplit(".", 1)[0] + "." for ip in pis.get("ips", [])}
    return any(ip in explanation for ip in pis.get("ips", [])) or any(n in explanation for n in nets)


def breakdown(run_dir):
    with open(os.path.join(run_dir, "truth.json")) as f:
        truth = json.load(f)
    acts = rule_actions(run_dir, missing="")
    taken = {e.lower() for e in truth["taken_over"]}
    classes = {}
    for c, emails in truth["innocents_by_class"].items():
        for e in emails:
            classes.setdefault(e.lower(), set()).add(c)
    spans = periods(truth)
    rows = []
    for e, (h, rule, first_seen, expl, rules) in sorted(flagged(run_dir).items()):
        if e in taken:
            continue
        force = any(acts.get(r) == "force_reset" for r in rules) if acts else True
        rows.append({"email": e, "classes": sorted(classes.get(e, set())), "rule": rule, "rules": sorted(rules),
                     "first_seen": first_seen, "period": period_of(h, spans), "force_reset": force,
                     "names_pis": names_pis(expl, truth), "explanation": expl})
    return truth, rows


def table(results):
    lines = ["| shape | seed | accounts | innocents flagged | by a force_reset rule | of those behind a shared address or travelling | payment-service users | explanation names the payment service | in the attack (+6 h) | in the outage (+3 h) | in the forced change (36 h) | on Black Friday / Cyber Monday | elsewhere | first flagged by |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for truth, rows in results:
        force = [r for r in rows if r["force_reset"]]
        by_period = {p: sum(1 for r in rows if r["period"] == p) for p in PERIODS}
        by_rule = {}
        for r in rows:
            by_rule[r["rule"]] = by_rule.get(r["rule"], 0) + 1
        lines.append("| %s | %s | %s | %d | %d | %d | %d | %d | %s | %s |" % (
            truth["shape"], truth["seed"], truth["accounts"], len(rows), len(force),
            sum(1 for r in force if SHARED_OR_TRAVELLING & set(r["classes"])),
            sum(1 for r in rows if "pis_user" in r["classes"]), sum(1 for r in rows if r["names_pis"]),
            " | ".join(str(by_period[p]) for p in PERIODS),
            ", ".join("%s %d" % kv for kv in sorted(by_rule.items(), key=lambda kv: -kv[1])) or "—"))
    lines.append("")
    for truth, rows in results:
        if truth["shape"] == "quiet":
            n = sum(1 for r in rows if r["force_reset"])
            lines.append("- quiet day, seed %s, %s accounts: %s" % (
                truth["seed"], truth["accounts"],
                "no force-reset finding" if n == 0 else "%d innocent accounts with a force-reset finding" % n))
    return "\n".join(lines)


def listing(results):
    lines = []
    for truth, rows in results:
        lines.append("\n%s seed %s, %s accounts:" % (truth["shape"], truth["seed"], truth["accounts"]))
        for r in rows:
            lines.append("  %s [%s] %s %s (%s)%s: %s" % (
                r["email"], ",".join(r["classes"]), r["rule"], r["first_seen"], r["period"],
                " force_reset" if r["force_reset"] else "", r["explanation"][:300]))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--list", action="store_true", help="also print every flagged innocent")
    args = ap.parse_args(argv)
    try:
        results = [breakdown(d) for d in args.runs]
    except (OSError, KeyError, ValueError) as e:
        print("breakdown.py: %s" % e, file=sys.stderr)
        return 1
    print(table(results))
    if args.list:
        print(listing(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
