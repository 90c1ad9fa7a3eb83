"""The site's own people signing in: everyday rhythm plus the innocent crowds a real
streaming site sees. Draws only from the seed's *innocents* stream, never from the
attack's, so every shape of one seed carries exactly these events.

An event is a tuple (time, account, ip, outcome, user_agent, country, asn, password):
the password as typed (gen.py fingerprints it as an app would send it).
"""

import random

from world import BIG_CARRIER, DAY, HOUR, HOUR_WEIGHTS, PHONE_DEVICES, pick

# Share of the accounts in each class that is drawn up front (the crowd classes —
# CGNAT, outage, promotion — are whoever the day puts there).
CLASS_SHARES = {
    "office_nat": 0.010,
    "campus_nat": 0.015,
    "corporate_proxy": 0.010,
    "vpn_relay": 0.040,
    "traveller": 0.020,
    "stale_password_manager": 0.015,
    "family_sharing": 0.030,
    "new_account": 0.020,
    "new_phone": 0.015,
}
TRAVEL_TO = {"MX": ["US", "ES"], "US": ["MX", "CA", "FR"], "BR": ["PT", "US"], "CO": ["US", "ES"],
             "AR": ["ES", "BR"], "CL": ["AR", "US"], "CA": ["US", "MX"]}


class Calendar:
    """When the site's own incidents happen, relative to the trace's end (so that the
    backtest's `--since 7d` covers them): the outage at prime time in Mexico five days
    before the end, the marketing e-mail on a morning three days before."""

    def __init__(self, start, end):
        day0 = end - (end % DAY)
        self.outage = (day0 - 5 * DAY + 2 * HOUR, day0 - 5 * DAY + 2 * HOUR + 50 * 60)
        self.promo = day0 - 3 * DAY + 16 * HOUR
        self.start, self.end = start, end


def typo(rng, pw):
    i = rng.randrange(len(pw))
    r = rng.random()
    if r < 0.4:
        return pw[:i] + pw[i + 1:] or pw + "1"
    if r < 0.7:
        return pw[:i] + rng.choice("asdfghjklqwertyuiop1234567890") + pw[i + 1:]
    if r < 0.85:
        return pw.swapcase()
    return pw + rng.choice("1!.")


def mistyped_email(rng, email):
    local, domain = email.split("@")
    r = rng.random()
    if r < 0.4 and len(local) > 3:
        i = rng.randrange(1, len(local) - 1)
        local = local[:i] + local[i + 1:]
    elif r < 0.7:
        domain = {"gmail.com": "gmial.com", "hotmail.com": "hotmial.com"}.get(domain, "gmail.con")
    else:
        local = local + rng.choice("0123456789")
    return local + "@" + domain


class Innocents:
    def __init__(self, world):
        self.w = world
        self.rng = random.Random("brisa-innocents-%d" % world.seed)
        self.cal = Calendar(world.start, world.end)
        self.events = []
        self.classes = {}
        self.emails = {u.email for u in world.users}

    # -- set-up ----------------------------------------------------------------------

    def _assign(self):
        rng, w = self.rng, self.w
        office = {"MX": (w.asns[11172], w.asns[11172].pool(rng, 1, 2)),
                  "US": (w.asns[3356], w.asns[3356].pool(rng, 1, 2))}
        campus = {"MX": (w.asns[278], w.asns[278].pool(rng, 1, 4)),
                  "BR": (w.asns[28571], w.asns[28571].pool(rng, 1, 4))}
        order = list(w.users)
        rng.shuffle(order)
        i = 0
        for cls, share in CLASS_SHARES.items():
            want = max(3, int(round(share * len(order))))
            got = 0
            while got < want and i < len(order):
                u = order[i]
                i += 1
                if cls in ("office_nat", "corporate_proxy") and u.cc not in ("MX", "US"):
                    continue
                if cls == "campus_nat" and u.cc not in campus:
                    continue
                got += 1
                u.classes.add(cls)
                if u.dormant or u.rate == 0:
                    u.dormant, u.rate = False, min(2.0, rng.lognormvariate(-1.0, 0.6))
                if cls == "office_nat":
                    u.office = office[u.cc]
                    u.devices.append(w.device(rng, "chrome_win"))
                elif cls == "corporate_proxy":
                    u.office = (w.asns[62044], w.nat[62044])
                    u.devices.append(w.device(rng, "chrome_win"))
                elif cls == "campus_nat":
                    u.campus = campus[u.cc]
                    u.typo = min(0.4, u.typo * 2)
                elif cls == "vpn_relay":
                    ios = u.devices[0].kind in ("ios_app", "safari_ios")
                    # iCloud Private Relay keeps the region; a commercial VPN is mostly
                    # there to watch the US catalogue.
                    u.vpn = rng.choice([36183, 13335]) if ios else rng.choice([9009, 60068])
                elif cls == "traveller":
                    days = rng.uniform(2, 5)
                    begin = rng.uniform(w.start + DAY, w.end - days * DAY)
                    dest = rng.choice(TRAVEL_TO[u.cc])
                    homes = w.by_kind.get((dest, "residential")) or []
                    mob = w.by_kind.get((dest, "mobile")) or []
                    net = rng.choice(homes + [w.asns[396982], w.asns[46562]])
                    u.trip = {"begin": begin, "end": begin + days * DAY, "cc": dest, "net": net,
                              "ips": [net.random_ip(rng) for _ in range(2)],
                              "mobile": rng.choice(mob) if mob and rng.random() < 0.5 else None,
                              "tv": w.device(rng, "hotel_tv") if rng.random() < 0.35 else None}
                elif cls == "stale_password_manager":
                    u.stale = {"device": rng.randrange(len(u.devices)), "old": w.password(rng),
                               "fixed_at": w.end + DAY if rng.random() < 0.5 else rng.uniform(w.start, w.end)}
                elif cls == "family_sharing":
                    u.members = []
                    for _ in range(rng.choice([1, 2, 3])):
                        cc = u.cc if rng.random() < 0.8 else rng.choice(["US", "MX", "BR", "CO"])
                        phones = [(a, a.weight) for a in w.by_kind[(cc, "mobile")] if a.weight > 0]
                        u.members.append({"home": w.household(rng, cc), "carrier": pick(rng, phones).number,
                                          "devices": [w.device(rng, pick(rng, PHONE_DEVICES))]
                                          + [w.device(rng, rng.choice(["tizen_tv", "roku", "chrome_win"]))]})
                    u.rate = min(3.0, u.rate * (1 + len(u.members)))
                elif cls == "new_account":
                    u.created = rng.uniform(w.start + DAY, w.end - DAY)
                elif cls == "new_phone":
                    kind = u.devices[0].kind
                    u.new_phone = (rng.uniform(w.start + 2 * DAY, w.end - DAY), w.device(rng, kind))
        for u in w.users:
            for attr, default in (("trip", None), ("stale", None), ("members", []), ("new_phone", None)):
                if not hasattr(u, attr):
                    setattr(u, attr, default)

    # -- one sign-in -----------------------------------------------------------------

    def _when(self, u, lo, hi):
        """A sign-in time in [lo, hi) following the evening-heavy local rhythm."""
        rng = self.rng
        for _ in range(20):
            day = int((lo + u.tz * HOUR) // DAY) + rng.randrange(max(1, int((hi - lo) // DAY) + 2))
            hour = pick(rng, list(enumerate(HOUR_WEIGHTS)))
            t = day * DAY + hour * HOUR + rng.random() * HOUR - u.tz * HOUR
            if lo <= t < hi:
                return t
        return rng.uniform(lo, hi)

    def _context(self, u, t, force_phone=False):
        """(device, ip, asn, country) of a sign-in by u at t."""
        rng, w = self.rng, self.w
        member = None
        if u.members and rng.random() < len(u.members) / (len(u.members) + 1.0):
            member = rng.choice(u.members)
        home = member["home"] if member else u.homes[0]
        devices = member["devices"] if member else u.devices
        carrier = member["carrier"] if member else u.carrier
        local_h = ((t / HOUR) + u.tz) % 24
        weekday = int((t + u.tz * HOUR) // DAY) % 7 < 5
        di = 0 if force_phone or len(devices) == 1 or rng.random() < 0.5 else rng.randrange(1, len(devices))
        dev = devices[di]
        if not member and u.new_phone and di == 0 and t >= u.new_phone[0]:
            dev = u.new_phone[1]
        if not member and u.trip and u.trip["begin"] <= t < u.trip["end"]:
            trip = u.trip
            if trip["tv"] is not None and rng.random() < 0.4:
                return trip["tv"], rng.choice(trip["ips"]), trip["net"].number, trip["cc"]
            if di == 0 and trip["mobile"] is not None and rng.random() < 0.5:
                m = trip["mobile"]
                return devices[0], m.random_ip(rng), m.number, trip["cc"]
            if di == 0 and rng.random() < 0.3:
                # Roaming on the home carrier: the traffic comes home first.
                return devices[0], w.mobile_ip(rng, carrier), carrier, w.asns[carrier].country
            return devices[0], rng.choice(trip["ips"]), trip["net"].number, trip["cc"]
        if not member and u.office and weekday and 9 <= local_h < 18 and rng.random() < 0.6:
            asn, pool = u.office
            return u.devices[-1], rng.choice(pool), asn.number, u.cc
        if not member and u.campus and (local_h >= 21 or local_h < 2 or 10 <= local_h < 15) and rng.random() < 0.7:
            asn, pool = u.campus
            return dev, rng.choice(pool), asn.number, u.cc
        if not member and u.vpn and rng.random() < 0.7:
            cc = u.cc if u.vpn in (36183, 13335) else "US"
            return dev, rng.choice(w.nat[u.vpn]), u.vpn, cc
        phone = dev.kind in ("android_app", "ios_app", "chrome_android", "safari_ios")
        away = 8 <= local_h < 19
        if phone and rng.random() < (0.8 if away else 0.45):
            return dev, w.mobile_ip(rng, carrier), carrier, w.asns[carrier].country
        return dev, w.home_ip(home, t), home["asn"], home["cc"]

    def emit(self, t, account, ip, outcome, ua, cc, asn, pw):
        if self.w.start <= t <= self.w.end:
            self.events.append((t, account, ip, outcome, ua, cc, asn, pw))

    def _in_outage(self, t):
        return self.cal.outage[0] <= t < self.cal.outage[1]

    def sign_in(self, u, t, dev=None, forgot=False):
        """One person signing in at t: typos, a stale password manager, the outage."""
        rng = self.rng
        if dev is None:
            dev, ip, asn, cc = self._context(u, t)
        else:
            _, ip, asn, cc = self._context(u, t, force_phone=True)
        ua = dev.ua(t)
        if u.stale and dev is u.devices[u.stale["device"]] and t < u.stale["fixed_at"]:
            u.classes.add("stale_password_manager")
            for _ in range(rng.choice([1, 2, 2, 3])):
                self._attempt(u, t, ip, ua, cc, asn, u.stale["old"], wrong=True)
                t += rng.uniform(1, 8)
            if rng.random() < 0.4:
                return
            t += rng.uniform(20, 120)
        if forgot:
            for _ in range(rng.randint(1, 4)):
                self._attempt(u, t, ip, ua, cc, asn, self.w.password(rng), wrong=True)
                t += rng.uniform(8, 60)
            if rng.random() < 0.25:
                # Their other address, never registered here.
                other = "%s%d@%s" % (u.email.split("@")[0].split(".")[0], rng.randrange(10, 99),
                                     rng.choice(["gmail.com", "hotmail.com", "yahoo.com"]))
                if other not in self.emails:
                    for _ in range(rng.randint(1, 2)):
                        self.emit(t, other, ip, "unknown_account", ua, cc, asn, u.password)
                        t += rng.uniform(5, 40)
            if rng.random() < 0.4:
                return  # gave up (or went to the reset flow, which signs in later, not here)
        if rng.random() < 0.012:
            self.emit(t, mistyped_email(rng, u.email), ip, "unknown_account", ua, cc, asn, u.password)
            t += rng.uniform(4, 30)
        if rng.random() < u.typo:
            for _ in range(rng.choice([1, 1, 1, 2])):
                self._attempt(u, t, ip, ua, cc, asn, typo(rng, u.password), wrong=True)
                t += rng.uniform(3, 25)
        if self._in_outage(t):
            u.classes.add("outage_retry")
            # Every check fails during the outage: people retry a few times, and about
            # a third come back once the site works again.
            for _ in range(rng.randint(2, 5)):
                self._attempt(u, t, ip, ua, cc, asn, u.password, wrong=True)
                t += rng.uniform(5, 90)
            if rng.random() < 0.35:
                self.sign_in(u, self.cal.outage[1] + rng.expovariate(1 / 1800.0))
            return
        self._attempt(u, t, ip, ua, cc, asn, u.password, wrong=False)

    def _attempt(self, u, t, ip, ua, cc, asn, pw, wrong):
        if self._in_outage(t):
            wrong = True
            u.classes.add("outage_retry")
        self.emit(t, u.email, ip, "wrong_password" if wrong else "success", ua, cc, asn, pw)

    # -- everyone --------------------------------------------------------------------

    def build(self):
        self._assign()
        rng, w, cal = self.rng, self.w, self.cal
        for u in w.users:
            lo = max(w.start, u.created)
            if u.rate <= 0 or lo >= w.end:
                continue
            if "new_account" in u.classes:
                self.sign_in(u, u.created + rng.uniform(30, 300), dev=u.devices[0])
            n = self._poisson(u.rate * (w.end - lo) / DAY)
            for _ in range(n):
                self.sign_in(u, self._when(u, lo, w.end))
        # The outage also dropped every session the site held: people watching then
        # had to sign in again, straight into the failing check.
        for u in w.users:
            if u.rate > 0 and u.created < cal.outage[0] and rng.random() < 0.04:
                self.sign_in(u, rng.uniform(*cal.outage))
        # The marketing e-mail ("your free month is waiting"): dormant people come back
        # in a rush, many with a forgotten password or another address of theirs.
        for u in w.users:
            if u.created > cal.promo:
                continue
            if rng.random() < (0.25 if u.dormant else 0.10):
                u.classes.add("promo_returner")
                t = cal.promo + rng.expovariate(1 / 2400.0)
                self.sign_in(u, t, forgot=u.dormant and rng.random() < 0.5)
        return self.events

    def _poisson(self, lam):
        rng = self.rng
        if lam > 30:
            return max(0, int(round(rng.gauss(lam, lam ** 0.5))))
        import math
        L, k, p = math.exp(-lam), 0, 1.0
        while True:
            p *= rng.random()
            if p <= L:
                return k
            k += 1

    def class_members(self):
        """Every class's accounts; CGNAT is whoever signed in through the big carrier."""
        cgnat = {e[1] for e in self.events if e[6] == BIG_CARRIER}
        out = {"carrier_cgnat": cgnat}
        for u in self.w.users:
            for c in u.classes:
                out.setdefault(c, set()).add(u.email)
        # A class member who never signed in during the trace is no test of anything.
        active = {e[1] for e in self.events}
        return {c: sorted(m & active) for c, m in sorted(out.items())}
