"""Sahyog's customers: companies (tenants), their employees (the accounts), each with a
home line, a phone, a laptop browser, an office or a gateway, and a password. Built from
one random stream per seed (`world.stream(seed, "people")`)."""

import math

from world import (BIG_CARRIER, BROWSERS, CARRIERS, CLOUDS, DAY, HOME_ISPS, HQ_WEIGHTS, OFFICE_ISPS,
                   SWG_NODES, SWG_VENDORS, TRAVEL_NETS, TZ, VPN_EXITS, ANDROID_MODELS, IOS_VERSIONS,
                   AddressSpace, Net, country_of, pick)

FIRST = {
    "IN": ["aarav", "vivaan", "aditya", "arjun", "rohan", "rahul", "amit", "priya", "ananya", "sneha", "pooja", "neha",
           "kavya", "divya", "karthik", "suresh", "ramesh", "deepa", "lakshmi", "vikram", "sanjay", "meera", "anil", "sunita",
           "harish", "gaurav", "nisha", "shreya", "manoj", "swati", "rajesh", "farhan", "imran", "ayesha", "gurpreet", "simran"],
    "US": ["james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "david", "emily", "chris",
           "sarah", "daniel", "jessica", "matt", "ashley", "kevin", "megan", "brian", "lauren", "jose", "maria", "wei", "priya"],
    "GB": ["oliver", "amelia", "harry", "olivia", "jack", "isla", "george", "emily", "noah", "ava", "charlie", "sophie",
           "thomas", "grace", "william", "lucy", "raj", "aisha"],
    "AE": ["mohammed", "ahmed", "fatima", "omar", "aisha", "ali", "mariam", "khalid", "sara", "rashid", "anil", "joseph", "maria"],
    "BR": ["joao", "maria", "pedro", "ana", "lucas", "juliana", "gabriel", "fernanda", "rafael", "camila", "bruno", "beatriz"],
}
LAST = {
    "IN": ["sharma", "verma", "iyer", "nair", "reddy", "patel", "gupta", "singh", "kumar", "rao", "menon", "joshi",
           "mehta", "das", "bose", "pillai", "khan", "agarwal", "chopra", "kulkarni", "desai", "shetty", "banerjee", "mishra"],
    "US": ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "martinez", "lee", "walker",
           "hall", "young", "allen", "king", "wright", "nguyen", "chen", "patel", "shah"],
    "GB": ["smith", "jones", "taylor", "brown", "williams", "wilson", "evans", "thomas", "roberts", "walker", "wright",
           "khan", "patel", "hughes", "clarke"],
    "AE": ["alhashimi", "almansoori", "alshamsi", "khan", "hassan", "rahman", "thomas", "george", "nair", "almazrouei"],
    "BR": ["silva", "santos", "oliveira", "souza", "lima", "pereira", "costa", "ferreira", "almeida", "ribeiro"],
}
COMPANY_A = ["kaveri", "sagar", "indus", "nilgiri", "trident", "lotus", "vertex", "apex", "harbor", "summit", "maple",
             "cedar", "granite", "beacon", "meridian", "orbit", "pioneer", "sterling", "zenith", "falcon", "ganga",
             "himalaya", "coral", "atlas", "quantum", "bluepeak", "redwood", "silverline", "northstar", "suncrest"]
COMPANY_B = ["tech", "logistics", "infra", "retail", "health", "foods", "labs", "capital", "systems", "textiles",
             "pharma", "motors", "realty", "media", "consulting", "exports", "solutions", "agro", "steel", "travels"]
TLD = {"IN": [".in", ".co.in", ".com"], "US": [".com", ".io", ".co"], "GB": [".co.uk", ".com"], "AE": [".ae", ".com"],
       "BR": [".com.br", ".com"]}

# Passwords people really pick at work in India and elsewhere: the corporate classics
# (`Welcome@123`), the company's name and year, the name and birth year; most are a
# password manager's or a long personal one.
COMMON = ["Welcome@123", "Password@123", "India@123", "Admin@123", "Welcome@2026", "Pass@1234", "Qwerty@123",
          "Summer2026!", "Password1!", "Abcd@1234"]


class Tenant:
    def __init__(self, idx, name, domain, region, size):
        self.idx, self.name, self.domain, self.region, self.size = idx, name, domain, region, size
        self.country = country_of(region)
        self.egress = "office"  # office | swg | vpn
        self.sso = False  # users sign in through the company's IdP: no password checks normally
        self.office_ips = []
        self.office_net = None
        self.swg = None  # (vendor, asn)
        self.vpn_ips = []
        self.vpn_net = None
        self.rotation = False  # 90-day password rotation policy
        self.onboarding = False


class Person:
    __slots__ = ("idx", "email", "first", "last", "tenant", "region", "country", "tz", "active", "rate", "browser",
                 "pm", "has_app", "platform", "model", "home", "home_ip", "home_daily", "home6", "carrier",
                 "carrier_v6", "office_share", "password", "pw_at_start", "typo", "classes", "created_at",
                 "remote_country", "role", "password_change")

    def __init__(self, idx):
        self.idx = idx
        self.classes = set()
        self.created_at = None
        self.password_change = None  # (time, old password)


class World:
    """Every network of the trace, built once per seed."""

    def __init__(self, rng, accounts):
        space = AddressSpace(rng)
        scale = max(1.0, accounts / 20000)
        self.home = {}
        for c, isps in HOME_ISPS.items():
            for name, asn, share, kind, v6 in isps:
                n24 = max(3, int((6 if kind == "cgnat" else 40) * share * scale * (3 if c == "IN" else 1)))
                self.home[name] = (Net(space, name, asn, c, n24, v6=v6 > 0), kind, v6)
        self.carrier = {}
        for c, cs in CARRIERS.items():
            for name, asn, share, v6 in cs:
                n24 = 12 if name == BIG_CARRIER else max(2, int(8 * share))
                self.carrier[name] = (Net(space, name, asn, c, n24, v6=v6 > 0), v6)
        self.office = {}
        for c, isps in OFFICE_ISPS.items():
            for name, asn in isps:
                self.office[name] = Net(space, name, asn, c, max(4, int(20 * scale)))
        self.swg = {}
        for vendor, asn in SWG_VENDORS:
            for c in {"IN", "SG", "US", "GB", "DE", "AE", "BR"}:
                self.swg[(vendor, c)] = Net(space, "%s %s" % (vendor, c), asn, c, 2, hosts=48)
        self.cloud = {}
        for cloud, asn in CLOUDS:
            for c in ("IN", "US", "GB", "AE", "BR", "SG", "DE"):
                self.cloud[(cloud, c)] = Net(space, "%s %s" % (cloud, c), asn, c, 24)
        self.travel = {}
        for c, nets in TRAVEL_NETS.items():
            self.travel[c] = [Net(space, name, asn, cc, 6) for name, asn, cc in nets]
        self.vpn_exit = {}
        for c, exits in VPN_EXITS.items():
            self.vpn_exit[c] = [Net(space, name, asn, c, 3) for name, asn in exits]
        self.space = space


def _lognormal_rate(rng, median, sigma, cap):
    return min(cap, median * math.exp(rng.gauss(0, sigma)))


def build(rng, accounts, start, end, big_carrier_users):
    """(world, tenants, people). `big_carrier_users` is the share of the users the big
    carrier should carry (drawn per seed by the caller, 25-40 %)."""
    world = World(rng, accounts)
    tenants = []
    people = []
    domains = set()
    # Company sizes: heavy-tailed (a few firms of hundreds of seats, many of a dozen).
    remaining = accounts
    onboarding_size = int(accounts * 0.05)
    while remaining > 0:
        region = pick(rng, HQ_WEIGHTS)
        size = min(remaining, max(3, int(8 * math.exp(rng.gauss(0.6, 1.1)))), int(accounts * 0.03) + 5)
        if not tenants:
            size = onboarding_size  # the company that goes live during the trace
            region = "IN"
        c = country_of(region)
        tries = 0
        while True:
            # 1,800 names per country: at 100,000 accounts (4,000+ companies) some repeat
            # with a number, as real ones do (`apexsolutions2.in`).
            name = rng.choice(COMPANY_A) + rng.choice(COMPANY_B) + (str(rng.randint(2, 99)) if tries > 10 else "")
            domain = name + rng.choice(TLD[c])
            tries += 1
            if domain not in domains:
                domains.add(domain)
                break
        if not tenants:
            name, domain = "kaverilogistics", "kaverilogistics.in"
            domains.add(domain)
        t = Tenant(len(tenants), name, domain, region, size)
        t.onboarding = not tenants
        roll = rng.random()
        t.egress = "office" if roll < 0.5 else ("swg" if roll < 0.8 else "vpn")
        if t.onboarding:
            t.egress = "swg"
        t.sso = (not t.onboarding) and rng.random() < 0.10
        t.rotation = rng.random() < 0.3
        isp_name, _ = rng.choice(OFFICE_ISPS[c])
        t.office_net = world.office[isp_name]
        blk = rng.randrange(len(t.office_net.blocks))
        base = rng.randint(1, 240)
        t.office_ips = ["%s.%d" % (t.office_net.blocks[blk], base + i) for i in range(rng.randint(2, 4))]
        t.swg = rng.choice(SWG_VENDORS)
        cloud = rng.choice(CLOUDS)
        t.vpn_net = world.cloud[(cloud[0], c)]
        t.vpn_ips = [t.vpn_net.v4(rng) for _ in range(rng.randint(1, 2))]
        tenants.append(t)
        remaining -= size
    used = set()
    for t in tenants:
        for _ in range(t.size):
            p = Person(len(people))
            p.tenant = t
            p.region = t.region
            # Some firms employ people in other countries (Indian firms' US and UK staff,
            # US firms' Indian engineering teams).
            p.remote_country = None
            if rng.random() < 0.08 and not t.onboarding:
                p.region = rng.choice(["IN", "US-E", "GB", "US-W"] if t.country != "IN" else ["US-E", "GB", "AE"])
                p.remote_country = country_of(p.region)
            p.country = country_of(p.region)
            names_c = p.country if p.country in FIRST else "IN"
            while True:
                p.first, p.last = rng.choice(FIRST[names_c]), rng.choice(LAST[names_c])
                fmt = rng.random()
                local = ("%s.%s" % (p.first, p.last)) if fmt < 0.7 else (("%s%s" % (p.first[0], p.last)) if fmt < 0.9 else p.first + p.last[0])
                email = "%s@%s" % (local, t.domain)
                if email in used:
                    email = "%s%d@%s" % (local, rng.randint(2, 99), t.domain)
                if email not in used:
                    used.add(email)
                    break
            p.email = email
            p.tz = TZ[p.region]
            p.role = "admin" if rng.random() < 0.03 else "member"
            # 18 % of seats are dormant (people who left, seats bought ahead of hiring).
            p.active = t.onboarding or rng.random() > 0.18
            p.rate = _lognormal_rate(rng, 0.75, 0.6, 3.0)
            p.browser = pick(rng, [(k, w) for k, w, _ in BROWSERS])
            p.pm = rng.random() < 0.45
            p.has_app = rng.random() < (0.75 if p.country == "IN" else 0.45)
            p.platform = "android" if rng.random() < (0.88 if p.country in ("IN", "BR") else 0.45) else "ios"
            p.model = rng.choice(ANDROID_MODELS) if p.platform == "android" else rng.choice(IOS_VERSIONS)
            hc = p.country if p.country in HOME_ISPS else "IN"
            isps = HOME_ISPS[hc]
            p.home = pick(rng, [(name, share) for name, _, share, _, _ in isps])
            net, kind, v6 = world.home[p.home]
            p.home_daily = kind == "dyn" and p.home in ("Airtel Xstream", "BSNL")
            p.home_ip = net.v4(rng) if kind == "dyn" else None
            p.home6 = rng.getrandbits(32) if rng.random() < v6 else None
            cs = CARRIERS[hc]
            # India's carriers are assigned below, once the number of Indian users is known.
            p.carrier = rng.random() if hc == "IN" else pick(rng, [(n, s) for n, _, s, _ in cs])
            # Hybrid work: the share of working days spent at the office.
            p.office_share = 0.0 if p.remote_country else rng.choice([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
            p.typo = min(0.3, rng.expovariate(1 / 0.04))
            roll = rng.random()
            if roll < 0.02:
                p.password = rng.choice(COMMON)
                p.classes.add("common_password")
            elif roll < 0.06:
                # The company's name and a number: what IT set at joining, never changed.
                p.password = "%s@%d" % (t.name.capitalize(), rng.choice([2025, 2026, 123]))
                p.classes.add("common_password")
            elif roll < 0.075:
                p.password = "%s@%d" % (p.first.capitalize(), rng.randint(1965, 2002))
            else:
                p.password = "%s-%08x" % (rng.choice(["pm", "long", "phrase"]), rng.getrandbits(32))
            p.pw_at_start = p.password
            p.created_at = start - rng.randint(30, 1500) * DAY
            if t.sso:
                p.classes.add("sso_user")
            if not p.active:
                p.classes.add("dormant")
            people.append(p)
    _assign_indian_carriers(rng, people, big_carrier_users)
    return world, tenants, people


def _assign_indian_carriers(rng, people, target):
    """Give the big carrier the share of Indian phones that puts about `target` of the
    users on it (JioFiber homes count: they go out through Jio's network too): the
    share of Indian users varies with which companies a seed draws."""
    users = [p for p in people if p.active and not p.tenant.sso]
    indian = [p for p in users if p.country == "IN"]
    fiber = sum(1 for p in indian if p.home == "Reliance JioFiber") / max(1, len(indian))
    f_in = len(indian) / max(1, len(users))
    # About 55 % of a Jio phone's owners sign in through it at least once (the app or a hotspot).
    s = min(1.0, max(0.3, (target / max(f_in, 1e-9) - fiber) / max(1e-9, (1 - fiber) * 0.55)))
    others = [(n, w) for n, _, w, _ in CARRIERS["IN"] if n != BIG_CARRIER]
    tot = sum(w for _, w in others)
    for p in people:
        if isinstance(p.carrier, float):
            u = p.carrier
            if u < s:
                p.carrier = BIG_CARRIER
            else:
                x = (u - s) / (1 - s) * tot if s < 1 else 0
                p.carrier = others[-1][0]
                for n, w in others:
                    x -= w
                    if x <= 0:
                        p.carrier = n
                        break
