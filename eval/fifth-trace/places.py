"""Where a sign-in comes from: the address, country and ASN of one sign-in by one person,
given where they are that day (office, home, a trip) and which client they use. Also the
site's daily rhythm (per local hour, working days and weekends)."""

import math

from world import BIG_CARRIER, CARRIERS, SWG_FAILOVER, SWG_NODES

# Sign-ins per local hour on a working day: people sign in when they start work
# (9-11 h), again after lunch (14-16 h, a session expired or a second device), a little
# in the evening; almost nothing at night.
WORKDAY = [0.2, 0.1, 0.05, 0.05, 0.05, 0.1, 0.3, 0.8, 2.0, 4.5, 5.0, 4.0, 3.0, 2.8, 3.8, 3.5, 3.0, 2.2, 1.5, 1.2,
           1.2, 1.0, 0.6, 0.4]
WEEKEND = [0.2, 0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.6, 1.0, 1.4, 1.5, 1.4, 1.2, 1.2, 1.2, 1.1, 1.0, 1.0, 1.0,
           1.0, 0.9, 0.6, 0.4]
_CUM = {}


def _cum(curve):
    key = id(curve)
    if key not in _CUM:
        acc, out = 0.0, []
        for w in curve:
            acc += w
            out.append(acc)
        _CUM[key] = out
    return _CUM[key]


def day_factor(country, weekday):
    """How many of a working day's sign-ins a day has: Indian firms often work Saturdays."""
    if weekday < 5:
        return 1.0
    if weekday == 5:
        return 0.45 if country == "IN" else 0.12
    return 0.08


def local_time(rng, day_start_local, weekday):
    """A time (UTC seconds of the local day's start + offset) drawn from the curve."""
    curve = WORKDAY if weekday < 5 else WEEKEND
    cum = _cum(curve)
    x = rng.random() * cum[-1]
    h = 0
    while cum[h] < x:
        h += 1
    return day_start_local + h * 3600 + rng.random() * 3600


def poisson(rng, lam):
    if lam <= 0:
        return 0
    limit, k, prod = math.exp(-lam), 0, rng.random()
    while prod > limit:
        k += 1
        prod *= rng.random()
    return k


def office_day(p, day):
    """Whether the person works from the office that day (a fixed per-person pattern)."""
    if p.office_share <= 0:
        return False
    h = (p.idx * 2654435761 + day * 40503 + 12345) % 1000003
    return (h % 1000) / 1000 < p.office_share


class Places:
    def __init__(self, world):
        self.w = world

    def _carrier(self, rng, name, classes):
        net, v6 = self.w.carrier[name]
        classes.add("carrier_cgnat" if name == BIG_CARRIER else "other_carrier")
        ip = net.v6(rng) if rng.random() < v6 else net.v4(rng)
        return ip, net.country, net.asn

    def _home(self, rng, p, day, classes):
        if p.home == "Reliance JioFiber":
            # JioFiber homes go out through Jio's own CGNAT and IPv6 network.
            net, _ = self.w.carrier[BIG_CARRIER]
            classes.add("carrier_cgnat")
            ip = net.v6(rng, p.home6) if p.home6 is not None else net.v4(rng)
            return ip, net.country, net.asn
        net, kind, _ = self.w.home[p.home]
        if p.home6 is not None and rng.random() < 0.75:
            classes.add("ipv6_home")
            return net.v6(rng, p.home6), net.country, net.asn
        if kind == "cgnat":
            classes.add("home_cgnat")
            return net.v4(rng), net.country, net.asn
        if p.home_daily:
            blocks = net.blocks
            b = blocks[(p.idx * 7 + day) % len(blocks)]
            return "%s.%d" % (b, (p.idx * 13 + day * 17) % 254 + 1), net.country, net.asn
        return p.home_ip, net.country, net.asn

    def _swg(self, rng, p, country, classes):
        vendor, _ = p.tenant.swg
        c = country if country in SWG_NODES else "US"
        node = SWG_NODES[c][0] if rng.random() > 0.05 else SWG_FAILOVER[c]
        net = self.w.swg[(vendor, node)]
        classes.add("swg_egress")
        return net.v4(rng), net.country, net.asn

    def _office(self, rng, p, classes):
        t = p.tenant
        classes.add("office_nat")
        return rng.choice(t.office_ips), t.office_net.country, t.office_net.asn

    def _vpn(self, rng, p, classes):
        t = p.tenant
        classes.add("vpn_concentrator")
        return rng.choice(t.vpn_ips), t.vpn_net.country, t.vpn_net.asn

    def _travel(self, rng, dest, classes):
        nets = self.w.travel.get(dest) or self.w.travel["US"]
        net = rng.choice(nets)
        return net.v4(rng), net.country, net.asn

    def web(self, rng, p, day, trip, classes):
        """A laptop browser's sign-in."""
        t = p.tenant
        if trip:
            if t.egress == "swg":
                return self._swg(rng, p, trip, classes)
            if t.egress == "vpn" and rng.random() < 0.8:
                return self._vpn(rng, p, classes)
            return self._travel(rng, trip, classes)
        at_office = office_day(p, day)
        if t.egress == "swg":
            return self._swg(rng, p, p.country, classes)
        if at_office:
            return self._office(rng, p, classes)
        if t.egress == "vpn" and rng.random() < 0.75:
            return self._vpn(rng, p, classes)
        if p.country == "IN" and p.carrier == BIG_CARRIER and rng.random() < 0.5:
            # Working from home on the phone's Jio hotspot (or a JioFi dongle).
            return self._carrier(rng, p.carrier, classes)
        return self._home(rng, p, day, classes)

    def app(self, rng, p, day, hour_local, trip, classes):
        """The phone app's sign-in."""
        if trip:
            r = rng.random()
            if r < 0.55:
                return self._carrier(rng, p.carrier, classes)  # home-routed roaming
            if r < 0.8:
                return self._travel(rng, trip, classes)
            local = CARRIERS.get(trip) or CARRIERS["US"]
            net, _ = self.w.carrier[local[0][0]]
            return net.v4(rng), net.country, net.asn
        if office_day(p, day) and 9 <= hour_local < 18 and rng.random() < 0.3:
            return self._office(rng, p, classes)
        if rng.random() < 0.6 or not (7 <= hour_local < 23):
            if rng.random() < 0.6:
                return self._carrier(rng, p.carrier, classes)
        return self._home(rng, p, day, classes)

