"""The site's ordinary users and how they sign in, including every innocent way to fail.

Each user gets a home network, a phone on a carrier, one or two devices, a rhythm of
sign-ins (a third never sign in during the trace), and their own typo rate. Some are
the innocents the brief lists: behind the big carrier's CGNAT, at the employer behind
its NAT, abroad on their own phone, on a commercial VPN in a hosting AS, with an old
device whose stored password is stale, with a new phone, and everyone who tried to
sign in during the outage hour.
"""

import world

HOUR = 3600_000
DAY = 24 * HOUR

# Local (UTC+1 in December) sign-in rhythm: quiet nights, a lunch bump, evening peak.
_DIURNAL = [2, 1, 0.6, 0.4, 0.4, 0.8, 2.5, 5, 6.5, 6.5, 6, 6, 7, 6.5, 5.5, 5.5, 6, 6.5, 7.5, 8.5, 9, 8, 6, 3.5]

# Popular passwords that pass a 15-character rule and that real people still choose.
POPULAR = ["Azerty123456789!", "Motdepasse2024!", "Soleil123456789", "Marseille13013!", "Bonjour123456789",
           "Chocolat1234567", "Password1234567!", "Loulou123456789", "Doudou123456789!", "Nicolas123456789"]


class User:
    __slots__ = ("email", "password", "created_at", "country", "isp", "home_v4", "home_v4_alt", "v4_switch",
                 "home_v6", "carrier", "pool", "v6_mobile", "desktop", "phone", "mobile_share", "office",
                 "vpn", "rate", "typo_rate", "classes", "trip", "stale", "new_phone", "popular")


def _choose_carrier(rng, net, cgnat_share):
    r = rng.random()
    if r < cgnat_share:
        return net.carrier, net.cgnat_pool
    i = 0 if r < cgnat_share + (1 - cgnat_share) * 0.45 else 1
    return net.small_carriers[i], net.small_pools[i]


def make_users(rng, net, k, start, end, cgnat_share):
    users = []
    seen = set()
    span = end - start
    for _ in range(k):
        u = User()
        while True:
            e = world.make_email(rng)
            if e not in seen:
                seen.add(e)
                break
        u.email = e
        u.classes = set()
        u.popular = rng.random() < 0.005
        u.password = rng.choices(POPULAR, [1 / (i + 1) for i in range(len(POPULAR))])[0] if u.popular else world.password_for(rng, e)
        u.created_at = start - rng.randint(15, 3000) * DAY
        u.country = world.HOME if rng.random() < 0.9 else rng.choice(world.FOREIGN[:6])
        if u.country == world.HOME:
            u.isp = rng.choices(net.home_isps, net.home_isp_weights)[0]
        else:
            u.isp = rng.choice(net.foreign[u.country]["isp"])
        u.home_v4 = u.isp.random_v4(rng)
        # Households' IPv4 addresses change now and then (lease churn, box restarts).
        u.home_v4_alt = u.isp.random_v4(rng) if rng.random() < 0.15 else None
        u.v4_switch = start + rng.randrange(span)
        u.home_v6 = u.isp.random_v6_64(rng) if u.isp.v6_32 and rng.random() < 0.55 else None
        if u.country == world.HOME:
            u.carrier, u.pool = _choose_carrier(rng, net, cgnat_share)
        else:
            u.carrier, u.pool = net.foreign[u.country]["mobile"], net.foreign[u.country]["mobile_pool"]
        u.v6_mobile = bool(u.carrier.v6_32) and rng.random() < 0.5
        u.desktop = world.desktop_ua(rng) if rng.random() < 0.7 else None
        u.phone = world.phone_ua(rng) if (rng.random() < 0.92 or u.desktop is None) else None
        # Some people only ever sign in on their phone, mostly off Wi-Fi.
        u.mobile_share = 0.0 if u.phone is None else rng.choice([0.1, 0.25, 0.4, 0.6, 0.9])
        u.office = u.country == world.HOME and rng.random() < 0.025
        u.vpn = rng.random() < 0.03
        u.rate = 0.0 if rng.random() < 0.32 else min(6.0, rng.lognormvariate(-1.05, 1.0))
        u.typo_rate = rng.uniform(0.02, 0.14)
        u.trip = None
        u.stale = None
        u.new_phone = None
        if u.rate > 0:
            if rng.random() < 0.025:
                t0 = start + rng.randrange(span - 2 * DAY)
                c = rng.choice(world.FOREIGN)
                u.trip = (t0, t0 + rng.randint(2, 7) * DAY, c, rng.choices(["hotel", "sim", "roaming", "vpn"], [40, 30, 15, 15])[0], None)
                u.classes.add("traveller")
            if rng.random() < 0.02:
                u.stale = (start + rng.randrange(span), rng.randint(1, 4) * DAY, world.desktop_ua(rng), world.password_for(rng, e))
                u.classes.add("password_manager")
            if u.phone and rng.random() < 0.015:
                u.new_phone = (start + rng.randrange(span), world.phone_ua(rng))
                u.classes.add("new_device")
        if u.carrier is net.carrier and u.phone and u.rate > 0:
            u.classes.add("cgnat")
        elif u.carrier in net.small_carriers and u.phone and u.rate > 0:
            u.classes.add("other_carrier")
        if u.office and u.rate > 0:
            u.classes.add("office_nat")
        if u.vpn and u.rate > 0:
            u.classes.add("vpn")
        if u.country != world.HOME:
            u.classes.add("abroad_resident")
        if u.rate == 0:
            u.classes.add("dormant")
        users.append(u)
    return users


class Trace:
    """Collects events as tuples (ms, account, ip, outcome, ua, country, asn, password)."""

    def __init__(self):
        self.events = []

    def add(self, t, account, ip, outcome, ua, country, asn, password):
        self.events.append((int(t), account, ip, outcome, ua, country, asn, password))


def _ip(rng, net, u, t, ctx):
    """(ip string, asn, country) for a sign-in by u at t in context ctx."""
    if ctx == "office":
        return world.v4_str(rng.choice(net.office_ips)), net.employer.number, world.HOME
    if ctx == "vpn":
        a, ip = rng.choice(net.vpn_exits)
        return world.v4_str(ip), a.number, a.country
    if ctx == "mobile":
        if u.v6_mobile:
            # A phone gets a new /64 from its carrier on each attach.
            return world.v6_str(u.carrier.random_v6_64(rng), rng.getrandbits(64)), u.carrier.number, u.carrier.country
        return world.v4_str(rng.choice(u.pool)), u.carrier.number, u.carrier.country
    if u.home_v6 is not None and rng.random() < 0.7:
        # Privacy extensions: the same /64, a new interface id now and then.
        return world.v6_str(u.home_v6, rng.getrandbits(64)), u.isp.number, u.isp.country
    v4 = u.home_v4_alt if (u.home_v4_alt is not None and t >= u.v4_switch) else u.home_v4
    return world.v4_str(v4), u.isp.number, u.isp.country


def _travel_ip(rng, net, u, trip):
    t0, t1, c, kind, hotel = trip
    if kind == "hotel":
        a = rng.choice(net.foreign[c]["isp"])
        return world.v4_str(hotel), a.number, c
    if kind == "sim":
        a = net.foreign[c]["mobile"]
        return world.v4_str(rng.choice(net.foreign[c]["mobile_pool"])), a.number, c
    if kind == "vpn":
        a, ip = rng.choice(net.vpn_exits)
        return world.v4_str(ip), a.number, a.country
    # Roaming data is routed home: the carrier's own addresses, abroad.
    return world.v4_str(rng.choice(u.pool)), u.carrier.number, u.carrier.country


def _typo_pw(rng, pw):
    i = rng.randrange(len(pw))
    return pw[:i] + rng.choice("azertyuiop1234") + pw[i + 1:]


def session_times(rng, u, start, end):
    days = (end - start) / DAY
    n = world.poisson(rng, u.rate * days)
    out = []
    for _ in range(n):
        day = rng.randrange(int(days))
        hour_local = rng.choices(range(24), _DIURNAL)[0]
        t = start + day * DAY + ((hour_local - 1) % 24) * HOUR + rng.randrange(HOUR)
        if start <= t < end:
            out.append(t)
    return sorted(out)


def sign_in(rng, net, tr, u, t, outage, ctx_override=None):
    """One sitting: maybe a mistyped address, maybe mistyped passwords, then usually a success."""
    weekday = ((t // DAY) + 4) % 7 < 5  # epoch day 0 was a Thursday
    hour_local = (t // HOUR + 1) % 24
    if u.trip and u.trip[0] <= t < u.trip[1]:
        ip, asn, country = _travel_ip(rng, net, u, u.trip)
        ua = u.phone or u.desktop
    else:
        if ctx_override:
            ctx = ctx_override
        elif u.office and weekday and 8 <= hour_local < 18 and rng.random() < 0.75:
            ctx = "office"
        elif u.phone and rng.random() < u.mobile_share:
            ctx = "mobile"
        elif u.vpn and rng.random() < 0.8:
            ctx = "vpn"
        else:
            ctx = "home"
        ip, asn, country = _ip(rng, net, u, t, ctx)
        if ctx == "mobile":
            ua = u.phone
        elif ctx == "office":
            ua = u.desktop or u.phone
        else:
            ua = u.desktop if (u.desktop and (not u.phone or rng.random() < 0.6)) else u.phone
    if u.new_phone and t >= u.new_phone[0] and ua == u.phone:
        ua = u.new_phone[1]
    if outage and outage[0] <= t < outage[1]:
        _outage_retries(rng, net, tr, u, t, outage, ip, ua, country, asn)
        return
    if rng.random() < 0.008:
        tr.add(t, world.typo_email(rng, u.email), ip, "unknown_account", ua, country, asn, u.password)
        u.classes.add("typo")
        t += rng.randint(5_000, 40_000)
    fails = 0
    if rng.random() < u.typo_rate:
        fails = rng.choices([1, 2, 3], [70, 22, 8])[0]
    if u.trip and u.trip[0] <= t < u.trip[1] and rng.random() < 0.3:
        fails = max(fails, 1)  # a foreign keyboard, a hotel login page
    for _ in range(fails):
        tr.add(t, u.email, ip, "wrong_password", ua, country, asn, _typo_pw(rng, u.password))
        t += rng.randint(4_000, 45_000)
        u.classes.add("typo")
    if rng.random() < 0.004:
        for _ in range(rng.randint(2, 4)):  # gives up: forgot the password, will recover
            tr.add(t, u.email, ip, "wrong_password", ua, country, asn, _typo_pw(rng, u.password))
            t += rng.randint(4_000, 45_000)
        return
    if outage and outage[0] <= t < outage[1]:
        # The sitting began before the outage and its right password landed in it.
        _outage_retries(rng, net, tr, u, t, outage, ip, ua, country, asn)
        return
    tr.add(t, u.email, ip, "success", ua, country, asn, u.password)


def _outage_retries(rng, net, tr, u, t, outage, ip, ua, country, asn):
    """Every sign-in fails for an hour; people retry a few times, and most come back later."""
    u.classes.add("outage_retry")
    kind = "wrong_password" if outage[2] == "auth" else "unknown_account"
    for _ in range(1 + rng.choice([1, 2, 2, 3, 3, 4])):
        tr.add(t, u.email, ip, kind, ua, country, asn, u.password)
        t += rng.randint(15_000, 150_000)
        if t >= outage[1]:
            break
    if rng.random() < 0.6:
        sign_in(rng, net, tr, u, outage[1] + int(rng.expovariate(1 / (40 * 60_000))), outage)


def innocent_traffic(rng, net, tr, users, start, end, outage):
    for u in users:
        if u.trip:
            t0, t1, c, kind, _ = u.trip
            hotel = rng.choice(net.foreign[c]["isp"]).random_v4(rng)
            u.trip = (t0, t1, c, kind, hotel)
        for t in session_times(rng, u, start, end):
            sign_in(rng, net, tr, u, t, outage)
        if u.trip:
            # Travellers sign in while away, more than at home (bookings, a new place).
            for _ in range(rng.randint(1, 4)):
                t = rng.randrange(u.trip[0], u.trip[1])
                if t < end:
                    sign_in(rng, net, tr, u, t, outage)
        if u.stale:
            # After a password change, an old device keeps trying the old password for days.
            t, dur, ua, old = u.stale
            stop = min(end, t + dur)
            ip, asn, country = _ip(rng, net, u, t, "home")
            while t < stop:
                tr.add(t, u.email, ip, "wrong_password", ua, country, asn, old)
                if rng.random() < 0.3:
                    t += rng.randint(2_000, 20_000)  # the client retries at once
                    tr.add(t, u.email, ip, "wrong_password", ua, country, asn, old)
                t += rng.randint(20 * 60_000, 4 * HOUR)
