"""The blind trace's own sanity: each shape produces what eval/blind-trace/README.md says
it does, every event is one `gatehouse events import` accepts, and the scorer counts
right. Runs in scripts/test.sh (`python3 -m unittest discover -s eval/blind-trace`)."""

import csv
import json
import os
import re
import sys
import tempfile
import unittest
from collections import Counter, defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen  # noqa: E402
import score  # noqa: E402

END = gen.parse_end("2026-12-01T12:00:00Z")
EMAIL = re.compile(r"^[a-z0-9_]+([.][a-z0-9_]+)*@[a-z0-9-]+([.][a-z0-9-]+)+$")
_cache = {}


def _build(shape, accounts=3000, seed=7):
    key = (shape, accounts, seed)
    if key not in _cache:
        _cache[key] = gen.build(seed, accounts, shape, END)
    return _cache[key]


def trace(shape, accounts=3000, seed=7):
    return _build(shape, accounts, seed)[:3]


def attack_events(shape, accounts=3000):
    return _build(shape, accounts)[3]


class Events(unittest.TestCase):
    def test_every_event_is_importable(self):
        for shape in gen.shapes.SHAPES:
            users, events, truth = trace(shape)
            start = END - gen.TRACE_DAYS * gen.U.DAY
            self.assertEqual([e[0] for e in events], sorted(e[0] for e in events), shape)
            for t, acct, ip, outcome, ua, country, asn, pw in events:
                self.assertTrue(start <= t <= END, (shape, t))
                self.assertRegex(acct, EMAIL)
                self.assertIn(outcome, ("success", "wrong_password", "unknown_account"))
                self.assertTrue(ua and len(ua) <= 512 and len(country) == 2 and 0 < asn < 2**32)
                self.assertTrue(re.fullmatch(r"(\d+\.){3}\d+|[0-9a-f:]+", ip), ip)

    def test_same_seed_same_trace_and_innocents_shared_across_shapes(self):
        self.assertEqual(gen.generate(7, 1000, "botnet", END)[1], gen.generate(7, 1000, "botnet", END)[1])
        # The innocents of a seed do not depend on the shape (the attack draws from its own stream).
        innocent = Counter(trace("botnet")[1]) - Counter(attack_events("botnet"))
        self.assertEqual(innocent, Counter(trace("quiet")[1]))

    def test_the_innocents_are_there(self):
        users, events, truth = trace("quiet")
        self.assertEqual(truth["taken_over"], [])
        self.assertIsNone(truth["attack"])
        self.assertTrue(0.25 <= truth["population"]["big_carrier_share"] <= 0.40)
        for cls in ("cgnat", "office_nat", "traveller", "password_manager", "typo", "outage_retry", "vpn", "dormant"):
            self.assertGreater(len(truth["innocents_by_class"].get(cls, [])), 0, cls)
        ipv6 = sum(1 for e in events if ":" in e[2]) / len(events)
        self.assertTrue(0.15 < ipv6 < 0.5, ipv6)
        # The outage hour: nothing succeeds in it.
        o0 = gen.dt.datetime.fromisoformat(truth["outage"]["start"].replace("Z", "+00:00")).timestamp() * 1000
        inside = [e for e in events if o0 <= e[0] < o0 + gen.U.HOUR]
        self.assertGreater(len(inside), 20)
        self.assertFalse([e for e in inside if e[3] == "success"])


class Shapes(unittest.TestCase):
    def test_taken_over_accounts_are_accounts_with_an_attackers_success(self):
        for shape in ("concentrated", "botnet", "residential", "low_and_slow", "spraying", "checker_resale"):
            users, events, truth = trace(shape)
            emails = {u.email for u in users}
            taken = set(truth["taken_over"])
            self.assertTrue(taken and taken <= emails, shape)
            hits = {e[1] for e in attack_events(shape) if e[3] == "success"}
            self.assertEqual(hits, taken, shape)
            for cls, members in truth["innocents_by_class"].items():
                self.assertFalse(taken & set(members), (shape, cls))

    def test_botnet_is_thin(self):
        users, events, truth = trace("botnet", accounts=20000, seed=3)
        a = truth["attack"]
        self.assertGreaterEqual(a["slash24s"], 300)
        self.assertGreaterEqual(a["asns"], 30)
        self.assertTrue(25 <= a["window_minutes"] <= 40)
        per24 = a["attempts"] / a["slash24s"]
        self.assertTrue(7 <= per24 <= 16, per24)

    def test_residential_is_thousands_of_consumer_addresses(self):
        ev = attack_events("residential")
        by_ip = Counter(e[2] for e in ev)
        # Thousands at 20,000 accounts; at this test's 3,000, one address per two or three attempts.
        self.assertGreaterEqual(len(by_ip), len(ev) / 3)
        self.assertLessEqual(sorted(by_ip.values())[len(by_ip) // 2], 3)
        users, _, _ = trace("residential")
        consumer = {u.isp.number for u in users} | {u.carrier.number for u in users}
        self.assertGreater(sum(1 for e in ev if e[6] in consumer) / len(ev), 0.8)

    def test_concentrated_low_and_slow_spraying(self):
        self.assertLessEqual(trace("concentrated")[2]["attack"]["slash24s"], 7)
        ls = attack_events("low_and_slow")
        self.assertGreater((max(e[0] for e in ls) - min(e[0] for e in ls)) / gen.U.DAY, 3)
        sp = attack_events("spraying")
        pw = Counter(e[7] for e in sp)
        self.assertTrue(3 <= len(pw) <= 5 and all(n > 500 for n in pw.values()), pw.most_common(6))
        self.assertLess(sum(1 for e in sp if e[3] == "unknown_account") / len(sp), 0.15)

    def test_checker_resale_uses_each_hit_twice(self):
        ev = attack_events("checker_resale")
        per = defaultdict(int)
        for e in ev:
            if e[3] == "success":
                per[e[1]] += 1
        self.assertTrue(per and all(n == 2 for n in per.values()))
        unknown = sum(1 for e in ev if e[3] == "unknown_account") / len(ev)
        self.assertTrue(0.1 < unknown < 0.6, unknown)


class Scoring(unittest.TestCase):
    def test_precision_recall_and_classes(self):
        with tempfile.TemporaryDirectory() as d:
            truth = {"seed": 1, "shape": "botnet", "accounts": 10, "taken_over": ["a@x.fr", "b@x.fr"],
                     "innocents_by_class": {"cgnat": ["c@x.fr", "d@x.fr"], "ordinary": ["e@x.fr"]},
                     "outage": {"start": "2026-11-30T17:00:00Z", "end": "2026-11-30T18:00:00Z"},
                     "attack": {"window_start": "2026-12-01T20:00:00Z", "window_minutes": 30}}
            with open(os.path.join(d, "truth.json"), "w") as f:
                json.dump(truth, f)
            os.mkdir(os.path.join(d, "backtest"))
            for rule, emails in (("stuffing", ["A@x.fr", "c@x.fr"]), ("takeover", ["a@x.fr"])):
                with open(os.path.join(d, "backtest", rule + ".csv"), "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["account_id", "email", "findings", "score", "first_seen", "explanation"])
                    for e in emails:
                        w.writerow(["id", e, 1, 0.5, "2026-11-30T12:00:00Z", "why"])
            r = score.score_run(d)
            self.assertEqual((r["flagged"], r["true_positives"], r["false_positives"]), (2, 1, 1))
            self.assertEqual(r["innocents_flagged_by_class"]["cgnat"], {"flagged": 1, "of": 2})
            self.assertIn("| botnet | 1 | 10 | 2 | 2 | 0.50 | 0.50 | cgnat 1/2 | stuffing 2 (1), takeover 1 (1) | 1 | 0 |", score.markdown([r]))
            os.remove(os.path.join(d, "backtest", "stuffing.csv"))
            os.remove(os.path.join(d, "backtest", "takeover.csv"))
            with self.assertRaises(score.ScoreError):
                score.score_run(d)


if __name__ == "__main__":
    unittest.main()
