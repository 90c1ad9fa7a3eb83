#!/usr/bin/env python3
"""Every innocent the shipped rules flagged on a fifth-trace run, broken down by the rule
that flagged it first, when (inside the onboarding burst, the IdP outage, the site's
outage, the monitor's rotation, the attack's window, or ordinary time) and the person's
class.

    breakdown.py RUN_DIR [RUN_DIR ...]          # markdown tables (run.sh appends them)
    breakdown.py --list RUN_DIR [RUN_DIR ...]   # one line per flagged innocent

A RUN_DIR holds truth.json (gen.py) and backtest/<rule>.csv (`gatehouse rules backtest
--csv`), read through eval/lib/backtest_results.py."""

import argparse
import collections
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from backtest_results import flagged, hours, rule_actions  # noqa: E402

# The class a flagged innocent is reported under: the first of its classes in this order
# (what happened to them before how they connect).
PRIORITY = ["tenant_onboarding", "idp_fallback", "outage_retry", "monitor_rotation", "service_account",
            "stale_password_manager", "traveller", "forgot_password", "attacked_not_taken", "typo",
            "common_password", "new_account", "carrier_cgnat", "swg_egress", "vpn_concentrator", "office_nat",
            "home_cgnat", "other_carrier", "ipv6_home", "sso_user", "dormant", "ordinary"]


def periods(truth):
    """(name, start hour, end hour) of every period a finding can fall in."""
    out = []
    o = truth["outage"]
    out.append(("outage (+3 h)", hours(o["start"]), hours(o["end"]) + 3))
    ob = truth["onboarding"]
    out.append(("onboarding (36 h from the invite)", hours(ob["invite"]), hours(ob["invite"]) + 36))
    i = truth["idp_outage"]
    out.append(("IdP outage (+3 h)", hours(i["start"]), hours(i["end"]) + 3))
    m = truth.get("monitor_rotation")
    if m:
        out.append(("monitor rotation (+1 h)", hours(m["start"]), hours(m["end"]) + 1))
    a = truth.get("attack") or {}
    if a.get("window_start"):
        s = hours(a["window_start"])
        out.append(("attack window (+24 h)", s, s + a.get("window_minutes", 0) / 60 + 24))
    return out


def period_of(h, spans):
    names = [n for n, s, e in spans if s <= h < e]
    return " + ".join(names) if names else "ordinary time"


def main_class(classes):
    for c in PRIORITY:
        if c in classes:
            return c
    return sorted(classes)[0] if classes else "ordinary"


def innocents_flagged(run_dir):
    """[(email, main class, all classes, rule, first_seen, period, explanation, all rules)]"""
    with open(os.path.join(run_dir, "truth.json")) as f:
        truth = json.load(f)
    taken = {e.lower() for e in truth["taken_over"]}
    classes = collections.defaultdict(set)
    for c, emails in truth["innocents_by_class"].items():
        for e in emails:
            classes[e.lower()].add(c)
    spans = periods(truth)
    out = []
    for email, (h, rule, seen, expl, rules) in sorted(flagged(run_dir).items()):
        if email in taken:
            continue
        cls = classes.get(email, {"unknown"})
        out.append((email, main_class(cls), sorted(cls), rule, seen, period_of(h, spans), expl, sorted(rules)))
    return truth, out


def tables(run_dirs):
    lines = ["| run | rule (action) | when | class | innocents flagged |", "|---|---|---|---|---|"]
    for d in run_dirs:
        truth, rows = innocents_flagged(d)
        actions = rule_actions(d)
        name = "%s s%s k%s" % (truth["shape"], truth["seed"], truth["accounts"])
        counts = collections.Counter((r[3], r[5], r[1]) for r in rows)
        if not counts:
            lines.append("| %s | — | — | — | 0 |" % name)
        for (rule, when, cls), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append("| %s | %s (%s) | %s | %s | %d |" % (name, rule, actions.get(rule, "?"), when, cls, n))
    return "\n".join(lines)


def listing(run_dirs):
    lines = []
    for d in run_dirs:
        truth, rows = innocents_flagged(d)
        lines.append("## %s (seed %s, %s accounts): %d innocents flagged" % (truth["shape"], truth["seed"], truth["accounts"], len(rows)))
        for email, cls, all_cls, rule, seen, when, expl, rules in rows:
            lines.append("- %s [%s; %s] %s at %s (%s; rules %s): %s" % (
                email, cls, ",".join(all_cls), rule, seen, when, ",".join(rules), expl))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--list", action="store_true", help="one line per flagged innocent")
    args = ap.parse_args(argv)
    print(listing(args.runs) if args.list else "Innocents flagged, by the rule that flagged them first, when, and class:\n\n" + tables(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
