"""Every innocent sign-in of the trace, person by person, in time order.

Each person's sittings are drawn day by day (their rate, the bank's daily curve in their
time zone, weekends, salary days, the forced-change e-mail), plus what only some people
do: pay through the payment-initiation service, come back from a trip, keep an old tablet
whose browser still holds the previous password. A sitting is a few attempts: a stored
password sent by the app or a password manager, or a typed one (with the person's own
typo rate), ending in a success, a give-up, or the bank's lock after three wrong ones.
"""

import heapq

import people as P
import world as W

DAY = P.DAY
HOUR = 3600.0


class Log:
    def __init__(self):
        self.events = []

    def add(self, t, account, ip, ua, outcome, country, asn, pw):
        self.events.append((t, account, ip, ua, outcome, country, asn, pw))


def wrong_address(rng, email):
    """The address a person types by mistake: a dropped letter or the other provider."""
    local, domain = email.split("@")
    r = rng.random()
    if r < 0.4 and len(local) > 3:
        i = rng.randrange(len(local))
        return local[:i] + local[i + 1:] + "@" + domain
    if r < 0.7:
        return local + "@" + ("web.de" if domain != "web.de" else "gmx.de")
    return local + "@" + {"gmx.de": "gmx.net", "gmail.com": "gmial.com", "t-online.de": "tonline.de"}.get(domain, "gmx.de")


class Behaviour:
    def __init__(self, pop, rng, log):
        self.pop, self.inc, self.rng, self.log = pop, pop.inc, rng, log
        self.returns = []  # outage retries scheduled for later in the person's day

    # -- one attempt --------------------------------------------------------------------

    def attempt(self, p, t, ip, ua, cc, asn, pw):
        """Log one password check by the owner; returns its outcome, or None when the account
        is locked (the bank does not check, so nothing is logged)."""
        if t >= self.pop.end or t < self.pop.start:
            return None
        if t < p.locked_until:
            return None
        if self.inc.in_outage(t):
            self.log.add(t, p.email, ip, ua, self.inc.outage_outcome, cc, asn, pw)
            p.classes.add("outage_retry")
            return "outage"
        ok = pw == p.pw_at(t)
        self.log.add(t, p.email, ip, ua, "success" if ok else "wrong_password", cc, asn, pw)
        if ok:
            p.fails = 0
            return "success"
        p.fails += 1
        if p.fails >= 3:
            # Locked: the hotline unlocks it the next working day.
            p.locked_until = t + self.rng.uniform(14, 30) * HOUR
            p.fails = 0
        return "wrong_password"

    def run(self, p, t, ip, ua, cc, asn, tries):
        """Attempts in order, a few seconds apart, until one succeeds or the account locks."""
        for pw in tries:
            out = self.attempt(p, t, ip, ua, cc, asn, pw)
            if out in (None, "success"):
                return out, t
            if out == "outage":
                return out, t
            t += self.rng.uniform(5, 40)
        return "gave_up", t

    # -- one sitting ----------------------------------------------------------------------

    def sitting(self, p, t, source=None, typed=None):
        rng, inc = self.rng, self.inc
        if t < p.locked_until or t >= self.pop.end or t < self.pop.start:
            return
        dev, ip, cc, asn = source or self.pop.source(p, t, rng)
        ua = self.pop.ua(p, dev, t) if dev.ua is None or dev.kind in ("app", "firefox132") else dev.ua
        cur = p.pw_at(t)
        stores = dev.stores if typed is None else not typed
        if not stores and rng.random() < P.SECURE_EMAIL_TYPO:
            self.log.add(t, wrong_address(rng, p.email), ip, ua, "unknown_account", cc, asn, cur)
            t += rng.uniform(8, 30)
        tries = []
        recent_change = any(0 <= t - since < 7 * DAY for since, _ in p.pw_hist[1:])
        if stores and dev.pw is not None and dev.pw != cur:
            # A stored password older than the account's: the app or the manager sends it,
            # the person then types the new one (or gives up for now).
            tries.append(dev.pw)
            if rng.random() < 0.3:
                tries.append(dev.pw)  # the password manager submits twice
            if "forced_change" in p.classes:
                p.classes.add("forced_change_stale")
            if rng.random() < 0.8:
                if rng.random() < 0.1:
                    tries.append(dev.pw)  # typed by habit
                if rng.random() < p.typo * 2:
                    tries.append(P.typo_of(rng, cur))
                tries.append(cur)
        elif stores and dev.pw is not None:
            tries.append(cur)
        else:
            typo = p.typo * (1.6 if recent_change else 1.0)
            if rng.random() < 0.003:
                p.classes.add("forgot_password")
                tries += [P.typo_of(rng, cur) for _ in range(rng.randint(2, 3))]
            else:
                if recent_change and rng.random() < 0.12:
                    tries.append(p.pw_hist[-2][1])  # the previous password, out of habit
                if rng.random() < typo:
                    p.classes.add("typo")
                    tries += [P.typo_of(rng, cur) for _ in range(1 if rng.random() < 0.75 else 2)]
                tries.append(cur)
        out, t = self.run(p, t, ip, ua, cc, asn, tries)
        if out == "outage":
            # Everyone retries during the outage; the app retries once by itself. Then 60 %
            # come back after it, most within the hour.
            n = rng.randint(0, 2) + (1 if dev.kind == "app" else 0)
            for _ in range(n):
                t += rng.uniform(10, 90)
                if inc.in_outage(t):
                    self.log.add(t, p.email, ip, ua, inc.outage_outcome, cc, asn, cur)
            if rng.random() < 0.6:
                heapq.heappush(self.returns, (inc.outage_end + rng.expovariate(1 / 2400.0), "return"))
            return
        if out == "success":
            if stores and dev.pw is not None and dev.pw != cur:
                dev.pw = cur
            elif dev.stores and dev.pw is None:
                dev.pw = cur
            if t >= inc.forced_change and not any(since >= inc.forced_change for since, _ in p.pw_hist[1:]):
                self.forced_change(p, t + rng.uniform(40, 150), dev)

    def forced_change(self, p, t, dev):
        """The bank's mandatory change: after the first sign-in from the change's day on, the
        customer must set a new password. Only the device used learns it."""
        rng = self.rng
        p.classes.add("forced_change")
        old = p.pw_at(t)
        if "common_password" in p.classes and rng.random() < 0.4:
            new = rng.choice(W.COMMON_AFTER)
        elif p.guessable and rng.random() < 0.5:
            new = "%s%d#" % (p.name.capitalize(), p.year)
        else:
            new = old[:-1] + rng.choice("23456789") + old[-1]  # a small variation, as people do
            if rng.random() < 0.5:
                new = "".join(rng.choice("abcdefghkmnpqrstuvwxyzABCDEFGHKLMNPQRSTUVWXYZ23456789") for _ in range(11)) + "!"
        p.set_pw(t, new)
        if dev.stores:
            dev.pw = new

    # -- one person's trace ---------------------------------------------------------------

    def person(self, p):
        rng, pop, inc = self.rng, self.pop, self.inc
        start, end = pop.start, pop.end
        self.returns = []
        queue = []
        if p.active:
            first_day = max(start, p.created)
            d0 = int((first_day - start) // DAY)
            if "new_account" in p.classes:
                queue.append((p.created + rng.uniform(60, 2 * HOUR), "typed"))
            for day in range(d0, int((end - start) // DAY) + 1):
                local_midnight = start + day * DAY - ((start + p.tz * 3600) % DAY)
                weekday = int(((local_midnight + p.tz * 3600 + 1) // DAY + 3) % 7)
                lam = p.rate * inc.day_factor(local_midnight, weekday)
                if p.trip and p.trip[0] <= local_midnight < p.trip[1]:
                    lam *= 1.3
                for _ in range(P.poisson(rng, lam)):
                    t = local_midnight + W.hour_weighted_offset(rng, W.DIURNAL)
                    if p.created < t < end:
                        queue.append((t, "sit"))
            self.extras(p, queue)
        elif rng.random() < 0.08 and inc.forced_change < end:
            # The change's e-mail brings dormant customers back.
            t = inc.forced_change + HOUR + rng.expovariate(1 / (12 * HOUR))
            if t < end:
                p.classes.add("forced_change_returner")
                queue.append((t, "returner"))
        else:
            p.classes.add("dormant")
        heapq.heapify(queue)
        new_phone_at = None
        if p.active and p.phone is not None and rng.random() < 0.015:
            new_phone_at = rng.uniform(start + 2 * DAY, end - DAY)
        while queue or self.returns:
            if self.returns and (not queue or self.returns[0][0] < queue[0][0]):
                t, kind = heapq.heappop(self.returns)
            else:
                t, kind = heapq.heappop(queue)
            if t >= end or t < start:
                continue
            if new_phone_at is not None and t >= new_phone_at:
                p.classes.add("new_phone")
                p.model = rng.choice(W.IOS if p.os == "ios" else W.ANDROID)
                p.phone = P.Device("app", None, True, None)  # nothing stored yet: typed once
                new_phone_at = None
            if kind == "sit" or kind == "return":
                self.sitting(p, t)
            elif kind == "typed":
                self.sitting(p, t, typed=True)
            elif kind == "returner":
                self.returner(p, t)
            elif kind == "pis":
                self.pis(p, t)
            elif kind.startswith("tablet"):
                self.sitting(p, t, source=(self.tablet, pop.home_address(p, t, rng), p.home.country, p.home.asn))

    def extras(self, p, queue):
        rng, pop, inc = self.rng, self.pop, self.inc
        # Payments through the payment-initiation service (at checkout, the customer types
        # the bank password into the service's form; its servers sign in for them).
        if p.country == "DE" and rng.random() < 0.07:
            p.classes.add("pis_user")
            n = 1 + P.poisson(rng, 1.6)
            for _ in range(n):
                if inc.black_friday and rng.random() < 0.2 * len(inc.black_friday):
                    local_midnight = rng.choice(inc.black_friday)
                else:
                    day = rng.randrange(int((pop.end - pop.start) // DAY) + 1)
                    local_midnight = pop.start + day * DAY - ((pop.start + 3600) % DAY)
                t = local_midnight + W.hour_weighted_offset(rng, W.SHOPPING)
                if max(pop.start, p.created) < t < pop.end:
                    queue.append((t, "pis"))
        # A password changed on purpose, and an old tablet whose browser still fills the old one.
        self.tablet = None
        if p.home is not None and rng.random() < 0.015:
            tc = rng.uniform(pop.start + DAY, pop.end - 3 * DAY)
            old = p.pw_at(tc)
            p.set_pw(tc, "".join(rng.choice("abcdefghkmnpqrstuvwxyz23456789") for _ in range(12)) + "?")
            p.pw_hist.sort()
            p.classes.add("stale_password_manager")
            self.tablet = P.Device("ipad", W.DESKTOP_UAS[5][2].replace("{v}", "17"), True, old)
            until = tc + rng.uniform(1, 4) * DAY
            t = tc + rng.uniform(1, 6) * HOUR
            while t < until:
                # The tablet on the sofa: a few times a day, not at night.
                if 7 <= ((t + p.tz * 3600) % DAY) / 3600 < 23:
                    queue.append((t, "tablet"))
                t += rng.uniform(2, 9) * HOUR

    def returner(self, p, t):
        """A dormant customer brought back by the change's e-mail: may try another address of
        theirs first, may not remember the password (1-2 wrong guesses; half then give up)."""
        rng = self.rng
        src = self.pop.source(p, t, rng)
        dev, ip, cc, asn = src
        ua = self.pop.ua(p, dev, t) if dev.kind in ("app", "firefox132") else dev.ua
        if rng.random() < 0.2:
            self.log.add(t, wrong_address(rng, p.email), ip, ua, "unknown_account", cc, asn, p.pw_at(t))
            t += rng.uniform(10, 60)
        if rng.random() < 0.35:
            p.classes.add("forgot_password")
            tries = [P.typo_of(rng, p.pw_at(t)) for _ in range(rng.randint(1, 2))]
            out, t = self.run(p, t, ip, ua, cc, asn, tries)
            if out is None or rng.random() < 0.5:
                return
        self.sitting(p, t + rng.uniform(10, 60), source=src, typed=True)

    def pis(self, p, t):
        rng, w = self.rng, self.pop.w
        ip = rng.choice(w.pis_ips)
        src = (P.Device("pis", W.PIS_UA, False, None), ip, "DE", w.pis.asn)
        if rng.random() < 0.03:
            self.log.add(t, wrong_address(rng, p.email), ip, W.PIS_UA, "unknown_account", "DE", w.pis.asn, p.pw_at(t))
            t += rng.uniform(15, 60)
        p.pis_uses += 1
        self.sitting(p, t, source=src, typed=True)


def generate(pop, rng):
    log = Log()
    b = Behaviour(pop, rng, log)
    for p in pop.people:
        b.person(p)
    for p in pop.people:
        if len(p.classes - {"common_password"}) == 0:
            p.classes.add("ordinary")
    return log
