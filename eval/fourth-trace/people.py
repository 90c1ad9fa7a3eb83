"""Hafenbank's customers and everything innocent they do during the trace.

A person signs in from their phone (the bank's app, which keeps the password in the phone's
keychain and sends it after Face ID or a fingerprint) or a computer's browser (typed, or
filled by the browser's password manager). Every event carries the password as sent; its
fingerprint is computed when the trace is written. The bank locks an account after three
wrong passwords in a row (a locked account's attempts are never checked, so never logged)
until the customer calls the hotline, which unlocks it the next day.
"""

import math

import world as W

DAY = 86400.0
SECURE_EMAIL_TYPO = 0.006  # sittings that start with a mistyped address (typed logins)


def mix(*xs):
    """A deterministic hash of small integers (Python's hash() of strings changes per process)."""
    h = 0x9E3779B97F4A7C15
    for x in xs:
        h = ((h ^ (x & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))
    k, p, l = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= l:
            return k
        k += 1


def typo_of(rng, pw):
    """A plausible mistyping of pw: a dropped, doubled or swapped character, or caps lock."""
    r = rng.random()
    i = rng.randrange(len(pw))
    if r < 0.3:
        return pw[:i] + pw[i + 1:]
    if r < 0.55:
        return pw[:i] + pw[i] + pw[i:]
    if r < 0.8 and i + 1 < len(pw):
        return pw[:i] + pw[i + 1] + pw[i] + pw[i + 2:]
    return pw.swapcase()


class Device:
    __slots__ = ("kind", "ua", "stores", "pw")

    def __init__(self, kind, ua, stores, pw):
        self.kind, self.ua, self.stores, self.pw = kind, ua, stores, pw


class Person:
    __slots__ = ("i", "email", "created", "active", "rate", "typo", "classes", "country", "tz", "home",
                 "home_v4", "v6_prefix", "phone", "carrier", "os", "model", "desktop", "pw_hist", "elderly",
                 "office", "campus", "trip", "fails", "locked_until", "pis_uses", "guessable", "name", "year")

    def pw_at(self, t):
        pw = self.pw_hist[0][1]
        for since, p in self.pw_hist:
            if since <= t:
                pw = p
        return pw

    def set_pw(self, t, pw):
        self.pw_hist.append((t, pw))


class Incidents:
    """The site-wide events of the trace, drawn from their own stream: the forced password
    change, the outage, salary days, Black Friday, the app release."""

    def __init__(self, rng, seed, start, end):
        # The forced change goes live at 07:00 CET (06:00 UTC) on a working day 3-5 days
        # before the end that is not a salary day (banks do not roll such changes out then).
        salary = W.salary_days(start, end)
        days = []
        for k in range(2, 7):
            d = math.floor((end - k * DAY) / DAY) * DAY
            weekday = int((d // DAY + 3) % 7)
            if weekday < 5 and not any(abs(d - 3600 - s) < 7200 for s in salary):
                days.append(d)
        d = rng.choice(days) if days else math.floor((end - 4 * DAY) / DAY) * DAY
        self.forced_change = d + 6 * 3600
        # The outage: an evening (18:00-20:30 CET) of the last five days, not the change's day.
        while True:
            d = math.floor((end - rng.uniform(1.2, 5.0) * DAY) / DAY) * DAY
            s = d + 17 * 3600 + rng.uniform(0, 2.5 * 3600)
            if abs(s - self.forced_change) > 1.5 * DAY and s + 3600 < end:
                break
        self.outage_start, self.outage_end = s, s + rng.uniform(40, 60) * 60
        # The HSM that checks passwords timed out (logged as wrong passwords) on odd seeds;
        # the customer directory was unreachable (logged as unknown accounts) on even ones.
        self.outage_outcome = "wrong_password" if seed % 2 else "unknown_account"
        self.salary = salary
        self.black_friday = W.black_friday(start, end)
        self.app_release = end - 6 * DAY
        self.firefox_133 = end - 8 * DAY

    def day_factor(self, day_start_local_utc, weekday):
        f = 0.8 if weekday >= 5 else 1.0
        for s in self.salary:
            if 0 <= day_start_local_utc - s < 2 * DAY:
                f *= 1.7
        if 0 <= day_start_local_utc + 7 * 3600 - self.forced_change < DAY:
            f *= 1.8  # the e-mail announcing the change
        return f

    def in_outage(self, t):
        return self.outage_start <= t < self.outage_end


class Population:
    def __init__(self, rng, world, inc, accounts, start, end):
        self.rng, self.w, self.inc, self.start, self.end = rng, world, inc, start, end
        self.o2_share = rng.uniform(0.25, 0.40)  # of the users, on the big carrier's phones
        self.people = []
        used = set()
        for i in range(accounts):
            p = Person()
            p.i = i
            while True:
                first, last = rng.choice(W.FIRST), rng.choice(W.LAST)
                year = rng.randint(1945, 2006)
                form = rng.random()
                local = ("%s.%s" % (first, last) if form < 0.4 else "%s%s%d" % (first[0], last, year % 100) if form < 0.7
                         else "%s.%s%d" % (first, last, rng.randint(1, 999)))
                email = "%s@%s" % (local, W.weighted(rng, W.GERMAN_EMAIL_DOMAINS))
                if email not in used:
                    used.add(email)
                    break
            p.email, p.name, p.year = email, first, year
            p.classes = set()
            p.elderly = year < 1962
            new = rng.random() < 0.02
            p.created = rng.uniform(start + DAY, end - DAY) if new else start - rng.uniform(20, 9 * 365) * DAY
            if new:
                p.classes.add("new_account")
            p.active = new or rng.random() < 0.72
            # Banking is checked more often than most sites: median every ~2.5 days.
            p.rate = min(3.0, math.exp(rng.gauss(math.log(0.4), 0.8)))
            p.typo = min(0.3, rng.expovariate(1 / (0.10 if p.elderly else 0.045)))
            r = rng.random()
            p.guessable = r < 0.012
            if p.guessable:
                pw = "%s%d!" % (first.capitalize(), year)
            elif r < 0.03:
                pw = rng.choice(W.COMMON)
                p.classes.add("common_password")
            else:
                pw = "".join(rng.choice("abcdefghkmnpqrstuvwxyzABCDEFGHKLMNPQRSTUVWXYZ23456789") for _ in range(rng.randint(9, 14))) + rng.choice("!?#$%&")
            p.pw_hist = [(-1e18, pw)]
            p.country, p.tz = "DE", 1
            p.home = None
            abroad = not new and rng.random() < 0.03
            if abroad:
                cc = W.weighted(rng, [("ES", 3), ("AT", 4), ("CH", 3), ("GB", 2), ("US", 1), ("TR", 2), ("PL", 1), ("NL", 1)])
                home, mob, _hotel, tz = world.abroad[cc]
                p.country, p.tz, p.home, p.carrier = cc, tz, home, mob
                p.classes.add("abroad_resident")
            elif rng.random() < 0.88:
                p.home = world.home_net(rng)
            p.home_v4 = p.home.pool_ip(rng) if p.home else None
            p.v6_prefix = p.home.v6_64(rng) if p.home and p.home.v6 and rng.random() < p.home.v6_share else None
            p.os = "ios" if rng.random() < 0.42 else "android"
            p.model = rng.choice(W.IOS if p.os == "ios" else W.ANDROID)
            has_phone = rng.random() < (0.6 if p.elderly else 0.9) or p.home is None
            p.phone = None
            if has_phone:
                p.phone = Device("app", None, True, pw)
                if not abroad:
                    if rng.random() < self.o2_share / 0.85:
                        p.carrier = world.o2_mobile
                    else:
                        p.carrier = world.telekom_mobile if rng.random() < 0.55 else world.vodafone_mobile
            p.desktop = None
            if p.home is not None and (p.phone is None or rng.random() < 0.55):
                name, _, fmt, (lo, hi) = W.weighted(rng, [(d, d[1]) for d in W.DESKTOP_UAS])
                v = rng.randint(lo, hi)
                p.desktop = Device(name, fmt.replace("{v}", str(v)), rng.random() < 0.5, pw)
                if name == "firefox" and v == 132:
                    p.desktop.kind = "firefox132"
            p.office = p.active and not abroad and rng.random() < 0.08
            p.campus = p.active and not abroad and p.phone is not None and 1984 < year < 2005 and rng.random() < 0.2
            p.trip = None
            if p.active and not abroad and p.phone is not None and rng.random() < 0.03:
                ts = rng.uniform(start + DAY, end - 2 * DAY)
                dest = W.weighted(rng, [("AT", 20), ("ES", 25), ("IT", 10), ("CH", 8), ("PT", 5), ("TH", 8), ("EG", 8), ("US", 6), ("TR", 10)])
                p.trip = (ts, min(end, ts + rng.uniform(3, 9) * DAY), dest)
            p.fails, p.locked_until, p.pis_uses = 0, 0.0, 0
            self.people.append(p)

    # -- where a sitting comes from ---------------------------------------------------

    def home_address(self, p, t, rng):
        """The household's address at t: daily reconnects on Telekom, 1&1 and O2 lines give a
        new IPv4 address and IPv6 prefix each day; Vodafone cable's IPv4 is DS-Lite (the
        carrier's shared NAT)."""
        net = p.home
        day = int((t - self.start) // DAY)
        if p.v6_prefix and rng.random() < net.v6_share + 0.2:
            prefix = p.v6_prefix
            if net.name in ("telekom_dsl", "1und1", "o2_dsl") and day:
                prefix = "%s:%x" % (p.v6_prefix.rsplit(":", 1)[0], (mix(p.i, day) & 0xffff))
                p.classes.add("ipv6_home")
            return net.v6_ip(rng, prefix)
        if net.name == "vodafone_cable":
            p.classes.add("dslite_cgnat")
            return net.pool_ip(rng)
        if net.name in ("telekom_dsl", "1und1", "o2_dsl") and net.country == "DE":
            h = mix(p.i, day, net.asn) & 0xffffffff
            return "%s.%d" % (net.blocks[h % len(net.blocks)], 1 + (h >> 8) % 254)
        return p.home_v4

    def mobile_address(self, p, net, rng):
        if net is self.w.o2_mobile:
            p.classes.add("carrier_cgnat")
        elif net.country == "DE":
            p.classes.add("other_carrier")
        return net.session_ip(rng)

    def source(self, p, t, rng):
        """(device, ip, country, asn) of a sitting at t."""
        w = self.w
        local_h = ((t + p.tz * 3600) % DAY) / 3600
        weekday = int(((t + p.tz * 3600) // DAY + 3) % 7)  # 1970-01-01 was a Thursday
        if p.trip and p.trip[0] <= t < p.trip[1] and p.phone is not None:
            p.classes.add("traveller")
            home, mob, hotel, _ = w.abroad[p.trip[2]]
            eu = p.trip[2] in ("AT", "ES", "IT", "PT", "NL", "PL")
            r = rng.random()
            if r < (0.55 if eu else 0.15):  # EU roaming is home-routed: a German carrier address
                return p.phone, self.mobile_address(p, p.carrier, rng), p.carrier.country, p.carrier.asn
            if r < (0.85 if eu else 0.65):
                return p.phone, hotel.pool_ip(rng), hotel.country, hotel.asn
            return p.phone, mob.session_ip(rng), mob.country, mob.asn
        if p.office and weekday < 5 and 11 <= local_h < 14 and rng.random() < 0.6:
            p.classes.add("office_nat")
            return self.office_device(p), rng.choice(w.office_ips), "DE", w.office.asn
        if p.campus and weekday < 5 and 9 <= local_h < 17 and rng.random() < 0.5:
            p.classes.add("campus_nat")
            return p.phone, rng.choice(w.campus_ips), "DE", w.campus.asn
        use_phone = p.phone is not None and (p.desktop is None or p.home is None or rng.random() < 0.65)
        if use_phone:
            at_home = p.home is not None and (local_h >= 18 or local_h < 8 or weekday >= 5) and rng.random() < 0.55
            if not at_home:
                return p.phone, self.mobile_address(p, p.carrier, rng), p.carrier.country, p.carrier.asn
            return p.phone, self.home_address(p, t, rng), p.home.country, p.home.asn
        return p.desktop, self.home_address(p, t, rng), p.home.country, p.home.asn

    def office_device(self, p):
        # The administration's PCs: one Firefox ESR build, passwords typed.
        return Device("office", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", False, None)

    def ua(self, p, dev, t):
        if dev.kind == "app":
            rel = self.inc.app_release + (mix(p.i, 1) % 1000) / 1000 * 3 * DAY
            return W.app_ua(p.os, p.model, W.APP_NEW if t >= rel else W.APP_OLD)
        if dev.kind == "firefox132" and t >= self.inc.firefox_133 + (mix(p.i, 2) % 1000) / 1000 * 3 * DAY:
            return dev.ua.replace("132.0", "133.0")
        return dev.ua
