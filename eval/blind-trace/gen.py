#!/usr/bin/env python3
"""Blind login trace: accounts, login events and ground truth for one (seed, shape).

    gen.py --seed 1 --accounts 20000 --shape botnet --out DIR [--fingerprint-key HEX] [--end T]

Writes DIR/accounts.jsonl (`gatehouse accounts import`), DIR/events.jsonl (`gatehouse
events import`, sorted by time) and DIR/truth.json (the accounts an attacker signed in
to, and the innocents by class). The trace covers the 14 days before --end (default:
20 minutes ago); attacks and the outage hour fall in its last 6 days, so `rules
backtest --since 7d` sees them with a week of history before. With
--fingerprint-key (what `gatehouse events fingerprint-key` prints), every event carries
the keyed fingerprint of the password typed, as an app following the README would send.
"""

import argparse
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import sys

import shapes
import users as U
import world

TRACE_DAYS = 14


def iso(ms):
    d = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)


def parse_end(s):
    if s is None:
        now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
        return int(now.timestamp()) * 1000
    return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def generate(seed, accounts, shape, end_ms):
    """Everything in memory: (users, trace events, truth dict)."""
    users, events, truth, _ = build(seed, accounts, shape, end_ms)
    return users, events, truth


def build(seed, accounts, shape, end_ms):
    """As generate, plus the attack's own events (for the tests)."""
    if shape not in shapes.SHAPES:
        raise ValueError("unknown shape %r (one of: %s)" % (shape, ", ".join(shapes.SHAPES)))
    # One stream per part, so that the innocents of a seed are the same whatever the shape.
    rng = random.Random("blind-trace/%d/world" % seed)
    start = end_ms - TRACE_DAYS * U.DAY
    cgnat_share = rng.uniform(0.25, 0.40)
    net = world.Internet(rng, cgnat_share)
    users = U.make_users(rng, net, accounts, start, end_ms, cgnat_share)
    # The outage hour: sign-ins fail for everyone, either as wrong passwords (the
    # password check's backend was down) or as unknown addresses (the directory was).
    # It comes at a busy hour (local 09:00-21:00), when it hurts the most people.
    day0 = (end_ms - 5 * U.DAY) // U.DAY * U.DAY
    o0 = day0 + rng.randint(0, 3) * U.DAY + (rng.randint(9, 20) - 1) * U.HOUR + rng.randrange(U.HOUR)
    # Odd seeds record it as wrong passwords, even seeds as unknown addresses.
    outage = (o0, o0 + U.HOUR, "auth" if seed % 2 else "directory")
    tr = U.Trace()
    attack = shapes.Attack(random.Random("blind-trace/%d/%s" % (seed, shape)), net, users, tr, start, end_ms)
    summary = shapes.SHAPES[shape](attack) if shapes.SHAPES[shape] else None
    U.innocent_traffic(random.Random("blind-trace/%d/people" % seed), net, tr, users, start, end_ms, outage)
    tr.events.sort(key=lambda e: e[0])
    taken = sorted(attack.taken)
    classes = {}
    for u in users:
        if u.email in attack.taken:
            continue
        cs = set(u.classes)
        if u.email in attack.tried:
            cs.add("attacked_not_taken")
        if not cs:
            cs.add("ordinary")
        for c in cs:
            classes.setdefault(c, []).append(u.email)
    carrier_users = sum(1 for u in users if u.carrier is net.carrier)
    truth = {
        "seed": seed,
        "shape": shape,
        "accounts": accounts,
        "trace_start": iso(start),
        "trace_end": iso(end_ms),
        "events": len(tr.events),
        "taken_over": taken,
        "innocents_by_class": {c: sorted(v) for c, v in sorted(classes.items())},
        "population": {
            "big_carrier_share": round(carrier_users / len(users), 3),
            "office_users": sum(1 for u in users if u.office),
            "active_users": sum(1 for u in users if u.rate > 0),
        },
        "outage": {"start": iso(outage[0]), "end": iso(outage[1]), "recorded_as": "wrong_password" if outage[2] == "auth" else "unknown_account"},
        "attack": None,
    }
    if summary is not None:
        for k in ("window_start_ms", "resale_start_ms"):
            if k in summary:
                summary[k.replace("_ms", "")] = iso(summary.pop(k))
        truth["attack"] = summary
    return users, tr.events, truth, attack.events


def write(out, users, events, truth, key):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "accounts.jsonl"), "w") as f:
        hrng = random.Random("blind-trace/hashes/%d" % truth["seed"])
        for u in users:
            f.write(json.dumps({"email": u.email, "password_hash": world.fake_argon2(hrng), "created_at": iso(u.created_at)}) + "\n")
    fp_cache = {}

    def fp(pw):
        v = fp_cache.get(pw)
        if v is None:
            v = hmac.new(key, b"gatehouse/login-event-password/v1\0" + pw.encode(), hashlib.sha256).hexdigest()
            fp_cache[pw] = v
        return v

    with open(os.path.join(out, "events.jsonl"), "w") as f:
        for t, acct, ip, outcome, ua, country, asn, pw in events:
            e = {"time": iso(t), "account": acct, "ip": ip, "outcome": outcome, "user_agent": ua, "country": country, "asn": asn}
            if key is not None:
                e["password_fingerprint"] = fp(pw)
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)
        f.write("\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--accounts", type=int, default=20000)
    p.add_argument("--shape", required=True, choices=list(shapes.SHAPES))
    p.add_argument("--out", required=True)
    p.add_argument("--fingerprint-key", help="64 hex digits from `gatehouse events fingerprint-key`")
    p.add_argument("--end", help="RFC 3339 end of the trace (default: 20 minutes ago)")
    args = p.parse_args(argv)
    if args.accounts < 500:
        p.error("--accounts must be at least 500 (the innocent classes need a population)")
    key = None
    if args.fingerprint_key is not None:
        try:
            key = bytes.fromhex(args.fingerprint_key.strip())
        except ValueError:
            p.error("--fingerprint-key: not hex digits")
        if len(key) != 32:
            p.error("--fingerprint-key: expected 64 hex digits, got %d" % len(args.fingerprint_key.strip()))
    users, events, truth = generate(args.seed, args.accounts, args.shape, parse_end(args.end))
    write(args.out, users, events, truth, key)
    a = truth["attack"] or {}
    print("%s seed %d: %d accounts, %d events, %d taken over, %d attack attempts" % (
        args.shape, args.seed, args.accounts, truth["events"], len(truth["taken_over"]), a.get("attempts", 0)), file=sys.stderr)


if __name__ == "__main__":
    main()
