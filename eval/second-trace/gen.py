#!/usr/bin/env python3
"""A second independent login trace for judging Gatehouse's compromise checks.

    gen.py --seed S --accounts N --shape SHAPE --out DIR --fingerprint-key HEX [--end T]

Writes DIR/accounts.jsonl and DIR/events.jsonl in the formats README.md documents
("Importing accounts", "Login events"), every event with the `password_fingerprint` an
app following README.md sends, and DIR/truth.json: the accounts an attacker signed in
to (`taken_over`), the innocents by class, and when the outage, the marketing e-mail
and the attack were. The model is in README.md next to this file. The trace ends at
--end (default: now, to the minute) and spans TRACE_DAYS days before it.
"""

import argparse
import datetime as dt
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import attacks  # noqa: E402
import innocents  # noqa: E402
import world  # noqa: E402

TRACE_DAYS = 14
SHAPES = attacks.SHAPES


def iso(t, ms=True):
    d = dt.datetime.fromtimestamp(t, dt.timezone.utc)
    if ms:
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_end(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def build(seed, accounts, shape, end):
    """(world, innocent events, attack events, attack, calendar, classes) for one run.
    Times are whole milliseconds, so what is written is what was generated."""
    if shape not in SHAPES:
        raise ValueError("unknown shape %r (one of %s)" % (shape, ", ".join(SHAPES)))
    end = float(int(end) - int(end) % 60)
    start = end - TRACE_DAYS * world.DAY
    w = world.World(seed, accounts, start, end)
    inn = innocents.Innocents(w)
    good = inn.build()
    classes = inn.class_members()
    att = attacks.Attack(w, inn.cal, shape)
    bad = att.run()
    return w, _ms(good), _ms(bad), att, inn.cal, classes


def _ms(events):
    return [(round(e[0] * 1000) / 1000.0,) + tuple(e[1:]) for e in events]


def merge(good, bad):
    """Every event in time order. Two events equal in every field within a millisecond
    would be stored once (README.md: the dedupe key), so such a twin moves on by 1 ms —
    it is a second attempt and must count as one."""
    out = sorted(good + bad, key=lambda e: (e[0], e[1], e[3], e[2]))
    seen = set()
    for i, e in enumerate(out):
        while e in seen:
            e = (round(e[0] * 1000 + 1) / 1000.0,) + e[1:]
        seen.add(e)
        out[i] = e
    out.sort(key=lambda e: e[0])
    return out


def truth(w, cal, att, classes, events, seed, accounts):
    taken = sorted({e[1] for e in events[1] if e[3] == "success"})
    taken_set = set(taken)
    return {
        "generator": "eval/second-trace",
        "site": "Brisa (video streaming, Mexico, US, South America)",
        "shape": att.shape,
        "seed": seed,
        "accounts": accounts,
        "trace": {"start": iso(w.start, False), "end": iso(w.end, False), "days": TRACE_DAYS},
        "taken_over": taken,
        # Innocents never include a taken-over account: its owner's own sign-ins are
        # innocent, but flagging the account is right.
        "innocents_by_class": {c: [e for e in m if e not in taken_set] for c, m in classes.items()},
        "outage": {"start": iso(cal.outage[0], False), "end": iso(cal.outage[1], False)},
        "promo": {"start": iso(cal.promo, False)},
        "attack": att.info if att.shape != "quiet" else {},
        "attack_events": len(events[1]),
        "events": len(events[0]) + len(events[1]),
    }


def write(out, w, events, key):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "accounts.jsonl"), "w") as f:
        for u in w.users:
            f.write(json.dumps({"email": u.email, "password_hash": w.password_hash(u),
                                "created_at": iso(u.created, False)}) + "\n")
    with open(os.path.join(out, "events.jsonl"), "w") as f:
        for t, acct, ip, outcome, ua, cc, asn, pw in events:
            f.write(json.dumps({"time": iso(t), "account": acct, "ip": ip, "user_agent": ua, "outcome": outcome,
                                "country": cc, "asn": asn,
                                "password_fingerprint": world.fingerprint(key, pw)}) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--accounts", type=int, required=True)
    p.add_argument("--shape", required=True, choices=SHAPES)
    p.add_argument("--out", required=True)
    p.add_argument("--fingerprint-key", required=True,
                   help="what `gatehouse events fingerprint-key` prints (hex)")
    p.add_argument("--end", help="RFC 3339 end of the trace (default: now)")
    a = p.parse_args(argv)
    if a.accounts < 1000:
        p.error("--accounts: at least 1000 (the classes and shapes need a crowd)")
    try:
        key = bytes.fromhex(a.fingerprint_key.strip())
    except ValueError:
        p.error("--fingerprint-key: not hex")
    end = parse_end(a.end) if a.end else dt.datetime.now(dt.timezone.utc).timestamp()
    w, good, bad, att, cal, classes = build(a.seed, a.accounts, a.shape, end)
    events = merge(good, bad)
    write(a.out, w, events, key)
    t = truth(w, cal, att, classes, (good, bad), a.seed, a.accounts)
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(t, f, indent=1)
    print("seed %d, %d accounts, %s: %d events (%d attack), %d taken over" % (
        a.seed, a.accounts, a.shape, len(events), len(bad), len(t["taken_over"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
