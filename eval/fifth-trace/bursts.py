"""The innocent bursts of Sahyog's own: a new customer company goes live (thousands of
first sign-ins through one gateway), an identity-provider outage sends the SSO companies
back to passwords they never use, and the companies' integrations and synthetic
monitors (machines signing in around the clock from clouds in many countries, failing
for hours when someone rotates their password)."""

from innocents import INTEGRATION_UAS, MONITOR_UAS, variant
from world import CLOUDS, DAY, HOUR


def pick_service_accounts(rng, people, accounts):
    """Turn a few seats into the integrations' and monitors' service accounts: a company
    buys a seat for its Zapier flow or its uptime check."""
    pool = [p for p in people if p.active and not p.tenant.sso and not p.tenant.onboarding
            and p.tenant.country in ("IN", "US", "GB")]
    rng.shuffle(pool)
    n_int, n_mon = max(3, accounts // 500), max(2, accounts // 3300)
    taken = set()
    out = []
    for p in pool:
        if len(out) >= n_int + n_mon:
            break
        kind = "integration" if len(out) < n_int else "monitor"
        email = "%s@%s" % ("integrations" if kind == "integration" else "synthetics", p.tenant.domain)
        if email in taken:
            continue
        taken.add(email)
        p.email = email
        p.classes = {"service_account"}
        p.has_app = False
        p.pm = True
        p.typo = 0.0
        p.password = p.pw_at_start = "svc-%08x" % rng.getrandbits(32)
        out.append((p, kind))
    return out


def services(inn, chosen):
    rng, cal, w = inn.rng, inn.cal, inn.world
    rotated_monitor = False
    for p, kind in chosen:
        if kind == "integration":
            cloud = rng.choice(CLOUDS)[0]
            net = w.cloud[(cloud, p.tenant.country)]
            ips = [net.v4(rng) for _ in range(rng.randint(1, 2))]
            wheres = [(ip, net.country, net.asn) for ip in ips]
            period = rng.uniform(30, 90) * 60
            ua = rng.choice(INTEGRATION_UAS)
            rot = None
            if p.tenant.rotation and rng.random() < 0.5:
                t0 = rng.uniform(cal.start + DAY, cal.end - DAY)
                rot = (t0, t0 + rng.uniform(1, 6) * HOUR)
        else:
            locs = rng.sample(sorted(w.cloud), rng.randint(6, 10))
            wheres = [(w.cloud[loc].v4(rng), w.cloud[loc].country, w.cloud[loc].asn) for loc in locs]
            period = rng.choice([600, 900])
            ua = rng.choice(MONITOR_UAS)
            rot = None
            if not rotated_monitor:
                # Someone rotates the monitor's password and forgets its configuration: every
                # probe, in every country, fails until the on-call engineer updates it.
                t0 = rng.uniform(cal.end - 5 * DAY, cal.end - 12 * HOUR)
                rot = (t0, t0 + rng.uniform(2, 8) * HOUR)
                rotated_monitor = True
                p.classes.add("monitor_rotation")
                inn.notes["monitor_rotation"] = (p.email, rot[0], rot[1])
        old = p.password
        new = old + "-rotated"
        t = cal.start + rng.uniform(0, period)
        i = 0
        while t < cal.end:
            where = wheres[i % len(wheres)]
            i += 1
            if rot and t >= rot[0]:
                p.password = new
            if rot and rot[0] <= t < rot[1]:
                for k in range(1 if kind == "monitor" else 3):
                    inn.emit(t + k * 20, p.email, where, ua, "wrong_password", old)
            elif cal.in_outage(t):
                inn.emit(t, p.email, where, ua, cal.outage_outcome, p.password)
            else:
                inn.emit(t, p.email, where, ua, "success", p.password)
            t += period * rng.uniform(0.9, 1.1)
        if rot:
            p.password_change = (rot[0], old)


def onboarding(inn, people):
    """Kaveri Logistics goes live: its accounts are provisioned from HR data in the
    morning, the invitations go out at 09:30 IST with a temporary password, and most of
    its staff sign in for the first time within hours, through the company's gateway or
    on their phones; a few accounts arrive hours late from the HR sync."""
    rng, cal = inn.rng, inn.cal
    invite = cal.onboarding
    for p in people:
        if not p.tenant.onboarding:
            continue
        p.classes |= {"new_account", "tenant_onboarding"}
        late = rng.random() < 0.03
        p.created_at = invite + rng.uniform(3, 6) * HOUR if late else invite - rng.uniform(20, 60) * 60
        p.password = p.pw_at_start = "Kaveri#%06d" % rng.randrange(10 ** 6)
        r = rng.random()
        if r < 0.1:
            continue  # never opens the invitation during the trace
        if r < 0.8:
            t = invite + min(rng.lognormvariate(8.5, 1.0), 10 * HOUR)
        else:
            t = invite + DAY + rng.uniform(-0.5, 3) * HOUR
        if t >= cal.end:
            continue
        use_app = rng.random() < 0.35
        if use_app:
            p.has_app = True
        d = int(t // DAY)
        hour_local = ((t + p.tz * HOUR) % DAY) / HOUR
        where = inn.places.app(rng, p, d, hour_local, None, p.classes) if use_app else inn.places.web(rng, p, d, None, p.classes)
        ua = inn.ua(p, "app" if use_app else "web", t)
        if rng.random() < 0.04:
            # The personal address first: the invitation went to the work one.
            inn.emit(t, "%s.%s@gmail.com" % (p.first, p.last), where, ua, "unknown_account", p.password)
            t += rng.uniform(20, 90)
        if late and t < p.created_at:
            for _ in range(rng.randint(1, 3)):
                inn.emit(t, p.email, where, ua, "unknown_account", p.password)
                t += rng.uniform(20, 120)
            t = p.created_at + rng.uniform(10, 180) * 60
        if rng.random() < 0.18:
            # A temporary password typed from an e-mail: O for 0, l for 1.
            p.classes.add("typo")
            for _ in range(rng.randint(1, 2)):
                inn.emit(t, p.email, where, ua, "wrong_password", variant(rng, p.password))
                t += rng.uniform(10, 60)
        inn.sitting(p, t, "app" if use_app else "web", where, typed=True)
        inn.first_sign_in[p.idx] = t + 600
        # The first sign-in makes them choose their own password.
        p.password = "own-%08x" % rng.getrandbits(32)
        p.password_change = (t + 60, p.pw_at_start)


def idp_fallback(inn, people):
    """The identity provider the SSO companies use is down for 2-3 hours; their admins
    switch on password sign-in as the fallback, and people try passwords they set once
    when the account was made and never typed again."""
    rng, cal = inn.rng, inn.cal
    s, e = cal.idp
    for p in people:
        if not (p.tenant.sso and p.active) or "service_account" in p.classes:
            continue
        on = s + rng.uniform(20, 40) * 60
        hour_local = ((on + p.tz * HOUR) % DAY) / HOUR
        if rng.random() > (0.6 if 8 <= hour_local < 21 else 0.08):
            continue
        t = min(on + rng.expovariate(1 / 1800), e - 60)
        d = int(t // DAY)
        p.classes.add("idp_fallback")
        where = inn.places.web(rng, p, d, None, p.classes)
        ua = inn.ua(p, "web", t)
        r = rng.random()
        if r < 0.5:
            inn.sitting(p, t, "web", where, typed=True)
            continue
        if r < 0.85:
            p.classes.add("forgot_password")
            for _ in range(rng.randint(1, 4)):
                inn.emit(t, p.email, where, ua, "wrong_password",
                         rng.choice([variant(rng, p.password), "Welcome@123", "%s@123" % p.first.capitalize()]))
                t += rng.uniform(15, 120)
            if rng.random() > 0.6:
                continue
        old = p.password
        p.password = "recovered-%08x" % rng.getrandbits(32)
        p.password_change = (t + 60, old)
        inn.emit(t + rng.uniform(3, 20) * 60, p.email, where, ua, "success", p.password)
