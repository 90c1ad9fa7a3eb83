"""The networks, places, clocks and clients of Sahyog's world: real AS numbers, address
blocks drawn per seed (never overlapping), time zones, user agents. Pure data and small
helpers; every random choice takes the caller's `random.Random`."""

import ipaddress
import random

DAY = 86400
HOUR = 3600

# Time zones as hours from UTC (December: no daylight saving anywhere that matters here).
TZ = {"IN": 5.5, "US-E": -5.0, "US-W": -8.0, "GB": 0.0, "AE": 4.0, "BR": -3.0, "SG": 8.0, "DE": 1.0}

# Where the customers' companies are: Sahyog is Indian-founded and sells to SMBs and
# mid-size firms in India first, then the US, the UK, the Gulf and Brazil.
HQ_WEIGHTS = [("IN", 0.56), ("US-E", 0.12), ("US-W", 0.08), ("GB", 0.12), ("AE", 0.07), ("BR", 0.07)]


def country_of(region):
    return region.split("-")[0]


# Home broadband per country: (name, asn, share, kind). kind "cgnat": the ISP puts homes
# behind carrier-grade NAT (a few pools); "dyn": one public IPv4 per home, renewed now and
# then; the float after it is the share of homes with IPv6 (a stable /64 per home).
HOME_ISPS = {
    "IN": [("Reliance JioFiber", 55836, 0.38, "cgnat", 0.9), ("Airtel Xstream", 24560, 0.18, "dyn", 0.6),
           ("ACT Fibernet", 24309, 0.18, "cgnat", 0.3), ("BSNL", 9829, 0.08, "dyn", 0.0),
           ("Hathway", 17488, 0.08, "cgnat", 0.0), ("Excitel", 133982, 0.10, "cgnat", 0.0)],
    "US": [("Comcast", 7922, 0.34, "dyn", 0.7), ("Charter Spectrum", 20115, 0.28, "dyn", 0.5),
           ("AT&T Fiber", 7018, 0.18, "dyn", 0.6), ("Verizon Fios", 701, 0.12, "dyn", 0.2),
           ("Cox", 22773, 0.08, "dyn", 0.4)],
    "GB": [("BT", 2856, 0.36, "dyn", 0.6), ("Virgin Media", 5089, 0.30, "dyn", 0.0),
           ("Sky Broadband", 5607, 0.22, "dyn", 0.8), ("TalkTalk", 13285, 0.12, "dyn", 0.0)],
    "AE": [("Etisalat", 5384, 0.6, "dyn", 0.3), ("du", 15802, 0.4, "cgnat", 0.0)],
    "BR": [("Vivo Fibra", 26599, 0.4, "dyn", 0.5), ("Claro NET", 28573, 0.35, "cgnat", 0.4),
           ("Oi", 8167, 0.25, "cgnat", 0.2)],
    "SG": [("Singtel", 9506, 0.6, "dyn", 0.4), ("StarHub", 4657, 0.4, "dyn", 0.2)],
    "DE": [("Deutsche Telekom", 3320, 0.6, "dyn", 0.7), ("Vodafone DE", 3209, 0.4, "cgnat", 0.5)],
}

# Phone carriers: (name, asn, share, share of attaches on IPv6). Every carrier here puts
# its IPv4 subscribers behind CGNAT; on IPv6 each attach gets a fresh /64.
CARRIERS = {
    "IN": [("Reliance Jio", 55836, 0.46, 0.85), ("Airtel mobile", 45609, 0.36, 0.55),
           ("Vi", 55410, 0.18, 0.2)],
    "US": [("T-Mobile US", 21928, 0.38, 0.9), ("Verizon Wireless", 6167, 0.36, 0.7),
           ("AT&T Mobility", 20057, 0.26, 0.6)],
    "GB": [("EE", 12576, 0.4, 0.6), ("Vodafone UK", 25135, 0.3, 0.0), ("O2 UK", 35228, 0.3, 0.0)],
    "AE": [("Etisalat mobile", 5384, 0.6, 0.3), ("du mobile", 15802, 0.4, 0.0)],
    "BR": [("Vivo mobile", 26599, 0.4, 0.3), ("Claro BR", 28573, 0.35, 0.2), ("TIM BR", 26615, 0.25, 0.1)],
    "SG": [("Singtel mobile", 9506, 1.0, 0.3)],
    "DE": [("Telekom mobile", 3320, 1.0, 0.7)],
}
BIG_CARRIER = "Reliance Jio"

# Business lines the offices' NAT gateways sit on, per country.
OFFICE_ISPS = {
    "IN": [("Tata Communications", 4755), ("Airtel business", 9498), ("Sify", 9583)],
    "US": [("Comcast Business", 7922), ("Lumen", 3356), ("Verizon Business", 701)],
    "GB": [("BT Business", 2856), ("Virgin Media Business", 5089)],
    "AE": [("Etisalat business", 5384)],
    "BR": [("Embratel", 4230), ("Vivo empresas", 26599)],
}

# Cloud secure-web-gateway nodes: (vendor, asn, node country). A company on an SWG sends
# all its laptops' web traffic through the vendor's nearest node, from the office and
# from home (the agent on the laptop), so thousands of people of many companies share a
# node's few dozen egress addresses; when a node is saturated the agent fails over to the
# next one, in another country.
SWG_VENDORS = [("Zscaler", 62044), ("Netskope", 55256), ("Cisco Umbrella", 36692)]
SWG_NODES = {"IN": ["IN", "IN", "SG"], "US": ["US", "US", "US"], "GB": ["GB", "GB", "DE"],
             "AE": ["AE", "AE", "IN"], "BR": ["BR", "BR", "US"]}
SWG_FAILOVER = {"IN": "SG", "US": "US", "GB": "DE", "AE": "DE", "BR": "US"}

# Clouds where companies run their VPN concentrators (and where FireProx gateways live).
CLOUDS = [("AWS", 16509), ("Microsoft Azure", 8075), ("Google Cloud", 396982)]
CLOUD_REGION_COUNTRY = {"IN": "IN", "US": "US", "GB": "GB", "AE": "AE", "BR": "BR", "SG": "SG", "DE": "DE"}

# Hotels, airports and coworking spaces abroad for business travellers: (name, asn, country).
TRAVEL_NETS = {
    "US": [("Boingo airports", 22995, "US"), ("Hilton Wi-Fi (Deutsche Telekom TSI)", 3320, "US"), ("Comcast", 7922, "US")],
    "GB": [("BT hotel Wi-Fi", 2856, "GB"), ("Virgin Media", 5089, "GB")],
    "SG": [("Singtel", 9506, "SG"), ("StarHub", 4657, "SG")],
    "AE": [("Etisalat", 5384, "AE"), ("du", 15802, "AE")],
    "IN": [("Tata Communications", 4755, "IN"), ("Airtel Xstream", 24560, "IN")],
    "DE": [("Deutsche Telekom", 3320, "DE")],
    "BR": [("Vivo Fibra", 26599, "BR")],
}

# Where attackers rent servers: bulletproof and cheap hosting (not the clouds above).
BULLETPROOF = [("Stark Industries", 44477, "NL"), ("Aeza", 210644, "DE"), ("AlexHost", 200019, "MD"),
               ("Scalaxy", 58061, "NL"), ("PQ Hosting", 209588, "MD")]
SMALL_HOSTING = [("OVH", 16276, "FR"), ("Hetzner", 24940, "DE"), ("DigitalOcean", 14061, "US"),
                 ("Linode", 63949, "US"), ("Vultr", 20473, "US"), ("Contabo", 51167, "DE"),
                 ("Leaseweb", 60781, "NL"), ("Hostinger", 47583, "LT"), ("Kamatera", 36007, "US"),
                 ("HostRoyale", 203020, "IN"), ("Tencent Cloud", 132203, "SG"), ("Alibaba", 45102, "SG")]
# Commercial VPN exits (hosting ASNs), per country.
VPN_EXITS = {"IN": [("M247 (NordVPN India)", 9009)], "US": [("Datacamp (ExpressVPN)", 60068), ("M247", 9009)],
             "GB": [("M247", 9009), ("Datacamp", 60068)], "AE": [("M247", 9009)], "BR": [("M247", 9009)]}
# Consumer networks abroad where botnets' infected machines are.
BOTNET_COUNTRIES = [("VN", [7552, 45899, 18403]), ("BR", [28573, 26599, 18881, 262589]),
                    ("EG", [8452, 24863, 36935]), ("PK", [17557, 45595, 9541]), ("BD", [24389, 58715, 45245]),
                    ("ID", [7713, 17974, 23693]), ("TH", [45758, 7470, 17552]), ("PH", [9299, 4775, 132199]),
                    ("MX", [8151, 28548]), ("TR", [9121, 34984, 16135]), ("MA", [36903, 6713]),
                    ("DZ", [36947]), ("NG", [29465, 37148]), ("KE", [33771]), ("CO", [3816, 10620]),
                    ("AR", [7303, 22927]), ("UA", [15895, 25229]), ("RU", [12389, 8402, 31213]),
                    ("IR", [58224, 197207]), ("CN", [4134, 4837]), ("KR", [4766, 9318]), ("TW", [3462])]

# Clients. The web app in the browsers people use at work; the mobile app (Android is
# most of India's phones). Versions move during the trace: Chrome 130 -> 131 and the
# app 5.12.0 -> 5.13.0 (see `ua_for`).
BROWSERS = [
    ("chrome-win", 0.52, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36"),
    ("edge-win", 0.18, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36 Edg/{chrome}.0.0.0"),
    ("chrome-mac", 0.14, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36"),
    ("safari-mac", 0.08, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15"),
    ("firefox-win", 0.05, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"),
    ("chrome-linux", 0.03, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome}.0.0.0 Safari/537.36"),
]
ANDROID_MODELS = ["SM-A546E", "SM-S921B", "CPH2581", "RMX3771", "V2318", "M2101K6G", "Pixel 8", "SM-M346B", "2201117TI", "moto g54 5G"]
IOS_VERSIONS = ["17.6.1", "18.1", "18.1.1", "18.0.1"]


def browser_ua(kind, chrome):
    for k, _, tmpl in BROWSERS:
        if k == kind:
            return tmpl.format(chrome=chrome)
    raise KeyError(kind)


def app_ua(platform, model, version):
    if platform == "android":
        return "Sahyog/%s (Android 14; %s) okhttp/4.12.0" % (version, model)
    return "Sahyog/%s (iPhone; iOS %s) CFNetwork/1568.200.51" % (version, model)


def pick(rng, weighted):
    """One item of [(item, weight), ...] or of tuples whose weight is at index `w`."""
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for item, w in weighted:
        x -= w
        if x <= 0:
            return item
    return weighted[-1][0]


class AddressSpace:
    """Public /24s and IPv6 /32s handed to networks, drawn per seed, never twice."""

    RESERVED_FIRST = {0, 10, 100, 127, 169, 172, 192, 198, 203, 224}

    def __init__(self, rng):
        self.rng = rng
        self.used24 = set()
        self.used32 = set()

    def block24(self):
        while True:
            a = self.rng.randint(11, 223)
            if a in self.RESERVED_FIRST:
                continue
            b, c = self.rng.randint(0, 255), self.rng.randint(0, 255)
            if (a, b, c) not in self.used24:
                self.used24.add((a, b, c))
                return "%d.%d.%d" % (a, b, c)

    def block32(self):
        while True:
            p = (0x2400 + self.rng.randint(0, 0x0bff), self.rng.randint(0, 0xffff))
            if p not in self.used32:
                self.used32.add(p)
                return "%x:%x" % p


class Net:
    """A network with IPv4 /24s (and maybe an IPv6 /32): `v4(rng)` draws one of its
    addresses, `v6(rng, subnet)` one address of a /64 under it."""

    def __init__(self, space, name, asn, country, n24, v6=False, hosts=254):
        self.name, self.asn, self.country = name, asn, country
        self.blocks = [space.block24() for _ in range(n24)]
        self.hosts = hosts
        self.prefix6 = space.block32() if v6 else None

    def v4(self, rng, block=None):
        b = self.blocks[rng.randrange(len(self.blocks))] if block is None else self.blocks[block % len(self.blocks)]
        return "%s.%d" % (b, rng.randint(1, self.hosts))

    def v6(self, rng, subnet=None):
        """An address in /64 number `subnet` (random if None), with privacy-address bits."""
        s = rng.getrandbits(32) if subnet is None else subnet
        iid = rng.getrandbits(64) | 1
        return str(ipaddress.IPv6Address("%s:%x:%x:%x:%x:%x:%x" % (
            self.prefix6, (s >> 16) & 0xffff, s & 0xffff, iid >> 48, (iid >> 32) & 0xffff, (iid >> 16) & 0xffff, iid & 0xffff)))


def stream(seed, name):
    """An independent random stream per (seed, purpose): adding an attack never changes
    what the innocents do."""
    return random.Random("sahyog/%s/%s" % (seed, name))
