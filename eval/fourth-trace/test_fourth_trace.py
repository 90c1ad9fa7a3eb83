"""The fourth trace's generator and breakdown: python3 -m unittest discover -s eval/fourth-trace"""

import collections
import contextlib
import io
import csv
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

END = world.parse_time("2026-12-04T19:00:00Z")
N = 2000
_cache = {}


def run(shape, seed=1, n=N):
    key = (shape, seed, n)
    if key not in _cache:
        _cache[key] = gen.generate(seed, n, shape, END)
    return _cache[key]


class Events(unittest.TestCase):
    def test_every_event_is_one_the_import_accepts(self):
        fp = gen.Fingerprints("00" * 32)
        for shape in attacks.SHAPES:
            pop, _inc, events, _a, _w = run(shape)
            for (t, account, ip, ua, outcome, cc, asn, pw) in events:
                self.assertTrue(pop.start <= t < END, shape)
                self.assertIn(outcome, ("success", "wrong_password", "unknown_account"))
                ipaddress.ip_address(ip)
                self.assertRegex(cc, r"^[A-Z]{2}$")
                self.assertTrue(0 < asn < 2 ** 32)
                self.assertTrue(0 < len(ua) <= 512)
                self.assertRegex(account, r"^[^@\s]+@[^@\s]+\.[a-z]+$")
                self.assertRegex(fp(pw), r"^[0-9a-f]{64}$")

    def test_a_seed_is_deterministic_and_its_innocents_are_the_same_under_every_shape(self):
        quiet = collections.Counter(run("quiet")[2])
        self.assertEqual(run("quiet")[2], gen.generate(1, N, "quiet", END)[2])
        for shape in attacks.SHAPES[1:]:
            extra = collections.Counter(run(shape)[2])
            self.assertFalse(quiet - extra, shape)  # every innocent event is still there
        self.assertNotEqual(run("quiet", seed=2)[2], run("quiet")[2])

    def test_taken_over_is_exactly_the_accounts_an_attacker_signed_in_to(self):
        quiet = collections.Counter(run("quiet")[2])
        for shape in attacks.SHAPES[1:]:
            pop, _inc, events, a, _w = run(shape)
            attacker = collections.Counter(events) - quiet
            opened = {e[1] for e in attacker.elements() if e[4] == "success"}
            self.assertEqual(opened, a.taken, shape)
            self.assertTrue(a.taken, shape)
            emails = {p.email for p in pop.people}
            self.assertLessEqual(a.taken, emails)

    def test_the_big_carrier_carries_25_to_40_percent_of_the_users(self):
        for seed in (1, 2, 3):
            pop, _inc, events, _a, _w = run("quiet", seed)
            users = {e[1] for e in events if e[4] == "success"}
            o2 = {p.email for p in pop.people if "carrier_cgnat" in p.classes} & users
            self.assertTrue(0.2 <= len(o2) / len(users) <= 0.45, (seed, len(o2) / len(users)))

    def test_incidents_fall_in_the_last_days_and_apart(self):
        for seed in (1, 2, 3, 4):
            _pop, inc, _e, _a, _w = run("quiet", seed)
            self.assertTrue(END - 5.5 * 86400 < inc.forced_change < END - 2 * 86400)
            self.assertTrue(END - 5.5 * 86400 < inc.outage_start < inc.outage_end < END)
            self.assertGreater(abs(inc.outage_start - inc.forced_change), 1.5 * 86400)
            self.assertEqual(inc.outage_outcome, "wrong_password" if seed % 2 else "unknown_account")

    def test_the_forced_change_makes_stale_devices_fail_on_their_owners_own_networks(self):
        pop, inc, events, _a, _w = run("quiet")
        stale = {p.email for p in pop.people if "forced_change_stale" in p.classes}
        self.assertGreater(len(stale), N // 50)
        after = [e for e in events if e[1] in stale and e[4] == "wrong_password" and e[0] >= inc.forced_change]
        self.assertGreater(len(after), len(stale))

    def test_the_payment_service_signs_in_many_customers_from_a_few_addresses(self):
        pop, _inc, events, _a, _w = run("quiet")
        pis = [e for e in events if e[2] in pop.w.pis_ips]
        self.assertGreater(len({e[1] for e in pis}), N // 50)
        self.assertLessEqual(len({e[2] for e in pis}), 6)
        self.assertGreater(sum(1 for e in pis if e[4] == "success") / len(pis), 0.8)

    def test_attacks_have_their_stated_shape(self):
        _p, _i, _e, a, _w = run("aitm_phish")
        self.assertEqual(a.taken, a.attacked)  # the victim types the real password
        _p, _i, _e, a, _w = run("enum_then_guess")
        self.assertGreater(a.unknown, a.attempts / 4)
        _p, _i, _e, a, _w = run("botnet")
        self.assertGreater(len(a.nets), 30)
        _p, _i, events, a, _w = run("spraying")
        self.assertGreaterEqual(len({pw for (_t, e, _ip, _u, _o, _c, _as, pw) in events if e in a.taken}), 1)

    def test_the_combo_list_does_not_open_an_account_whose_password_changed(self):
        pop, _inc, events, a, _w = run("residential")
        by_email = {p.email: p for p in pop.people}
        for (t, e, _ip, _ua, out, _cc, _asn, pw) in events:
            if e in a.attacked and out == "success" and e in a.taken:
                self.assertEqual(pw, by_email[e].pw_at(t))


class Files(unittest.TestCase):
    def test_gen_writes_the_files_run_sh_imports(self):
        with tempfile.TemporaryDirectory() as d:
            with contextlib.redirect_stdout(io.StringIO()):
                gen.main(["--seed", "1", "--accounts", "300", "--shape", "concentrated", "--out", d,
                          "--fingerprint-key", "11" * 32, "--end", "2026-12-04T19:00:00Z"])
            with open(os.path.join(d, "accounts.jsonl")) as f:
                accounts = [json.loads(line) for line in f]
            self.assertEqual(len({a["email"] for a in accounts}), 300)
            for a in accounts:
                self.assertRegex(a["password_hash"], r"^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")
                self.assertRegex(a["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            with open(os.path.join(d, "events.jsonl")) as f:
                events = [json.loads(line) for line in f]
            self.assertTrue(all(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", e["time"]) for e in events))
            with open(os.path.join(d, "truth.json")) as f:
                truth = json.load(f)
            everyone = set().union(*map(set, truth["innocents_by_class"].values())) | set(truth["taken_over"])
            self.assertEqual(everyone, {a["email"] for a in accounts})
            self.assertFalse(set(truth["taken_over"]) & set().union(*map(set, truth["innocents_by_class"].values())))


class Breakdown(unittest.TestCase):
    def test_periods_rules_and_the_quiet_day(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "backtest"))
            truth = {"shape": "quiet", "seed": 1, "accounts": 3, "taken_over": ["t@x.de"],
                     "innocents_by_class": {"carrier_cgnat": ["a@x.de"], "pis_user": ["b@x.de"], "ordinary": ["c@x.de"]},
                     "attack": None, "outage": {"start": "2026-12-02T18:00:00Z", "end": "2026-12-02T19:00:00Z"},
                     "forced_change": {"start": "2026-12-01T06:00:00Z", "rush_end": "2026-12-02T18:00:00Z"},
                     "black_friday": ["2026-11-26T23:00:00Z"], "pis": {"ips": ["1.2.3.17"]}}
            with open(os.path.join(d, "truth.json"), "w") as f:
                json.dump(truth, f)
            with open(os.path.join(d, "rules.json"), "w") as f:
                json.dump([{"id": "account-takeover", "action": "force_reset"}, {"id": "notify-only", "action": "notify"}], f)
            with open(os.path.join(d, "backtest", "account-takeover.csv"), "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["account_id", "email", "findings", "score", "first_seen", "explanation"])
                w.writerow(["1", "a@x.de", "1", "1", "2026-12-02T18:30:00Z", "x"])  # outage (inside the forced change too)
                w.writerow(["2", "t@x.de", "1", "1", "2026-12-02T18:30:00Z", "x"])  # taken over: not counted
            with open(os.path.join(d, "backtest", "notify-only.csv"), "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["account_id", "email", "findings", "score", "first_seen", "explanation"])
                w.writerow(["3", "b@x.de", "1", "1", "2026-11-27T20:00:00Z", "1.2.3.0/24 tried 40 accounts"])
            t, rows = breakdown.breakdown(d)
            got = {r["email"]: (r["period"], r["force_reset"], r["names_pis"]) for r in rows}
            self.assertEqual(got, {"a@x.de": ("outage", True, False), "b@x.de": ("shopping", False, True)})
            out = breakdown.table([(t, rows)])
            self.assertIn("| quiet | 1 | 3 | 2 | 1 | 1 | 1 | 1 | 0 | 1 | 0 | 1 | 0 |", out)
            self.assertIn("quiet day, seed 1, 3 accounts: 1 innocent accounts with a force-reset finding", out)


if __name__ == "__main__":
    unittest.main()
