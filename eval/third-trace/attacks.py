"""The attacks on Lumen Arena (README.md, "Attack shapes").

Each shape is a function of (Attacker) that appends its login events to `a.events`.
An account counts as taken over when the attacker signed in to it successfully: the
password tried was the account's password at that moment (`Attacker.attempt`).
Sizes are given at 20,000 accounts and scale with the accounts.
"""

import ipaddress
import random

import names
import world
from people import DAY, GAME_CUM, HOUR, Person
from world import Network

SHAPES = ["quiet", "concentrated", "botnet", "residential", "low_and_slow", "spraying",
          "v6_rotation", "patch_cover", "cafe_keylogger", "infostealer_mimic"]

# Attack tools that talk to the game's login API copy the client's user agent from the
# build they were written against; this one is older than any real player's.
OLD_TOOL_UA = world.launcher_ua("3.9.1")
DALVIK_UA = "Dalvik/2.1.0 (Linux; U; Android 9; SM-G9880 Build/PQ3A.190605.003)"
OLD_CHROMES = ["96.0.4664.110", "100.0.4896.127", "103.0.5060.134", "109.0.5414.120", "114.0.5735.199", "120.0.6099.130"]


class Attacker:
    def __init__(self, pop, seed, shape):
        self.pop = pop
        self.rng = random.Random("third-trace:%d:attack:%s" % (seed, shape))
        self.events = []
        self.taken = set()
        self.attacked = set()
        self.window = None  # (start, end) seconds
        self.ips = set()
        self.asns = set()
        self.real = [p for p in pop.people]
        self.active = [p for p in pop.people if p.active and not p.abroad]

    def scaled(self, at_20k):
        return max(1, int(round(at_20k * self.pop.n / 20000)))

    def start_in_last_days(self, dur):
        """A start in the last five days, clear of the season patch's rush and of the
        outage, so that each burst's innocents can be told apart (patch_cover is the
        attack inside the rush)."""
        lo = self.pop.end - 5 * DAY
        hi = max(lo, self.pop.end - dur - 1800)
        busy = [(self.pop.patch, self.pop.patch + 30 * HOUR), (self.pop.outage[0], self.pop.outage[1] + 3 * HOUR)]
        for _ in range(200):
            t = self.rng.uniform(lo, hi)
            if not any(t < b1 and t + dur + 2 * HOUR > b0 for b0, b1 in busy):
                return t
        return t

    def unknown_address(self):
        while True:
            e = names.email(self.rng, names.pick_weighted(self.rng, [(c, v[0]) for c, v in world.COUNTRIES.items()]))
            if self.rng.random() < 0.3:
                e = e.replace("@", "%d@" % self.rng.randrange(10, 100))
            if e not in self.pop.emails:
                return e

    def combo(self, lines, real_share, reuse):
        """A combo list from another breach: (address, password, person or None)."""
        out = []
        for _ in range(lines):
            if self.rng.random() < real_share:
                p = self.rng.choice(self.real)
                if self.rng.random() < reuse:
                    pw = p.password_at(self.pop.start)  # the password leaked elsewhere, reused here
                else:
                    pw = names.password(self.rng)
                out.append((p.email, pw, p))
            else:
                out.append((self.unknown_address(), names.password(self.rng), None))
        return out

    def attempt(self, t, email, person, pw, ip, ua, country, asn):
        if person is None or t < person.created:
            outcome = "unknown_account"
        elif pw == person.password_at(t):
            outcome = "success"
            self.taken.add(person.email)
        else:
            outcome = "wrong_password"
        if person is not None:
            self.attacked.add(person.email)
        self.events.append((t, email, ip, ua, outcome, country, asn, pw))
        self.ips.add(ip)
        self.asns.add(asn)
        return outcome

    # --- sources ---------------------------------------------------------------------------
    def hosting_24s(self, names_, k, per):
        out = []
        for _ in range(k):
            net = self.pop.hosting[self.rng.choice(names_)]
            a, b, c = net.new_24()
            for _ in range(per):
                out.append((net, "%d.%d.%d.%d" % (a, b, c, self.rng.randrange(1, 255))))
        return out

    def residential_exit(self, own_home_share=0.05):
        """A residential-proxy exit inside the site's own networks, weighted as its players
        are (the big carrier's CGNAT pool included); a few are players' own home
        addresses, whose phones run proxyware from a free app."""
        p = self.rng.choice(self.active)
        if p.home is not None and p.home_kind == "v4" and self.rng.random() < own_home_share:
            return p.v4, p.country, p.home.asn
        if p.home is not None and self.rng.random() < 0.5:
            if p.home_kind == "cgnat":
                return p.home.pool_address(self.rng), p.country, p.home.asn
            if p.home_kind == "v6":
                return Network.v6_address(p.home.prefix64(self.rng), self.rng), p.country, p.home.asn
            return p.home.host(self.rng), p.country, p.home.asn
        return self.pop.mobile_address(p.carrier, self.rng), p.country, p.carrier.asn

    def app_ua(self, new=False):
        if self.rng.random() < 0.15:
            model, osv = self.rng.choice(world.IOS_MODELS)
            os_name = "ios"
        else:
            model, osv = self.rng.choice(world.ANDROID_MODELS)
            os_name = "android"
        return world.app_ua(world.APP_NEW if new else self.rng.choice(world.APP_OLD), os_name, model, osv)

    def current_app_ua(self, t):
        return self.app_ua(new=t >= self.pop.patch)

    def site_time(self, lo, hi):
        """A time in [lo, hi) on the site's own rhythm (Jakarta's evening)."""
        p = Person(-1)
        p.tz, p.hours = 7, GAME_CUM
        return self.pop.draw_time(p, self.rng, lo, hi)

    def spread(self, combo, t0, dur, source, per_source):
        """Each line at a random time in the window, `per_source()` lines per source."""
        i = 0
        while i < len(combo):
            ip, c, asn, ua = source()
            for _ in range(per_source()):
                if i >= len(combo):
                    break
                email, pw, p = combo[i]
                self.attempt(t0 + self.rng.random() * dur, email, p, pw, ip, ua, c, asn)
                i += 1
        self.window = (t0, t0 + dur)


def concentrated(a):
    """A combo list from a few hosting /24s within an hour or two."""
    dur = a.rng.uniform(60, 100) * 60
    t0 = a.start_in_last_days(dur)
    hosts = a.rng.sample(["IP Volume", "M247", "Psychz", "FranTech (BuyVM)", "HostRoyale"], a.rng.randint(1, 2))
    srcs = a.hosting_24s(hosts, a.rng.randint(3, 6), a.rng.randint(4, 20))
    combo = a.combo(a.scaled(4000), 0.55, 0.025)
    for email, pw, p in combo:
        net, ip = a.rng.choice(srcs)
        ua = OLD_TOOL_UA if a.rng.random() < 0.75 else DALVIK_UA
        a.attempt(t0 + a.rng.random() * dur, email, p, pw, ip, ua, net.country, net.asn)
    a.window = (t0, t0 + dur)


def botnet(a):
    """Infected machines abroad: ~500 /24s in 40-55 consumer ASNs, about a dozen attempts
    per /24, a few of the bots on IPv6."""
    dur = a.rng.uniform(2, 3) * HOUR
    t0 = a.start_in_last_days(dur)
    asns = a.rng.sample(world.BOTNET_ASNS, a.rng.randint(40, min(55, len(world.BOTNET_ASNS))))
    nets = [Network(a.pop.space, n, asn, c, "botnet", 0.0) for n, asn, c in asns]
    combo = a.combo(a.scaled(6000), 0.5, 0.02)
    n24 = max(50, len(combo) // 12)
    bots = []
    for _ in range(n24):
        net = a.rng.choice(nets)
        a_, b, c = net.new_24()
        for _ in range(a.rng.randint(1, 3)):
            if a.rng.random() < 0.08:
                ip = Network.v6_address(net.prefix64(a.rng), a.rng)
            else:
                ip = "%d.%d.%d.%d" % (a_, b, c, a.rng.randrange(1, 255))
            if a.rng.random() < 0.4:
                ua = world.launcher_ua(a.rng.choice(world.LAUNCHER_OLD))
            else:
                ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s Safari/537.36" % a.rng.choice(OLD_CHROMES)
            bots.append((ip, net.country, net.asn, ua))
    for email, pw, p in combo:
        ip, c, asn, ua = a.rng.choice(bots)
        a.attempt(t0 + a.rng.random() * dur, email, p, pw, ip, ua, c, asn)
    a.window = (t0, t0 + dur)


def residential(a):
    """Residential proxies inside the site's own ISPs and carriers, 1-3 attempts per exit,
    the game app's user agent of the day."""
    dur = a.rng.uniform(5, 8) * HOUR
    t0 = a.start_in_last_days(dur)
    combo = a.combo(a.scaled(6000), 0.5, 0.02)

    def source():
        ip, c, asn = a.residential_exit()
        return ip, c, asn, a.current_app_ua(t0)

    a.spread(combo, t0, dur, source, lambda: a.rng.randint(1, 3))


def low_and_slow(a):
    """The same kind of list over four to five days on the site's own rhythm, from
    residential exits and 200 hosting /24s, one or two attempts per source."""
    dur = a.rng.uniform(4, 5) * DAY
    t0 = a.pop.end - dur - HOUR
    combo = a.combo(a.scaled(6000), 0.5, 0.02)
    hosts = a.hosting_24s(["OVH", "Hetzner", "Contabo", "M247", "Leaseweb Asia", "DigitalOcean", "Linode (Akamai)"],
                          200, 1)
    i = 0
    while i < len(combo):
        if a.rng.random() < 0.6:
            ip, c, asn = a.residential_exit()
        else:
            net, ip = a.rng.choice(hosts)
            c, asn = net.country, net.asn
        for _ in range(a.rng.randint(1, 2)):
            if i >= len(combo):
                break
            t = a.site_time(t0, t0 + dur)
            if a.rng.random() < 0.5:
                ua = world.launcher_ua(world.LAUNCHER_NEW if t >= a.pop.patch else world.LAUNCHER_OLD[-1])
            else:
                ua = a.current_app_ua(t)
            email, pw, p = combo[i]
            a.attempt(t, email, p, pw, ip, ua, c, asn)
            i += 1
    a.window = (t0, t0 + dur)


def spraying(a):
    """The region's favourite passwords, one per round, against a harvested address list
    (a quarter of it stale), through residential proxies and a few hosting /24s."""
    k = a.rng.randint(3, 5)
    pws = names.COMMON_PASSWORDS[:]
    a.rng.shuffle(pws)
    pws = pws[:k]
    n_targets = a.scaled(6000)
    targets = []
    for _ in range(n_targets):
        if a.rng.random() < 0.75:
            p = a.rng.choice(a.real)
            targets.append((p.email, p))
        else:
            targets.append((a.unknown_address(), None))
    hosts = a.hosting_24s(["Vultr", "DigitalOcean", "Alibaba Cloud"], 5, 6)
    t = a.pop.end - a.rng.uniform(4, 4.8) * DAY
    first = t
    opened = set()
    for pw in pws:
        dur = a.rng.uniform(6, 10) * HOUR
        a.rng.shuffle(targets)
        i = 0
        while i < len(targets):
            if a.rng.random() < 0.6:
                ip, c, asn = a.residential_exit()
            else:
                net, ip = a.rng.choice(hosts)
                c, asn = net.country, net.asn
            ua = world.web_ua(a.rng, mobile=a.rng.random() < 0.5)
            for _ in range(a.rng.randint(1, 4)):
                if i >= len(targets):
                    break
                email, p = targets[i]
                i += 1
                if email in opened:
                    continue
                if a.attempt(t + a.rng.random() * dur, email, p, pw, ip, ua, c, asn) == "success":
                    opened.add(email)
        t += dur + a.rng.uniform(3, 8) * HOUR
    a.window = (first, min(t, a.pop.end - 600))


def v6_rotation(a):
    """Each attempt from a fresh /64 of one or two /48s a cheap IPv6 host hands out: a
    /48 holds 65,536 /64s, so no /64 ever tries more than one account."""
    dur = a.rng.uniform(60, 120) * 60
    t0 = a.start_in_last_days(dur)
    net = a.pop.hosting[a.rng.choice(["Vultr", "Linode (Akamai)", "FranTech (BuyVM)", "M247"])]
    hi, lo = net.v6
    p48s = [(hi, lo, a.rng.randrange(0, 0x10000)) for _ in range(a.rng.randint(1, 2))]
    combo = a.combo(a.scaled(5000), 0.5, 0.025)
    for email, pw, p in combo:
        x, y, z = a.rng.choice(p48s)
        ip = Network.v6_address((x, y, z, a.rng.randrange(0, 0x10000)), a.rng)
        a.attempt(t0 + a.rng.random() * dur, email, p, pw, ip, a.current_app_ua(t0), net.country, net.asn)
    a.window = (t0, t0 + dur)


def patch_cover(a):
    """Stuffing timed inside the season patch's rush, when every player signs in again,
    many fail, many try another address, and every client has a user agent nobody had
    the day before: residential exits in the site's own networks, the new app build."""
    t0 = a.pop.patch + a.rng.uniform(30, 90) * 60
    dur = min(a.rng.uniform(4, 6) * HOUR, a.pop.end - 1800 - t0)
    combo = a.combo(a.scaled(5000), 0.55, 0.025)

    def source():
        ip, c, asn = a.residential_exit()
        return ip, c, asn, a.app_ua(new=True)

    a.spread(combo, t0, dur, source, lambda: a.rng.randint(1, 3))


def cafe_keylogger(a):
    """A keylogger on the seats of a few internet cafés records every login typed there;
    the one who planted it signs in to the accounts worth having a day or three later,
    from home in the same town (same ISP) or the big carrier, on an Android emulator,
    with the exact password: no failures, no unknown addresses."""
    pop = a.pop
    k = max(2, pop.n // 4000)
    counts = {}
    for t, cafe, p in pop.cafe_visits:
        counts[cafe] = counts.get(cafe, 0) + 1
    busy = sorted(counts, key=lambda c: (-counts[c], c))[: max(k * 3, k)]
    cafes = set(a.rng.sample(busy, min(k, len(busy))))
    captured = {}
    for t, cafe, p in sorted(pop.cafe_visits, key=lambda v: v[0]):
        if cafe in cafes and p.email not in captured and t < pop.end - DAY:
            captured[p.email] = (t, cafe, p)
    homes = {}
    model, osv = a.rng.choice(world.EMULATOR_MODELS)
    first = last = None
    earliest = pop.end - 5.5 * DAY
    for email, (tv, cafe, p) in sorted(captured.items(), key=lambda kv: kv[1][0]):
        if a.rng.random() >= 0.55:
            continue
        net, cafe_ip, _, country = pop.cafes[cafe]
        if cafe not in homes:
            homes[cafe] = (net, [net.host(a.rng), net.host(a.rng)])
        t = max(tv + a.rng.uniform(1, 3) * DAY, earliest + a.rng.uniform(0, 2) * DAY)
        t = a.site_time(t, t + 0.8 * DAY)
        if t >= pop.end - 1800:
            continue
        on_phone = a.rng.random() < 0.3
        if on_phone and country == "ID":
            ip, asn = pop.mobile_address(pop.telkomsel, a.rng), pop.telkomsel.asn
        elif on_phone:  # outside Indonesia: the home address all the same
            ip, asn = homes[cafe][1][0], net.asn
        else:  # the home connection gets a new address from DHCP halfway
            ip, asn = homes[cafe][1][0 if t < pop.end - 2.5 * DAY else 1], net.asn
        ua = world.app_ua(world.APP_NEW if t >= pop.patch else world.APP_OLD[-1], "android", model, osv)
        a.attempt(t, email, p, p.password_at(tv), ip, ua, country, asn)
        first = t if first is None else min(first, t)
        last = t if last is None else max(last, t)
    a.window = (first, last + 60) if first is not None else None


def infostealer_mimic(a):
    """Infostealer logs give the exact password, the browser's user agent and where the
    victim is: the buyer signs in through a residential proxy in the victim's own ISP or
    carrier, with the victim's own client and country, once per account."""
    pop = a.pop
    dur = 36 * HOUR
    t0 = a.start_in_last_days(dur)
    n = a.scaled(60)
    # The logs were stolen from accounts that existed then.
    pool = [p for p in a.active if p.created < t0]
    victims = a.rng.sample(pool, min(n, len(pool)))
    for p in victims:
        t = a.site_time(t0, t0 + dur)
        # A log a few weeks old: 15 % of the victims changed the password since.
        pw = p.password_at(t) if a.rng.random() < 0.85 else names.password(a.rng)
        if p.home is not None and a.rng.random() < 0.6:
            if p.home_kind == "cgnat":
                ip = p.home.pool_address(a.rng)
            elif p.home_kind == "v6":
                ip = Network.v6_address(p.home.prefix64(a.rng), a.rng)
            else:
                ip = p.home.host(a.rng)
            asn = p.home.asn
            ua = pop.pc_ua(p, t) if p.pc else pop.phone_ua(p, t)
        else:
            ip = pop.mobile_address(p.carrier, a.rng)
            asn = p.carrier.asn
            ua = pop.phone_ua(p, t)
        a.attempt(t, p.email, p, pw, ip, ua, p.country, asn)
    a.window = (t0, t0 + dur)


def run(pop, seed, shape):
    if shape not in SHAPES:
        raise ValueError("unknown shape %r (one of %s)" % (shape, ", ".join(SHAPES)))
    a = Attacker(pop, seed, shape)
    if shape != "quiet":
        globals()[shape](a)
    return a


def prefix24(ip):
    if ":" in ip:
        return str(ipaddress.IPv6Network(ip + "/64", strict=False))
    return ip.rsplit(".", 1)[0] + ".0/24"
