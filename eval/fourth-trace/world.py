"""The networks, devices and clock of Hafenbank's world: ISPs, carriers, hosting, user agents.

Everything here is drawn from the random stream it is given, so a seed's world is the same
under every shape. AS numbers of the big German, Austrian and hosting networks are the real
ones; the smaller foreign and hosting ASNs a botnet or a proxy pool spreads over are drawn
from the ranges such ASNs have (they are illustrative, not a claim about who runs them).
"""

import datetime as dt

# Bank hours in Germany: a morning peak (checking the account before work), a lunch dip,
# and the evening peak when bills are paid; little at night. Local hour -> weight.
DIURNAL = [0.15, 0.08, 0.05, 0.05, 0.08, 0.25, 0.8, 1.5, 2.0, 1.9, 1.6, 1.4,
           1.6, 1.5, 1.3, 1.3, 1.4, 1.6, 1.9, 2.2, 2.1, 1.6, 1.0, 0.45]
# Online shopping (what the payment service's sign-ins follow): evenings, late.
SHOPPING = [0.3, 0.15, 0.08, 0.05, 0.05, 0.1, 0.3, 0.6, 0.9, 1.0, 1.1, 1.2,
            1.3, 1.2, 1.1, 1.1, 1.2, 1.4, 1.7, 2.1, 2.4, 2.3, 1.7, 0.9]

GERMAN_EMAIL_DOMAINS = [("gmx.de", 22), ("web.de", 21), ("t-online.de", 12), ("gmail.com", 20),
                        ("googlemail.com", 3), ("outlook.de", 4), ("yahoo.de", 4), ("freenet.de", 3),
                        ("posteo.de", 2), ("icloud.com", 5), ("hotmail.de", 3), ("aol.com", 1)]
FIRST = ["anna", "lukas", "lea", "leon", "marie", "paul", "sophie", "jonas", "laura", "felix", "julia",
         "maximilian", "katharina", "tim", "sarah", "jan", "lisa", "david", "hannah", "niklas", "thomas",
         "andrea", "michael", "sabine", "stefan", "claudia", "andreas", "petra", "markus", "monika",
         "frank", "birgit", "juergen", "ursula", "klaus", "renate", "wolfgang", "heike", "uwe", "karin",
         "mehmet", "ayse", "elif", "can", "olga", "dmitri", "anja", "sven", "jens", "silke"]
LAST = ["mueller", "schmidt", "schneider", "fischer", "weber", "meyer", "wagner", "becker", "schulz",
        "hoffmann", "schaefer", "koch", "bauer", "richter", "klein", "wolf", "schroeder", "neumann",
        "schwarz", "zimmermann", "braun", "krueger", "hofmann", "hartmann", "lange", "schmitt", "werner",
        "krause", "meier", "lehmann", "huber", "kaya", "yilmaz", "novak", "kowalski", "peters", "frank",
        "berger", "vogel", "jung", "keller", "roth", "beck", "lorenz", "baumann", "franke", "albrecht"]

# Passwords that pass the bank's rule (8-20 characters, a digit and a special character)
# and that many Germans pick: seasons, clubs, names. The second list is what people with
# a common password pick when forced to change (this winter's season).
COMMON = ["Passwort1!", "Sommer2026!", "Hallo1234!", "Schalke04!", "Bayern1900!", "Fussball1!",
          "Schatzi123!", "Deutschland1!", "Herbst2026!", "Frankfurt1!"]
COMMON_AFTER = ["Winter2026!", "Dezember2026!", "Passwort2!", "Weihnachten1!", "Hallo12345!"]

APP_OLD, APP_NEW = "7.4.2", "7.5.0"
IOS = ["iPhone14,5", "iPhone15,2", "iPhone13,2", "iPhone16,1", "iPhone12,1", "iPhone14,7"]
ANDROID = ["SM-A546B", "SM-S911B", "SM-A346B", "Pixel 7a", "SM-G991B", "moto g84 5G", "2201117TY", "SM-A145R"]


def app_ua(os_name, model, version):
    if os_name == "ios":
        return "Hafenbank/%s (%s; iOS 18.1.1; Scale/3.00)" % (version, model)
    return "Hafenbank/%s (Linux; Android 14; %s) okhttp/4.12.0" % (version, model)


def mobile_browser_ua(os_name, model):
    if os_name == "ios":
        return ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 "
                "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1")
    return ("Mozilla/5.0 (Linux; Android 14; %s) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.6778.81 Mobile Safari/537.36" % model)


DESKTOP_UAS = [
    # Firefox is unusually strong in Germany; versions 132 and 133 (its update came mid-trace).
    ("firefox", 30, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", (132, 133)),
    ("chrome", 33, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36", (130, 131)),
    ("edge", 14, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0", (130, 131)),
    ("safari", 15, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.1 Safari/605.1.15", (17, 18)),
    ("linux_ff", 4, "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", (128, 133)),
    ("ipad", 4, "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/{v}.6 Mobile/15E148 Safari/604.1", (17, 17)),
]
# The payment-initiation service's scraper: one fixed headless browser for all its logins.
PIS_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/128.0.0.0 Safari/537.36"


def weighted(rng, items):
    """items: [(value, weight)] -> a value."""
    total = sum(w for _, w in items)
    x = rng.random() * total
    for v, w in items:
        x -= w
        if x < 0:
            return v
    return items[-1][0]


def hour_weighted_offset(rng, curve):
    """Seconds into a local day, following an hourly curve."""
    h = weighted(rng, list(enumerate(curve)))
    return h * 3600 + rng.random() * 3600


class Net:
    """One network: an ISP's home lines, a carrier, a hosting provider, an office.

    kind: 'home' (one IPv4 address per household, maybe a rotating IPv6 prefix),
    'cgnat' (a pool of shared IPv4 addresses, a new one per session, maybe IPv6 per attach),
    'hosting', 'nat' (a handful of fixed NAT addresses)."""

    def __init__(self, name, asn, country, kind, blocks, v6=None, v6_share=0.0, tz=1):
        self.name, self.asn, self.country, self.kind = name, asn, country, kind
        self.blocks, self.v6, self.v6_share, self.tz = blocks, v6, v6_share, tz

    def pool_ip(self, rng):
        return "%s.%d" % (rng.choice(self.blocks), rng.randint(1, 254))

    def v6_64(self, rng):
        return "%s:%x:%x" % (self.v6, rng.randrange(0x10000), rng.randrange(0x10000))

    def v6_ip(self, rng, prefix64=None):
        p = prefix64 or self.v6_64(rng)
        return "%s:%x:%x:%x:%x" % (p, rng.randrange(1, 0x10000), rng.randrange(0x10000),
                                   rng.randrange(0x10000), rng.randrange(1, 0x10000))

    def session_ip(self, rng):
        """An address for one session on a shared network (CGNAT or mobile)."""
        if self.v6 and rng.random() < self.v6_share:
            return self.v6_ip(rng)
        return self.pool_ip(rng)


class Allocator:
    """Unique public-looking /24s and IPv6 /32s."""

    AVOID = {0, 10, 100, 127, 169, 172, 192, 198, 203, 224}

    def __init__(self, rng):
        self.rng, self.used, self.used6 = rng, set(), set()

    def block(self):
        while True:
            a = self.rng.randint(2, 222)
            if a in self.AVOID:
                continue
            b = "%d.%d.%d" % (a, self.rng.randrange(256), self.rng.randrange(256))
            if b not in self.used:
                self.used.add(b)
                return b

    def blocks(self, n):
        return [self.block() for _ in range(n)]

    def v6(self):
        while True:
            p = "2a0%x:%x" % (self.rng.randrange(16), self.rng.randrange(0x1000, 0x10000))
            if p not in self.used6:
                self.used6.add(p)
                return p


class World:
    def __init__(self, rng, accounts):
        self.rng = rng
        al = self.alloc = Allocator(rng)
        # The big carrier: Telefonica Germany (O2 and its discount brands), CGNAT for IPv4;
        # its share of the site's phones is drawn per seed in people.py.
        self.o2_mobile = Net("o2_mobile", 6805, "DE", "cgnat", al.blocks(12), al.v6(), 0.3)
        self.telekom_mobile = Net("telekom_mobile", 3320, "DE", "cgnat", al.blocks(6), al.v6(), 0.75)
        self.vodafone_mobile = Net("vodafone_mobile", 3209, "DE", "cgnat", al.blocks(8), al.v6(), 0.2)
        # Home lines. Telekom and 1&1 reconnect lines daily (a new IPv4 address and a new
        # IPv6 prefix); Vodafone cable is DS-Lite: IPv4 only through the carrier's NAT, a
        # stable IPv6 prefix per home.
        scale = max(1, accounts // 20000)
        self.telekom_dsl = Net("telekom_dsl", 3320, "DE", "home", al.blocks(40 * scale), al.v6(), 0.55)
        self.vodafone_cable = Net("vodafone_cable", 3209, "DE", "home", al.blocks(8), al.v6(), 0.7)
        self.o2_dsl = Net("o2_dsl", 6805, "DE", "home", al.blocks(15 * scale), al.v6(), 0.4)
        self.one_and_one = Net("1und1", 8881, "DE", "home", al.blocks(12 * scale), al.v6(), 0.5)
        self.netcologne = Net("netcologne", 8422, "DE", "home", al.blocks(4 * scale))
        self.mnet = Net("m-net", 8767, "DE", "home", al.blocks(4 * scale))
        self.a1 = Net("a1_at", 8447, "AT", "home", al.blocks(6 * scale), al.v6(), 0.3)
        self.magenta_at = Net("magenta_at", 8412, "AT", "cgnat", al.blocks(4), al.v6(), 0.5)
        self.homes = [(self.telekom_dsl, 38), (self.vodafone_cable, 22), (self.o2_dsl, 9),
                      (self.one_and_one, 14), (self.netcologne, 4), (self.mnet, 4)]
        # Shared NATs: a state administration's network (thousands of civil servants behind
        # four addresses) and a university (DFN).
        self.office = Net("landesverwaltung", 8881, "DE", "nat", [al.block()])
        self.office_ips = ["%s.%d" % (self.office.blocks[0], i) for i in (10, 11, 12, 13)]
        self.campus = Net("campus_dfn", 680, "DE", "nat", [al.block()])
        self.campus_ips = ["%s.%d" % (self.campus.blocks[0], i) for i in (33, 34)]
        # The payment-initiation service (a licensed third party that signs in to the
        # customer's bank on their behalf at checkout) runs in AWS Frankfurt.
        self.pis = Net("pis_aws", 16509, "DE", "hosting", al.blocks(2))
        self.pis_ips = ["%s.%d" % (b, i) for b in self.pis.blocks for i in (17, 18, 44)]
        # Abroad: where residents and travellers are.
        self.abroad = {}
        for cc, tz, home_asn, mob_asn in [("ES", 1, 3352, 12430), ("AT", 1, 8447, 8412), ("CH", 1, 3303, 3303),
                                          ("IT", 1, 3269, 30722), ("GB", 0, 2856, 12576), ("US", -5, 7922, 21928),
                                          ("TR", 3, 9121, 15897), ("TH", 7, 45629, 45430), ("EG", 2, 8452, 36935),
                                          ("PT", 0, 3243, 12353), ("NL", 1, 1136, 33915), ("PL", 1, 5617, 12912)]:
            self.abroad[cc] = (Net("home_" + cc, home_asn, cc, "home", al.blocks(3)),
                               Net("mobile_" + cc, mob_asn, cc, "cgnat", al.blocks(3), al.v6(), 0.3),
                               Net("hotel_" + cc, home_asn, cc, "nat", al.blocks(2)), tz)
        # Hosting: real big providers, plus illustrative small ones a botnet or a proxy
        # pool may hold.
        self.hosting = [Net(n, a, c, "hosting", al.blocks(6)) for n, a, c in [
            ("hetzner", 24940, "DE"), ("contabo", 51167, "DE"), ("ovh", 16276, "FR"), ("digitalocean", 14061, "DE"),
            ("ipvolume", 202425, "NL"), ("worldstream", 49981, "NL"), ("leaseweb", 60781, "NL"), ("m247", 9009, "RO"),
            ("aws", 16509, "DE"), ("linode", 63949, "DE"), ("vultr", 20473, "DE"), ("scaleway", 12876, "FR")]]
        self.vpn_exit = Net("vpn_m247", 9009, "DE", "hosting", al.blocks(2))
        foreign = ["BR", "IN", "VN", "ID", "EG", "TR", "MX", "PK", "TH", "UA", "RU", "CN", "NG", "AR", "CO", "PH", "MA", "IR"]
        self.small_hosting = [Net("host%d" % i, rng.randint(200000, 214000), rng.choice(["NL", "RU", "US", "DE", "SG", "HK", "SC", "BG", "MD", "UA"]),
                                  "hosting", al.blocks(3)) for i in range(80)]
        self.consumer_abroad = [Net("isp%d" % i, rng.randint(7000, 150000), rng.choice(foreign), "home", al.blocks(25), al.v6(), 0.08)
                                for i in range(70)]

    def home_net(self, rng):
        return weighted(rng, self.homes)


def iso(t):
    """Epoch seconds -> RFC 3339 with milliseconds."""
    d = dt.datetime.fromtimestamp(t, dt.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def parse_time(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def salary_days(start, end):
    """The last working day of each month within [start, end): German salaries land then,
    and people check their accounts (epoch seconds of the local midnight, CET)."""
    out = []
    d = dt.datetime.fromtimestamp(start, dt.timezone.utc).date()
    last = dt.datetime.fromtimestamp(end, dt.timezone.utc).date()
    while d <= last:
        nxt = d + dt.timedelta(days=1)
        if nxt.month != d.month:
            w = d
            while w.weekday() >= 5:
                w -= dt.timedelta(days=1)
            out.append(dt.datetime(w.year, w.month, w.day, tzinfo=dt.timezone.utc).timestamp() - 3600)
        d = nxt
    return out


def black_friday(start, end):
    """Black Friday and Cyber Monday (local midnights, CET) within the trace, when online
    shopping, and so the payment service's sign-ins, run at 2-3 times the usual rate."""
    out = []
    for year in {dt.datetime.fromtimestamp(start, dt.timezone.utc).year, dt.datetime.fromtimestamp(end, dt.timezone.utc).year}:
        d = dt.date(year, 11, 30)
        while d.weekday() != 3:  # the fourth Thursday of November
            d -= dt.timedelta(days=1)
        for extra in (1, 4):
            x = d + dt.timedelta(days=extra)
            t = dt.datetime(x.year, x.month, x.day, tzinfo=dt.timezone.utc).timestamp() - 3600
            if start - 86400 < t < end:
                out.append(t)
    return out
