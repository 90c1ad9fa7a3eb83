"""The attack shapes laid over the site's innocents. Each draws from its own stream
(seed and shape), reads the world (who exists, which networks are whose) and changes
nothing in it, so the innocents' events are the same under every shape.

Sizes scale with the number of accounts N: a combo list of about 0.3–0.4 N lines (about
half of them addresses the site has), and 2 % of the site's addresses in it reusing
their password here (validated lists and spraying differ: see each shape).
"""

import random

from world import (APP_NEW, ANDROID_MODELS, BIG_CARRIER, CHROME_NEW, COMMON_PASSWORDS, COUNTRIES, DAY,
                   FIRST, HOUR, LAST, WORDS, pick)

SHAPES = ["quiet", "concentrated", "botnet", "residential", "low_and_slow", "spraying",
          "validated_list", "mobile_proxy", "targeted"]

OLD_CHROME = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36" % v
              for v in (116, 119, 120, 122)]
BOT_UAS = OLD_CHROME + [
    "Mozilla/5.0 (Linux; Android 9; SM-J600G) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 8.1.0; Redmi 6A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/100.0.4896.127 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/96.0.4664.45 Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64; rv:109.0) Gecko/20100101 Firefox/115.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Safari/605.1.15",
    "okhttp/4.9.2",
    "Brisa/5.9.3 (Linux; Android 12; SM-A125M) okhttp/4.9.2",
]
CURRENT_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Safari/537.36" % CHROME_NEW,
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.0.0 Mobile Safari/537.36" % CHROME_NEW,
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
]
FREE_MAIL = ["gmail.com", "hotmail.com", "yahoo.com", "outlook.com", "aol.com", "mail.ru", "yandex.ru",
             "hotmail.fr", "libero.it", "web.de", "uol.com.br", "yahoo.com.mx", "live.com", "qq.com"]


def app_ua(rng):
    return "Brisa/%s (Linux; Android 14; %s) okhttp/4.12.0" % (APP_NEW, rng.choice(ANDROID_MODELS))


class Attack:
    def __init__(self, world, cal, shape):
        self.w, self.cal, self.shape = world, cal, shape
        self.rng = random.Random("brisa-attack-%d-%s" % (world.seed, shape))
        self.events = []
        self.taken = set()
        self.n = len(world.users)
        self.day0 = world.end - (world.end % DAY)
        self.info = {"shape": shape}

    # -- lists -----------------------------------------------------------------------

    def unknown_email(self):
        rng = self.rng
        while True:
            local = "%s%s%d" % (rng.choice(FIRST), rng.choice(LAST + ["x", "z", "k"]), rng.randrange(100000))
            e = "%s@%s" % (local, rng.choice(FREE_MAIL))
            if e not in self.w.by_email:
                return e

    def combo(self, size, exist_share, reuse, before, who=None):
        """size (address, password, opens) lines: exist_share of them the site's own
        accounts (created before the attack), reuse of those with the password they use here."""
        rng = self.rng
        pool = [u for u in self.w.users if u.created < before and (who is None or who(u))]
        k = min(len(pool), int(round(size * exist_share)))
        lines = []
        for u in rng.sample(pool, k):
            if rng.random() < reuse:
                lines.append((u.email, u.password, True))
            else:
                lines.append((u.email, "%s%d" % (rng.choice(WORDS), rng.randrange(1000, 99999)), False))
        for _ in range(size - k):
            lines.append((self.unknown_email(), "%s%s%d" % (rng.choice(WORDS), rng.choice(WORDS), rng.randrange(100)), False))
        rng.shuffle(lines)
        return lines

    # -- sources -----------------------------------------------------------------------

    def consumer_asns(self, countries=None):
        """The site's own countries' consumer networks, weighted by where its people are."""
        out = []
        for a in self.w.asns.values():
            if a.kind in ("residential", "mobile") and a.weight > 0 and a.country in COUNTRIES:
                if countries is None or a.country in countries:
                    out.append((a, COUNTRIES[a.country][0] * a.weight))
        return out

    def proxy(self, countries=None):
        """One residential-proxy exit: a fresh address inside a consumer network."""
        a = pick(self.rng, self.consumer_asns(countries))
        return a.random_ip(self.rng), a.number, a.country

    def attempt(self, t, line, ip, asn, cc, ua):
        email, pw, opens = line
        if email in self.w.by_email:
            outcome = "success" if opens else "wrong_password"
        else:
            outcome = "unknown_account"
        self.events.append((t, email, ip, outcome, ua, cc, asn, pw))
        if outcome == "success":
            self.taken.add(email)
            # Half the time the attacker comes back to use the account (change the
            # profile, start a stream to sell), from the same kind of exit.
            if self.rng.random() < 0.5:
                t2 = t + self.rng.uniform(600, 6 * HOUR)
                if t2 < self.w.end:
                    self.events.append((t2, email, ip, "success", ua, cc, asn, pw))
        return outcome

    def spread(self, n, start, minutes):
        rng = self.rng
        return sorted(start + rng.random() * minutes * 60 for _ in range(n))

    def window(self, start, minutes, **extra):
        import datetime as dt
        self.info.update(window_start=dt.datetime.fromtimestamp(start, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                         window_minutes=minutes, **extra)

    # -- shapes ----------------------------------------------------------------------

    def concentrated(self):
        """A rented block of hosting: a few /24s in two bulletproof networks, fast."""
        rng = self.rng
        start, minutes = self.day0 - 2 * DAY + 9 * HOUR, 90
        lines = self.combo(int(0.3 * self.n), 0.55, 0.02, start)
        ips = []
        for asn in (202425, 49870):
            a = self.w.asns[asn]
            ips += [(ip, asn, a.country) for ip in a.pool(rng, 3, 12)]
        for t, line in zip(self.spread(len(lines), start, minutes), lines):
            ip, asn, cc = rng.choice(ips)
            self.attempt(t, line, ip, asn, cc, rng.choice(OLD_CHROME))
        self.window(start, minutes, sources="6 /24s in 2 hosting ASNs", lines=len(lines))

    def botnet(self):
        """Infected devices abroad: about 500 /24s over 45 consumer ASNs, each bot with
        its own user agent and a handful of attempts over three hours."""
        rng = self.rng
        start, minutes = self.day0 - 2 * DAY + 3 * HOUR, 180
        lines = self.combo(int(0.4 * self.n), 0.5, 0.02, start)
        asns = rng.sample(self.w.botnet_asns, 36)
        # A fifth of the botnet sits in the site's own countries' ISPs.
        home = [a for a, _ in self.consumer_asns() if a.kind == "residential"]
        asns += rng.sample(home, 9)
        bots = []
        for _ in range(500):
            a = rng.choice(asns)
            blk = rng.choice(a.blocks)
            net = (blk[0], blk[1], rng.randrange(256))
            for _ in range(rng.choice([1, 1, 2, 3])):
                bots.append(("%d.%d.%d.%d" % (net + (rng.randrange(1, 255),)), a.number, a.country, rng.choice(BOT_UAS)))
        for t, line in zip(self.spread(len(lines), start, minutes), lines):
            ip, asn, cc, ua = rng.choice(bots)
            self.attempt(t, line, ip, asn, cc, ua)
        self.window(start, minutes, sources="%d bots in about 500 /24s of 45 ASNs" % len(bots), lines=len(lines))

    def _through_proxies(self, lines, times, uas, countries=None):
        rng = self.rng
        i = 0
        while i < len(lines):
            ip, asn, cc = self.proxy(countries)
            ua = rng.choice(uas)
            for _ in range(rng.choice([1, 1, 2, 3])):
                if i >= len(lines):
                    break
                self.attempt(times[i], lines[i], ip, asn, cc, ua)
                i += 1

    def residential(self):
        """A residential-proxy network: every 1–3 attempts a new exit inside the very
        ISPs the site's people use, in their countries, with current browsers."""
        start, minutes = self.day0 - 2 * DAY + 20 * HOUR, 360
        lines = self.combo(int(0.4 * self.n), 0.5, 0.02, start)
        self._through_proxies(lines, self.spread(len(lines), start, minutes), CURRENT_UAS)
        self.window(start, minutes, sources="residential proxies, 1-3 attempts per exit", lines=len(lines))

    def low_and_slow(self):
        """The same list through residential proxies over four days, following the
        site's own evening rhythm so the hourly volume hides in the daily swing."""
        rng = self.rng
        start, minutes = self.day0 - 5 * DAY + 12 * HOUR, 4 * 24 * 60
        lines = self.combo(int(0.4 * self.n), 0.5, 0.02, start)
        times = []
        while len(times) < len(lines):
            t = start + rng.random() * minutes * 60
            local_h = int((t / HOUR) - 6) % 24
            if rng.random() < [2, 1, .5, .3, .3, .5, 1, 2, 2, 2, 2, 2, 3, 3, 2.5, 2.5, 3, 3.5, 4.5, 6, 7, 7, 5, 3.5][local_h] / 7:
                times.append(t)
        self._through_proxies(lines, sorted(times), CURRENT_UAS + [app_ua(rng) for _ in range(3)])
        self.window(start, minutes, sources="residential proxies over 4 days", lines=len(lines))

    def spraying(self):
        """Five of the most common passwords, each tried once against a quarter of the
        site's addresses (scraped from a marketing list, so mostly real), in three waves
        through proxies and some hosting. An account is left alone once opened."""
        rng = self.rng
        start = self.day0 - 2 * DAY + 6 * HOUR
        targets = self.combo(int(0.25 * self.n), 0.7, 0.0, start)
        sprayed = COMMON_PASSWORDS[:5]
        hosting = [(ip, 14061, "US") for ip in self.w.asns[14061].pool(rng, 4, 30)]
        hosting += [(ip, 16276, "FR") for ip in self.w.asns[16276].pool(rng, 2, 30)]
        opened = set()
        for wave, pw in enumerate(sprayed):
            wstart = start + wave * 5 * HOUR
            order = [e for e, _, _ in targets if e not in opened]
            rng.shuffle(order)
            for t, email in zip(self.spread(len(order), wstart, 240), order):
                u = self.w.by_email.get(email)
                opens = u is not None and u.password == pw
                if rng.random() < 0.6:
                    ip, asn, cc = self.proxy()
                else:
                    ip, asn, cc = rng.choice(hosting)
                if self.attempt(t, (email, pw, opens), ip, asn, cc, rng.choice(CURRENT_UAS)) == "success":
                    opened.add(email)
        self.window(start, 4 * 5 * 60 + 240, sources="5 passwords, proxies and 6 hosting /24s", lines=len(targets))

    def validated_list(self):
        """A list already checked against another site days ago, bought fresh: almost
        every address exists here and nearly half still open with that password. Few
        attempts, hardly any unknown addresses, one per exit, with the site's own app."""
        rng = self.rng
        start, minutes = self.day0 - 2 * DAY + 14 * HOUR, 480
        lines = self.combo(max(20, int(0.012 * self.n)), 0.97, 0.45, start)
        for t, line in zip(self.spread(len(lines), start, minutes), lines):
            u = self.w.by_email.get(line[0])
            # Proxies in the victim's own country where the vendor has them.
            ip, asn, cc = self.proxy([u.cc] if u is not None else None)
            self.attempt(t, line, ip, asn, cc, app_ua(rng) if rng.random() < 0.7 else rng.choice(CURRENT_UAS))
        self.window(start, minutes, sources="residential proxies in the victims' countries", lines=len(lines))

    def mobile_proxy(self):
        """Rented 4G proxies behind the big Mexican carrier's CGNAT — the addresses
        30 % of the site's own users come from — with the site's current Android app,
        at Mexican prime time, against a list heavy with Mexican addresses."""
        rng = self.rng
        start, minutes = self.day0 - 2 * DAY + 1 * HOUR, 240
        lines = self.combo(int(0.25 * self.n), 0.5, 0.02, start, who=lambda u: u.cc == "MX" or rng.random() < 0.2)
        pool = self.w.nat[BIG_CARRIER]
        for t, line in zip(self.spread(len(lines), start, minutes), lines):
            self.attempt(t, line, rng.choice(pool), BIG_CARRIER, "MX", app_ua(rng))
        self.window(start, minutes, sources="4G proxies in the big carrier's CGNAT pool", lines=len(lines))

    def targeted(self):
        """A few chosen accounts (well-known profiles), each guessed at for a day from a
        handful of exits in its own country with birthdays and names; about a quarter
        fall."""
        rng = self.rng
        start, minutes = self.day0 - 3 * DAY + 10 * HOUR, 30 * 60
        victims = rng.sample([u for u in self.w.users if u.created < start], max(5, int(0.0015 * self.n)))
        for u in victims:
            exits = [self.proxy([u.cc]) for _ in range(rng.randint(5, 20))]
            guesses = rng.randint(10, 40)
            falls_at = rng.randrange(guesses) if rng.random() < 0.25 else None
            ua = rng.choice(CURRENT_UAS)
            for i, t in enumerate(self.spread(guesses, start, minutes)):
                ip, asn, cc = rng.choice(exits)
                if i == falls_at:
                    self.attempt(t, (u.email, u.password, True), ip, asn, cc, ua)
                    break
                guess = "%s%d" % (rng.choice([u.email.split("@")[0][:6], rng.choice(FIRST)]), rng.randrange(1960, 2012))
                self.attempt(t, (u.email, guess, False), ip, asn, cc, ua)
        self.window(start, minutes, sources="5-20 proxies per victim", lines=len(victims))

    def run(self):
        if self.shape != "quiet":
            getattr(self, self.shape)()
            self.events = [e for e in self.events if self.w.start <= e[0] <= self.w.end]
        return self.events
