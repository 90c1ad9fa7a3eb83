#!/usr/bin/env python3
"""Every success in an attack's window, by what the account's history knew of it.

    python3 eval/lib/window_novelty.py RUN_DIR BACKTEST_RUN_DIR [RUN_DIR BACKTEST_RUN_DIR ...]

RUN_DIR is one kept run of a trace's `run.sh ... --keep` (its `truth.json` and
`events.jsonl`); BACKTEST_RUN_DIR the same run backtested (`eval/lib/rebacktest.sh`'s
OUTDIR/<run>, or RUN_DIR itself). Replays the events in time order, keeping per account the
user agents, ASNs, /24s (IPv6: /64s) and countries it had succeeded with, and sorts every
success inside the attack's window (truth's `window_start` and `window_minutes`) by:

- the attacker's (the first success of a taken-over account from an address it had not
  succeeded from, up to three days after the window) or the owner's;
- whether the account had succeeded before (`hist`) or not (`nohist`);
- which of device (`ua`), ASN, network (`net`) and country (`ctry`) it knew (`-`: new);
- whether the success's address tried any other account within six hours (`others`) or
  nothing else (`alone`).

Prints, per run, the counts of attackers' successes missed and found (by the backtest) and
of owners' successes (and how many of those belong to a flagged account) for each kind.
Exact counts over the events, not the detector's fingerprints or decayed counters
(crates/detect/README.md, "Twenty-first pass": device, network, ASN and country all new to
an account with history was the attacker's 29 times and a person's 6 in the fifth trace's
residential window).
"""

import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backtest_results import flagged as flagged_accounts, hours  # noqa: E402
from misses import attacker_success, events_by_address_and_account  # noqa: E402

SIX_HOURS = 6.0
AFTER = 72.0


def network(ip):
    return ":".join(ip.split(":")[:4]) if ":" in ip else ip.rsplit(".", 1)[0]


def split(run, backtest_run):
    with open(os.path.join(run, "truth.json")) as f:
        truth = json.load(f)
    attack = truth.get("attack")
    if not attack:
        return None
    taken = set(truth["taken_over"])
    start = hours(attack["window_start"])
    end = start + attack["window_minutes"] / 60
    flagged = flagged_accounts(backtest_run)
    events, by_ip, by_account = events_by_address_and_account(run, in_time_order=True)
    wins = {id(w) for w in (attacker_success(by_account[a], start, end + AFTER) for a in taken) if w}
    seen = collections.defaultdict(lambda: (set(), set(), set(), set(), [0]))
    counts = collections.defaultdict(lambda: [0, 0, 0, 0])
    for e in events:
        if e["outcome"] != "success":
            continue
        account = e["account"]
        uas, asns, nets, countries, n = seen[account]
        if start <= e["t"] <= end:
            near = any(abs(x["t"] - e["t"]) < SIX_HOURS and x["account"] != account for x in by_ip[e["ip"]])
            kind = (
                "hist" if n[0] else "nohist",
                "ua" if e["user_agent"] in uas else "-",
                "asn" if e["asn"] in asns else "-",
                "net" if network(e["ip"]) in nets else "-",
                "ctry" if e["country"] in countries else "-",
                "others" if near else "alone",
            )
            col = (0 if id(e) in wins else 2) + (1 if account.lower() in flagged else 0)
            counts[kind][col] += 1
        uas.add(e["user_agent"])
        asns.add(e["asn"])
        nets.add(network(e["ip"]))
        countries.add(e["country"])
        n[0] += 1
    return truth.get("shape", os.path.basename(run)), end - start, counts


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    for run, backtest_run in zip(args[::2], args[1::2]):
        for path in (os.path.join(run, "events.jsonl"), os.path.join(backtest_run, "backtest")):
            if not os.path.exists(path):
                sys.exit(f"window_novelty: no {path}")
        result = split(run, backtest_run)
        if result is None:
            print(f"{os.path.basename(run)}: no attack")
            continue
        shape, span, counts = result
        print(f"{os.path.basename(run)} ({shape}, window {span:.1f} h)")
        print("| history | device | ASN | network | country | exit | attacker missed | found | owner | of a flagged account |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for kind, (missed, found, owner, owner_flagged) in sorted(counts.items(), key=lambda kv: -(kv[1][0] + kv[1][1])):
            if missed + found or owner_flagged or owner >= 200:
                print("| " + " | ".join(kind) + f" | {missed} | {found} | {owner} | {owner_flagged} |")


if __name__ == "__main__":
    main()
