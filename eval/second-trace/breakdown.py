#!/usr/bin/env python3
"""When were the innocents flagged? The blind trace's scorer counts innocents by class;
this splits them by the burst their first flagged sign-in fell in, so a reader can tell
"the marketing e-mail was taken for an attack" from "the attack's neighbours were
caught with it".

    breakdown.py RUN_DIR [RUN_DIR ...]

Windows (from truth.json): the marketing e-mail (its start to 6 h after), the outage (its
start to 3 h after its end), the attack (its window and 6 h after). A sign-in in none of
them is "elsewhere".
"""

import csv
import datetime as dt
import json
import os
import sys


def _t(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def windows(truth):
    out = [("promo", _t(truth["promo"]["start"]), _t(truth["promo"]["start"]) + 6 * 3600),
           ("outage", _t(truth["outage"]["start"]), _t(truth["outage"]["end"]) + 3 * 3600)]
    a = truth.get("attack") or {}
    if a.get("window_start"):
        s = _t(a["window_start"])
        out.append(("attack", s, s + a["window_minutes"] * 60 + 6 * 3600))
    return out


def first_flagged(run):
    """account -> earliest first_seen over every rule's CSV."""
    seen = {}
    bdir = os.path.join(run, "backtest")
    for name in sorted(os.listdir(bdir)):
        if name.endswith(".csv"):
            with open(os.path.join(bdir, name), newline="") as f:
                for r in csv.DictReader(f):
                    e, t = r["email"].lower(), _t(r["first_seen"])
                    seen[e] = min(seen.get(e, t), t)
    return seen


def breakdown(run):
    with open(os.path.join(run, "truth.json")) as f:
        truth = json.load(f)
    taken = set(truth["taken_over"])
    counts = {"promo": 0, "outage": 0, "attack": 0, "elsewhere": 0}
    for e, t in first_flagged(run).items():
        if e in taken:
            continue
        where = next((name for name, lo, hi in windows(truth) if lo <= t < hi), "elsewhere")
        counts[where] += 1
    return truth, counts


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    print("| shape | seed | accounts | innocents flagged | in the marketing e-mail's 6 h | in the outage (+3 h) | in the attack (+6 h) | elsewhere |")
    print("|---|---|---|---|---|---|---|---|")
    for run in argv:
        truth, c = breakdown(run)
        print("| %s | %s | %d | %d | %d | %d | %d | %d |" % (truth["shape"], truth["seed"], truth["accounts"], sum(c.values()),
                                                           c["promo"], c["outage"], c["attack"], c["elsewhere"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
