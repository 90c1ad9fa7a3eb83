"""The second trace's own consistency: every event is one `gatehouse events import`
accepts, the ground truth is what the events say, the innocents are the same under every
shape, and each shape and class has the size and make-up README.md states. Runs in
scripts/test.sh (`python3 -m unittest discover -s eval/second-trace`)."""

import collections
import hashlib
import hmac
import ipaddress
import json
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import attacks  # noqa: E402
import gen  # noqa: E402
import world  # noqa: E402

END = gen.parse_end("2026-12-01T12:00:00Z")
N = 2000
EMAIL = re.compile(r"^[a-z0-9_]+([.][a-z0-9_]+)*@[a-z0-9-]+([.][a-z0-9-]+)+$")
_cache = {}


def built(shape, seed=3, accounts=N):
    key = (shape, seed, accounts)
    if key not in _cache:
        _cache[key] = gen.build(seed, accounts, shape, END)
    return _cache[key]


def truth_of(shape, seed=3):
    w, good, bad, att, cal, classes = built(shape, seed)
    return gen.truth(w, cal, att, classes, (good, bad), seed, N)


class Events(unittest.TestCase):
    def test_every_event_is_importable(self):
        for shape in attacks.SHAPES:
            w, good, bad, *_ = built(shape)
            events = gen.merge(good, bad)
            self.assertEqual(len(events), len(good) + len(bad))
            # Distinct in every field: none would be stored as another's duplicate.
            self.assertEqual(len(set(events)), len(events), shape)
            self.assertEqual([e[0] for e in events], sorted(e[0] for e in events))
            for t, acct, ip, outcome, ua, cc, asn, pw in events:
                self.assertTrue(w.start <= t <= w.end, (shape, t))
                self.assertRegex(acct, EMAIL)
                self.assertIn(outcome, ("success", "wrong_password", "unknown_account"))
                self.assertTrue(0 < len(ua) <= 512 and re.fullmatch(r"[A-Z]{2}", cc) and 0 < asn < 2**32, (ua, cc, asn))
                addr = ipaddress.ip_address(ip)
                self.assertTrue(addr.is_global, ip)
                self.assertTrue(pw)
                self.assertEqual(outcome == "unknown_account", acct not in w.by_email, (shape, acct, outcome))

    def test_files_are_in_readme_formats(self):
        w, good, bad, att, cal, classes = built("spraying")
        key = bytes(range(32))
        with tempfile.TemporaryDirectory() as d:
            events = gen.merge(good, bad)[:500]
            gen.write(d, w, events, key)
            with open(os.path.join(d, "events.jsonl")) as f:
                lines = [json.loads(x) for x in f]
            with open(os.path.join(d, "accounts.jsonl")) as f:
                accts = [json.loads(x) for x in f]
        self.assertEqual(len(lines), 500)
        for row, e in zip(lines, events):
            self.assertEqual(set(row), {"time", "account", "ip", "user_agent", "outcome", "country", "asn", "password_fingerprint"})
            self.assertRegex(row["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertAlmostEqual(gen.parse_end(row["time"]), e[0], places=3)
            want = hmac.new(key, b"gatehouse/login-event-password/v1\0" + e[7].encode(), hashlib.sha256).hexdigest()
            self.assertEqual(row["password_fingerprint"], want)
        self.assertEqual(len(accts), N)
        self.assertEqual(len({a["email"] for a in accts}), N)
        for a in accts:
            self.assertRegex(a["password_hash"], r"^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$")
            self.assertRegex(a["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Truth(unittest.TestCase):
    def test_taken_over_is_every_account_an_attacker_opened(self):
        for shape in attacks.SHAPES:
            w, good, bad, att, cal, classes = built(shape)
            t = truth_of(shape)
            opened = {e[1] for e in bad if e[3] == "success"}
            self.assertEqual(set(t["taken_over"]), opened, shape)
            for e in bad:
                u = w.by_email.get(e[1])
                if e[3] == "success":
                    self.assertEqual(e[7], u.password, shape)
                elif e[3] == "wrong_password":
                    self.assertNotEqual(e[7], u.password, shape)
            self.assertEqual(t["attack_events"], len(bad))
            for cls, members in t["innocents_by_class"].items():
                self.assertFalse(set(members) & opened, (shape, cls))
        self.assertEqual(truth_of("quiet")["taken_over"], [])
        self.assertEqual(truth_of("quiet")["attack"], {})

    def test_innocents_are_the_same_under_every_shape_and_seed_is_deterministic(self):
        _, quiet, *_ = built("quiet")
        for shape in attacks.SHAPES:
            self.assertEqual(built(shape)[1], quiet, shape)
            self.assertEqual(truth_of(shape)["innocents_by_class"].keys(), truth_of("quiet")["innocents_by_class"].keys())
        again = gen.build(3, N, "botnet", END)
        self.assertEqual(again[1], quiet)
        self.assertEqual(again[2], built("botnet")[2])
        self.assertNotEqual(built("quiet", seed=4)[1], quiet)

    def test_classes_are_there_and_sized(self):
        w, good, bad, att, cal, classes = built("quiet")
        active = {e[1] for e in good}
        for cls in ("office_nat", "campus_nat", "corporate_proxy", "vpn_relay", "traveller", "stale_password_manager",
                    "family_sharing", "new_account", "new_phone", "carrier_cgnat", "outage_retry", "promo_returner"):
            self.assertGreaterEqual(len(classes[cls]), 3, cls)
        # About 30 % of the people who sign in come through the big carrier's CGNAT.
        share = len(classes["carrier_cgnat"]) / len(active)
        self.assertTrue(0.25 <= share <= 0.45, share)
        # The outage hour: every attempt in it failed.
        during = [e for e in good if cal.outage[0] <= e[0] < cal.outage[1]]
        self.assertGreater(len(during), 20)
        self.assertEqual({e[3] for e in during} - {"unknown_account"}, {"wrong_password"})
        # The promotion: the hour after the e-mail is far above the median hour.
        hours = collections.Counter(int(e[0] // 3600) for e in good)
        self.assertGreater(hours[int(cal.promo // 3600)], 4 * sorted(hours.values())[len(hours) // 2])
        # Offices: each NAT address carries many accounts.
        office_ips = collections.Counter()
        for e in good:
            if e[6] in (3356, 11172):
                office_ips[e[2]] += 1
        self.assertLessEqual(len(office_ips), 4)


class Shapes(unittest.TestCase):
    def _bad(self, shape):
        return built(shape)[2], built(shape)[3].info

    def test_combo_lists_scale_with_accounts(self):
        for shape, share in (("concentrated", 0.3), ("botnet", 0.4), ("residential", 0.4), ("low_and_slow", 0.4),
                             ("mobile_proxy", 0.25)):
            bad, info = self._bad(shape)
            self.assertEqual(info["lines"], int(share * N), shape)
            self.assertGreaterEqual(len(bad), info["lines"], shape)
            self.assertGreater(len(truth_of(shape)["taken_over"]), 0, shape)

    def test_sources_are_as_described(self):
        bad, _ = self._bad("concentrated")
        self.assertLessEqual(len({e[2].rsplit(".", 1)[0] for e in bad}), 6)
        bad, _ = self._bad("botnet")
        self.assertGreaterEqual(len({e[2].rsplit(".", 1)[0] for e in bad}), 300)
        self.assertGreaterEqual(len({e[6] for e in bad}), 40)
        w, good, bad, *_ = built("residential")
        per_ip = collections.Counter(e[2] for e in bad if e[0] < gen.parse_end(_info("residential")["window_start"]) + 6 * 3600)
        self.assertLessEqual(max(per_ip.values()), 6)  # 1-3 per exit, plus a return visit after a success
        self.assertTrue({e[6] for e in bad} <= {e[6] for e in good})
        w, good, bad, *_ = built("mobile_proxy")
        self.assertEqual({e[6] for e in bad}, {world.BIG_CARRIER})
        self.assertTrue({e[2] for e in bad} <= set(w.nat[world.BIG_CARRIER]))
        bad, _ = self._bad("validated_list")
        unknown = sum(e[3] == "unknown_account" for e in bad) / len(bad)
        self.assertLess(unknown, 0.08)
        bad, _ = self._bad("spraying")
        self.assertEqual({e[7] for e in bad}, set(world.COMMON_PASSWORDS[:5]))
        bad, _ = self._bad("low_and_slow")
        self.assertGreater(max(e[0] for e in bad) - min(e[0] for e in bad), 3 * world.DAY)
        bad, info = self._bad("targeted")
        per = collections.Counter(e[1] for e in bad if e[3] != "success")
        self.assertTrue(all(n >= 1 for n in per.values()) and len(per) == max(5, int(0.0015 * N)))

    def test_every_burst_is_inside_a_7_day_backtest(self):
        w, good, bad, att, cal, classes = built("quiet")
        since = w.end - 7 * world.DAY + 3600  # the backtest starts a little after the trace was written
        self.assertGreater(cal.outage[0], since)
        self.assertGreater(cal.promo, since)
        for shape in attacks.SHAPES[1:]:
            self.assertGreater(min(e[0] for e in self._bad(shape)[0]), since, shape)


def _info(shape):
    return built(shape)[3].info


if __name__ == "__main__":
    unittest.main()
