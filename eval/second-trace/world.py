"""The site's world: its networks, devices and people.

"Brisa" is a video-streaming service sold in Mexico, the United States and South
America (the population's countries and their time zones are in COUNTRIES). Every
random choice here draws from the seed's *world* stream, so the population is the same
whatever shape of attack is laid over it.

Autonomous systems carry their real numbers and rough real roles (a residential ISP, a
mobile carrier behind carrier-grade NAT, a hosting or relay network); the address blocks
given to them are drawn at random from public space, never checked against the real
routing table: what matters to a detector is which addresses share a /24, an ASN and a
country, and that is consistent within the trace.
"""

import base64
import hashlib
import random

DAY = 86400.0
HOUR = 3600.0

# country: (share of the site's accounts, UTC offsets of its people with weights)
COUNTRIES = {
    "MX": (0.42, [(-6, 0.85), (-7, 0.10), (-5, 0.05)]),
    "US": (0.28, [(-5, 0.45), (-6, 0.30), (-8, 0.20), (-7, 0.05)]),
    "BR": (0.12, [(-3, 1.0)]),
    "CO": (0.08, [(-5, 1.0)]),
    "AR": (0.05, [(-3, 1.0)]),
    "CL": (0.03, [(-3, 1.0)]),
    "CA": (0.02, [(-5, 0.6), (-8, 0.4)]),
}

# (asn, name, country, kind, /16 blocks, weight among its country's homes or phones)
# kind: residential | mobile | business | edu | relay | hosting | hotel
ASNS = [
    (8151, "Telmex (Uninet)", "MX", "residential", 6, 0.50),
    (22884, "Totalplay", "MX", "residential", 3, 0.20),
    (17072, "Megacable", "MX", "residential", 2, 0.18),
    (13999, "Mega Cable (Izzi)", "MX", "residential", 2, 0.12),
    (28403, "Telcel (Radiomovil Dipsa)", "MX", "mobile", 1, 0.90),
    (80004, "AT&T Mexico", "MX", "mobile", 1, 0.10),
    (7922, "Comcast", "US", "residential", 6, 0.35),
    (20115, "Charter Spectrum", "US", "residential", 5, 0.30),
    (7018, "AT&T Internet", "US", "residential", 3, 0.20),
    (701, "Verizon Fios", "US", "residential", 2, 0.15),
    (21928, "T-Mobile US", "US", "mobile", 1, 0.40),
    (6167, "Verizon Wireless", "US", "mobile", 1, 0.35),
    (20057, "AT&T Mobility", "US", "mobile", 1, 0.25),
    (28573, "Claro NET", "BR", "residential", 3, 0.45),
    (18881, "Vivo Fibra", "BR", "residential", 3, 0.40),
    (28220, "Algar", "BR", "residential", 1, 0.15),
    (26599, "Vivo Movel", "BR", "mobile", 1, 0.55),
    (26615, "TIM Brasil", "BR", "mobile", 1, 0.45),
    (13489, "EPM Telecomunicaciones (Tigo)", "CO", "residential", 2, 0.55),
    (10620, "Claro Colombia", "CO", "mobile", 1, 1.0),
    (19429, "ETB", "CO", "residential", 1, 0.45),
    (7303, "Telecom Argentina", "AR", "residential", 2, 0.70),
    (11664, "Techtel", "AR", "residential", 1, 0.30),
    (22927, "Telefonica Moviles Argentina", "AR", "mobile", 1, 1.0),
    (22047, "VTR", "CL", "residential", 1, 0.60),
    (27651, "Entel Chile", "CL", "mobile", 1, 1.0),
    (6471, "ENTEL residential", "CL", "residential", 1, 0.40),
    (812, "Rogers", "CA", "residential", 1, 0.55),
    (577, "Bell Canada", "CA", "residential", 1, 0.45),
    (22652, "Fido/Rogers Wireless", "CA", "mobile", 1, 1.0),
    # Offices and campuses.
    (3356, "Lumen (business fibre)", "US", "business", 1, 0.0),
    (11172, "Alestra (business)", "MX", "business", 1, 0.0),
    (278, "UNAM", "MX", "edu", 1, 0.0),
    (28571, "Universidade de Sao Paulo", "BR", "edu", 1, 0.0),
    (62044, "Zscaler (corporate proxy)", "US", "relay", 1, 0.0),
    # Privacy relays and VPN egress: hosting networks shared by many subscribers.
    (36183, "Akamai (iCloud Private Relay)", "US", "relay", 1, 0.0),
    (13335, "Cloudflare (Private Relay/WARP)", "US", "relay", 1, 0.0),
    (9009, "M247 (commercial VPN)", "US", "relay", 1, 0.0),
    (60068, "Datacamp (commercial VPN)", "US", "relay", 1, 0.0),
    # Where travellers land.
    (3352, "Telefonica Espana", "ES", "residential", 1, 0.0),
    (12479, "Orange Espana", "ES", "mobile", 1, 0.0),
    (2860, "NOS Portugal", "PT", "residential", 1, 0.0),
    (15557, "SFR", "FR", "residential", 1, 0.0),
    (396982, "Google Cloud (hotel Wi-Fi provider)", "US", "hotel", 1, 0.0),
    (46562, "Performive (hotel Wi-Fi)", "US", "hotel", 1, 0.0),
    # Hosting that attackers rent (bulletproof and cheap VPS).
    (202425, "IP Volume", "NL", "hosting", 1, 0.0),
    (49870, "Alsycon", "NL", "hosting", 1, 0.0),
    (14061, "DigitalOcean", "US", "hosting", 1, 0.0),
    (16276, "OVH", "FR", "hosting", 1, 0.0),
]

# Consumer networks abroad that host botnets (compromised routers, cameras, phones).
BOTNET_COUNTRIES = ["VN", "IN", "ID", "EG", "TR", "RU", "UA", "PK", "BD", "PH", "TH", "IR", "DZ", "MA", "KE", "NG", "CN", "KR"]

# The one carrier behind which about 30 % of the site's active users sign in from phones.
BIG_CARRIER = 28403
# The carrier's CGNAT egress: this many /24s, every session one address of them.
BIG_CARRIER_NAT_24S = 8
# T-Mobile US hands its phones IPv6 (a /64 per attach); the rest NAT IPv4.
IPV6_CARRIERS = {21928: "2607:fb90"}

APP_OLD, APP_NEW = "5.12.1", "5.13.0"
CHROME_OLD, CHROME_NEW = 131, 132

ANDROID_MODELS = ["SM-A155M", "SM-A546E", "moto g54 5G", "moto e13", "Redmi Note 13", "SM-S921B", "Pixel 8", "TECNO KI5q", "SM-A055M", "moto g84 5G"]
IPHONES = ["iPhone14,7", "iPhone15,4", "iPhone13,2", "iPhone16,1", "iPhone12,1"]
COMMON_PASSWORDS = ["123456789", "12345678", "Brisa123", "password1", "Mexico2024", "Qwerty123",
                    "tqm123456", "Corazon1", "Estrellas1", "Hola1234"]
WORDS = ["sol", "luna", "mar", "rio", "casa", "perro", "gato", "mango", "lima", "fuego", "tigre",
         "azul", "verde", "nube", "flor", "camino", "tango", "samba", "pelota", "boca", "aguila",
         "cielo", "rosa", "maria", "jose", "lucas", "sofia", "diego", "valen", "santi", "panda"]
FIRST = ["maria", "jose", "juan", "ana", "luis", "carlos", "sofia", "diego", "valentina", "camila",
         "mateo", "lucia", "daniel", "fernanda", "jorge", "andrea", "miguel", "gabriela", "pedro",
         "laura", "john", "emily", "michael", "sarah", "david", "jessica", "joao", "beatriz", "rafael",
         "mariana", "pablo", "isabella", "sebastian", "paula", "tomas", "julia", "ricardo", "elena"]
LAST = ["garcia", "hernandez", "lopez", "martinez", "gonzalez", "rodriguez", "perez", "sanchez",
        "ramirez", "torres", "flores", "rivera", "gomez", "diaz", "cruz", "morales", "reyes", "silva",
        "santos", "oliveira", "souza", "smith", "johnson", "brown", "miller", "castro", "vargas",
        "rojas", "mendoza", "ortiz", "jimenez", "ruiz", "alvarez", "romero", "suarez", "nunez"]
MAIL_DOMAINS = {
    "MX": [("gmail.com", 0.55), ("hotmail.com", 0.30), ("outlook.com", 0.08), ("yahoo.com.mx", 0.07)],
    "US": [("gmail.com", 0.55), ("yahoo.com", 0.15), ("outlook.com", 0.12), ("icloud.com", 0.12), ("aol.com", 0.06)],
    "BR": [("gmail.com", 0.65), ("hotmail.com", 0.20), ("uol.com.br", 0.08), ("bol.com.br", 0.07)],
    "CO": [("gmail.com", 0.65), ("hotmail.com", 0.30), ("yahoo.es", 0.05)],
    "AR": [("gmail.com", 0.60), ("hotmail.com", 0.25), ("yahoo.com.ar", 0.15)],
    "CL": [("gmail.com", 0.70), ("hotmail.com", 0.30)],
    "CA": [("gmail.com", 0.60), ("outlook.com", 0.25), ("yahoo.ca", 0.15)],
}
# Local hour of day -> relative weight of a sign-in (evening viewing dominates).
HOUR_WEIGHTS = [2, 1, .5, .3, .3, .5, 1, 2, 2, 2, 2, 2, 3, 3, 2.5, 2.5, 3, 3.5, 4.5, 6, 7, 7, 5, 3.5]


def pick(rng, weighted):
    """One item of [(item, weight), ...]."""
    total = sum(w for _, w in weighted)
    x = rng.random() * total
    for item, w in weighted:
        x -= w
        if x < 0:
            return item
    return weighted[-1][0]


class Asn:
    def __init__(self, number, name, country, kind, blocks, weight):
        self.number, self.name, self.country, self.kind = number, name, country, kind
        self.blocks = blocks  # [(a, b)] /16s
        self.weight = weight

    def random_ip(self, rng):
        a, b = rng.choice(self.blocks)
        return "%d.%d.%d.%d" % (a, b, rng.randrange(256), rng.randrange(1, 255))

    def pool(self, rng, n24, hosts_per_24=254):
        """n24 distinct /24s of this ASN, each with its usable hosts: a NAT's egress pool."""
        nets = set()
        while len(nets) < n24:
            a, b = rng.choice(self.blocks)
            nets.add((a, b, rng.randrange(256)))
        out = []
        for a, b, c in sorted(nets):
            hosts = sorted(rng.sample(range(1, 255), min(hosts_per_24, 254)))
            out += ["%d.%d.%d.%d" % (a, b, c, h) for h in hosts]
        return out


class Allocator:
    """Hands out distinct public-looking /16s (never private, shared, multicast or
    documentation space, which an importer could rightly treat as special)."""

    BAD_FIRST = {0, 10, 100, 127, 169, 172, 192, 198, 203} | set(range(224, 256))

    def __init__(self, rng):
        self.rng = rng
        self.used = set()

    def block(self):
        while True:
            a = self.rng.randrange(1, 224)
            b = self.rng.randrange(256)
            if a in self.BAD_FIRST or (a, b) in self.used:
                continue
            self.used.add((a, b))
            return (a, b)


class Device:
    """One device of a person: its kind and the user agent it sends at a time (apps and
    Chrome update themselves during the trace, each device on its own day)."""

    def __init__(self, kind, model, app_update_at, chrome_update_at, os_minor):
        self.kind, self.model = kind, model
        self.app_update_at, self.chrome_update_at = app_update_at, chrome_update_at
        self.os_minor = os_minor

    def ua(self, t):
        app = APP_NEW if t >= self.app_update_at else APP_OLD
        chrome = CHROME_NEW if t >= self.chrome_update_at else CHROME_OLD
        k = self.kind
        if k == "android_app":
            return "Brisa/%s (Linux; Android 14; %s) okhttp/4.12.0" % (app, self.model)
        if k == "ios_app":
            return "Brisa/%s (%s; iOS 18.%d; Scale/3.00) CFNetwork/1568.200.51 Darwin/24.1.0" % (app, self.model, self.os_minor)
        if k == "chrome_win":
            return ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/%d.0.0.0 Safari/537.36" % chrome)
        if k == "chrome_android":
            return ("Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "Chrome/%d.0.0.0 Mobile Safari/537.36" % chrome)
        if k == "safari_mac":
            return ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Version/18.%d Safari/605.1.15" % self.os_minor)
        if k == "safari_ios":
            return ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_%d like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                    "Version/18.%d Mobile/15E148 Safari/604.1" % (self.os_minor, self.os_minor))
        if k == "tizen_tv":
            return ("Mozilla/5.0 (SMART-TV; LINUX; Tizen 7.0) AppleWebKit/537.36 (KHTML, like Gecko) "
                    "94.0.4606.31/7.0 TV Safari/537.36 BrisaTV/%s" % app)
        if k == "roku":
            return "Roku/DVP-14.0 (14.0.0.%d) BrisaChannel/%s" % (4100 + self.os_minor, app)
        if k == "firetv":
            return "BrisaTV/%s (Linux; Android 9; AFTKA Build/PS7633) Fire OS 8" % app
        if k == "hotel_tv":
            return "Mozilla/5.0 (Linux; Android 9; SONIQ-HTV Build/PPR1) AppleWebKit/537.36 Chrome/%d.0.0.0 Safari/537.36" % (chrome - 20)
        raise ValueError(k)


HOME_DEVICES = ["tizen_tv", "roku", "firetv", "chrome_win", "safari_mac"]
PHONE_DEVICES = [("android_app", 0.55), ("ios_app", 0.30), ("chrome_android", 0.08), ("safari_ios", 0.07)]


class User:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.classes = set()


class World:
    """Networks, accounts and their people for one seed and size."""

    def __init__(self, seed, accounts, start, end):
        rng = random.Random("brisa-world-%d" % seed)
        self.seed, self.start, self.end = seed, start, end
        alloc = Allocator(rng)
        self.asns = {}
        for number, name, country, kind, nblocks, weight in ASNS:
            self.asns[number] = Asn(number, name, country, kind, [alloc.block() for _ in range(nblocks)], weight)
        # Botnet homes: three consumer ASNs in each of the botnet countries.
        self.botnet_asns = []
        for i, cc in enumerate(BOTNET_COUNTRIES):
            for j in range(3):
                number = 45000 + i * 37 + j * 7 + 131000 * (j % 2)
                a = Asn(number, "consumer ISP %s-%d" % (cc, j), cc, "residential", [alloc.block()], 0.0)
                self.asns[number] = a
                self.botnet_asns.append(a)
        self.by_kind = {}
        for a in self.asns.values():
            self.by_kind.setdefault((a.country, a.kind), []).append(a)
        self.nat = {
            BIG_CARRIER: self.asns[BIG_CARRIER].pool(rng, BIG_CARRIER_NAT_24S),
        }
        for number, a in self.asns.items():
            if a.kind == "mobile" and number not in self.nat and number not in IPV6_CARRIERS:
                self.nat[number] = a.pool(rng, 3)
        # Relays and proxies: egress pools shared by everyone who uses them.
        for number in (62044, 36183, 13335, 9009, 60068):
            self.nat[number] = self.asns[number].pool(rng, 6, 64)
        self.users = self._people(rng, accounts)
        self.by_email = {u.email: u for u in self.users}

    # -- people ------------------------------------------------------------------

    def _email(self, rng, cc, taken):
        while True:
            style = rng.random()
            f, l = rng.choice(FIRST), rng.choice(LAST)
            if style < 0.4:
                local = "%s.%s%d" % (f, l, rng.randrange(1, 99))
            elif style < 0.7:
                local = "%s%s%d" % (f[0], l, rng.randrange(1, 9999))
            else:
                local = "%s_%s%d" % (f, l[:4], rng.randrange(1970, 2012))
            email = "%s@%s" % (local, pick(rng, MAIL_DOMAINS[cc]))
            if email not in taken:
                taken.add(email)
                return email

    def password(self, rng):
        if rng.random() < 0.025:
            return rng.choice(COMMON_PASSWORDS)
        w = rng.choice(WORDS) + rng.choice(WORDS)
        if rng.random() < 0.5:
            w = w.capitalize()
        return "%s%d%s" % (w, rng.randrange(10, 9999), rng.choice(["", "", "!", "*", "."]))

    def device(self, rng, kind):
        model = rng.choice(ANDROID_MODELS) if kind in ("android_app", "chrome_android") else rng.choice(IPHONES)
        # The app store release lands 4 days before the end, Chrome's 6 days before:
        # each device updates itself some time after (apps and browsers roll out slowly).
        app_at = self.end - 4 * DAY + rng.expovariate(1 / (1.5 * DAY))
        chrome_at = self.end - 6 * DAY + rng.expovariate(1 / (2 * DAY))
        return Device(kind, model, app_at, chrome_at, rng.randrange(0, 3))

    def household(self, rng, cc):
        homes = [(a, a.weight) for a in self.by_kind[(cc, "residential")] if a.weight > 0]
        asn = pick(rng, homes)
        return {"asn": asn.number, "ip": asn.random_ip(rng), "cc": cc,
                "moves_at": self.start + rng.random() * (self.end - self.start) if rng.random() < 0.12 else None,
                "ip2": asn.random_ip(rng)}

    def _people(self, rng, n):
        taken = set()
        users = []
        ccs = [(cc, share) for cc, (share, _) in COUNTRIES.items()]
        for i in range(n):
            cc = pick(rng, ccs)
            tz = pick(rng, COUNTRIES[cc][1])
            phones = [(a, a.weight) for a in self.by_kind[(cc, "mobile")] if a.weight > 0]
            carrier = pick(rng, phones).number
            devices = [self.device(rng, pick(rng, PHONE_DEVICES))]
            for _ in range(rng.choice([0, 1, 1, 1, 2, 2, 3])):
                devices.append(self.device(rng, rng.choice(HOME_DEVICES)))
            dormant = rng.random() < 0.30
            created = self.start - rng.uniform(20, 6 * 365) * DAY
            users.append(User(
                email=self._email(rng, cc, taken), cc=cc, tz=tz, carrier=carrier, devices=devices,
                homes=[self.household(rng, cc)], password=self.password(rng),
                # Sign-ins with a password per day: most sessions live on remembered
                # devices, so a password is typed every few days at most.
                rate=0.0 if dormant else min(2.5, rng.lognormvariate(-1.2, 0.8)),
                typo=min(0.4, rng.expovariate(1 / 0.07)), created=created, dormant=dormant,
                salt=rng.getrandbits(128), hashbits=rng.getrandbits(256),
                vpn=False, office=None, campus=None))
        return users

    def password_hash(self, u):
        """A well-formed argon2id PHC string for the account. The trace never signs in
        through Gatehouse (its events carry the outcome), so the hash only has to be a
        hash an import accepts; it is not of the user's password."""
        salt = base64.b64encode(u.salt.to_bytes(16, "big")).decode().rstrip("=")
        h = base64.b64encode(u.hashbits.to_bytes(32, "big")).decode().rstrip("=")
        return "$argon2id$v=19$m=19456,t=2,p=1$%s$%s" % (salt, h)

    # -- addresses -----------------------------------------------------------------

    def mobile_ip(self, rng, asn):
        if asn in IPV6_CARRIERS:
            return "%s:%x:%x::%x:%x" % (IPV6_CARRIERS[asn], rng.randrange(0x1000, 0xffff), rng.randrange(0xffff),
                                       rng.randrange(1, 0xffff), rng.randrange(1, 0xffff))
        return rng.choice(self.nat[asn])

    def home_ip(self, home, t):
        return home["ip2"] if home["moves_at"] is not None and t >= home["moves_at"] else home["ip"]


def fingerprint(key, password, _cache={}):
    """What an app following README.md sends as `password_fingerprint`."""
    k = (key, password)
    if k not in _cache:
        import hmac
        _cache[k] = hmac.new(key, b"gatehouse/login-event-password/v1\0" + password.encode(), hashlib.sha256).hexdigest()
    return _cache[k]
