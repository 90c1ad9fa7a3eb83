"""The attack shapes. Each draws from its own random stream, reads the population (addresses,
each account's password at every moment) and adds the attacker's attempts to the log; it
never changes what the innocents do, so a seed's innocents are the same under every shape.

Sizes are stated at 20,000 accounts and scale with the number of accounts. A combo list's
password for a real account is the one the account had when the trace began (the breach
is older): an account whose owner has changed it since (the bank's forced change) is not
opened by it.
"""

import people as P
import world as W

SHAPES = ["quiet", "concentrated", "botnet", "residential", "low_and_slow", "spraying", "aitm_phish", "enum_then_guess"]
DAY, HOUR, MIN = P.DAY, 3600.0, 60.0

OLD_CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36"
CURRENT = [W.DESKTOP_UAS[0][2].replace("{v}", "133"), W.DESKTOP_UAS[1][2].replace("{v}", "131"),
           W.DESKTOP_UAS[3][2].replace("{v}", "18"), W.DESKTOP_UAS[2][2].replace("{v}", "131")]


class Attacker:
    """Sends attempts, keeps the bank's lock (three wrong in a row lock the account for a day;
    a locked account's attempts are not checked, so not logged) and the ground truth."""

    def __init__(self, pop, log, rng, n):
        self.pop, self.log, self.rng, self.n = pop, log, rng, n
        self.by_email = {p.email: p for p in pop.people}
        self.taken, self.attacked = set(), set()
        self.fails, self.locked = {}, {}
        self.attempts = self.unknown = 0
        self.sources, self.nets, self.asns = set(), set(), set()
        self.first = self.last = None

    def scale(self, x):
        return max(1, int(round(x * self.n / 20000)))

    def attempt(self, t, email, ip, ua, cc, asn, pw):
        if t >= self.pop.end or t < self.pop.start:
            return None
        p = self.by_email.get(email)
        if p is not None and (t < p.created or t < self.locked.get(email, 0)):
            return None
        if p is not None and self.pop.inc.in_outage(t):
            out = self.pop.inc.outage_outcome
        elif p is None:
            out = "unknown_account"
        else:
            out = "success" if pw == p.pw_at(t) else "wrong_password"
        self.log.add(t, email, ip, ua, out, cc, asn, pw)
        self.attempts += 1
        self.sources.add(ip)
        self.nets.add(ip.rsplit(".", 1)[0] if "." in ip else ":".join(ip.split(":")[:4]))
        self.asns.add(asn)
        self.first = t if self.first is None else min(self.first, t)
        self.last = t if self.last is None else max(self.last, t)
        if out == "unknown_account":
            self.unknown += 1
        elif p is not None:
            self.attacked.add(email)
            if out == "success":
                self.taken.add(email)
                self.fails[email] = 0
            elif out == "wrong_password":
                self.fails[email] = self.fails.get(email, 0) + 1
                if self.fails[email] >= 3:
                    self.locked[email], self.fails[email] = t + DAY, 0
        return out

    # -- lists and sources ------------------------------------------------------------

    def fake_address(self):
        rng = self.rng
        while True:
            e = "%s.%s%d@%s" % (rng.choice(W.FIRST), rng.choice(W.LAST), rng.randint(1, 9999), W.weighted(rng, W.GERMAN_EMAIL_DOMAINS))
            if e not in self.by_email:
                return e

    def combo(self, lines, real_share, reuse, before):
        """A combo list from another site's breach: (address, password) pairs."""
        rng = self.rng
        people = [p for p in self.pop.people if p.created < before]
        real = rng.sample(people, min(len(people), int(lines * real_share)))
        out = []
        for p in real:
            pw = p.pw_hist[0][1] if rng.random() < reuse else P.typo_of(rng, p.pw_hist[0][1]) + str(rng.randint(0, 9))
            out.append((p.email, pw))
        for _ in range(lines - len(real)):
            out.append((self.fake_address(), "".join(rng.choice("abcdefghijkmnopqrstuvwxyz0123456789") for _ in range(9)) + "!"))
        rng.shuffle(out)
        return out

    def residential_exit(self):
        """A residential proxy's exit inside the site's own networks, weighted as its users are."""
        w, rng = self.pop.w, self.rng
        net = W.weighted(rng, [(w.o2_mobile, 30), (w.telekom_dsl, 25), (w.vodafone_cable, 14), (w.one_and_one, 10),
                               (w.o2_dsl, 8), (w.telekom_mobile, 7), (w.vodafone_mobile, 6)])
        if net.kind == "home" and net.v6 and rng.random() < 0.3:
            return net.v6_ip(rng), net.country, net.asn
        return net.pool_ip(rng), net.country, net.asn

    def hosting(self, nets, n24, per24):
        rng = self.rng
        out = []
        for _ in range(n24):
            net = rng.choice(nets)
            block = rng.choice(net.blocks)
            for a in rng.sample(range(2, 254), per24):
                out.append(("%s.%d" % (block, a), net.country, net.asn))
        return out

    def use_later(self, email, t, source, ua):
        """Half the accounts opened are signed in to again later, to use them."""
        if self.rng.random() < 0.5:
            ip, cc, asn = source
            self.attempt(t + self.rng.uniform(1, 12) * HOUR, email, ip, ua, cc, asn, self.by_email[email].pw_at(t))

    def window(self, minutes, lo=0.5, hi=5.0):
        """A start in the last days, clear of the outage and the forced change's first day."""
        inc, rng, end = self.pop.inc, self.rng, self.pop.end
        for _ in range(1000):
            s = end - rng.uniform(lo, hi) * DAY
            e = s + minutes * MIN
            if e + HOUR > end:
                continue
            if s < inc.outage_end + 3 * HOUR and e > inc.outage_start - HOUR:
                continue
            if s < inc.forced_change + DAY and e > inc.forced_change:
                continue
            return s
        return end - hi * DAY


def stuff(a, pairs, start, minutes, sources, per_source, uas, later_source=None):
    """Run a combo list over sources, each taking per_source() attempts, spread over the window."""
    rng = a.rng
    i, n = 0, len(pairs)
    while i < n:
        ip, cc, asn = sources() if callable(sources) else rng.choice(sources)
        ua = rng.choice(uas) if isinstance(uas, list) else uas()
        for _ in range(per_source()):
            if i >= n:
                break
            email, pw = pairs[i]
            t = start + (i + rng.random()) / n * minutes * MIN
            if a.attempt(t, email, ip, ua, cc, asn, pw) == "success":
                a.use_later(email, t, later_source() if later_source else (ip, cc, asn), ua)
            i += 1


def concentrated(a):
    rng, w = a.rng, a.pop.w
    minutes = rng.uniform(60, 120)
    start = a.window(minutes)
    nets = rng.sample([h for h in w.hosting if h.name in ("ipvolume", "worldstream", "m247")], rng.randint(1, 2))
    srcs = a.hosting(nets, rng.randint(3, 5), rng.randint(4, 16))
    uas = [OLD_CHROME % 109] * 7 + ["okhttp/4.9.3"] * 3
    stuff(a, a.combo(a.scale(4000), 0.5, 0.025, start), start, minutes, srcs, lambda: rng.randint(20, 60), uas)
    return start, minutes


def botnet(a):
    rng, w = a.rng, a.pop.w
    minutes = rng.uniform(120, 180)
    start = a.window(minutes)
    nets = rng.sample(w.consumer_abroad, rng.randint(40, 60))
    bots = []
    for _ in range(a.scale(500)):
        net = rng.choice(nets)
        block = rng.choice(net.blocks)
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.08:
                bots.append((net.v6_ip(rng), net.country, net.asn, OLD_CHROME % rng.randint(100, 125)))
            else:
                bots.append(("%s.%d" % (block, rng.randint(2, 254)), net.country, net.asn, OLD_CHROME % rng.randint(100, 125)))
    pairs = a.combo(a.scale(6000), 0.5, 0.025, start)
    i = 0
    while i < len(pairs):
        ip, cc, asn, ua = rng.choice(bots)
        for _ in range(rng.randint(8, 15)):
            if i >= len(pairs):
                break
            t = start + (i + rng.random()) / len(pairs) * minutes * MIN
            email, pw = pairs[i]
            if a.attempt(t, email, ip, ua, cc, asn, pw) == "success":
                ip2, cc2, asn2, _ = rng.choice(bots)
                a.use_later(email, t, (ip2, cc2, asn2), ua)
            i += 1
    return start, minutes


def resident_ua(a):
    rng = a.rng
    if rng.random() < 0.4:
        os_name = rng.choice(["ios", "android"])
        return W.app_ua(os_name, rng.choice(W.IOS if os_name == "ios" else W.ANDROID), W.APP_OLD)
    return rng.choice(CURRENT)


def residential(a):
    rng = a.rng
    minutes = rng.uniform(360, 540)
    start = a.window(minutes)
    stuff(a, a.combo(a.scale(6000), 0.5, 0.025, start), start, minutes, a.residential_exit,
          lambda: rng.randint(1, 2), lambda: resident_ua(a), later_source=a.residential_exit)
    return start, minutes


def low_and_slow(a):
    rng, w = a.rng, a.pop.w
    days = rng.uniform(4, 5)
    start = a.pop.end - days * DAY - rng.uniform(2, 8) * HOUR
    hosting = a.hosting(rng.sample(w.small_hosting, 40), a.scale(150), 2)
    pairs = a.combo(a.scale(6000), 0.5, 0.025, start)
    # Attempts follow the bank's own daily curve (German time), so no hour stands out.
    times = []
    while len(times) < len(pairs):
        t = start + rng.random() * days * DAY
        h = int(((t + 3600) % DAY) // 3600)
        if rng.random() < W.DIURNAL[h] / max(W.DIURNAL):
            times.append(t)
    times.sort()
    i = 0
    while i < len(pairs):
        ip, cc, asn = a.residential_exit() if rng.random() < 0.7 else rng.choice(hosting)
        ua = resident_ua(a)
        for _ in range(rng.randint(1, 2)):
            if i >= len(pairs):
                break
            email, pw = pairs[i]
            if a.attempt(times[i], email, ip, ua, cc, asn, pw) == "success":
                a.use_later(email, times[i], a.residential_exit(), ua)
            i += 1
    return start, days * 24 * 60


def spraying(a):
    rng, w = a.rng, a.pop.w
    rounds = rng.randint(3, 4)
    passwords = ["Sommer2026!", "Winter2026!", "Passwort1!", "Hallo1234!"][:rounds]
    start = a.window(0, 1.5, 4.5)
    hosting = a.hosting(rng.sample(w.small_hosting, 2), 4, 6)
    opened = set()
    t0 = start
    people = [p for p in a.pop.people if p.created < start]
    for pw in passwords:
        hours = rng.uniform(5, 8)
        targets = [p.email for p in rng.sample(people, min(len(people), a.scale(4800)))] + [a.fake_address() for _ in range(a.scale(1200))]
        rng.shuffle(targets)
        targets = [e for e in targets if e not in opened]
        i = 0
        while i < len(targets):
            ip, cc, asn = a.residential_exit() if rng.random() < 0.75 else rng.choice(hosting)
            ua = rng.choice(CURRENT)
            for _ in range(rng.randint(1, 3)):
                if i >= len(targets):
                    break
                t = t0 + (i + rng.random()) / len(targets) * hours * HOUR
                if a.attempt(t, targets[i], ip, ua, cc, asn, pw) == "success":
                    opened.add(targets[i])
                    a.use_later(targets[i], t, a.residential_exit(), ua)
                i += 1
        t0 += hours * HOUR + rng.uniform(3, 8) * HOUR
    return start, (t0 - start) / MIN


def aitm_phish(a):
    """An SMS phishing wave ("your pushTAN procedure expires: confirm now") sends victims to
    a reverse proxy that relays what they type to the bank in real time, with their own
    browser's user agent, from a German VPS; after a takedown it moves to another provider.
    Every relayed success is a takeover (the kit keeps the session)."""
    rng, w = a.rng, a.pop.w
    start = a.window(600)
    start = start - ((start + 3600) % DAY) + rng.uniform(9, 16) * HOUR  # the SMS go out in the day
    if start + 10 * HOUR > a.pop.end:
        start -= DAY
    vps = [h for h in w.hosting if h.name in ("hetzner", "contabo", "digitalocean", "linode", "vultr")]
    first, second = rng.sample(vps, 2)
    takedown = start + rng.uniform(3, 5) * HOUR
    servers = [(["%s.%d" % (rng.choice(n.blocks), rng.randint(2, 254)) for _ in range(2)], n) for n in (first, second)]
    victims = rng.sample([p for p in a.pop.people if p.phone is not None and p.created < start], a.scale(90))
    strangers = a.scale(140)  # people who are not customers but typed something in anyway
    for k in range(len(victims) + strangers):
        t = start + min(10 * HOUR, rng.expovariate(1 / (100 * MIN)))
        ips, net = servers[0] if t < takedown else servers[1]
        ip = rng.choice(ips)
        if k < len(victims):
            p = victims[k]
            ua = W.mobile_browser_ua(p.os, p.model)
            cur = p.pw_at(t)
            tries = []
            if rng.random() < 0.15:
                tries.append(P.typo_of(rng, cur))
            if rng.random() < 0.05:
                tries.append(p.pw_hist[0][1] if len(p.pw_hist) > 1 else P.typo_of(rng, cur))
            tries.append(cur)
            for pw in tries:
                out = a.attempt(t, p.email, ip, ua, "DE", net.asn, pw)
                if out == "success":
                    if rng.random() < 0.5:
                        # The fraudster enrols their own device from a proxy at home.
                        ip2, cc2, asn2 = a.residential_exit()
                        a.attempt(t + rng.uniform(1, 20) * HOUR, p.email, ip2, rng.choice(CURRENT), cc2, asn2, p.pw_at(t))
                    break
                if out is None:
                    break
                t += rng.uniform(15, 60)
        else:
            os_name = rng.choice(["ios", "android"])
            ua = W.mobile_browser_ua(os_name, rng.choice(W.IOS if os_name == "ios" else W.ANDROID))
            a.attempt(t, a.fake_address(), ip, ua, "DE", net.asn, "x" * rng.randint(8, 12) + "1!")
    return start, 600


def enum_then_guess(a):
    """First, which addresses are customers: a marketing list (names and birth years) tried
    once each with one junk password from a few VPS; the answers tell the existing
    accounts (wrong password) from the others (unknown). Days later, each existing account
    gets two to four guesses built from the owner's name and birth year, at most two a day
    (the lock is three), each from a fresh residential exit."""
    rng, w = a.rng, a.pop.w
    start = a.pop.end - rng.uniform(3.8, 4.6) * DAY
    p1_minutes = rng.uniform(45, 75)
    srcs = a.hosting(rng.sample(w.small_hosting, 3), rng.randint(3, 4), rng.randint(6, 10))
    people = [p for p in a.pop.people if p.created < start]
    real = rng.sample(people, min(len(people), a.scale(7000)))
    listed = [(p.email, p) for p in real] + [(a.fake_address(), None) for _ in range(a.scale(13000))]
    rng.shuffle(listed)
    found = []
    for i, (email, p) in enumerate(listed):
        ip, cc, asn = srcs[i % len(srcs)]
        t = start + (i + rng.random()) / len(listed) * p1_minutes * MIN
        if a.attempt(t, email, ip, "okhttp/4.9.2", cc, asn, "Hafen2026!") == "wrong_password":
            found.append(p)
    p2 = start + rng.uniform(1.5, 2.5) * DAY
    hours = rng.uniform(36, 48)
    plan = []
    for p in found:
        year = p.year if rng.random() < 0.6 else p.year + rng.choice([-1, 1])
        name = p.name.capitalize()
        guesses = ["%s%d!" % (name, year), "%s%d#" % (name, year), "%s%02d!" % (name, year % 100), "%s123!" % name]
        for g, pw in enumerate(guesses[:rng.randint(2, 4)]):
            plan.append((p2 + (g // 2) * DAY + rng.random() * min(hours * HOUR, DAY), p.email, pw))
    plan.sort()
    for t, email, pw in plan:
        if email in a.taken:
            continue
        ip, cc, asn = a.residential_exit()
        ua = rng.choice(CURRENT)
        if a.attempt(t, email, ip, ua, cc, asn, pw) == "success":
            a.use_later(email, t, a.residential_exit(), ua)
    return start, (p2 + hours * HOUR - start) / MIN


RUN = {"concentrated": concentrated, "botnet": botnet, "residential": residential, "low_and_slow": low_and_slow,
       "spraying": spraying, "aitm_phish": aitm_phish, "enum_then_guess": enum_then_guess}


def run(shape, pop, log, rng, n):
    """The attack's Attacker (ground truth) and its window, or (None, None) for quiet."""
    if shape == "quiet":
        return None, None
    a = Attacker(pop, log, rng, n)
    start, minutes = RUN[shape](a)
    return a, (start, minutes)


def summary(a, window):
    if a is None:
        return None
    start, minutes = window
    return {"window_start": W.iso(start), "window_end": W.iso(start + minutes * MIN), "window_minutes": round(minutes, 1),
            "attempts": a.attempts, "unknown_account_attempts": a.unknown, "sources": len(a.sources),
            "networks": len(a.nets), "asns": len(a.asns), "accounts_attacked": len(a.attacked),
            "taken_over": len(a.taken), "first_attempt": W.iso(a.first) if a.first else None,
            "last_attempt": W.iso(a.last) if a.last else None}

