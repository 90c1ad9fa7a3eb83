#!/usr/bin/env python3
"""Generate one Lumen Arena trace: accounts.jsonl, events.jsonl and truth.json.

    gen.py --seed N --accounts K --shape S --out DIR [--fingerprint-key HEX] [--end T]

accounts.jsonl is what `gatehouse accounts import` reads, events.jsonl what `gatehouse
events import` reads (with `password_fingerprint` when the key is given, as an app
following README.md would send it), truth.json the ground truth eval/blind-trace/score.py
reads, plus this trace's own incidents (the season patch) for breakdown.py.
"""

import argparse
import base64
import datetime as dt
import hmac
import hashlib
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import attacks  # noqa: E402
import people  # noqa: E402

FP_CONTEXT = b"gatehouse/login-event-password/v1\0"


def iso(t):
    d = dt.datetime.fromtimestamp(t, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def phc(rng):
    """A well-formed argon2id hash (nobody signs in through Gatehouse here)."""
    b64 = lambda n: base64.b64encode(rng.getrandbits(8 * n).to_bytes(n, "big")).decode().rstrip("=")
    return "$argon2id$v=19$m=19456,t=2,p=1$%s$%s" % (b64(16), b64(32))


class Fingerprints:
    def __init__(self, key_hex):
        self.key = bytes.fromhex(key_hex) if key_hex else None
        self.cache = {}

    def __call__(self, pw):
        if self.key is None or pw is None:
            return None
        fp = self.cache.get(pw)
        if fp is None:
            fp = hmac.new(self.key, FP_CONTEXT + pw.encode("utf-8"), hashlib.sha256).hexdigest()
            self.cache[pw] = fp
        return fp


def generate(seed, accounts, shape, end_s):
    """The population with its innocent events, and the attack (in that order: the
    innocents never depend on the shape)."""
    pop = people.Population(seed, accounts, end_s)
    innocent = pop.innocent_events()
    attack = attacks.run(pop, seed, shape)
    return pop, innocent, attack


def truth(pop, attack, seed, shape, n_events):
    taken = sorted(attack.taken)
    taken_set = set(taken)
    by_class = {}
    for cls, emails in sorted(pop.classes.items()):  # the same bytes whatever PYTHONHASHSEED
        keep = sorted(e for e in emails if e not in taken_set)
        if keep:
            by_class[cls] = keep
    not_taken = sorted(e for e in attack.attacked if e not in taken_set)
    if not_taken:
        by_class["attacked_not_taken"] = not_taken
    out = {
        "site": "Lumen Arena (eval/third-trace)",
        "shape": shape,
        "seed": seed,
        "accounts": pop.n,
        "trace_start": iso(pop.start),
        "trace_end": iso(pop.end),
        "events": n_events,
        "taken_over": taken,
        "innocents_by_class": by_class,
        "outage": {"start": iso(pop.outage[0]), "end": iso(pop.outage[1]), "logged_as": pop.outage_outcome},
        "patch": {"start": iso(pop.patch), "end": iso(pop.patch + 36 * people.HOUR)},
        "telkomsel_share": round(len(pop.classes.get("carrier_cgnat", [])) / pop.n, 3),
        "attack": None,
    }
    if attack.window:
        a_events = attack.events
        out["attack"] = {
            "window_start": iso(attack.window[0]),
            "window_end": iso(attack.window[1]),
            "window_minutes": round((attack.window[1] - attack.window[0]) / 60, 1),
            "attempts": len(a_events),
            "unknown_account_attempts": sum(1 for e in a_events if e[4] == "unknown_account"),
            "successes": sum(1 for e in a_events if e[4] == "success"),
            "sources": len(attack.ips),
            "networks": len({attacks.prefix24(ip) for ip in attack.ips}),
            "asns": len(attack.asns),
            "accounts_attacked": len(attack.attacked),
        }
    return out


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
    if args.end:
        end_s = parse_time(args.end)
    else:
        end_s = (time.time() // 60) * 60
    started = time.time()
    pop, innocent, attack = generate(args.seed, args.accounts, args.shape, end_s)
    events = innocent + attack.events
    events.sort(key=lambda e: (e[0], e[1]))
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random("third-trace:%d:hashes" % args.seed)
    with open(os.path.join(args.out, "accounts.jsonl"), "w") as f:
        for p in pop.people:
            f.write(json.dumps({"email": p.email, "password_hash": phc(rng), "created_at": iso(p.created)[:19] + "Z"}) + "\n")
    fp = Fingerprints(args.fingerprint_key)
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    with open(os.path.join(args.out, "events.jsonl"), "w") as f:
        for t, account, ip, ua, outcome, country, asn, pw in events:
            ev = {"time": iso(t), "account": account, "ip": ip, "user_agent": ua, "outcome": outcome,
                  "country": country, "asn": asn}
            fpv = fp(pw)
            if fpv:
                ev["password_fingerprint"] = fpv
            f.write(dumps(ev) + "\n")
    tr = truth(pop, attack, args.seed, args.shape, len(events))
    with open(os.path.join(args.out, "truth.json"), "w") as f:
        json.dump(tr, f, indent=1)
    a = tr["attack"] or {}
    print("%s seed %d: %d accounts, %d events (%d attack, %d unknown addresses), %d taken over, carrier %.0f %%, %.1f s"
          % (args.shape, args.seed, pop.n, len(events), a.get("attempts", 0), a.get("unknown_account_attempts", 0),
             len(tr["taken_over"]), 100 * tr["telkomsel_share"], time.time() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
