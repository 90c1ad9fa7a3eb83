#!/usr/bin/env python3
"""Are a kept run's `account-takeover` findings a password spray's grain and password?

    python3 eval/lib/spray_grains.py BIN RUN_DIR...

RUN_DIR is one kept run of a trace (`run.sh ... --keep`: `truth.json`, `events.jsonl` and
the store under `data/`). The findings are recorded on a copy of the store (`ato_stats.py`'s
`findings`). For each, it takes the failures of the finding's grain (its address, /24 · /64
or ASN) from a day before the success to six hours after, and counts those on a *sprayed*
password — one that failed on at least 20 distinct accounts in the day before that
failure — and asks whether the success's own password was sprayed. It prints, takeovers
against innocents, how many findings fall in each (rule, grain, success's password sprayed,
grain at least half sprayed / mixed / no failures) group: what `sprayed_share` keeps and
drops (crates/detect/README.md, "Eleventh pass"). Exact counts over the events, not the
detector's decayed ones.
"""

import bisect
import json
import os
import sys
from collections import Counter, defaultdict
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ato_stats import findings  # noqa: E402

DAY = 86_400_000
SPRAYED_ACCOUNTS = 20


def ms(s):
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def network(ip):
    return ":".join(ip.split(":")[:4]) if ":" in ip else ip.rsplit(".", 1)[0]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    binary = sys.argv[1]
    for run in sys.argv[2:]:
        with open(os.path.join(run, "truth.json")) as f:
            taken = set(json.load(f)["taken_over"])
        fails = defaultdict(list)  # (grain, key) -> [(time, password)]
        by_password = defaultdict(list)  # password -> [(time, account)]
        successes = {}
        with open(os.path.join(run, "events.jsonl")) as f:
            for line in f:
                e = json.loads(line)
                t, pw = ms(e["time"]), e.get("password_fingerprint")
                if e["outcome"] == "success":
                    successes[(e["account"], e["ip"], t // 1000)] = (pw, e.get("asn"))
                    continue
                for key in (("ip", e["ip"]), ("network", network(e["ip"])), ("asn", e.get("asn"))):
                    fails[key].append((t, pw))
                by_password[pw].append((t, e["account"]))
        for v in fails.values():
            v.sort(key=lambda x: x[0])
        for v in by_password.values():
            v.sort()
        times = {k: [x[0] for x in v] for k, v in by_password.items()}

        def sprayed(pw, t):
            if pw is None or pw not in times:
                return False
            lo, hi = bisect.bisect_left(times[pw], t - DAY), bisect.bisect_left(times[pw], t)
            return len({a for _, a in by_password[pw][lo:hi]}) >= SPRAYED_ACCOUNTS

        groups = Counter()
        for email, ev in findings(binary, run):
            t, ip, grain = ms(ev["login"]["time"]), ev["login"]["source"], ev["grain"]
            pw, asn = successes.get((email, ip, t // 1000), (None, None))
            key = {"ip": ("ip", ip), "network": ("network", network(ip)), "asn": ("asn", asn)}.get(grain)
            window = fails.get(key, [])
            ts = [x[0] for x in window]
            lo, hi = bisect.bisect_left(ts, t - DAY), bisect.bisect_left(ts, t + 6 * 3_600_000)
            window = window[lo:hi]
            spray = sum(1 for x in window if sprayed(x[1], x[0]))
            state = "no failures" if not window else (
                "half sprayed" if spray >= 0.5 * len(window) else "mixed")
            groups[(email in taken, ev["rule"], grain, sprayed(pw, t), state)] += 1
        print(f"{os.path.basename(run)}: {len(taken)} taken over")
        for (is_taken, rule, grain, pw_sprayed, state), n in sorted(groups.items(), key=lambda x: -x[1]):
            print(f"  {'takeover' if is_taken else 'innocent'}: {rule} / {grain}, "
                  f"password {'sprayed' if pw_sprayed else 'own'}, grain {state}: {n}")


if __name__ == "__main__":
    main()
