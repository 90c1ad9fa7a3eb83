"""The networks, devices and addresses of Lumen Arena's world (see README.md, "The site").

Everything here is drawn from a random stream the caller passes in, so that a seed gives
the same world every time. Address blocks are drawn from public unicast space (no
private, shared, loopback, multicast or documentation ranges), consistently within one
trace; AS numbers and names are those of the real networks (universities, cafés and
offices are illustrative).
"""

import ipaddress

# Countries: share of the accounts (Indonesia is the region's biggest game market) and UTC offset in hours (Indonesia's west, where
# most of its people live, is UTC+7; Vietnam and Thailand +7; the rest +8).
COUNTRIES = {
    "ID": (0.48, 7),
    "PH": (0.18, 8),
    "VN": (0.13, 7),
    "TH": (0.11, 7),
    "MY": (0.07, 8),
    "SG": (0.03, 8),
}

# Home broadband per country: (name, asn, share of the country's homes, IPv6 share of
# its homes, CGNAT share of its IPv4 homes). Philippine and Indonesian fixed lines are
# often behind carrier-grade NAT; Malaysian, Thai and Vietnamese ones often have IPv6.
HOME_ISPS = {
    "ID": [("IndiHome (Telkom Indonesia)", 7713, 0.55, 0.10, 0.35), ("Biznet", 17451, 0.15, 0.30, 0.0),
           ("First Media (Link Net)", 23700, 0.15, 0.0, 0.2), ("MyRepublic Indonesia", 63859, 0.15, 0.0, 0.5)],
    "PH": [("PLDT", 9299, 0.45, 0.15, 0.6), ("Converge ICT", 17639, 0.40, 0.0, 0.8),
           ("Globe At Home", 4775, 0.15, 0.0, 0.5)],
    "VN": [("Viettel", 7552, 0.45, 0.55, 0.0), ("VNPT", 45899, 0.30, 0.40, 0.0), ("FPT Telecom", 18403, 0.25, 0.50, 0.0)],
    "TH": [("True Internet", 7470, 0.40, 0.50, 0.0), ("3BB", 45758, 0.35, 0.30, 0.0), ("AIS Fibre", 133481, 0.25, 0.60, 0.0)],
    "MY": [("TM Unifi", 4788, 0.65, 0.60, 0.0), ("Maxis Fibre", 9534, 0.20, 0.60, 0.0), ("TIME dotCom", 9930, 0.15, 0.30, 0.0)],
    "SG": [("Singtel", 9506, 0.50, 0.40, 0.0), ("StarHub", 55430, 0.30, 0.40, 0.0), ("M1", 17547, 0.20, 0.30, 0.0)],
}

# Mobile carriers per country: (name, asn, share of the country's phones, IPv6 share of
# attaches, /24s in its CGNAT pool as the site sees it). Telkomsel is the big one: its
# share is set per seed so that it carries 25-40 % of the users (see people.py).
CARRIERS = {
    "ID": [("Telkomsel", 23693, None, 0.20, 12), ("Indosat Ooredoo", 4761, 0.45, 0.0, 8), ("XL Axiata", 24203, 0.55, 0.30, 8)],
    "PH": [("Smart", 10139, 0.50, 0.0, 10), ("Globe Telecom", 132199, 0.40, 0.10, 10), ("DITO", 139831, 0.10, 0.50, 4)],
    "VN": [("Viettel Mobile", 7552, 0.55, 0.60, 8), ("Vinaphone", 45899, 0.25, 0.30, 6), ("MobiFone", 131429, 0.20, 0.20, 6)],
    "TH": [("AIS", 45430, 0.50, 0.70, 8), ("True Move H", 132061, 0.35, 0.50, 8), ("dtac", 24378, 0.15, 0.30, 4)],
    "MY": [("Maxis", 9534, 0.35, 0.70, 4), ("CelcomDigi", 4818, 0.45, 0.60, 6), ("U Mobile", 45960, 0.20, 0.20, 3)],
    "SG": [("Singtel Mobile", 9506, 0.50, 0.40, 3), ("StarHub Mobile", 55430, 0.30, 0.30, 2), ("M1 Mobile", 17547, 0.20, 0.20, 2)],
}

# Where travellers and people living abroad sign in: (country, [(network, asn, kind)]).
ABROAD = {
    "SA": [("STC", 25019, "mobile"), ("Mobily", 35819, "mobile"), ("Hotel Wi-Fi (STC)", 25019, "hotel")],
    "AE": [("Etisalat", 5384, "mobile"), ("du", 15802, "mobile")],
    "HK": [("HKT", 4760, "mobile"), ("HKBN", 9269, "home")],
    "JP": [("NTT Docomo", 9605, "mobile"), ("KDDI", 2516, "mobile"), ("Hotel Wi-Fi (NTT)", 4713, "hotel")],
    "KR": [("KT", 4766, "mobile"), ("SK Broadband", 9318, "hotel")],
    "TW": [("Chunghwa Telecom", 3462, "mobile")],
    "AU": [("Telstra", 1221, "mobile"), ("Optus", 4804, "home")],
    "US": [("T-Mobile US", 21928, "mobile"), ("Comcast", 7922, "home")],
    "SG": [("Singtel Mobile", 9506, "mobile"), ("Hotel Wi-Fi (StarHub)", 55430, "hotel")],
    "MY": [("CelcomDigi", 4818, "mobile"), ("TM Unifi", 4788, "hotel")],
    "TH": [("AIS", 45430, "mobile"), ("Hotel Wi-Fi (True)", 7470, "hotel")],
}
# Where each home country travels (Umrah for Indonesians and Malaysians; overseas work
# for Filipinos; tourism in the region for everyone).
TRAVEL_TO = {
    "ID": ["SA", "SA", "SG", "MY", "JP", "KR"],
    "PH": ["HK", "AE", "SA", "SG", "JP", "TW"],
    "VN": ["JP", "KR", "TW", "SG", "TH"],
    "TH": ["JP", "KR", "SG", "MY", "HK"],
    "MY": ["SG", "SA", "TH", "JP", "AU"],
    "SG": ["MY", "TH", "JP", "AU", "US"],
}
# Filipinos working abroad (OFWs) who play from there all the time.
OFW_PLACES = ["AE", "SA", "HK", "SG", "TW", "JP"]

# Hosting ASNs: VPN exits gamers use for a better route, and attackers' servers.
HOSTING = [
    ("DigitalOcean", 14061, "SG"), ("OVH", 16276, "SG"), ("Hetzner", 24940, "DE"), ("Vultr", 20473, "SG"),
    ("Linode (Akamai)", 63949, "SG"), ("Alibaba Cloud", 45102, "SG"), ("Tencent Cloud", 132203, "SG"),
    ("Amazon AWS", 16509, "SG"), ("Google Cloud", 396982, "SG"), ("M247", 9009, "SG"),
    ("Leaseweb Asia", 59253, "SG"), ("Contabo", 51167, "SG"), ("IDCloudHost", 136052, "ID"),
    ("Biznet Gio", 17451, "ID"), ("IP Volume", 202425, "NL"),
    ("Psychz", 40676, "US"), ("FranTech (BuyVM)", 53667, "US"), ("HostRoyale", 203020, "IN"),
    ("Zenlayer", 21859, "HK"),
]
# The gaming VPN (a "ping booster" many players run) exits through these.
GAMING_VPN = ["Zenlayer", "Vultr", "Amazon AWS", "Tencent Cloud"]

# Consumer networks far from the site, where infected home machines sit.
BOTNET_ASNS = [
    ("Claro Brasil", 28573, "BR"), ("Vivo", 27699, "BR"), ("Telmex", 8151, "MX"), ("Telecom Argentina", 7303, "AR"),
    ("BSNL", 9829, "IN"), ("Airtel", 24560, "IN"), ("Jio", 55836, "IN"), ("Vodafone Idea", 55410, "IN"),
    ("TE Data", 8452, "EG"), ("PTCL", 17557, "PK"), ("Grameenphone", 24389, "BD"), ("Turk Telekom", 9121, "TR"),
    ("Rostelecom", 12389, "RU"), ("ChinaNet", 4134, "CN"), ("China Unicom", 4837, "CN"), ("Kyivstar", 15895, "UA"),
    ("Algerie Telecom", 36947, "DZ"), ("Maroc Telecom", 36903, "MA"), ("Telkom SA", 37457, "ZA"), ("Safaricom", 33771, "KE"),
    ("MTN Nigeria", 29465, "NG"), ("Iran TCI", 58224, "IR"), ("Etisalat Misr", 36992, "EG"), ("Ooredoo Qatar", 8781, "QA"),
    ("VNPT", 45899, "VN"), ("Viettel", 7552, "VN"), ("CAT Telecom", 4651, "TH"), ("TOT", 23969, "TH"),
    ("Comcast", 7922, "US"), ("Charter", 20115, "US"), ("Verizon", 701, "US"), ("Korea Telecom", 4766, "KR"),
    ("Chunghwa Telecom", 3462, "TW"), ("OCN", 4713, "JP"), ("Orange", 3215, "FR"), ("Deutsche Telekom", 3320, "DE"),
    ("Telefonica", 3352, "ES"), ("TIM", 3269, "IT"), ("Colombia Movil", 27831, "CO"), ("CANTV", 8048, "VE"),
    ("Ethio Telecom", 24757, "ET"), ("Nepal Telecom", 23752, "NP"), ("Sri Lanka Telecom", 9329, "LK"),
    ("Cellcard", 38623, "KH"), ("Lao Telecom", 9873, "LA"), ("Myanma Posts", 9988, "MM"),
]

# Phones common in the region (model codes as their user agents carry them).
ANDROID_MODELS = [
    ("SM-A145F", "14"), ("SM-A057F", "14"), ("SM-A155F", "14"), ("23021RAA2Y", "13"), ("23100RN82L", "14"),
    ("CPH2471", "13"), ("CPH2591", "14"), ("V2207", "13"), ("V2247", "14"), ("Infinix X6525", "13"),
    ("RMX3710", "13"), ("RMX3834", "14"), ("23049PCD8G", "13"), ("TECNO KI5q", "13"), ("SM-A245F", "14"),
    ("2201117TY", "12"), ("M2101K6G", "12"), ("SM-A125F", "12"),
]
IOS_MODELS = [("iPhone14,5", "17.5.1"), ("iPhone15,2", "18.1"), ("iPhone13,2", "17.6.1"), ("iPhone12,1", "16.7.10"),
              ("iPhone16,1", "18.1.1"), ("iPhone14,7", "18.0.1")]
# Android emulators boosters and cheats run on a PC report fixed models.
EMULATOR_MODELS = [("ASUS_Z01QD", "9"), ("SM-S908E", "9"), ("SM-G9880", "7")]

# Client versions: before the season patch players are on the last three builds of the
# old season; the patch moves everyone who updates to the new one.
LAUNCHER_OLD = ["3.14.0", "3.14.1", "3.14.2"]
LAUNCHER_NEW = "3.15.0"
APP_OLD = ["4.12.0", "4.12.1", "4.12.3"]
APP_NEW = "4.13.0"
UNITY = "2021.3.33f1"


def launcher_ua(version):
    return "LumenLauncher/%s (Windows NT 10.0; Win64; x64) CEF/118.0.5993.118" % version


def app_ua(version, os_name, model, os_version):
    if os_name == "ios":
        return "LumenArena/%s (%s; iOS %s) UnityPlayer/%s" % (version, model, os_version, UNITY)
    return "LumenArena/%s (Linux; Android %s; %s) UnityPlayer/%s" % (version, os_version, model, UNITY)


def web_ua(rng, mobile):
    """A browser signing in to the web shop (top-ups, the account page)."""
    chrome = rng.choice(["129.0.6668.100", "130.0.6723.117", "131.0.6778.86", "131.0.6778.108"])
    if mobile:
        model, av = rng.choice(ANDROID_MODELS)
        return "Mozilla/5.0 (Linux; Android %s; %s) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s Mobile Safari/537.36" % (av, model, chrome)
    return "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%s Safari/537.36" % chrome


_BAD_FIRST_OCTETS = {0, 10, 100, 127, 169, 172, 192, 198, 203} | set(range(224, 256))


class AddressSpace:
    """Hands out disjoint IPv4 /16s and IPv6 /32s to networks, from one seeded stream."""

    def __init__(self, rng):
        self.rng = rng
        self.used4 = set()
        self.used6 = set()

    def v4_block(self):
        while True:
            a = self.rng.randrange(1, 224)
            b = self.rng.randrange(0, 256)
            if a in _BAD_FIRST_OCTETS or (a, b) in self.used4:
                continue
            self.used4.add((a, b))
            return (a, b)

    def v6_block(self):
        # APNIC's 2400::/12, and RIPE/ARIN-style 2a0x/2600 for far-away networks alike:
        # any global unicast /32 outside 2001:db8::/32 will do.
        while True:
            hi = self.rng.choice([0x2400, 0x2401, 0x2402, 0x2403, 0x2404, 0x2405, 0x2406, 0x2407, 0x240D, 0x2A01, 0x2A02, 0x2600])
            lo = self.rng.randrange(0, 0x10000)
            if (hi, lo) in self.used6:
                continue
            self.used6.add((hi, lo))
            return (hi, lo)


class Network:
    """One network as the site sees it: a name, an ASN, a country, and where its
    addresses come from (IPv4 /16s drawn lazily, an IPv6 /32)."""

    def __init__(self, space, name, asn, country, kind, v6_share=0.0, cgnat_24s=0):
        self.space = space
        self.name = name
        self.asn = asn
        self.country = country
        self.kind = kind  # home, mobile, hosting, cafe, office, campus, hotel, botnet
        self.v6_share = v6_share
        self.blocks = [space.v4_block()]
        self.v6 = space.v6_block()
        self.pool = []  # CGNAT /24s, each an (a, b, c) prefix
        for _ in range(cgnat_24s):
            self.pool.append(self.new_24())

    def new_24(self):
        a, b = self.space.rng.choice(self.blocks)
        if self.space.rng.random() < 0.1:
            self.blocks.append(self.space.v4_block())
            a, b = self.blocks[-1]
        return (a, b, self.space.rng.randrange(0, 256))

    def host(self, rng):
        """A home address: one IPv4 address of the network's own."""
        a, b = rng.choice(self.blocks)
        return "%d.%d.%d.%d" % (a, b, rng.randrange(0, 256), rng.randrange(1, 255))

    def pool_address(self, rng):
        """An address of the CGNAT pool (a new mapping every session)."""
        a, b, c = rng.choice(self.pool)
        return "%d.%d.%d.%d" % (a, b, c, rng.randrange(1, 255))

    def prefix64(self, rng):
        """A /64 of the network's /32 (a household's, or a phone's for one attach)."""
        hi, lo = self.v6
        return (hi, lo, rng.randrange(0, 0x10000), rng.randrange(0, 0x10000))

    @staticmethod
    def v6_address(prefix, rng):
        """A privacy address (random interface id) inside a /64."""
        hi, lo, c, d = prefix
        iid = [rng.randrange(0, 0x10000) for _ in range(4)]
        return str(ipaddress.IPv6Address("%x:%x:%x:%x:%x:%x:%x:%x" % (hi, lo, c, d, *iid)))
