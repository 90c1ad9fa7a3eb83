"""The synthetic internet and the site's ordinary users.

Written from the outside: the model follows how people and networks behave, not what
any detector looks at. A site in France (most users at home there), consumer ISPs that
hand out one IPv4 address per household (and a /64 per household to the third on
IPv6), mobile carriers that put thousands of phones behind a small carrier-grade NAT
pool, an employer whose staff share two NAT addresses, hosting providers (where the
commercial VPNs that some users pay for live too, next to the bots), and the
innocent ways people fail to sign in.
"""

import base64
import hashlib
import math

HOME = "FR"
FOREIGN = ["BE", "CH", "DE", "ES", "IT", "GB", "US", "CA", "MA", "PT", "NL", "TN", "SN", "JP", "BR"]
HOSTING_COUNTRIES = ["US", "NL", "DE", "FR", "GB", "SG", "RU", "UA", "RO", "BG", "HK", "CA", "PL", "SE", "LT"]

# First octets the synthetic internet draws its /16s from: public unicast space only
# (no 0, 10, 100.64/10's octet, 127, 169.254, 172.16/12's octet, 192.168, 224+).
_FIRST_OCTETS = [o for o in range(2, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)]


class Asn:
    """One autonomous system: its number, kind, country and address space."""

    def __init__(self, number, kind, country, name, v16s, v6_32):
        self.number = number
        self.kind = kind  # isp | mobile | hosting | enterprise
        self.country = country
        self.name = name
        self.v16s = v16s  # list of /16 base addresses (ints)
        self.v6_32 = v6_32  # a /32 as an int (top 32 bits), or None

    def random_v4(self, rng):
        base = rng.choice(self.v16s)
        return base | (rng.randrange(256) << 8) | rng.randrange(1, 255)

    def random_v6_64(self, rng):
        # A /64 in this AS's /32: the customer's prefix.
        return (self.v6_32 << 32) | rng.getrandbits(32)


def v4_str(ip):
    return "%d.%d.%d.%d" % (ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255)


def v6_str(prefix64, iid):
    full = (prefix64 << 64) | iid
    groups = ["%x" % ((full >> (112 - 16 * i)) & 0xFFFF) for i in range(8)]
    return ":".join(groups)


class Internet:
    """Every AS of the trace, drawn once per seed."""

    def __init__(self, rng, cgnat_share):
        self.rng = rng
        self.asns = []
        self._used16 = set()
        self._used_asn = set()
        # Home market: four broadband ISPs of uneven size, three carriers.
        self.home_isps = [self._new("isp", HOME, "home-isp-%d" % i, rng.randint(24, 60), True) for i in range(4)]
        self.home_isp_weights = [0.38, 0.27, 0.22, 0.13]
        self.carrier = self._new("mobile", HOME, "big-carrier", 2, True)
        self.small_carriers = [self._new("mobile", HOME, "carrier-%d" % i, 2, i == 0) for i in range(2)]
        # The big carrier's CGNAT: every phone on it leaves through this small pool.
        self.cgnat_pool = self._pool(self.carrier, rng.randint(2, 3), rng.randint(12, 24))
        # The smaller carriers hold the rest of the phones in wider pools.
        self.small_pools = [self._pool(c, rng.randint(3, 5), rng.randint(40, 80)) for c in self.small_carriers]
        self.cgnat_share = cgnat_share
        self.employer = self._new("enterprise", HOME, "employer", 1, False)
        office24 = self.employer.random_v4(rng) & ~0xFF
        self.office_ips = [office24 | rng.randrange(2, 250) for _ in range(2)]
        self.foreign = {}
        for c in FOREIGN:
            self.foreign[c] = {
                "isp": [self._new("isp", c, "isp-%s-%d" % (c, i), rng.randint(8, 30), rng.random() < 0.6) for i in range(2)],
                "mobile": self._new("mobile", c, "mobile-%s" % c, 2, rng.random() < 0.5),
            }
        for info in self.foreign.values():
            info["mobile_pool"] = self._pool(info["mobile"], 1, rng.randint(8, 32))
        # Hosting: clouds, small VPS shops, bulletproof hosts. Commercial VPN exits live
        # in a handful of them, and so do most botnets' rented machines.
        self.hosting = [
            self._new("hosting", rng.choice(HOSTING_COUNTRIES), "hosting-%d" % i, rng.randint(1, 6), rng.random() < 0.4)
            for i in range(90)
        ]
        self.vpn_asns = rng.sample(self.hosting, 6)
        self.vpn_exits = [(a, a.random_v4(rng)) for a in self.vpn_asns for _ in range(rng.randint(15, 40))]

    def _new(self, kind, country, name, n16, v6):
        rng = self.rng
        while True:
            number = rng.choice([rng.randint(1000, 64000), rng.randint(131072, 399999)])
            if number not in self._used_asn:
                self._used_asn.add(number)
                break
        v16s = []
        while len(v16s) < n16:
            b = (rng.choice(_FIRST_OCTETS) << 24) | (rng.randrange(256) << 16)
            if b not in self._used16:
                self._used16.add(b)
                v16s.append(b)
        v6_32 = (0x2000 << 16 | rng.getrandbits(28)) if v6 else None
        while v6_32 is not None and v6_32 in self._used16:
            v6_32 = 0x2000 << 16 | rng.getrandbits(28)
        a = Asn(number, kind, country, name, v16s, v6_32)
        self.asns.append(a)
        return a

    def _pool(self, asn, n24, per24):
        pool = []
        for _ in range(n24):
            base = asn.random_v4(self.rng) & ~0xFF
            pool.extend(base | o for o in self.rng.sample(range(1, 255), per24))
        return pool


# ---------------------------------------------------------------- user agents

_CHROME = [131, 130, 129, 128, 126, 122, 119, 109]
_CHROME_W = [40, 25, 12, 8, 5, 4, 3, 3]
_FIREFOX = [133, 132, 128, 115]
_IOS = ["18_1", "18_0", "17_6", "17_5", "16_7", "15_8"]
_IOS_W = [35, 25, 18, 10, 8, 4]
_ANDROID = ["14", "13", "12", "11", "10"]
_APP = ["6.14.0", "6.13.2", "6.12.1", "6.9.0", "5.30.4"]


def _chrome(rng):
    return rng.choices(_CHROME, _CHROME_W)[0]


def desktop_ua(rng):
    r = rng.random()
    v = _chrome(rng)
    if r < 0.45:
        return "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36" % v
    if r < 0.60:
        return "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36 Edg/%d.0.0.0" % (v, v)
    if r < 0.75:
        return "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%s Safari/605.1.15" % rng.choice(["18.1", "17.6", "17.4.1", "16.6"])
    if r < 0.88:
        fv = rng.choice(_FIREFOX)
        return "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:%d.0) Gecko/20100101 Firefox/%d.0" % (fv, fv)
    if r < 0.95:
        return "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36" % v
    return "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36" % v


def phone_ua(rng):
    r = rng.random()
    if r < 0.42:
        ios = rng.choices(_IOS, _IOS_W)[0]
        return "Mozilla/5.0 (iPhone; CPU iPhone OS %s like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/%s Mobile/15E148 Safari/604.1" % (ios, ios.split("_")[0] + ".0")
    if r < 0.78:
        model = rng.choice(["SM-S918B", "SM-A546B", "Pixel 8", "Redmi Note 12", "SM-A145R", "CPH2487", "K"])
        return "Mozilla/5.0 (Linux; Android %s; %s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Mobile Safari/537.36" % (rng.choice(_ANDROID), model, _chrome(rng))
    if r < 0.86:
        return "Mozilla/5.0 (Linux; Android %s) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36" % rng.choice(_ANDROID)
    # The site's own app, which signs in with the same API.
    plat = rng.choice(["iPhone; iOS 18.1", "iPhone; iOS 17.6", "Android 14", "Android 13"])
    return "SiteApp/%s (%s)" % (rng.choice(_APP), plat)


def any_ua(rng):
    return phone_ua(rng) if rng.random() < 0.55 else desktop_ua(rng)


# ---------------------------------------------------------------- addresses

_FIRST = ["marie", "jean", "pierre", "sophie", "lucas", "camille", "nicolas", "julie", "thomas", "emma",
          "louis", "lea", "hugo", "chloe", "paul", "manon", "antoine", "sarah", "maxime", "laura",
          "alex", "ines", "karim", "fatima", "yann", "nathalie", "olivier", "claire", "david", "anna",
          "mohamed", "elodie", "romain", "aurelie", "kevin", "celine", "arthur", "jade", "noah", "zoe"]
_LAST = ["martin", "bernard", "dubois", "thomas", "robert", "richard", "petit", "durand", "leroy", "moreau",
         "simon", "laurent", "lefebvre", "michel", "garcia", "david", "bertrand", "roux", "vincent", "fournier",
         "morel", "girard", "andre", "mercier", "dupont", "lambert", "bonnet", "francois", "martinez", "nguyen"]
_DOMAINS = ["gmail.com", "gmail.com", "gmail.com", "hotmail.fr", "hotmail.com", "yahoo.fr", "outlook.fr",
            "orange.fr", "free.fr", "sfr.fr", "laposte.net", "icloud.com", "wanadoo.fr", "live.fr", "protonmail.com"]


def make_email(rng):
    f, l = rng.choice(_FIRST), rng.choice(_LAST)
    style = rng.random()
    if style < 0.35:
        local = "%s.%s" % (f, l)
    elif style < 0.55:
        local = "%s%s%d" % (f, l, rng.randint(1, 99))
    elif style < 0.7:
        local = "%s%s" % (f[0], l)
    elif style < 0.85:
        local = "%s_%s%d" % (f, l[:3], rng.randint(1950, 2010))
    else:
        local = "%s%d" % (rng.choice([f, l, f + l[:2]]), rng.randint(100, 99999))
    return "%s@%s" % (local, rng.choice(_DOMAINS))


def typo_email(rng, email):
    """How people mistype their own address: a dropped, doubled or swapped letter, or the wrong domain."""
    local, dom = email.split("@")
    r = rng.random()
    if r < 0.25 and len(local) > 3:
        i = rng.randrange(len(local))
        local = local[:i] + local[i + 1:]
    elif r < 0.45 and len(local) > 3:
        i = rng.randrange(len(local) - 1)
        local = local[:i] + local[i + 1] + local[i] + local[i + 2:]
    elif r < 0.65:
        i = rng.randrange(len(local))
        local = local[:i] + local[i] + local[i:]
    elif r < 0.85:
        dom = rng.choice(["gmail.fr", "gmial.com", "hotmail.fr", "hotmail.com", "yahoo.com", "outlook.com", "orange.com"])
    else:
        local = local.replace(".", "")
    if local.startswith(".") or local.endswith(".") or ".." in local or not local:
        # Not an address anyone can type into a form that checks the syntax.
        return "%s@%s" % (email.split("@")[0].replace(".", ""), dom)
    return "%s@%s" % (local, dom)


def fake_argon2(rng):
    """A well-formed argon2id PHC string. Nobody signs in through Gatehouse in this trace
    (events are imported), so the hash only has to be accepted by the import."""
    def b64(n):
        return base64.b64encode(rng.getrandbits(8 * n).to_bytes(n, "big")).decode().rstrip("=")

    return "$argon2id$v=19$m=19456,t=2,p=1$%s$%s" % (b64(16), b64(32))


def password_for(rng, email):
    return hashlib.sha256(("%s/%d" % (email, rng.getrandbits(64))).encode()).hexdigest()[:14] + "Aa9!"


def poisson(rng, lam):
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))
    l, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= l:
            return k
        k += 1
