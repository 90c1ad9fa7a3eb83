"""The people's own sign-ins over the trace: the daily rhythm, typos, forgotten passwords,
stale password managers after the 90-day rotation, business trips, the site-wide outage,
the onboarding of a new customer company and the identity-provider outage that sends SSO
companies back to passwords, and the companies' integrations and synthetic monitors.

Every event is a tuple (time, account, ip, user_agent, outcome, country, asn, password);
the password is turned into a `password_fingerprint` when the file is written."""

from places import Places, day_factor, local_time, office_day, poisson
from world import DAY, HOUR, TZ, app_ua, browser_ua, stream

TRIP_DEST = {"IN": ["US", "GB", "AE", "SG"], "US": ["GB", "IN", "DE"], "GB": ["US", "IN", "AE", "DE"],
             "AE": ["IN", "GB"], "BR": ["US"]}
COUNTRY_TZ = {"IN": 5.5, "US": -5.0, "GB": 0.0, "AE": 4.0, "SG": 8.0, "DE": 1.0, "BR": -3.0}
INTEGRATION_UAS = ["python-requests/2.32.3", "Go-http-client/2.0", "Zapier", "Microsoft Power Automate",
                   "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "Apache-HttpClient/4.5.14 (Java/17.0.9)"]
MONITOR_UAS = ["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36 DatadogSynthetics",
               "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Catchpoint"]


def variant(rng, pw):
    """A mistyped password: a character dropped, two swapped, caps lock, one extra."""
    op = rng.randrange(5)
    if len(pw) < 3:
        return pw + "1"
    i = rng.randrange(len(pw) - 1)
    if op == 0:
        return pw[:i] + pw[i + 1:]
    if op == 1:
        return pw[:i] + pw[i + 1] + pw[i] + pw[i + 2:]
    if op == 2:
        return pw.swapcase()
    if op == 3:
        return pw + rng.choice("1!.a")
    return pw[:i] + rng.choice("qwertyuiopasdfghjkl") + pw[i + 1:]


def mistyped_address(rng, email):
    local, domain = email.split("@", 1)
    if rng.random() < 0.5 and "." in local:
        return local.replace(".", "", 1) + "@" + domain
    if rng.random() < 0.5:
        return local + "@" + domain.replace(".", "", 1) if domain.count(".") > 1 else local + "@" + domain + "m"
    i = rng.randrange(len(local))
    return local[:i] + local[i + 1:] + "@" + domain if len(local) > 1 else "x" + email


class Calendar:
    """The trace's incidents: their times are drawn by gen.py from the seed."""

    def __init__(self, start, end, outage, outage_outcome, onboarding, idp):
        self.start, self.end = start, end
        self.outage = outage  # (start, end)
        self.outage_outcome = outage_outcome
        self.onboarding = onboarding  # invite time
        self.idp = idp  # (start, end)

    def in_outage(self, t):
        return self.outage[0] <= t < self.outage[1]


class Innocents:
    def __init__(self, seed, world, people, cal):
        self.rng = stream(seed, "innocents")
        self.places = Places(world)
        self.world = world
        self.people = people
        self.cal = cal
        self.events = []
        self.chrome_switch = cal.end - 9 * DAY
        self.app_switch = cal.end - 6 * DAY
        self.trips = {}
        self.stale = {}  # idx -> (change time, fix time, device)
        self.first_sign_in = {}  # onboarding: idx -> time
        self.notes = {}  # what breakdown.py needs to know about the bursts
        self._by_email = None

    # ---- clients ----
    def ua(self, p, channel, t, device=None):
        jitter = (p.idx * 7919 % 1000) / 1000
        if channel == "app":
            v = "5.13.0" if t > self.app_switch + jitter * 4 * DAY else "5.12.0"
            return app_ua(p.platform, p.model, v)
        chrome = 131 if t > self.chrome_switch + jitter * 3 * DAY else 130
        return browser_ua(device or p.browser, chrome)

    def emit(self, t, account, where, ua, outcome, pw):
        ip, country, asn = where
        if not self.cal.start <= t < self.cal.end:
            return
        if self.cal.in_outage(t) and outcome != "unknown_account":
            # Every check in the outage fails, whatever was typed (a sitting that began
            # just before it runs into it).
            outcome = self.cal.outage_outcome
            if self._by_email is None:
                self._by_email = {p.email: p for p in self.people}
            p = self._by_email.get(account)
            if p is not None:
                p.classes.add("outage_retry")
        self.events.append((t, account, ip, ua, outcome, country, asn, pw))

    # ---- one sitting: the attempts of one person at one place within a minute or two ----
    def sitting(self, p, t, channel, where, typed=True, device=None):
        rng, cal = self.rng, self.cal
        ua = self.ua(p, channel, t, device)
        if cal.in_outage(t):
            p.classes.add("outage_retry")
            for _ in range(rng.randint(1, 4) + (1 if channel == "app" else 0)):
                self.emit(t, p.email, where, ua, cal.outage_outcome, p.password)
                t += rng.uniform(8, 60)
            if rng.random() < 0.6:
                back = cal.outage[1] + min(rng.expovariate(1 / 1500), 5 * HOUR) + rng.uniform(60, 300)
                self.sitting(p, back, channel, where, typed, device)
            return
        if typed and rng.random() < 0.004:
            p.classes.add("typo")
            self.emit(t, mistyped_address(rng, p.email), where, ua, "unknown_account", p.password)
            t += rng.uniform(10, 40)
        st = self.stale.get(p.idx)
        if st and st[0] <= t < st[1] and (device or channel) == st[2]:
            p.classes.add("stale_password_manager")
            for _ in range(rng.randint(1, 2)):
                self.emit(t, p.email, where, ua, "wrong_password", st[3])
                t += rng.uniform(3, 30)
            if rng.random() > 0.8:
                return
            typed = True
        elif typed and rng.random() < 0.003:
            p.classes.add("forgot_password")
            for _ in range(rng.randint(2, 4)):
                self.emit(t, p.email, where, ua, "wrong_password", variant(rng, p.password) + rng.choice(["", "1", "@1"]))
                t += rng.uniform(15, 90)
            return
        rate = p.typo * (1.5 if channel == "app" else 1.0)
        if typed and rng.random() < rate:
            p.classes.add("typo")
            for _ in range(1 if rng.random() < 0.7 else 2):
                self.emit(t, p.email, where, ua, "wrong_password", variant(rng, p.password))
                t += rng.uniform(5, 40)
        self.emit(t, p.email, where, ua, "success", p.password)

    # ---- the daily life of one person ----
    def plan(self):
        rng, cal = self.rng, self.cal
        active = [p for p in self.people if p.active and not p.tenant.sso and "service_account" not in p.classes]
        for p in active:
            if not p.tenant.onboarding and rng.random() < 0.03:
                t0 = rng.uniform(cal.end - 11 * DAY, cal.end - 3 * DAY)
                dest = rng.choice(TRIP_DEST.get(p.country, ["US"]))
                self.trips[p.idx] = (t0, t0 + rng.uniform(2, 6) * DAY, dest)
                p.classes.add("traveller")
            rot = 0.06 if p.tenant.rotation else 0.01
            if not p.tenant.onboarding and rng.random() < rot:
                # The company's 90-day rotation (or a change of heart): the other device keeps
                # sending the old password until the person updates it, 1-3 days later.
                tc = rng.uniform(cal.start + 2 * DAY, cal.end - 2 * DAY)
                device = "app" if p.has_app else ("edge-win" if p.browser != "edge-win" else "chrome-win")
                old = p.password
                self.stale[p.idx] = (tc, tc + rng.uniform(1, 3) * DAY, device, old)
                p.password_change = (tc, old)

    def run(self):
        rng, cal = self.rng, self.cal
        self.plan()
        d0 = int(cal.start // DAY) - 1
        d1 = int(cal.end // DAY) + 1
        for p in self.people:
            if not p.active or p.tenant.sso or "service_account" in p.classes:
                continue
            begin = self.first_sign_in.get(p.idx, cal.start) if p.tenant.onboarding else cal.start
            if p.tenant.onboarding and p.idx not in self.first_sign_in:
                continue
            trip = self.trips.get(p.idx)
            st = self.stale.get(p.idx)
            for d in range(d0, d1):
                mid = d * DAY + DAY / 2
                dest = trip[2] if trip and trip[0] <= mid < trip[1] else None
                tz = COUNTRY_TZ[dest] if dest else p.tz
                day_start = d * DAY - tz * HOUR
                weekday = (d + 3) % 7
                lam = p.rate * day_factor(p.country, weekday) * (1.3 if dest else 1.0)
                if p.tenant.onboarding:
                    lam *= 1.2  # a new tool: people keep coming back to it
                for t in sorted(local_time(rng, day_start, weekday) for _ in range(poisson(rng, lam))):
                    if t < begin or t >= cal.end or t < cal.start:
                        continue
                    hour_local = ((t + tz * HOUR) % DAY) / HOUR
                    use_app = p.has_app and rng.random() < 0.3
                    if st and st[2] == "app" and st[0] <= t < st[1] and p.has_app and rng.random() < 0.5:
                        use_app = True
                    device = None
                    if not use_app and st and st[2] != "app" and st[0] <= t < st[1] and rng.random() < 0.5:
                        device = st[2]  # the second browser, with its stale saved password
                    classes = p.classes
                    if use_app:
                        where = self.places.app(rng, p, d, hour_local, dest, classes)
                    else:
                        where = self.places.web(rng, p, d, dest, classes)
                    if st and t >= st[0]:
                        self._apply_change(p, t)
                    typed = use_app or not p.pm or device is not None
                    self.sitting(p, t, "app" if use_app else "web", where, typed, device)
            self._apply_change(p, cal.end)
        self.outage_rush()
        return self.events

    def _apply_change(self, p, t):
        st = self.stale.get(p.idx)
        if st and t >= st[0] and p.password == st[3]:
            p.password = "%s-r%d" % (st[3], p.idx % 97)

    def outage_rush(self):
        """During the outage the site also dropped every session: people who were working
        had to sign in again, into the failing check."""
        rng, cal = self.rng, self.cal
        os_, oe = cal.outage
        for p in self.people:
            if not p.active or p.tenant.sso or "service_account" in p.classes or rng.random() > 0.05:
                continue
            if p.tenant.onboarding and self.first_sign_in.get(p.idx, cal.end) > os_:
                continue
            t = rng.uniform(os_, oe)
            hour_local = ((t + p.tz * HOUR) % DAY) / HOUR
            if not 7 <= hour_local < 23:
                continue
            d = int(t // DAY)
            use_app = p.has_app and rng.random() < 0.3
            where = self.places.app(rng, p, d, hour_local, None, p.classes) if use_app else self.places.web(rng, p, d, None, p.classes)
            self.sitting(p, t, "app" if use_app else "web", where, use_app or not p.pm)
