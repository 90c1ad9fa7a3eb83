"""Lumen Arena's players and everything innocent they do (README.md, "The site").

`Population(seed, accounts, end)` builds the players and the world from its own random
streams, so that a seed's innocents are the same whatever attack is added afterwards.
`innocent_events()` returns their login events as tuples

    (time_s, account, ip, user_agent, outcome, country, asn, password)

and `classes` maps each innocent class to the accounts in it.
"""

import bisect
import hashlib
import math
import random

import names
import world
from world import Network

DAY = 86400.0
HOUR = 3600.0
TRACE_DAYS = 14

# Sign-ins per local hour for a game: quiet before dawn, a rise after school, the peak
# in the evening, still busy at midnight.
GAME_HOURS = [5, 3, 1.5, 1, 0.8, 1, 1.5, 2.5, 3, 3.5, 4, 4.5, 5, 5, 5.5, 6.5, 7.5, 8, 8.5, 10, 11, 11, 10, 7.5]
# Call-centre agents on the US night shift (21:00-06:00 in Manila) play on their breaks.
NIGHT_SHIFT_HOURS = [8, 8, 7, 7, 6, 5, 3, 2, 1, 1, 1.5, 2, 2.5, 2.5, 2.5, 3, 3, 3, 3, 3.5, 5, 7, 8, 8]


def cumulative(weights):
    out, s = [], 0.0
    for w in weights:
        s += w
        out.append(s)
    return out


GAME_CUM = cumulative(GAME_HOURS)
NIGHT_CUM = cumulative(NIGHT_SHIFT_HOURS)


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Person:
    __slots__ = (
        "idx", "email", "country", "tz", "created", "active", "rate", "pw", "pw_change", "classes", "phone",
        "phone2", "phone2_at", "pc", "web", "home", "home_kind", "v4", "v4b", "v4_change", "prefix", "carrier",
        "cafe", "cafe2", "cafe_rate", "office", "campus", "vpn", "trip", "abroad", "shared", "typo_rate",
        "iid_key", "hours",
    )

    def __init__(self, idx):
        self.idx = idx
        self.classes = set()
        self.pw_change = None
        self.phone2 = None
        self.phone2_at = None
        self.cafe = self.cafe2 = None
        self.cafe_rate = 0.0
        self.office = self.campus = None
        self.vpn = False
        self.trip = None
        self.abroad = None
        self.shared = None
        self.home = None
        self.v4 = self.v4b = self.prefix = None
        self.v4_change = float("inf")
        self.hours = GAME_CUM

    def password_at(self, t):
        if self.pw_change and t < self.pw_change[0]:
            return self.pw_change[1]
        return self.pw


class Population:
    def __init__(self, seed, accounts, end_s):
        self.seed = seed
        self.n = accounts
        self.end = end_s
        self.start = end_s - TRACE_DAYS * DAY
        # UTC midnight one day before the trace starts: local days are counted from it.
        self.base = math.floor(self.start / DAY) * DAY - DAY
        self.base_wd = int(self.base // DAY + 3) % 7  # 1970-01-01 was a Thursday (3)
        rng = random.Random("third-trace:%d:world" % seed)
        self.space = world.AddressSpace(rng)
        self._build_world(rng)
        self._pick_incidents(random.Random("third-trace:%d:incidents" % seed))
        self.people = []
        self.by_email = {}
        self.classes = {}
        self.cafe_visits = []  # (time, cafe index, person): what a café keylogger sees
        self.abroad_seen = set()  # travellers who signed in abroad already
        self._build_people(random.Random("third-trace:%d:people" % seed))

    # --- the world -------------------------------------------------------------------
    def _build_world(self, rng):
        sp = self.space
        self.home_isps = {}
        for c, isps in world.HOME_ISPS.items():
            self.home_isps[c] = [(Network(sp, name, asn, c, "home", v6, cgnat_24s=8 if cg else 0), share, v6, cg)
                                 for name, asn, share, v6, cg in isps]
        # The big carrier's share of Indonesian phones: chosen so that it carries 25-40 %
        # of all the users (Indonesia is 48 % of them).
        self.telkomsel_target = rng.uniform(0.27, 0.38)
        tsel_share = min(0.92, self.telkomsel_target / (world.COUNTRIES["ID"][0] * 0.95))
        self.carriers = {}
        for c, cs in world.CARRIERS.items():
            rows = []
            for name, asn, share, v6, pool in cs:
                if share is None:
                    share = tsel_share
                elif c == "ID":
                    share = share * (1 - tsel_share)
                rows.append((Network(sp, name, asn, c, "mobile", v6, cgnat_24s=pool), share))
            self.carriers[c] = rows
        self.telkomsel = self.carriers["ID"][0][0]
        self.hosting = {name: Network(sp, name, asn, c, "hosting") for name, asn, c in world.HOSTING}
        self.abroad_nets = {c: [Network(sp, name, asn, c, kind, 0.0, cgnat_24s=4 if kind == "mobile" else 0)
                                for name, asn, kind in nets] for c, nets in world.ABROAD.items()}
        # Gaming-VPN exits: a few addresses in one /24 per provider.
        self.vpn_exits = []
        for name in world.GAMING_VPN:
            net = self.hosting[name]
            a, b, c = net.new_24()
            for _ in range(6):
                self.vpn_exits.append((net, "%d.%d.%d.%d" % (a, b, c, rng.randrange(1, 255))))
        # Internet cafés (warnet, computer shops, quán net): one public address on a local
        # ISP, every seat the same launcher build (the café's disk image).
        n_cafes = max(12, self.n // 130)
        self.cafes = []
        for i in range(n_cafes):
            c = names.pick_weighted(rng, [("ID", 55), ("PH", 25), ("VN", 15), ("TH", 5)])
            net = names.pick_weighted(rng, [(row[0], row[1]) for row in self.home_isps[c]])
            self.cafes.append((net, net.host(rng), rng.choice(world.LAUNCHER_OLD), c))
        # Call centres (BPO) in Manila and Cebu: agents behind two NAT addresses each.
        self.offices = []
        pldt_biz = Network(sp, "PLDT Enterprise", 9299, "PH", "office")
        globe_biz = Network(sp, "Globe Business", 4775, "PH", "office")
        for net in (pldt_biz, pldt_biz, globe_biz):
            a, b, c = net.new_24()
            self.offices.append((net, ["%d.%d.%d.%d" % (a, b, c, rng.randrange(1, 255)) for _ in range(2)]))
        # Universities: a campus NAT of four addresses.
        self.campuses = []
        for name, asn, c in (("Universitas Indonesia", 131105, "ID"), ("Institut Teknologi Bandung", 4796, "ID"),
                             ("VNU-HCM", 131379, "VN"), ("Chulalongkorn University", 9411, "TH")):
            net = Network(sp, name, asn, c, "campus")
            a, b, cc = net.new_24()
            self.campuses.append((net, ["%d.%d.%d.%d" % (a, b, cc, rng.randrange(1, 255)) for _ in range(4)], c))

    def _pick_incidents(self, rng):
        end_day = math.floor(self.end / DAY) * DAY
        # The season patch: maintenance ends at 10:00 WIB (03:00 UTC) 2-5 days before the
        # end, every session is invalidated and every client must update.
        self.patch = end_day - rng.randint(2, 5) * DAY + 3 * HOUR
        # The outage: a prime-time hour (20:00-21:30 WIB) on another of the last five days.
        while True:
            day = end_day - rng.randint(1, 5) * DAY
            start = day + 13 * HOUR + rng.uniform(0, 1.5 * HOUR)
            if abs(start - self.patch) > 30 * HOUR and start + 2 * HOUR < self.end:
                break
        self.outage = (start, start + rng.uniform(40, 70) * 60)
        # How the app logged the failed checks: as wrong passwords (the session service
        # was down), or, on every third seed, as unknown accounts (the directory was).
        self.outage_outcome = "unknown_account" if self.seed % 3 == 0 else "wrong_password"

    # --- the people --------------------------------------------------------------------
    def _cls(self, p, name):
        p.classes.add(name)

    def _build_people(self, rng):
        countries = [(c, v[0]) for c, v in world.COUNTRIES.items()]
        taken = set()
        n_new = int(self.n * 0.03)
        for i in range(self.n):
            p = Person(i)
            c = names.pick_weighted(rng, countries)
            p.country, p.tz = c, world.COUNTRIES[c][1]
            while True:
                e = names.email(rng, c)
                if e not in taken:
                    break
            taken.add(e)
            p.email = e
            p.iid_key = rng.getrandbits(64)
            # 3 % of the accounts are created during the trace (new players).
            if i < n_new:
                p.created = self.start + rng.uniform(0.5, TRACE_DAYS - 0.5) * DAY
                self._cls(p, "new_account")
            else:
                p.created = self.start - rng.uniform(20, 6 * 365) * DAY
            p.active = i < n_new or rng.random() < 0.68
            if not p.active:
                self._cls(p, "dormant")
            p.rate = min(3.0, math.exp(rng.gauss(math.log(0.3), 0.9)))
            p.pw = names.password(rng) if rng.random() > 0.02 else rng.choice(names.COMMON_PASSWORDS)
            if p.pw in names.COMMON_PASSWORDS:
                self._cls(p, "common_password")
            p.typo_rate = rng.uniform(0.02, 0.10)
            self._devices(rng, p)
            self._places(rng, p)
            self.people.append(p)
            self.by_email[e] = p
        self.emails = taken
        for p in self.people:
            self._habits(rng, p)

    def _devices(self, rng, p):
        ios_share = 0.45 if p.country == "SG" else 0.15
        if rng.random() < ios_share:
            model, osv = rng.choice(world.IOS_MODELS)
            p.phone = ("ios", model, osv, rng.choice(world.APP_OLD))
        else:
            model, osv = rng.choice(world.ANDROID_MODELS)
            p.phone = ("android", model, osv, rng.choice(world.APP_OLD))
        p.pc = rng.choice(world.LAUNCHER_OLD) if rng.random() < 0.35 else None
        p.web = world.web_ua(rng, mobile=p.pc is None)

    def _places(self, rng, p):
        c = p.country
        carriers = self.carriers[c]
        p.carrier = names.pick_weighted(rng, carriers)
        if p.carrier is self.telkomsel:
            self._cls(p, "carrier_cgnat")
        else:
            self._cls(p, "other_carrier")
        # 20 % of people (more in Indonesia and the Philippines) have no fixed line.
        if rng.random() < (0.25 if c in ("ID", "PH") else 0.12):
            p.home = None
        else:
            row = names.pick_weighted(rng, [(r, r[1]) for r in self.home_isps[c]])
            net, _, v6, cg = row
            p.home = net
            if rng.random() < v6:
                p.home_kind = "v6"
                p.prefix = net.prefix64(rng)
                self._cls(p, "ipv6_home")
            elif rng.random() < cg:
                p.home_kind = "cgnat"
                self._cls(p, "home_cgnat")
            else:
                p.home_kind = "v4"
                p.v4 = net.host(rng)
                if rng.random() < 0.12:  # DHCP gives the household another address
                    p.v4b = net.host(rng)
                    p.v4_change = self.start + rng.uniform(0, TRACE_DAYS) * DAY

    def _habits(self, rng, p):
        if not p.active:
            return
        c = p.country
        if c == "PH" and rng.random() < 0.10:
            # Overseas Filipino workers play from abroad all the time.
            dest = rng.choice(world.OFW_PLACES)
            nets = self.abroad_nets[dest]
            p.abroad = (dest, rng.choice(nets), rng.choice(nets))
            p.abroad = (dest, p.abroad[1], p.abroad[2], p.abroad[1].host(rng))
            self._cls(p, "abroad_resident")
            p.classes.discard("carrier_cgnat")
            p.classes.discard("other_carrier")
            return
        if c in ("ID", "PH", "VN", "TH") and rng.random() < 0.14:
            cafes = [i for i, cf in enumerate(self.cafes) if cf[3] == c]
            if cafes:
                p.cafe = rng.choice(cafes)
                if rng.random() < 0.2:
                    p.cafe2 = rng.choice(cafes)
                p.cafe_rate = rng.uniform(0.2, 0.9)
                self._cls(p, "internet_cafe")
        if c == "PH" and rng.random() < 0.12:
            p.office = rng.randrange(len(self.offices))
            p.hours = NIGHT_CUM
            self._cls(p, "office_nat")
        campuses = [i for i, cp in enumerate(self.campuses) if cp[2] == c]
        if campuses and rng.random() < 0.04:
            p.campus = rng.choice(campuses)
            self._cls(p, "campus_nat")
        if p.pc and rng.random() < 0.10:
            p.vpn = True
            self._cls(p, "gaming_vpn")
        if rng.random() < 0.025:
            dest = rng.choice(world.TRAVEL_TO[c])
            t0 = self.start + rng.uniform(1, TRACE_DAYS - 2) * DAY
            mode = names.pick_weighted(rng, [("roaming", 30), ("local_sim", 40), ("hotel", 30)])
            nets = self.abroad_nets[dest]
            local = [n for n in nets if n.kind == "mobile"] or nets
            hotel = [n for n in nets if n.kind == "hotel"] or nets
            h = rng.choice(hotel)
            p.trip = (t0, t0 + rng.uniform(2, 8) * DAY, dest, mode, rng.choice(local), h, h.host(rng))
            self._cls(p, "traveller")
        if rng.random() < 0.03:
            # A sibling or friend plays on the same account, from their own phone and home.
            net = names.pick_weighted(rng, [(r[0], r[1]) for r in self.home_isps[c]])
            model, osv = rng.choice(world.ANDROID_MODELS)
            p.shared = (net, net.host(rng), ("android", model, osv, rng.choice(world.APP_OLD)),
                        names.pick_weighted(rng, self.carriers[c]))
            self._cls(p, "shared_account")
        if rng.random() < 0.015:
            model, osv = rng.choice(world.ANDROID_MODELS)
            p.phone2 = ("android", model, osv, world.APP_OLD[-1])
            p.phone2_at = self.start + rng.uniform(2, TRACE_DAYS) * DAY
            self._cls(p, "new_phone")
        if p.pc and rng.random() < 0.06:
            # Changed their password; an old launcher with "remember me" keeps the old one.
            p.pw_change = (self.start + rng.uniform(1, TRACE_DAYS - 3) * DAY, names.password(rng))
            self._cls(p, "stale_password_manager")

    # --- where and on what a sitting happens ------------------------------------------------
    def phone_ua(self, p, t, phone=None):
        if phone is None:
            phone = p.phone2 if (p.phone2 and t >= p.phone2_at) else p.phone
        os_name, model, osv, ver = phone
        return world.app_ua(world.APP_NEW if t >= self.patch else ver, os_name, model, osv)

    def pc_ua(self, p, t, version=None):
        return world.launcher_ua(world.LAUNCHER_NEW if t >= self.patch else (version or p.pc))

    def home_address(self, p, t, rng):
        if p.home_kind == "v6":
            day = int((t - self.base) // DAY)
            h = hashlib.blake2b(b"%d:%d" % (p.iid_key, day), digest_size=8).digest()
            hi, lo, c, d = p.prefix
            return "%x:%x:%x:%x:%x:%x:%x:%x" % (hi, lo, c, d, h[0] << 8 | h[1], h[2] << 8 | h[3], h[4] << 8 | h[5], h[6] << 8 | h[7])
        if p.home_kind == "cgnat":
            return p.home.pool_address(rng)
        return p.v4b if t >= p.v4_change else p.v4

    def mobile_address(self, net, rng):
        if net.pool and rng.random() >= net.v6_share:
            return net.pool_address(rng)
        if not net.pool:
            return net.host(rng)
        return Network.v6_address(net.prefix64(rng), rng)

    def context(self, p, t, rng):
        """(ip, user_agent, country, asn) of one ordinary sitting."""
        if p.abroad:
            dest, home_net, mob_net, home_ip = p.abroad
            if rng.random() < 0.5:
                return home_ip, self.pc_ua(p, t) if p.pc and rng.random() < 0.5 else self.phone_ua(p, t), dest, home_net.asn
            return self.mobile_address(mob_net, rng), self.phone_ua(p, t), dest, mob_net.asn
        if p.trip and p.trip[0] <= t < p.trip[1]:
            t0, t1, dest, mode, local, hotel, hotel_ip = p.trip
            if mode == "roaming":  # home-routed: the home carrier's address and country
                return self.mobile_address(p.carrier, rng), self.phone_ua(p, t), p.country, p.carrier.asn
            if mode == "local_sim":
                return self.mobile_address(local, rng), self.phone_ua(p, t), dest, local.asn
            return hotel_ip, self.phone_ua(p, t), dest, hotel.asn
        if p.shared and rng.random() < 0.35:
            net, ip, phone, carrier = p.shared
            if rng.random() < 0.5:
                return ip, self.phone_ua(p, t, phone), p.country, net.asn
            return self.mobile_address(carrier, rng), self.phone_ua(p, t, phone), p.country, carrier.asn
        local_h = ((t + p.tz * HOUR) % DAY) / HOUR
        if p.office is not None and (local_h >= 21 or local_h < 6) and rng.random() < 0.7:
            net, ips = self.offices[p.office]
            return rng.choice(ips), self.phone_ua(p, t), "PH", net.asn
        weekday = (self.base_wd + int((t + p.tz * HOUR - self.base) // DAY)) % 7 < 5
        if p.campus is not None and weekday and 8 <= local_h < 17 and rng.random() < 0.6:
            net, ips, c = self.campuses[p.campus]
            ua = self.phone_ua(p, t) if rng.random() < 0.7 else p.web
            return rng.choice(ips), ua, c, net.asn
        web = rng.random() < 0.08
        if p.home is None or rng.random() < 0.45:
            ua = p.web if web and p.pc is None else self.phone_ua(p, t)
            return self.mobile_address(p.carrier, rng), ua, p.country, p.carrier.asn
        if p.pc and rng.random() < 0.45:
            if p.vpn and rng.random() < 0.35:
                net, ip = rng.choice(self.vpn_exits)
                return ip, self.pc_ua(p, t), net.country, net.asn
            return self.home_address(p, t, rng), p.web if web else self.pc_ua(p, t), p.country, p.home.asn
        return self.home_address(p, t, rng), p.web if web else self.phone_ua(p, t), p.country, p.home.asn

    def cafe_context(self, p, cafe, t):
        net, ip, version, c = self.cafes[cafe]
        return ip, self.pc_ua(p, t, version), c, net.asn

    # --- when ----------------------------------------------------------------------------
    def draw_time(self, p, rng, lo, hi):
        """A sign-in time in [lo, hi) on the person's own daily rhythm (weekends busier)."""
        for _ in range(50):
            d = rng.randrange(int((lo - self.base) // DAY), int((hi - self.base) // DAY) + 2)
            weekend = (self.base_wd + d) % 7 >= 5
            if not weekend and rng.random() > 1 / 1.35:
                continue
            cum = p.hours
            h = bisect.bisect_right(cum, rng.random() * cum[-1])
            t = self.base + d * DAY + (h + rng.random()) * HOUR - p.tz * HOUR
            if lo <= t < hi:
                return t
        return rng.uniform(lo, hi)

    # --- the events --------------------------------------------------------------------------
    def innocent_events(self):
        rng = random.Random("third-trace:%d:traffic" % self.seed)
        out = []
        self.extra = {"patch_relogin": 0, "season_returner": 0, "outage_retry": 0}
        for p in self.people:
            if p.active:
                self._person(p, rng, out)
            elif rng.random() < 0.06:
                self._returner(p, rng, out)
        self._boosters(random.Random("third-trace:%d:boosters" % self.seed), out)
        out.sort(key=lambda e: e[0])
        self.classes = {}
        for p in self.people:
            if not p.classes:
                p.classes.add("ordinary")
            for c in p.classes:
                self.classes.setdefault(c, []).append(p.email)
        return out

    def _person(self, p, rng, out):
        lo = max(self.start, p.created)
        hi = self.end - 600
        sittings = []
        if p.created > self.start:
            sittings.append((p.created + rng.uniform(60, 900), None))
        for _ in range(poisson(rng, p.rate * (hi - lo) / DAY)):
            sittings.append((self.draw_time(p, rng, lo, hi), None))
        if p.cafe is not None:
            for _ in range(poisson(rng, p.cafe_rate * (hi - lo) / DAY)):
                cafe = p.cafe2 if (p.cafe2 is not None and rng.random() < 0.3) else p.cafe
                sittings.append((self.draw_time(p, rng, lo, hi), cafe))
        if p.trip:  # the phone asks again abroad; more play in the hotel
            t0, t1 = p.trip[0], p.trip[1]
            for _ in range(poisson(rng, 0.6 * (t1 - t0) / DAY)):
                sittings.append((self.draw_time(p, rng, t0, min(t1, hi)), None))
        # The season patch signs everyone out: whoever plays in the next day and a half
        # types the password again, most of them in the launch rush.
        if lo < self.patch and rng.random() < min(0.85, 0.35 + p.rate):
            if rng.random() < 0.55:
                t = self.patch + rng.expovariate(1 / (2.5 * HOUR))
            else:
                t = self.draw_time(p, rng, self.patch, self.patch + 36 * HOUR)
            if t < hi:
                cafe = p.cafe if (p.cafe is not None and rng.random() < 0.4) else None
                sittings.append((t, cafe, "patch"))
                self._cls(p, "patch_relogin")
        # The outage kicked everyone in a match out; clients retried by themselves.
        o0, o1 = self.outage
        if lo < o0 and rng.random() < min(0.5, 0.06 + p.rate * 0.1):
            sittings.append((rng.uniform(o0, o1 - 60), None))
        sittings.sort(key=lambda s: s[0])
        for s in sittings:
            self._sitting(p, s[0], s[1], rng, out, patch=len(s) > 2)
        if p.pw_change:
            self._stale_manager(p, rng, out)

    def _emit_attempts(self, p, t, ctx, rng, out, typo_rate):
        ip, ua, c, asn = ctx
        pw = p.password_at(t)
        if rng.random() < 0.008:
            bad = names.typo_email(rng, p.email)
            if bad not in self.emails:
                out.append((t - rng.uniform(5, 40), bad, ip, ua, "unknown_account", c, asn, pw))
        if rng.random() < 0.003:  # forgot it for today: a few guesses, gives up
            for k in range(rng.randint(2, 4)):
                out.append((t + k * rng.uniform(8, 40), p.email, ip, ua, "wrong_password", c, asn, names.password(rng)))
            self._cls(p, "forgot_password")
            return
        if rng.random() < typo_rate:
            k = names.pick_weighted(rng, [(1, 70), (2, 22), (3, 8)])
            for _ in range(k):
                out.append((t, p.email, ip, ua, "wrong_password", c, asn, names.typo_password(rng, pw)))
                t += rng.uniform(4, 30)
            self._cls(p, "typo")
        out.append((t, p.email, ip, ua, "success", c, asn, pw))

    def _sitting(self, p, t, cafe, rng, out, patch=False):
        ctx = self.cafe_context(p, cafe, t) if cafe is not None else self.context(p, t, rng)
        if cafe is not None:
            self.cafe_visits.append((t, cafe, p))
        o0, o1 = self.outage
        if o0 <= t < o1:
            # Every check fails; the client retries on its own every 15-60 s, the person
            # clicks again; most come back after it and get in.
            ip, ua, c, asn = ctx
            for _ in range(rng.randint(3, 8)):
                if t >= o1:
                    break
                out.append((t, p.email, ip, ua, self.outage_outcome, c, asn, p.password_at(t)))
                t += rng.uniform(15, 60)
            self._cls(p, "outage_retry")
            if rng.random() < 0.75:
                t2 = o1 + rng.expovariate(1 / (0.8 * HOUR))
                if t2 < self.end - 600:
                    self._emit_attempts(p, t2, self.context(p, t2, rng) if cafe is None else ctx, rng, out, p.typo_rate)
            return
        typo = p.typo_rate * (1.5 if cafe is not None else 1.0) + (0.10 if patch else 0.0)
        if p.trip and p.trip[0] <= t < p.trip[1] and p.idx not in self.abroad_seen:
            # The first sign-in abroad: a new keyboard layout, a hurried hotel lobby.
            self.abroad_seen.add(p.idx)
            typo = max(typo, 0.4)
        self._emit_attempts(p, t, ctx, rng, out, typo)

    def _stale_manager(self, p, rng, out):
        """The old launcher at home retries the old password while the PC is on."""
        tc, old = p.pw_change
        t_end = tc + rng.uniform(1, 4) * DAY
        t = tc + rng.uniform(0.2, 1) * DAY
        while t < min(t_end, self.end - 600):
            local_h = ((t + p.tz * HOUR) % DAY) / HOUR
            if 16 <= local_h or local_h < 1:  # the PC is on in the evening
                ctx_ip = self.home_address(p, t, rng) if p.home else self.mobile_address(p.carrier, rng)
                asn = p.home.asn if p.home else p.carrier.asn
                ua = self.pc_ua(p, t)
                for _ in range(rng.choice([1, 1, 2])):
                    out.append((t, p.email, ctx_ip, ua, "wrong_password", p.country, asn, old))
                    t += rng.uniform(2, 10)
                t += rng.uniform(10, 240) * 60
            else:
                t += HOUR

    def _returner(self, p, rng, out):
        """A dormant player the new season brings back, often on a new phone, often
        unsure of the password or of which address the account was under."""
        self._cls(p, "season_returner")
        t = self.patch + rng.expovariate(1 / (6 * HOUR))
        if t >= self.end - 600:
            return
        if rng.random() < 0.4:
            model, osv = rng.choice(world.ANDROID_MODELS)
            p.phone = ("android", model, osv, world.APP_NEW)
        ctx = self.context(p, t, rng)
        ip, ua, c, asn = ctx
        if rng.random() < 0.15:
            other = names.email(rng, p.country)
            if other not in self.emails:
                for _ in range(rng.randint(1, 3)):
                    out.append((t, other, ip, ua, "unknown_account", c, asn, p.pw))
                    t += rng.uniform(10, 60)
        if rng.random() < 0.4:
            for _ in range(rng.randint(1, 4)):
                out.append((t, p.email, ip, ua, "wrong_password", c, asn, names.password(rng)))
                t += rng.uniform(10, 60)
            self._cls(p, "forgot_password")
            r = rng.random()
            if r < 0.2:
                return  # gives up
            if r < 0.7:  # recovers by e-mail, comes back with a new password
                p.pw_change = (t + 60, p.pw)
                p.pw = names.password(rng)
                t += rng.uniform(3, 30) * 60
        out.append((t, p.email, ip, ua, "success", c, asn, p.password_at(t)))

    def _boosters(self, rng, out):
        """Rank-boosting services (joki): players hand their login to a booster, who plays
        the account from their own place and emulator for a few days."""
        n_boost = max(4, self.n // 2000)
        boosters = []
        for _ in range(n_boost):
            c = names.pick_weighted(rng, [("ID", 70), ("PH", 20), ("VN", 10)])
            net = names.pick_weighted(rng, [(r[0], r[1]) for r in self.home_isps[c]])
            model, osv = rng.choice(world.EMULATOR_MODELS)
            boosters.append((c, net, net.host(rng), model, osv))
        for p in self.people:
            if not p.active or p.abroad or p.country not in ("ID", "PH", "VN"):
                continue
            if rng.random() >= 0.015:
                continue
            cands = [b for b in boosters if b[0] == p.country] or boosters
            c, net, ip, model, osv = rng.choice(cands)
            t = self.start + rng.uniform(0.5, TRACE_DAYS - 1) * DAY
            first = True
            for _ in range(rng.randint(2, 6)):
                if t >= self.end - 600:
                    break
                ua = world.app_ua(world.APP_NEW if t >= self.patch else world.APP_OLD[-1], "android", model, osv)
                if first and rng.random() < 0.1:
                    out.append((t, p.email, ip, ua, "wrong_password", c, net.asn, names.typo_password(rng, p.password_at(t))))
                    t += rng.uniform(60, 600)
                first = False
                out.append((t, p.email, ip, ua, "success", c, net.asn, p.password_at(t)))
                t += rng.uniform(4, 20) * HOUR
            self._cls(p, "boosting_service")
