#!/usr/bin/env python3
"""What the takeovers a backtest found and missed looked like at the attacker's success.

    python3 eval/lib/misses.py STORES_DIR BACKTEST_DIR [STORES_DIR BACKTEST_DIR ...]

STORES_DIR is a trace's `run.sh --out DIR --keep` (one kept run per shape and seed, with
`truth.json` and `events.jsonl`); BACKTEST_DIR the same runs backtested
(`eval/lib/rebacktest.sh`'s OUTDIR, or STORES_DIR itself). For every account taken over
it takes the attacker's first success inside the attack (from the window's start to three
days after its end, from an address the account had not signed in from before) and
sorts it by:

- whether the *exit* (the success's address) tried any other account within six hours
  either side (`others`), and if so whether one of those came before the success
  (`before`) or only after (`after`) — or did nothing else (`alone`): without its own
  attempts an address can only be judged by its /24, ASN or user agent;
- whether the account had a successful sign-in before the attack (`hist`) or none
  (`nohist`: the takeover is its first sign-in on record).

Prints counts per (shape, found or missed, exit, history). Exact counts over the events,
not the detectors' decayed ones. (crates/detect/README.md, "Sixteenth pass": 60 % of the
misses on residential and low-and-slow were an exit's only attempt.)
"""

import collections
import glob
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backtest_results import flagged as flagged_accounts, hours  # noqa: E402

SIX_HOURS = 6.0


def attacker_success(events, start, end):
    """The attacker's first success among one taken-over account's events (in hours, in
    order): the first inside [start, end] from an address the account had not succeeded
    from before `start`; None if there is none."""
    known = {e["ip"] for e in events if e["t"] < start and e["outcome"] == "success"}
    for e in events:
        if start <= e["t"] <= end and e["outcome"] == "success" and e["ip"] not in known:
            return e
    return None


def events_by_address_and_account(run, in_time_order=False):
    """A kept run's events (each with its time in hours as `t`), in file order (or,
    `in_time_order`, sorted by time), and grouped by address and by account in that order."""
    events = []
    with open(os.path.join(run, "events.jsonl")) as f:
        for line in f:
            e = json.loads(line)
            e["t"] = hours(e["time"])
            events.append(e)
    if in_time_order:
        events.sort(key=lambda e: e["t"])
    by_ip = collections.defaultdict(list)
    by_account = collections.defaultdict(list)
    for e in events:
        by_ip[e["ip"]].append(e)
        by_account[e["account"]].append(e)
    return events, by_ip, by_account


def print_counts(columns, counts):
    """`counts` (a Counter keyed by tuples of strings) as a Markdown table: the key's
    `columns`, then the count's."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for key in sorted(counts):
        print("| " + " | ".join(key) + f" | {counts[key]} |")


def classify(run, backtest_run, counts):
    with open(os.path.join(run, "truth.json")) as f:
        truth = json.load(f)
    taken = set(truth["taken_over"])
    attack = truth.get("attack")
    if not taken or not attack:
        return
    start = hours(attack["window_start"])
    end = start + attack["window_minutes"] / 60 + 72
    flagged = flagged_accounts(backtest_run)
    _, by_ip, by_account = events_by_address_and_account(run)
    shape = truth.get("shape", os.path.basename(run))
    for account in taken:
        events = by_account[account]
        history = [e for e in events if e["t"] < start and e["outcome"] == "success"]
        win = attacker_success(events, start, end)
        found = "found" if account.lower() in flagged else "missed"
        if win is None:
            counts[(shape, found, "no attacker success seen", "")] += 1
            continue
        near = [
            e
            for e in by_ip[win["ip"]]
            if abs(e["t"] - win["t"]) < SIX_HOURS and e["account"] != account
        ]
        if not near:
            exit_ = "alone"
        elif any(e["t"] < win["t"] for e in near):
            exit_ = "others before"
        else:
            exit_ = "others after"
        counts[(shape, found, exit_, "hist" if history else "nohist")] += 1


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    counts = collections.Counter()
    for stores, backtests in zip(args[::2], args[1::2]):
        runs = sorted(d for d in glob.glob(os.path.join(stores, "*")) if os.path.isfile(os.path.join(d, "events.jsonl")))
        if not runs:
            sys.exit(f"misses: no kept run (with events.jsonl) in {stores}")
        for run in runs:
            backtest_run = os.path.join(backtests, os.path.basename(run))
            if not os.path.isdir(os.path.join(backtest_run, "backtest")):
                sys.exit(f"misses: no backtest of {run} in {backtests}")
            classify(run, backtest_run, counts)
    print_counts(("shape", "found", "the exit", "account", "takeovers"), counts)


if __name__ == "__main__":
    main()
