#!/usr/bin/env python3
"""Generate one fourth-trace run: Hafenbank's accounts, 14 days of login events, the truth.

    gen.py --seed N --accounts K --shape S --out DIR [--fingerprint-key HEX] [--end T]

Writes DIR/accounts.jsonl (`gatehouse accounts import`), DIR/events.jsonl (`gatehouse events
import`) and DIR/truth.json (what eval/blind-trace/score.py and breakdown.py read). The
trace ends at T (RFC 3339; default: now, to the minute). Deterministic per (seed, accounts,
shape, end); a seed's innocents are the same under every shape.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)

import attacks  # noqa: E402
import innocents  # noqa: E402
import people  # noqa: E402
import world  # noqa: E402

DAYS = 14


class Fingerprints:
    """hex(HMAC-SHA256(key, "gatehouse/login-event-password/v1\\0" + password)), keyed with the
    bytes the key's hex digits spell (README.md, "Login events"); cached per password."""

    def __init__(self, key_hex):
        self.key = bytes.fromhex(key_hex) if key_hex else None
        self.cache = {}

    def __call__(self, pw):
        if self.key is None:
            return None
        fp = self.cache.get(pw)
        if fp is None:
            fp = hmac.new(self.key, b"gatehouse/login-event-password/v1\0" + pw.encode(), hashlib.sha256).hexdigest()
            self.cache[pw] = fp
        return fp


def phc(rng):
    """A well-formed argon2id PHC string (nobody signs in through Gatehouse here)."""
    b64 = lambda n: base64.b64encode(bytes(rng.getrandbits(8) for _ in range(n))).decode().rstrip("=")
    return "$argon2id$v=19$m=19456,t=2,p=1$%s$%s" % (b64(16), b64(32))


def generate(seed, accounts, shape, end):
    """(population, incidents, sorted events, attacker, window) for one run."""
    start = end - DAYS * people.DAY
    w = world.World(random.Random("%d/world" % seed), accounts)
    inc = people.Incidents(random.Random("%d/incidents" % seed), seed, start, end)
    pop = people.Population(random.Random("%d/people" % seed), w, inc, accounts, start, end)
    log = innocents.generate(pop, random.Random("%d/behaviour" % seed))
    a, window = attacks.run(shape, pop, log, random.Random("%d/attack/%s" % (seed, shape)), accounts)
    log.events.sort()
    return pop, inc, log.events, a, window


def truth(pop, inc, events, a, window, seed, shape):
    taken = sorted(a.taken) if a else []
    taken_set = set(taken)
    by_class = {}
    for p in pop.people:
        if p.email in taken_set:
            continue
        classes = set(p.classes)
        if a and p.email in a.attacked:
            classes.add("attacked_not_taken")
        for c in classes:
            by_class.setdefault(c, []).append(p.email)
    return {
        "site": "hafenbank",
        "seed": seed,
        "shape": shape,
        "accounts": len(pop.people),
        "trace_start": world.iso(pop.start),
        "trace_end": world.iso(pop.end),
        "events": len(events),
        "o2_share": round(pop.o2_share, 3),
        "taken_over": taken,
        "innocents_by_class": {c: sorted(v) for c, v in sorted(by_class.items())},
        "outage": {"start": world.iso(inc.outage_start), "end": world.iso(inc.outage_end), "logged_as": inc.outage_outcome},
        "forced_change": {"start": world.iso(inc.forced_change), "rush_end": world.iso(inc.forced_change + 36 * 3600)},
        "black_friday": [world.iso(t) for t in inc.black_friday],
        "salary_days": [world.iso(t) for t in inc.salary],
        "pis": {"asn": pop.w.pis.asn, "ips": pop.w.pis_ips, "user_agent": world.PIS_UA},
        "attack": attacks.summary(a, window),
    }


def write(out, pop, events, t, fp, rng):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "accounts.jsonl"), "w") as f:
        for p in pop.people:
            f.write(json.dumps({"email": p.email, "password_hash": phc(rng), "created_at": world.iso(int(p.created)).replace(".000", "")}) + "\n")
    with open(os.path.join(out, "events.jsonl"), "w") as f:
        for (ts, account, ip, ua, outcome, cc, asn, pw) in events:
            e = {"time": world.iso(ts), "account": account, "ip": ip, "user_agent": ua, "outcome": outcome, "country": cc, "asn": asn}
            h = fp(pw)
            if h:
                e["password_fingerprint"] = h
            f.write(json.dumps(e) + "\n")
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(t, f, indent=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--accounts", type=int, required=True)
    ap.add_argument("--shape", required=True, choices=attacks.SHAPES)
    ap.add_argument("--out", required=True)
    ap.add_argument("--fingerprint-key", default="", help="hex key of `gatehouse events fingerprint-key`")
    ap.add_argument("--end", default="", help="trace end (RFC 3339); default: now, to the minute")
    args = ap.parse_args(argv)
    if args.accounts < 100:
        ap.error("--accounts: at least 100")
    end = world.parse_time(args.end) if args.end else (time.time() // 60) * 60
    began = time.time()
    pop, inc, events, a, window = generate(args.seed, args.accounts, args.shape, end)
    t = truth(pop, inc, events, a, window, args.seed, args.shape)
    write(args.out, pop, events, t, Fingerprints(args.fingerprint_key), random.Random("%d/hashes" % args.seed))
    print("gen.py: %s seed %d, %d accounts, %d events, %d taken over, %.0f s" % (
        args.shape, args.seed, args.accounts, len(events), len(t["taken_over"]), time.time() - began))
    return 0


if __name__ == "__main__":
    sys.exit(main())
