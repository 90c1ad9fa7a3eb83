"""The attacks on Sahyog. Each shape draws from its own random stream
(`world.stream(seed, "attack/<shape>")`); ground truth is every account an attacker
signed in to (a `success` event of the attacker's)."""

from places import WORKDAY
from world import (BOTNET_COUNTRIES, BULLETPROOF, DAY, HOUR, SMALL_HOSTING, VPN_EXITS, BIG_CARRIER, Net,
                   app_ua, browser_ua, stream)

SHAPES = ["quiet", "concentrated", "botnet", "residential", "low_and_slow", "spraying", "helpdesk_reset",
          "fireprox_spray"]

SPRAY_PASSWORDS = ["Welcome@123", "Password@123", "India@123", "Welcome@2026"]
OLD_UAS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36"]


def password_at(p, t):
    ch = p.password_change
    if ch and t < ch[0]:
        return ch[1]
    return p.password


class Attack:
    def __init__(self, seed, shape, world, people, cal, accounts):
        self.rng = stream(seed, "attack/" + shape)
        self.shape, self.world, self.people, self.cal = shape, world, people, cal
        self.k = accounts / 20000
        world.space.rng = self.rng  # attackers' own address blocks, never the people's
        self.events, self.taken, self.attacked = [], set(), set()
        self.by_email = {p.email: p for p in people}
        self.targets = [p for p in people if "service_account" not in p.classes and not p.tenant.onboarding]
        self.users = [p for p in people if p.active and not p.tenant.sso and "service_account" not in p.classes]
        self.window = None  # (start, minutes)
        self.notes = {}

    # ---- helpers ----
    def n(self, base):
        return max(1, int(base * self.k))

    def short_window(self, minutes):
        """A start in the last five days, clear of the outage and the 3 h after it."""
        cal, rng = self.cal, self.rng
        while True:
            s = rng.uniform(cal.end - 5 * DAY, cal.end - minutes * 60 - 2 * HOUR)
            if s + minutes * 60 <= cal.outage[0] or s >= cal.outage[1] + 3 * HOUR:
                self.window = (s, minutes)
                return s

    def combo(self, lines, real=0.5, reuse=0.025):
        """A combo list from other sites' breaches: (address, leaked password)."""
        rng, out = self.rng, []
        for _ in range(lines):
            if rng.random() < real:
                p = rng.choice(self.targets)
                pw = p.pw_at_start if rng.random() < reuse else "leak-%08x" % rng.getrandbits(32)
                out.append((p.email, pw))
            else:
                out.append(("%s%d@%s" % (rng.choice(["raj", "sam", "info", "sales", "anita", "mike", "hr", "amit"]),
                                         rng.randint(1, 9999), rng.choice(["gmail.com", "yahoo.co.in", "outlook.com", "rediffmail.com"])),
                            "leak-%08x" % rng.getrandbits(32)))
        return out

    def attempt(self, t, email, pw, where, ua):
        """One attempt; returns whether it opened the account."""
        cal = self.cal
        if not (cal.start <= t < cal.end):
            return False
        p = self.by_email.get(email)
        ip, country, asn = where
        if p is None:
            outcome = "unknown_account"
        else:
            self.attacked.add(email)
            outcome = "success" if pw == password_at(p, t) else "wrong_password"
        if cal.in_outage(t):
            outcome = cal.outage_outcome
        self.events.append((t, email, ip, ua, outcome, country, asn, pw))
        if outcome == "success":
            self.taken.add(email)
            return True
        return False

    def hosting(self, choices, n24):
        name, asn, country = self.rng.choice(choices)
        return Net(self.world.space, name, asn, country, n24)

    def residential_exit(self):
        """An exit of a residential-proxy network inside the site's own consumer networks,
        weighted as the site's users are: a random user's carrier or home ISP, another
        subscriber's address."""
        rng, w = self.rng, self.world
        p = rng.choice(self.users)
        if rng.random() < 0.5 or p.home == "Reliance JioFiber":
            net, v6 = w.carrier[p.carrier if rng.random() < 0.5 or p.home != "Reliance JioFiber" else BIG_CARRIER]
            ip = net.v6(rng) if rng.random() < v6 else net.v4(rng)
        else:
            net, _, v6 = w.home[p.home]
            ip = net.v6(rng) if (v6 and rng.random() < 0.3) else net.v4(rng)
        return (ip, net.country, net.asn)

    def current_ua(self):
        rng = self.rng
        if rng.random() < 0.3:
            return app_ua("android", rng.choice(["SM-A546E", "CPH2581", "RMX3771"]), "5.12.0")
        return browser_ua(rng.choice(["chrome-win", "edge-win", "chrome-mac"]), 131)

    def old_ua(self):
        rng = self.rng
        return OLD_UAS[0] % (rng.randint(96, 118), rng.randint(4000, 5990), rng.randint(50, 200))

    # ---- shapes ----
    def concentrated(self):
        rng = self.rng
        minutes = rng.uniform(60, 120)
        s = self.short_window(minutes)
        nets = [self.hosting(BULLETPROOF, 1) for _ in range(rng.randint(3, 5))]
        addrs = [(n.v4(rng), n.country, n.asn) for n in nets for _ in range(rng.randint(4, 16))]
        stale_ua = self.old_ua()
        for email, pw in self.combo(self.n(4000)):
            ua = stale_ua if rng.random() < 0.7 else "python-requests/2.28.1"
            self.attempt(s + rng.random() * minutes * 60, email, pw, rng.choice(addrs), ua)

    def botnet(self):
        rng, w = self.rng, self.world
        minutes = rng.uniform(120, 180)
        s = self.short_window(minutes)
        countries = rng.sample(BOTNET_COUNTRIES, min(len(BOTNET_COUNTRIES), 20))
        asns = [(c, a) for c, lst in countries for a in lst]
        asns = rng.sample(asns, min(len(asns), rng.randint(40, 48)))
        bots = []
        for _ in range(self.n(500)):
            c, a = rng.choice(asns)
            net = Net(w.space, "bot-%d" % a, a, c, 1, v6=rng.random() < 0.08)
            for _ in range(rng.randint(1, 3)):
                ip = net.v6(rng) if net.prefix6 else net.v4(rng)
                bots.append(((ip, c, a), self.old_ua()))
        lines = self.combo(self.n(6000))
        hits = []
        for i, (email, pw) in enumerate(lines):
            where, ua = bots[i % len(bots)]
            t = s + rng.random() * minutes * 60
            if self.attempt(t, email, pw, where, ua):
                hits.append((t, email, pw))
        for t, email, pw in hits:
            if rng.random() < 0.5:
                where, ua = rng.choice(bots)
                self.attempt(t + rng.uniform(2, 20) * HOUR, email, pw, where, ua)

    def residential(self):
        rng = self.rng
        minutes = rng.uniform(300, 480)
        s = self.short_window(minutes)
        lines = self.combo(self.n(6000))
        i = 0
        while i < len(lines):
            where, ua = self.residential_exit(), self.current_ua()
            for _ in range(rng.randint(1, 2)):
                if i < len(lines):
                    self.attempt(s + rng.random() * minutes * 60, lines[i][0], lines[i][1], where, ua)
                    i += 1

    def low_and_slow(self):
        rng, cal = self.rng, self.cal
        days = rng.uniform(4, 5)
        s = cal.end - days * DAY - rng.uniform(0, 6) * HOUR
        self.window = (s, days * 24 * 60)
        hosting = [self.hosting(SMALL_HOSTING, 1) for _ in range(150)]
        for email, pw in self.combo(self.n(6000)):
            # The site's own rhythm (Indian working hours): hidden in its busiest hours.
            while True:
                t = s + rng.random() * days * DAY
                h = int(((t + 5.5 * HOUR) % DAY) // HOUR)
                if rng.random() < WORKDAY[h] / max(WORKDAY):
                    break
            if rng.random() < 0.7:
                where, ua = self.residential_exit(), self.current_ua()
            else:
                n = rng.choice(hosting)
                where, ua = (n.v4(rng), n.country, n.asn), self.current_ua()
            self.attempt(t, email, pw, where, ua)

    def spraying(self):
        rng = self.rng
        rounds = rng.randint(3, 4)
        hours = [rng.uniform(5, 8) for _ in range(rounds)]
        gaps = [rng.uniform(3, 8) for _ in range(rounds - 1)]
        span = sum(hours) + sum(gaps)
        s = self.short_window(span * 60)
        real = rng.sample(self.targets, min(len(self.targets), self.n(4800)))
        stale = ["%s.%s@%s" % (rng.choice(["ravi", "ajay", "tina", "mark", "john"]), rng.choice(["k", "s", "m"]) + str(rng.randint(1, 999)),
                               rng.choice(real).tenant.domain) for _ in range(self.n(1200))]
        hosting = [self.hosting(SMALL_HOSTING, 1) for _ in range(4)]
        pwds = rng.sample(SPRAY_PASSWORDS, rounds)
        t0 = s
        for r in range(rounds):
            addrs = [p.email for p in real if p.email not in self.taken] + stale
            rng.shuffle(addrs)
            i = 0
            while i < len(addrs):
                if rng.random() < 0.75:
                    where = self.residential_exit()
                else:
                    n = rng.choice(hosting)
                    where = (n.v4(rng), n.country, n.asn)
                ua = self.current_ua()
                for _ in range(rng.randint(1, 3)):
                    if i < len(addrs):
                        self.attempt(t0 + rng.random() * hours[r] * HOUR, addrs[i], pwds[r], where, ua)
                        i += 1
            t0 += hours[r] * HOUR + (gaps[r] if r < len(gaps) else 0) * HOUR
        self.notes["passwords"] = pwds

    def helpdesk_reset(self, innocent_events):
        """Social engineering of the site's support desk: the attacker calls as the
        employee ("new phone, locked out"), gets the password reset to one they choose,
        and signs in; the real employee's next sign-ins fail until they recover the
        account by e-mail. Returns the innocents' events with the victims' rewritten."""
        rng, cal = self.rng, self.cal
        admins = [p for p in self.users if p.role == "admin" and not p.tenant.onboarding]
        others = [p for p in self.users if p.role != "admin" and not p.tenant.onboarding]
        victims = rng.sample(admins, min(len(admins), self.n(15))) + rng.sample(others, self.n(12))
        first = None
        recover = {}
        for p in victims:
            # During the victim's working hours, one of the last 4.5 days.
            while True:
                t = rng.uniform(cal.end - 4.5 * DAY, cal.end - 6 * HOUR)
                h = ((t + p.tz * HOUR) % DAY) / HOUR
                if 9 <= h < 18 and not cal.in_outage(t):
                    break
            if rng.random() < 0.3:
                continue  # the desk asked for the manager's approval: the call fails
            first = t if first is None else min(first, t)
            new = "hd-%08x" % rng.getrandbits(32)
            old = p.password
            p.password_change = (t, old)
            p.password = new
            if rng.random() < 0.6 and p.country in VPN_EXITS:
                net = rng.choice(self.world.vpn_exit[p.country])
                where = (net.v4(rng), net.country, net.asn)
            else:
                where = self.residential_exit_in(p.country)
            ua = browser_ua(p.browser if rng.random() < 0.5 else "chrome-win", 131)
            self.attempt(t + rng.uniform(2, 15) * 60, p.email, new, where, ua)
            for _ in range(rng.randint(0, 2)):
                self.attempt(t + rng.uniform(1, 20) * HOUR, p.email, new, where, ua)
            recover[p.email] = (t, old)
        if first is not None:
            self.window = (first, (cal.end - first) / 60)
        out, seen = [], {}
        for ev in sorted(innocent_events):
            r = recover.get(ev[1])
            if r is None or ev[0] < r[0] or cal.in_outage(ev[0]):
                out.append(ev)
                continue
            state = seen.get(ev[1])
            if state is None:
                # The victim's next sign-in: the old password is refused (twice or three
                # times), then a recovery e-mail, a new password, a success.
                t, where, ua = ev[0], ev[2], ev[3]
                for _ in range(rng.randint(2, 3)):
                    out.append((t, ev[1], where, ua, "wrong_password", ev[5], ev[6], r[1]))
                    t += rng.uniform(10, 60)
                mine = "mine-%08x" % rng.getrandbits(32)
                seen[ev[1]] = mine
                out.append((t + rng.uniform(4, 15) * 60, ev[1], where, ua, "success", ev[5], ev[6], mine))
                continue
            if ev[4] == "success":
                out.append(ev[:7] + (state,))
            else:
                out.append(ev)
        return out

    def residential_exit_in(self, country):
        for _ in range(200):
            where = self.residential_exit()
            if where[1] == country:
                return where
        return self.residential_exit()

    def fireprox_spray(self):
        """A spray aimed at chosen companies, through rotating AWS API Gateway addresses
        (FireProx) in the companies' own AWS region: the employees' addresses guessed from
        LinkedIn names, the company's name as the password."""
        rng, w = self.rng, self.world
        big = [t for t in {p.tenant for p in self.targets} if t.size >= 10 and not t.sso]
        big.sort(key=lambda t: t.idx)
        tenants = rng.sample(big, min(len(big), self.n(25)))
        minutes = rng.uniform(360, 600)
        s = self.short_window(minutes)
        uas = [browser_ua(k, 131) for k in ("chrome-win", "edge-win", "chrome-mac")] + [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.70"]
        targets = []
        for t in tenants:
            staff = [p for p in self.targets if p.tenant is t]
            found = rng.sample(staff, int(len(staff) * 0.7))
            for p in found:
                targets.append((t, p.email))
                if rng.random() < 0.4:
                    # The guessed format is wrong for this one: first.last vs flast.
                    targets.append((t, "%s%s@%s" % (p.first[0], p.last, t.domain) if "." in p.email.split("@")[0]
                                    else "%s.%s@%s" % (p.first, p.last, t.domain)))
        rng.shuffle(targets)
        for t, email in targets:
            name = t.name.capitalize()
            net = w.cloud[("AWS", t.country)]
            tt = s + rng.random() * minutes * 60
            for pw in ["%s@123" % name, "%s@2026" % name, "Welcome@123"]:
                where = (net.v4(rng), net.country, net.asn)  # a new gateway address per request
                if self.attempt(tt, email, pw, where, rng.choice(uas)) or email not in self.by_email:
                    break
                tt += rng.uniform(20, 90) * 60
        self.notes["tenants"] = [t.domain for t in tenants]

    def run(self, innocent_events):
        """(innocent events, maybe rewritten; the attack's events)."""
        if self.shape == "quiet":
            return innocent_events, []
        if self.shape == "helpdesk_reset":
            return self.helpdesk_reset(innocent_events), self.events
        getattr(self, self.shape)()
        return innocent_events, self.events
