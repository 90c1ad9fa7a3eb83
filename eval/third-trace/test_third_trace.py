"""The third trace's generator and breakdown: python3 -m unittest discover -s eval/third-trace"""

import csv
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
import breakdown  # noqa: E402
import gen  # noqa: E402
import world  # noqa: E402

END = gen.parse_time("2026-12-04T12:00:00Z")
K = 1500
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
_cache = {}


def generated(shape, seed=1):
    if (shape, seed) not in _cache:
        _cache[(shape, seed)] = gen.generate(seed, K, shape, END)
    return _cache[(shape, seed)]


class EventsAreImportable(unittest.TestCase):
    def test_every_event_is_well_formed(self):
        pop, innocent, attack = generated("residential")
        for t, account, ip, ua, outcome, country, asn, pw in innocent + attack.events:
            self.assertTrue(pop.start <= t < pop.end, (t, account))
            addr = ipaddress.ip_address(ip)
            self.assertTrue(addr.is_global, ip)
            self.assertIn(outcome, ("success", "wrong_password", "unknown_account"))
            self.assertRegex(country, r"^[A-Z]{2}$")
            self.assertIsInstance(asn, int)
            self.assertTrue(0 < len(ua) <= 512)
            self.assertRegex(account, r"^[^@\s]+@[^@\s]+\.[a-z.]+$")
            self.assertIsInstance(pw, str)

    def test_written_files(self):
        with tempfile.TemporaryDirectory() as d:
            gen.main(["--seed", "2", "--accounts", "300", "--shape", "spraying", "--out", d,
                      "--fingerprint-key", KEY, "--end", "2026-12-04T12:00:00Z"])
            with open(os.path.join(d, "accounts.jsonl")) as f:
                accounts = [json.loads(line) for line in f]
            self.assertEqual(len(accounts), 300)
            for a in accounts:
                self.assertRegex(a["password_hash"], r"^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$")
                self.assertRegex(a["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            with open(os.path.join(d, "events.jsonl")) as f:
                events = [json.loads(line) for line in f]
            times = [e["time"] for e in events]
            self.assertEqual(times, sorted(times))
            for e in events[:200]:
                self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
                self.assertRegex(e["password_fingerprint"], r"^[0-9a-f]{64}$")
            with open(os.path.join(d, "truth.json")) as f:
                truth = json.load(f)
            for field in ("taken_over", "innocents_by_class", "shape", "seed", "accounts", "outage", "attack", "patch"):
                self.assertIn(field, truth)

    def test_fingerprint_is_the_documented_hmac(self):
        fp = gen.Fingerprints(KEY)
        want = hmac.new(bytes.fromhex(KEY), b"gatehouse/login-event-password/v1\x00" + "sayang123".encode(), hashlib.sha256).hexdigest()
        self.assertEqual(fp("sayang123"), want)
        self.assertIsNone(gen.Fingerprints("")("x"))


class GroundTruth(unittest.TestCase):
    def test_innocents_do_not_depend_on_the_shape(self):
        _, quiet, _ = generated("quiet")
        for shape in ("concentrated", "cafe_keylogger"):
            _, innocent, _ = generated(shape)
            self.assertEqual(innocent, quiet, shape)

    def test_same_seed_same_trace_other_seed_other_trace(self):
        a = gen.generate(3, 400, "botnet", END)
        b = gen.generate(3, 400, "botnet", END)
        c = gen.generate(4, 400, "botnet", END)
        self.assertEqual(a[1] + a[2].events, b[1] + b[2].events)
        self.assertNotEqual(a[1], c[1])

    def test_taken_over_is_exactly_who_an_attacker_signed_in_to(self):
        for shape in attacks.SHAPES:
            pop, innocent, attack = generated(shape)
            opened = {e[1] for e in attack.events if e[4] == "success"}
            self.assertEqual(opened, attack.taken, shape)
            for e in opened:
                self.assertIn(e, pop.by_email)
            truth = gen.truth(pop, attack, 1, shape, 0)
            for cls, emails in truth["innocents_by_class"].items():
                self.assertFalse(set(emails) & attack.taken, (shape, cls))
            every = set().union(*map(set, truth["innocents_by_class"].values()))
            self.assertEqual(every | attack.taken, set(pop.by_email), shape)

    def test_each_attack_takes_over_accounts_within_the_last_six_days(self):
        for shape in attacks.SHAPES:
            pop, _, attack = generated(shape)
            if shape == "quiet":
                self.assertEqual(attack.events, [])
                self.assertIsNone(attack.window)
                continue
            self.assertTrue(attack.taken, shape)
            self.assertGreaterEqual(attack.window[0], pop.end - 6 * 86400, shape)
            for e in attack.events:
                self.assertGreaterEqual(e[0], pop.end - 6 * 86400, shape)

    def test_shape_signatures(self):
        pop, _, a = generated("v6_rotation")
        self.assertTrue(all(":" in e[2] for e in a.events))
        self.assertLessEqual(len({str(ipaddress.ip_network(e[2] + "/48", strict=False)) for e in a.events}), 2)
        self.assertGreater(len({attacks.prefix24(e[2]) for e in a.events}), 0.9 * len(a.events))
        _, _, a = generated("botnet")
        self.assertGreaterEqual(len({e[6] for e in a.events}), 25)  # 40-55 ASNs, fewer hit at 1,500 accounts
        self.assertGreater(len({attacks.prefix24(e[2]) for e in a.events if ":" not in e[2]}), 45)
        _, _, a = generated("cafe_keylogger")
        self.assertFalse([e for e in a.events if e[4] == "unknown_account"])
        pop, _, a = generated("patch_cover")
        self.assertTrue(all(pop.patch <= e[0] <= pop.patch + 8 * 3600 for e in a.events))
        self.assertTrue(all("/" + world.APP_NEW + " " in e[3] for e in a.events))
        pop, _, a = generated("infostealer_mimic")
        for e in a.events:
            p = pop.by_email[e[1]]
            self.assertEqual(e[5], p.country)
        _, _, a = generated("spraying")
        self.assertLessEqual(len({e[7] for e in a.events}), 5)

    def test_population(self):
        pop, innocent, _ = generated("quiet")
        share = len(pop.classes["carrier_cgnat"]) / pop.n
        self.assertTrue(0.25 <= share <= 0.40, share)
        for cls in ("office_nat", "campus_nat", "internet_cafe", "traveller", "stale_password_manager", "typo",
                    "outage_retry", "patch_relogin", "season_returner", "boosting_service"):
            self.assertIn(cls, pop.classes)
        o0, o1 = pop.outage
        in_outage = [e for e in innocent if o0 <= e[0] < o1]
        self.assertTrue(in_outage and all(e[4] == pop.outage_outcome for e in in_outage))
        launcher_after = [e for e in innocent if e[0] >= pop.patch and e[3].startswith("LumenLauncher/")]
        self.assertTrue(launcher_after and all("/" + world.LAUNCHER_NEW + " " in e[3] for e in launcher_after))


class Breakdown(unittest.TestCase):
    def test_periods_and_force_reset(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "backtest"))
            truth = {"shape": "quiet", "seed": 1, "accounts": 10, "taken_over": ["t@x.id"],
                     "innocents_by_class": {"carrier_cgnat": ["a@x.id", "b@x.id"], "patch_relogin": ["b@x.id", "c@x.id"]},
                     "attack": {"window_start": "2026-12-01T10:00:00Z", "window_end": "2026-12-01T11:00:00Z"},
                     "outage": {"start": "2026-12-02T10:00:00Z", "end": "2026-12-02T11:00:00Z"},
                     "patch": {"start": "2026-12-03T03:00:00Z", "end": "2026-12-04T15:00:00Z"}}
            with open(os.path.join(d, "truth.json"), "w") as f:
                json.dump(truth, f)
            with open(os.path.join(d, "rules.json"), "w") as f:
                json.dump([{"id": "ato", "action": "force_reset"}, {"id": "note", "action": "notify"}], f)
            rows = {"ato": [("t@x.id", "2026-12-01T10:30:00Z"), ("a@x.id", "2026-12-01T16:59:00Z"), ("b@x.id", "2026-12-03T20:00:00Z")],
                    "note": [("c@x.id", "2026-12-02T13:30:00Z"), ("b@x.id", "2026-12-02T09:00:00Z")]}
            for rule, rs in rows.items():
                with open(os.path.join(d, "backtest", rule + ".csv"), "w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(["account_id", "email", "findings", "score", "first_seen", "explanation"])
                    for e, t in rs:
                        w.writerow(["1", e, "1", "1", t, "why"])
            _, got = breakdown.analyse(d)
            by = {r["email"]: r for r in got}
            self.assertEqual(set(by), {"a@x.id", "b@x.id", "c@x.id"})
            self.assertEqual(by["a@x.id"]["period"], "attack")
            self.assertEqual(by["b@x.id"]["period"], "elsewhere")  # its first flag, 09:00 on the 2nd
            self.assertEqual(by["b@x.id"]["rules"], ["ato", "note"])
            self.assertTrue(by["b@x.id"]["force_reset"])
            self.assertEqual(by["c@x.id"]["period"], "outage")
            self.assertFalse(by["c@x.id"]["force_reset"])
            text = breakdown.table([d])
            self.assertIn("| quiet | 1 | 10 | 3 | 2 | 2 | 1 | 1 | 0 | 1 | ato 1, note 2 |", text)
            self.assertIn("2 innocent accounts with a force-reset finding", text)
            self.assertTrue(re.search(r"c@x\.id\s+outage", breakdown.listing([d])))


if __name__ == "__main__":
    unittest.main()
