#!/usr/bin/env python3
"""What a success's address did with the same browser around it: a list's next line or a typo.

    python3 eval/lib/exit_lines.py RUN_DIR BACKTEST_RUN_DIR [RUN_DIR BACKTEST_RUN_DIR ...]

RUN_DIR is one kept run of a trace's `run.sh ... --keep` (its `truth.json` and
`events.jsonl`); BACKTEST_RUN_DIR the same run backtested (`eval/lib/rebacktest.sh`'s
OUTDIR/<run>, or RUN_DIR itself). For every success from 2026-11-30 on (the backtests'
start) that is either the attacker's (the first success of a taken-over account from an
address it had not succeeded from, up to three days after the attack's window) or an
owner's (any success of an account not taken over), it looks at the same address's
attempts on *other* accounts within six hours either side, and counts the success when,
from the success's own user agent, that address either failed with a wrong password on
another account (`wrong`) or tried a name the site does not have only after the success
and not before it (`unkafter`). Prints counts by shape, whose (`att`, `own`), whether the
account had succeeded before (`hist`, `nohist`), which of the two, whether any other
account succeeded from the address then (`succ0`: none), and whether the backtest flagged
the account (`F`). Exact counts over the events, not the detector's decayed ones
(crates/detect/README.md, "Twenty-second pass": without history, `unkafter succ0` was an
attacker's 8 times and a person's never on seed 41; a person's mistyped address comes
before their success).
"""

import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backtest_results import flagged as flagged_accounts, hours  # noqa: E402
from misses import attacker_success, events_by_address_and_account, print_counts  # noqa: E402

SIX_HOURS = 6.0
SINCE = hours("2026-11-30T00:00:00Z")


def count(run, backtest_run, counts):
    with open(os.path.join(run, "truth.json")) as f:
        truth = json.load(f)
    taken = set(truth["taken_over"])
    attack = truth.get("attack")
    flagged = flagged_accounts(backtest_run)
    _, by_ip, by_account = events_by_address_and_account(run)
    attackers = {}
    if attack:
        start = hours(attack["window_start"])
        end = start + attack["window_minutes"] / 60 + 72
        for account in taken:
            win = attacker_success(by_account[account], start, end)
            if win is not None:
                attackers[account] = win
    shape = truth.get("shape", os.path.basename(run))
    for account, events in by_account.items():
        earlier = 0
        for e in events:
            if e["outcome"] != "success":
                continue
            whose = "att" if attackers.get(account) is e else ("own" if account not in taken else None)
            if whose and e["t"] >= SINCE:
                near = [
                    x
                    for x in by_ip[e["ip"]]
                    if abs(x["t"] - e["t"]) < SIX_HOURS and x["account"] != account
                ]
                same = [x for x in near if x["user_agent"] == e["user_agent"]]
                wrong = any(x["outcome"] == "wrong_password" for x in same)
                names_after = any(x["outcome"] == "unknown_account" and x["t"] > e["t"] for x in same)
                names_before = any(x["outcome"] == "unknown_account" and x["t"] < e["t"] for x in same)
                if wrong or (names_after and not names_before):
                    others_succeeded = any(x["outcome"] == "success" for x in near)
                    counts[
                        (
                            shape,
                            whose,
                            "hist" if earlier else "nohist",
                            "wrong" if wrong else "unkafter",
                            "succ+" if others_succeeded else "succ0",
                            "F" if account.lower() in flagged else "-",
                        )
                    ] += 1
            earlier += 1


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        sys.exit(__doc__)
    counts = collections.Counter()
    for run, backtest_run in zip(args[::2], args[1::2]):
        if not os.path.isfile(os.path.join(run, "events.jsonl")):
            sys.exit(f"exit_lines: no kept run (with events.jsonl) at {run}")
        if not os.path.isdir(os.path.join(backtest_run, "backtest")):
            sys.exit(f"exit_lines: no backtest of {run} at {backtest_run}")
        count(run, backtest_run, counts)
    print_counts(
        ("shape", "whose", "account", "same browser", "others succeeded", "flagged", "successes"), counts
    )


if __name__ == "__main__":
    main()
