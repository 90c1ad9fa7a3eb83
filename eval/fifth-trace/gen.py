#!/usr/bin/env python3
"""Generate the fifth independent login trace (Sahyog, a B2B SaaS workspace) for one
seed and shape: accounts.jsonl (`gatehouse accounts import`), events.jsonl (`gatehouse
events import`, every event with a `password_fingerprint`) and truth.json (the accounts
really taken over, the innocents by class, the incidents' times).

    gen.py --seed 1 --accounts 20000 --shape quiet --out DIR --fingerprint-key HEX [--end T]

Deterministic per (seed, accounts, shape, end, key); Python standard library only."""

import argparse
import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from attacks import SHAPES, Attack  # noqa: E402
from bursts import idp_fallback, onboarding, pick_service_accounts, services  # noqa: E402
from innocents import Calendar, Innocents  # noqa: E402
from people import build  # noqa: E402
from world import DAY, HOUR, stream  # noqa: E402

TRACE_DAYS = 14


def iso(t):
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (int(t * 1000) % 1000)


def parse_end(text):
    if text in (None, "", "now"):
        return dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0).timestamp()
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def calendar(seed, end):
    """The incidents' times: the outage, the onboarding and the IdP outage on three
    different days of the last five, and the share of the users on the big carrier."""
    rng = stream(seed, "calendar")
    start = end - TRACE_DAYS * DAY
    last = int((end - HOUR) // DAY)
    days = list(range(last - 5, last))
    rng.shuffle(days)
    # The outage: an afternoon in UTC (evening in India, morning in the US).
    od = days[0]
    os_ = od * DAY + rng.uniform(13.5, 16) * HOUR
    oe = os_ + rng.uniform(35, 60) * 60
    # The onboarding: a working day in India (1970-01-01 was a Thursday).
    ob = next((d for d in days[1:] if (d + 3) % 7 < 5), days[1])
    invite = ob * DAY + 4 * HOUR
    idd = next(d for d in days[1:] if d != ob)
    ids = idd * DAY + rng.uniform(14.5, 16) * HOUR
    ide = ids + rng.uniform(2, 3) * HOUR
    outcome = "wrong_password" if seed % 2 else "unknown_account"
    cal = Calendar(start, end, (os_, min(oe, end - 60)), outcome, min(invite, end - 6 * HOUR), (ids, min(ide, end - 60)))
    return cal, rng.uniform(0.34, 0.43)


def fingerprinter(key_hex):
    key = bytes.fromhex(key_hex) if all(c in "0123456789abcdefABCDEF" for c in key_hex) and len(key_hex) % 2 == 0 else key_hex.encode()
    cache = {}

    def fp(pw):
        v = cache.get(pw)
        if v is None:
            v = hmac.new(key, b"gatehouse/login-event-password/v1\0" + pw.encode(), hashlib.sha256).hexdigest()
            cache[pw] = v
        return v
    return fp


def generate(seed, accounts, shape, end, key_hex):
    """(people, events sorted by time, truth dict)."""
    cal, big_share = calendar(seed, end)
    world, tenants, people = build(stream(seed, "people"), accounts, cal.start, end, big_share)
    inn = Innocents(seed, world, people, cal)
    chosen = pick_service_accounts(inn.rng, people, accounts)
    onboarding(inn, people)
    inn.run()
    idp_fallback(inn, people)
    services(inn, chosen)
    attack = Attack(seed, shape, world, people, cal, accounts)
    innocent_events, attack_events = attack.run(inn.events)
    events = sorted(innocent_events + attack_events, key=lambda e: e[0])
    taken = attack.taken
    by_class = {}
    for p in people:
        if p.email in taken:
            continue
        classes = set(p.classes)
        if p.email in attack.attacked:
            classes.add("attacked_not_taken")
        if not classes:
            classes.add("ordinary")
        for c in classes:
            by_class.setdefault(c, []).append(p.email)
    users = {e[1] for e in innocent_events if e[4] == "success"}
    big = set(by_class.get("carrier_cgnat", [])) & users
    a = {"shape": shape, "lines": len(attack_events), "accounts_attacked": len(attack.attacked), **attack.notes}
    if attack.window:
        a["window_start"] = iso(attack.window[0])
        a["window_minutes"] = round(attack.window[1], 1)
    truth = {
        "site": "Sahyog (B2B SaaS workspace)",
        "shape": shape, "seed": seed, "accounts": len(people), "end": iso(end), "start": iso(cal.start),
        "taken_over": sorted(taken),
        "innocents_by_class": {c: sorted(v) for c, v in sorted(by_class.items())},
        "outage": {"start": iso(cal.outage[0]), "end": iso(cal.outage[1]), "outcome": cal.outage_outcome},
        "onboarding": {"invite": iso(cal.onboarding), "tenant": tenants[0].domain, "accounts": tenants[0].size},
        "idp_outage": {"start": iso(cal.idp[0]), "end": iso(cal.idp[1])},
        "monitor_rotation": ({"account": inn.notes["monitor_rotation"][0], "start": iso(inn.notes["monitor_rotation"][1]),
                              "end": iso(inn.notes["monitor_rotation"][2])} if "monitor_rotation" in inn.notes else None),
        "big_carrier_share_of_users": round(len(big) / max(1, len(users)), 3),
        "attack": a,
        "events": len(events),
    }
    return people, events, truth


def write(out, people, events, truth, key_hex, seed):
    fp = fingerprinter(key_hex)
    hrng = stream(seed, "hashes")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "accounts.jsonl"), "w") as f:
        for p in people:
            salt = base64.b64encode(hrng.getrandbits(128).to_bytes(16, "big")).decode().rstrip("=")
            h = base64.b64encode(hrng.getrandbits(256).to_bytes(32, "big")).decode().rstrip("=")
            f.write(json.dumps({"email": p.email, "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$%s$%s" % (salt, h),
                                "created_at": iso(p.created_at).replace(".000Z", "Z")[:19] + "Z"}) + "\n")
    with open(os.path.join(out, "events.jsonl"), "w") as f:
        for t, account, ip, ua, outcome, country, asn, pw in events:
            f.write(json.dumps({"time": iso(t), "account": account, "ip": ip, "user_agent": ua, "outcome": outcome,
                                "country": country, "asn": asn, "password_fingerprint": fp(pw)}) + "\n")
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(truth, f, indent=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--accounts", type=int, default=20000)
    ap.add_argument("--shape", choices=SHAPES, default="quiet")
    ap.add_argument("--out", required=True)
    ap.add_argument("--fingerprint-key", required=True, help="what `gatehouse events fingerprint-key` prints")
    ap.add_argument("--end", default="now", help="the trace's end (RFC 3339; default now)")
    args = ap.parse_args(argv)
    end = parse_end(args.end)
    people, events, truth = generate(args.seed, args.accounts, args.shape, end, args.fingerprint_key)
    write(args.out, people, events, truth, args.fingerprint_key, args.seed)
    print("seed %d, %s: %d accounts, %d events, %d taken over, big carrier %.0f %% of users" % (
        args.seed, args.shape, len(people), len(events), len(truth["taken_over"]), 100 * truth["big_carrier_share_of_users"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
