"""The attacks, one function per shape. Each returns a summary for truth.json and adds
its events to the trace; an account is taken over when an attacker signs in to it.

Sizes scale with the number of accounts (a combo list aimed at a bigger site is
bigger), and every shape draws its own rates, durations and tools from the seed.
"""

import users as U
import world
from users import DAY, HOUR, POPULAR


class Source:
    __slots__ = ("ip", "asn", "country", "v6_48")

    def __init__(self, ip, asn, country, v6_48=None):
        self.ip, self.asn, self.country, self.v6_48 = ip, asn, country, v6_48

    def address(self, rng):
        if self.v6_48 is not None:
            # A rented IPv6 block: a fresh /64 out of the /48 for every request.
            return world.v6_str((self.v6_48 << 16) | rng.getrandbits(16), rng.getrandbits(64))
        return self.ip


class Attack:
    def __init__(self, rng, net, users, tr, start, end):
        self.rng, self.net, self.users, self.tr = rng, net, users, tr
        self.start, self.end = start, end
        self.by_email = {u.email: u for u in users}
        self.taken = set()
        self.tried = set()
        self.unknown_tried = 0
        self.attempts = 0
        self.sources_used = set()
        self.events = []

    def combo(self, n, unknown_share, reuse):
        """A combo list: (email, leaked password) pairs; a share of the addresses have no
        account here, and some of those that do reuse the leaked password."""
        rng = self.rng
        out = []
        n_known = int(n * (1 - unknown_share))
        for u in rng.sample(self.users, min(n_known, len(self.users))):
            out.append((u.email, u.password if rng.random() < reuse else world.password_for(rng, u.email)))
        while len(out) < n:
            e = world.make_email(rng)
            if e not in self.by_email:
                out.append((e, world.password_for(rng, e)))
        rng.shuffle(out)
        return out

    def attempt(self, t, email, password, src, ua):
        rng = self.rng
        u = self.by_email.get(email)
        if u is None:
            outcome = "unknown_account"
            self.unknown_tried += 1
        else:
            self.tried.add(email)
            outcome = "success" if password == u.password else "wrong_password"
            if outcome == "success":
                self.taken.add(email)
        self.attempts += 1
        self.sources_used.add((src.ip if src.v6_48 is None else "v6:%x" % src.v6_48, src.asn))
        self.tr.add(t, email, src.address(rng), outcome, ua, src.country, src.asn, password)
        self.events.append(self.tr.events[-1])
        return outcome

    # ------------------------------------------------------------ source pools

    def hosting_sources(self, n24, n_asn, per24=(1, 3), v6_share=0.0, asns=None):
        rng, net = self.rng, self.net
        asns = asns or rng.sample(net.hosting, min(n_asn, len(net.hosting)))
        out = []
        for _ in range(n24):
            a = rng.choice(asns)
            if a.v6_32 and rng.random() < v6_share:
                out.append(Source(None, a.number, a.country, (a.v6_32 << 16) | rng.getrandbits(16)))
                continue
            base = a.random_v4(rng) & ~0xFF
            for o in rng.sample(range(1, 255), rng.randint(*per24)):
                out.append(Source(world.v4_str(base | o), a.number, a.country))
        return out

    def infected_home_sources(self, n):
        """Compromised home routers and PCs abroad: consumer ISPs, far from the site."""
        rng, net = self.rng, self.net
        out = []
        for _ in range(n):
            c = rng.choice(["BR", "US", "IT", "ES", "DE", "JP", "MA", "TN"])
            a = rng.choice(net.foreign[c]["isp"])
            out.append(Source(world.v4_str(a.random_v4(rng)), a.number, c))
        return out

    def residential_sources(self, n, home_bias=0.85):
        """Residential proxies: apps on people's own PCs and phones that resell their
        connection. Sold by country, so mostly the site's own ISPs and carriers, in the
        same address blocks (sometimes the same address) as the site's real users."""
        rng, net = self.rng, self.net
        out = []
        for _ in range(n):
            r = rng.random()
            if r > home_bias:
                c = rng.choice(world.FOREIGN)
                a = rng.choice(net.foreign[c]["isp"])
                out.append(Source(world.v4_str(a.random_v4(rng)), a.number, c))
            elif r < 0.05:
                u = rng.choice(self.users)  # a real user's own box runs the proxy SDK
                out.append(Source(world.v4_str(u.home_v4), u.isp.number, u.isp.country))
            elif r < 0.25:
                a = net.carrier
                if a.v6_32 and rng.random() < 0.4:
                    out.append(Source(world.v6_str(a.random_v6_64(rng), rng.getrandbits(64)), a.number, world.HOME))
                else:
                    out.append(Source(world.v4_str(rng.choice(net.cgnat_pool)), a.number, world.HOME))
            elif r < 0.33:
                i = rng.randrange(2)
                out.append(Source(world.v4_str(rng.choice(net.small_pools[i])), net.small_carriers[i].number, world.HOME))
            else:
                a = rng.choices(net.home_isps, net.home_isp_weights)[0]
                if a.v6_32 and rng.random() < 0.2:
                    out.append(Source(world.v6_str(a.random_v6_64(rng), rng.getrandbits(64)), a.number, world.HOME))
                else:
                    out.append(Source(world.v4_str(a.random_v4(rng)), a.number, world.HOME))
        return out

    def when(self, t0, dur):
        return t0 + self.rng.randrange(max(1, dur))

    def place(self, dur, margin=2 * HOUR):
        """A start time inside the backtest window (the last six days), ending before the trace does."""
        lo = self.end - 6 * DAY
        return lo + self.rng.randrange(max(1, self.end - margin - dur - lo))

    def summary(self, **extra):
        s = {
            "attempts": self.attempts,
            "unknown_account_attempts": self.unknown_tried,
            "accounts_tried": len(self.tried),
            "taken_over": len(self.taken),
            "sources": len(self.sources_used),
            "asns": len({a for _, a in self.sources_used}),
            "slash24s": len({ip.rsplit(".", 1)[0] for ip, _ in self.sources_used if "." in ip}),
        }
        s.update(extra)
        return s


def _tool_uas(rng, n, recent=True):
    return [world.any_ua(rng) if recent else world.desktop_ua(rng) for _ in range(n)]


def concentrated(a):
    rng = a.rng
    k = len(a.users)
    srcs = a.hosting_sources(rng.randint(3, 6), 1, per24=(6, 20))
    srcs += a.hosting_sources(1, 1, per24=(2, 6))
    combo = a.combo(int(k * rng.uniform(0.15, 0.25)), rng.uniform(0.5, 0.7), rng.uniform(0.015, 0.03))
    dur = rng.randint(70, 160) * 60_000
    t0 = a.place(dur)
    fixed = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36"
    others = _tool_uas(rng, 8, recent=False)
    for email, pw in combo:
        ua = fixed if rng.random() < 0.7 else rng.choice(others)
        a.attempt(a.when(t0, dur), email, pw, rng.choice(srcs), ua)
    return a.summary(window_start_ms=t0, window_minutes=dur // 60_000)


def botnet(a):
    rng = a.rng
    k = len(a.users)
    combo = a.combo(int(k * rng.uniform(0.25, 0.35)), rng.uniform(0.55, 0.75), rng.uniform(0.015, 0.03))
    # About a dozen attempts per /24: hosting ASNs for most, infected homes abroad for the rest.
    n24 = max(30, len(combo) // rng.randint(10, 14))
    srcs = a.hosting_sources(int(n24 * 0.7), rng.randint(30, 60), per24=(1, 3), v6_share=0.12)
    srcs += a.infected_home_sources(n24 - int(n24 * 0.7))
    uas = _tool_uas(rng, 60, recent=False)
    dur = rng.randint(25, 40) * 60_000
    t0 = a.place(dur + DAY)
    for email, pw in combo:
        src = rng.choice(srcs)
        if a.attempt(a.when(t0, dur), email, pw, src, rng.choice(uas)) == "success" and rng.random() < 0.4:
            # The buyer of the hit comes back later from another bot to use the account.
            a.attempt(t0 + rng.randint(2, 20) * HOUR, email, pw, rng.choice(srcs), rng.choice(uas))
    return a.summary(window_start_ms=t0, window_minutes=dur // 60_000)


def residential(a):
    rng = a.rng
    k = len(a.users)
    combo = a.combo(int(k * rng.uniform(0.3, 0.4)), rng.uniform(0.45, 0.65), rng.uniform(0.015, 0.03))
    srcs = a.residential_sources(max(1000, len(combo) // 2))
    dur = rng.randint(5, 11) * HOUR
    t0 = a.place(dur)
    pos = 0
    for src in srcs:
        if pos >= len(combo):
            break
        n = rng.choices([1, 2, 3], [55, 30, 15])[0]
        ua = world.any_ua(rng)  # the tool picks a real, current browser per proxy session
        t = a.when(t0, dur)
        for email, pw in combo[pos:pos + n]:
            a.attempt(t, email, pw, src, ua)
            t += rng.randint(1_000, 30_000)
        pos += n
    for email, pw in combo[pos:]:
        a.attempt(a.when(t0, dur), email, pw, rng.choice(srcs), world.any_ua(rng))
    return a.summary(window_start_ms=t0, window_minutes=dur // 60_000)


def low_and_slow(a):
    rng = a.rng
    k = len(a.users)
    combo = a.combo(int(k * rng.uniform(0.2, 0.3)), rng.uniform(0.45, 0.65), rng.uniform(0.015, 0.03))
    srcs = a.residential_sources(len(combo) // 6) + a.hosting_sources(rng.randint(150, 300), rng.randint(10, 25))
    dur = int(rng.uniform(3.5, 5) * DAY)
    t0 = a.place(dur, margin=3 * HOUR)
    for email, pw in combo:
        # Follow the site's own daily rhythm, to hide in it.
        day = rng.randrange(int(dur // DAY) + 1)
        hour_local = rng.choices(range(24), U._DIURNAL)[0]
        t = t0 + day * DAY + ((hour_local - 1) % 24) * HOUR + rng.randrange(HOUR)
        if t >= t0 + dur:
            t = a.when(t0, dur)
        a.attempt(t, email, pw, rng.choice(srcs), world.any_ua(rng))
    return a.summary(window_start_ms=t0, window_minutes=dur // 60_000)


def spraying(a):
    rng = a.rng
    users = a.users
    passwords = POPULAR[: rng.randint(3, 5)]
    # A harvested list of addresses known to exist here (from a sign-up form's "already
    # registered"), a little stale: some have since been deleted or were wrong.
    targets = [u.email for u in rng.sample(users, int(len(users) * rng.uniform(0.35, 0.5)))]
    targets += [world.make_email(rng) for _ in range(int(len(targets) * rng.uniform(0.05, 0.12)))]
    rng.shuffle(targets)
    srcs = a.residential_sources(len(targets) // 3) + a.hosting_sources(rng.randint(40, 120), rng.randint(5, 15))
    round_dur = rng.randint(6, 12) * HOUR
    gap = rng.randint(3, 9) * HOUR
    total = len(passwords) * round_dur + (len(passwords) - 1) * gap
    t0 = a.place(total)
    opened = set()
    for i, pw in enumerate(passwords):
        r0 = t0 + i * (round_dur + gap)
        src, left, ua = None, 0, None
        for email in targets:
            if email in opened:
                continue
            if left == 0:
                src, left, ua = rng.choice(srcs), rng.randint(1, 4), world.any_ua(rng)
            left -= 1
            if a.attempt(a.when(r0, round_dur), email, pw, src, ua) == "success":
                opened.add(email)
    return a.summary(window_start_ms=t0, window_minutes=total // 60_000, passwords=len(passwords))


def _variants(pw):
    return [pw, pw + "1", pw[:1].upper() + pw[1:], pw + "!"]


def checker_resale(a):
    """Our own shape. A checker validates a combo list through residential proxies,
    trying each address's leaked password and its usual variants (people who reuse a
    password often add a digit or a capital); days later the hits are resold and the
    buyer signs in to each from a proxy in the victim's own country and ISP, on a phone,
    as a person would."""
    rng = a.rng
    users = a.users
    n = int(len(users) * rng.uniform(0.2, 0.3))
    base = a.combo(n, rng.uniform(0.4, 0.6), rng.uniform(0.01, 0.02))
    # A further share reuse a variant of the leaked password.
    entries = []
    for email, pw in base:
        u = a.by_email.get(email)
        if u is not None and pw != u.password and rng.random() < 0.015:
            leaked = world.password_for(rng, email)
            v = rng.choice(_variants(leaked)[1:])
            u.password = v  # the account's real password is that variant
            pw = leaked
        entries.append((email, pw))
    srcs = a.residential_sources(len(entries) // 2)
    dur = rng.randint(2, 5) * HOUR
    t0 = a.place(dur + 4 * DAY, margin=3 * HOUR)
    hits = []
    for email, leaked in entries:
        src, ua = rng.choice(srcs), world.any_ua(rng)
        t = a.when(t0, dur)
        tries = _variants(leaked)[: rng.choice([1, 2, 3, 4])]
        u = a.by_email.get(email)
        if u is not None and u.password in _variants(leaked):
            tries = _variants(leaked)[: _variants(leaked).index(u.password) + 1]
        for pw in tries:
            if a.attempt(t, email, pw, src, ua) == "success":
                hits.append((email, pw))
                break
            if a.by_email.get(email) is None and rng.random() < 0.7:
                break  # the checker learns the address does not exist here
            t += rng.randint(800, 6_000)
    resale = t0 + dur + rng.randint(1, 3) * DAY
    for email, pw in hits:
        u = a.by_email[email]
        isp = u.isp if u.country == world.HOME else rng.choice(a.net.home_isps)
        src = Source(world.v4_str(isp.random_v4(rng)), isp.number, world.HOME)
        a.attempt(a.when(resale, 18 * HOUR), email, pw, src, world.phone_ua(rng))
    return a.summary(window_start_ms=t0, window_minutes=dur // 60_000, resale_start_ms=resale)


SHAPES = {
    "quiet": None,
    "concentrated": concentrated,
    "botnet": botnet,
    "residential": residential,
    "low_and_slow": low_and_slow,
    "spraying": spraying,
    "checker_resale": checker_resale,
}
