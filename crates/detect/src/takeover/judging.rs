//! How a pending success is judged against its grains and the site (`Takeover::judge`).

use super::*;

/// The fewest attempts of past (decayed, before the last day) a /24 · /64 needs
/// to be the site's people's own network (`peoples_network_share`): a
/// carrier's CGNAT /24 holds hundreds at 20,000 accounts; on a site of a few
/// hundred, one household's /24 is a percent of the site.
const PEOPLES_NETWORK_PAST: f32 = 50.0;

/// The share of an address's other attempts (decayed) that failed at which
/// all of them did: one success among them, however old within the day,
/// leaves it well below.
const ALL_FAILED: f32 = 0.95;

impl Takeover {
    pub(super) fn judge(&mut self, idx: usize, now: i64, out: &mut Vec<Signal>) {
        let prior = self.site_prior();
        let p = self.pending[idx];
        let c = &self.cfg;
        // The strongest grain, its z, and its figures.
        let mut best: Option<(Grain, f32, f32, f32, f32, f32)> = None;
        let mut need = f32::INFINITY;
        // A spray speaks only for its own passwords (`sprayed_share`): a grain
        // whose failures were mostly on sprayed passwords is the spray's, and a
        // success with a password that did not fail on other accounts is not the
        // sprayer's — the attacker knows the sprayed passwords and no other. On
        // the four traces' sprays every takeover's password had failed on
        // thousands of accounts; the innocents flagged (people behind the
        // carrier, office and ISP addresses the spray's proxies exited through:
        // 26–96 a run) signed in with their own.
        let own_password = self.own_password(p.password);
        let spray_only = |d: &Decayed| own_password && d.sprayed(c.sprayed_share);
        // Did the success's own address or network try unknown accounts too —
        // at a combo list's share, not a busy /24's occasional mistyped e-mail
        // address (at 100,000 accounts a /24 holds several households)?
        // The network needs two of them (twice `wide_corroboration`): at 100,000
        // accounts a residential proxy's stray unknown name lands in the /24s of
        // the site's own users (one unknown name from the /24: 15 takeovers and 22
        // innocents on seeds 21–25; two: 7 and 13 fewer — a botnet's /24 tries
        // many).
        // Either only if its other attempts mostly failed
        // (`unknown_network_fails`, `unknown_address_fails`): a CGNAT /24 that
        // residential proxies exit through for days, or a CGNAT address on a
        // marketing e-mail's evening, holds its people's successes too.
        // The address's one unknown name counts only if it was not the owner's
        // mistyped e-mail address: tried from another browser than the one that
        // succeeded (a traveller who mistyped on a hotel computer abroad, in an
        // ASN a botnet also used, was flagged on it).
        let tried_unknown = |g: usize| {
            let min = c.wide_corroboration * if g == 1 { 2.0 } else { 1.0 };
            let must_fail = if g == 0 {
                c.unknown_address_fails
            } else {
                c.unknown_network_fails
            };
            self.grains[g].peek(p.keys[g]).is_some_and(|d| {
                !spray_only(&d)
                    && d.unknown_share() >= c.local_unknown_share
                    && d.day[1] >= min
                    && (g == 1 || d.day[1] >= 2.0 * min || d.unknown_client() != p.ua)
                    && !(c.redeemed_typos && d.only_redeemed_typos())
                    && (!must_fail || d.others_failure_share() >= c.network_failure_share)
            })
        };
        // Or does its user agent show the combo list's excess too (a residential
        // proxy's fresh address has no past, but the attacker's rotated user agents
        // do)? Only at twice the wide z and three times a local grain's unknown
        // share: a popular browser the attacker spoofs is diluted by its real users
        // and must not implicate them (at 2× the share, botnet precision at 100,000
        // accounts fell from 0.95 to 0.89 on the tuning seeds).
        // A success judged after the fact (more than `context_minutes` after it
        // came) keeps the contexts it came in and gains only its own source's
        // evidence: an ASN, a user agent or the site heating up hours later is a
        // later attack's, not this sign-in's.
        let late = c.context_minutes > 0 && now - p.time_ms > i64::from(c.context_minutes) * 60_000;
        let ctx_now = |bit: u16, f: &dyn Fn() -> bool| {
            if late {
                p.ctx & bit != 0
            } else {
                p.ctx & bit != 0 || f()
            }
        };
        // A grain's share *now* (its last hour) when the context must end
        // (`context_ends`): its day-long counts keep an attack's share for a day
        // after it left a busy grain (a carrier's /24 or ASN), and its people's
        // sign-ins 10–45 h later were flagged for it.
        let share_now = |d: &Decayed| {
            if c.context_ends {
                d.fast_share()
            } else {
                d.unknown_share()
            }
        };
        let asn_hot_now = || {
            self.grains[2].peek(p.keys[2]).is_some_and(|d| {
                let (z, excess, ..) = d.excess(prior, c.min_history);
                // And a multiple of its own share (`site_share_ratio`): a
                // carrier with a third of the site's people reaches the z of an
                // attack whenever the site is busy (a promotion's returners and
                // their mistyped addresses), at a few times its usual share.
                p.keys[2] != 0
                    && !spray_only(&d)
                    && z >= c.wide_z
                    && excess >= c.min_excess
                    && share_now(&d) >= c.wide_unknown_share
                    && share_now(&d) >= c.site_share_ratio * d.baseline_share(prior, c.min_history)
            })
        };
        let ua_warm_now = || self.ua_excess_at(p.keys[3], prior, &spray_only, 1.0, 1.0);
        let ua_hot = ctx_now(CTX_UA_HOT, &|| {
            self.ua_hot_at(p.keys[3], prior, &spray_only)
        });
        // The owner's own device at home (`own_device_home`): a user agent the
        // account signed in with, in a country it signed in from, on a network
        // new to it — their phone off the home Wi-Fi, on the carrier's CGNAT that
        // a 4G proxy network also exits through. Only a grain's own excess then
        // speaks, not the weaker rules below, unless that user agent is the one
        // the attack is rotating (hot). On the five traces' 89 runs these rules
        // flagged 134 such owners and 18 takeovers whose attacker had happened
        // to send the victim's own browser string from its country.
        let home = self.at_home(p.novelty) && !ua_hot;
        let asn_ctx = ctx_now(CTX_ASN, &asn_hot_now);
        let ua_ctx = ctx_now(CTX_UA_WARM, &ua_warm_now);
        let drift = ctx_now(CTX_DRIFT, &|| self.drift.open());
        // Not kept once seen, unlike the contexts above: a surge excuses a
        // success only if it held at every judgement of its first half hour
        // (twice `context_minutes`: what the quarter-hour counts need to show
        // an attack that began with the success); later judgements keep what
        // the last of those saw. An attack that starts under a patch's surge
        // shows its names that do not exist within minutes, and its first
        // takeovers, excused at first, are judged again without it (the third
        // trace's `patch_cover`, seed 32: one lost when the surge its first
        // quarter of an hour saw was kept). Asking the surge to hold at every
        // later judgement too flagged the fallback's people judged after its
        // first sign-ins had tapered off, the outage still on (3 of 10 on the
        // fifth trace's spraying, seed 33).
        let young_firsts =
            c.context_minutes == 0 || now - p.time_ms <= 2 * i64::from(c.context_minutes) * 60_000;
        let firsts = p.novelty.known_successes == 0
            && if young_firsts {
                self.first_sign_ins_surge(now)
            } else {
                p.ctx & CTX_FIRSTS != 0
            };
        // The attack was in progress when the success came — or is now, and the
        // success came just before it showed (a botnet's first minutes). Kept
        // for a later judgement like the other contexts: a success four seconds
        // into a residential burst whose window opened three minutes later, and
        // whose address tried others only later, had lost it.
        let site_hot = p.site_hot
            || ctx_now(CTX_SITE, &|| {
                self.in_window() && now - p.time_ms <= 15 * 60_000
            });
        if !late {
            let bits = [
                (asn_ctx, CTX_ASN),
                (ua_ctx, CTX_UA_WARM),
                (ua_hot, CTX_UA_HOT),
                (drift, CTX_DRIFT),
                (site_hot, CTX_SITE),
            ];
            for (on, bit) in bits {
                if on {
                    self.pending[idx].ctx |= bit;
                }
            }
        }
        // Or did its /24 fail on several other accounts (a botnet spread over a
        // /24's few addresses, each trying an account or two)? Failures among the
        // network's attempts other than the success.
        let net = self.grains[1].peek(p.keys[1]).unwrap_or_default();
        // Once the attack has left a busy /24 · /64 (`failing_network_ends`),
        // its day-long failures are a past attack's: they are no attack in
        // progress (`neighbours_failing`, below). They still corroborate an ASN
        // hot now (FireProx trickling through a busy AWS /24 of VPN
        // concentrators shows there in failures, not in names that do not
        // exist: one takeover lost a seed on the fifth trace without this).
        let attack_left = c.failing_network_ends && net.attack_left();
        // Judged later, the success's /24 · /64 (its /48) does not speak if it
        // was its people's network when the success came — a few other attempts
        // that day, mostly successes — and no attack was in progress then: no
        // site window, no hot ASN or user agent, no drift
        // (`late_network_needs_context`). A carrier's CGNAT /24 that rented 4G
        // proxies exit through hours later is a later attack's; a botnet's /24
        // trying accounts for days was failing already, and a residential
        // proxy's exit in a household's /24 came in its attack.
        let peoples = |g: usize, bit: u16| {
            if !c.late_network_needs_context {
                return false;
            }
            let now = !late
                && self.grains[g].peek(p.keys[g]).is_some_and(|d| {
                    d.day[0] - 1.0 >= PEOPLES_ATTEMPTS
                        && d.others_failure_share() < c.network_failure_share
                });
            now || p.ctx & bit != 0
        };
        // A cold user agent while the attack shows in warm ones
        // (`cold_client_share`): a browser with a past here and people's share
        // of mistyped names, when nearly all of the last hour's names that do
        // not exist came through the attack's browser strings, is not the
        // attack's — the people behind the CGNAT, office and ISP addresses its
        // proxies exit through sign in with their own. Kept for a later
        // judgement while the user agent stays cold; one that warms up since is
        // the attacker's.
        if c.cold_client_share > 0.0 && self.ua_cold(p.keys[3]) {
            let spared = p.ctx & CTX_COLD_CLIENT != 0 || (!late && self.attack_in_clients(now));
            if spared {
                self.pending[idx].ctx |= CTX_COLD_CLIENT;
                return;
            }
        }
        if young_firsts {
            if firsts {
                self.pending[idx].ctx |= CTX_FIRSTS;
            } else {
                self.pending[idx].ctx &= !CTX_FIRSTS;
            }
        }
        let quiet_then = !site_hot && p.ctx & (CTX_ASN | CTX_UA_WARM | CTX_UA_HOT | CTX_DRIFT) == 0;
        let network_speaks_late = !(late && quiet_then && peoples(1, CTX_PEOPLES_NETWORK));
        let block_speaks_late = !(late && quiet_then && peoples(4, CTX_PEOPLES_BLOCK));
        if !late {
            for (g, bit) in [(1, CTX_PEOPLES_NETWORK), (4, CTX_PEOPLES_BLOCK)] {
                if peoples(g, bit) {
                    self.pending[idx].ctx |= bit;
                }
            }
        }
        let net_failing = c.network_failures > 0.0
            && network_speaks_late
            && !spray_only(&net)
            && net.day[3] >= c.network_failures
            && net.day[2] >= c.network_failures
            && net.others_failure_share() >= c.address_failure_share;
        let corroboration = if tried_unknown(0) {
            Corroboration::AddressUnknown
        } else if tried_unknown(1) {
            Corroboration::NetworkUnknown
        } else if net_failing {
            Corroboration::NetworkFailures
        } else if ua_hot {
            Corroboration::UserAgent
        } else {
            Corroboration::None
        };
        let corroborated = corroboration != Corroboration::None;
        // The address's counts, if they still cover the success (the slow count
        // decays by 6 % at most over the 6-hour pending window; a slot reset and
        // re-admitted since starts again from one attempt).
        let ip = self.grains[0]
            .peek(p.keys[0])
            .filter(|d| p.ip_slow > 0.0 && d.slow[0] >= 0.8 * p.ip_slow)
            .unwrap_or_default();
        // The figures a finding on the address's own rules reports: its excess,
        // and its attempts and unknown names over about the last day.
        // The figures a finding on a grain's excess reports: the grain, its
        // excess (z, excess, attempts, expected) and its unknown names.
        let grain_figures = |g: Grain, d: &Decayed, (z, excess, attempts, expected)| {
            (g, z, excess, attempts, expected, d.fast[1].max(d.day[1]))
        };
        let address_figures = |ip: &Decayed| {
            let (z, excess, attempts, expected) = ip.excess(prior, c.min_history);
            (
                Grain::Ip,
                z,
                excess,
                attempts.max(ip.day[0]),
                expected,
                ip.day[1],
            )
        };
        // The success's own address failed on another account, or tried more
        // than the owner's mistyped e-mail address (a traveller's own typo abroad
        // is not a botnet's address).
        let other_wrong = ip.last_wrong != 0 && ip.last_wrong != tag8(p.account);
        let other_device_unknown = ip.unknown_client() != 0
            && p.ua != 0
            && ip.unknown_client() != p.ua
            && !(c.redeemed_typos && ip.only_redeemed_typos());
        // Or it tried a name that does not exist only *after* the success
        // (`names_after_success`): a person's mistyped e-mail address comes before
        // the success it is redeemed by; a list's next name comes after its hit
        // (a residential exit trying a line or two, seconds apart).
        let names_after =
            c.names_after_success && p.ctx & CTX_NO_NAMES_BEFORE != 0 && ip.day[1] >= 0.5;
        // Or its client tried a name long before the success, never redeemed,
        // and every other attempt there failed
        // (`names_long_before_first_sign_in`): a list's exit kept for hours.
        // Every other attempt, not most: where anything else had succeeded
        // (a household's or a CGNAT's address, someone's old typo among its
        // people's sign-ins), such a first sign-in was a person's 323 times
        // and an attacker's twice on the design runs (exact counts).
        let names_long_before = c.names_long_before_first_sign_in
            && p.ctx & CTX_OLD_NAMES != 0
            && p.novelty.known_successes == 0
            && ip.others_failure_share() >= ALL_FAILED;
        let beyond_typo = other_wrong
            || other_device_unknown
            || names_after
            || names_long_before
            || ip.day[3] >= c.address_accounts + 1.0;
        let address_active = ip.day[3] >= c.address_accounts && beyond_typo;
        // The site's people's own network (`peoples_network_share`): a /24 ·
        // /64 that held a share of the site's attempts before the last day — a
        // carrier's CGNAT pool, where a third of the site's phones sign in —
        // shows an attack exiting through it, not which of its people's
        // sign-ins is the attacker's: neither its excess, nor its addresses',
        // nor its failing addresses as an attack's context speak on their own
        // there (the address's other accounts and the other rules still do).
        // Measured against the site's own past, so a larger site's pool is the
        // same share; not before the site has `min_history` attempts of past,
        // and never for a /24 with fewer than `PEOPLES_NETWORK_PAST` (on a small
        // site every household's /24 is a percent of it).
        let site_past = self.site.past_attempts();
        let peoples_network = c.peoples_network_share > 0.0
            && site_past >= c.min_history
            && net.past_attempts() >= PEOPLES_NETWORK_PAST.max(c.peoples_network_share * site_past);
        // Its /24 · /64's *other* addresses failed on other accounts (beyond the
        // address's own failures) at a combo list's share of unknown names: the
        // context of the rules below when no window, ASN or user agent shows one.
        // Only for an account with a history that the success is unlike: without
        // one (the first sign-ins after the detector starts, cold counters) it
        // flagged four innocents on the tuning seeds. Nor in the site's people's
        // network: a CGNAT pool's other addresses fail with the attack exiting
        // through it, which says nothing of its people's sign-ins (the second
        // trace's `mobile_proxy` at 100,000 accounts, seed 44: 16 innocents and
        // no takeover on this context).
        let neighbours_failing = c.network_failures > 0.0
            && !peoples_network
            && network_speaks_late
            && !attack_left
            && !spray_only(&net)
            && p.novelty.known_successes > 0
            && net.day[2] - ip.day[2] >= c.network_failures
            && net.others_failure_share() >= c.address_failure_share
            && net.unknown_share() >= c.local_unknown_share;
        // From a country new to the account, or one the event does not say: what
        // the weakest contexts ask of a success (`neighbours_need_site`,
        // `drift_needs_abroad`, `asn_home_history`).
        let abroad = p.novelty.new_country || !p.country.is_known();
        // An address that tried other accounts (the success's is one): a
        // person's address tries their own account (a mistyped e-mail address is
        // a second one, but comes from the owner's device and network); a
        // carrier's or an office's shared address tries many, but mostly
        // succeeds (`address_tried_others` below).
        let other_accounts = ip.day[3] >= c.address_accounts;
        // An ASN corroborated by nothing but the user agent, for a sign-in from
        // the owner's own country by an address that tried no other account:
        // a residential-proxy network exits through the site's people's own
        // ISPs with their own browsers, and for a young history every device
        // and network is new — the owner on the laptop at home after a few
        // sign-ins on the phone. Only a longer history (`asn_home_history`)
        // lets the ISP's excess speak then.
        let asn_speaks_at_home = c.asn_home_history == 0
            || corroboration != Corroboration::UserAgent
            || abroad
            || other_accounts
            || p.novelty.known_successes >= c.asn_home_history;
        // The success's user agent shows a combo list's excess too, at a local
        // grain's share: one of the attacker's rotated user agents (an innocent's
        // new phone is usually a browser the attacker does not use right now).
        // (`ua_ctx` above.)
        for (g, (t, &k)) in GRAINS.iter().zip(self.grains.iter().zip(&p.keys)) {
            let Some(d) = (k != 0).then(|| t.peek(k)).flatten() else {
                continue;
            };
            let (z, excess, attempts, expected) = d.excess(prior, c.min_history);
            let local = matches!(g, Grain::Ip | Grain::Network | Grain::V6Block);
            let (zmin, novelty_min, share_min) = if local {
                (c.local_z, c.local_novelty, c.local_unknown_share)
            } else {
                (c.wide_z, c.wide_novelty, c.wide_unknown_share)
            };
            // Without history every success is "new": only an address or network
            // that itself looks like a combo list may then speak.
            // A user agent is only reported: attackers spoof popular ones, so a
            // popular browser in a combo list would implicate its innocent users.
            // A network the account already signed in from does not speak against
            // it: the owner's own /24 (home, office, a carrier's pool) is where a
            // combo list's neighbours show up, not where the attacker comes from.
            // Nor, for an account without history, does a network: only its
            // address can then speak (a first sign-in behind a busy NAT or CGNAT
            // /24 the attack also used is not the attacker's).
            // And a network speaks for a success from a known device only if the
            // success's own address also failed or tried another account: at
            // 100,000 accounts a botnet's /24 in a consumer ASN holds a few of the
            // site's own users, whose first sign-in from a new network there is
            // not the attacker's.
            // And a network speaks only if its other attempts mostly failed
            // (`network_failure_share`): a carrier's or an ISP's
            // CGNAT /24 that residential proxies exit through is mostly its
            // people's successes, and their new phone on a new /24 of their own
            // carrier is not the attacker's (third trace, seed 1, residential and
            // `patch_cover`: 182 innocents and 11 takeovers on this rule); a
            // botnet's or a proxy provider's /24 fails on nearly everything.
            let network_ok = *g != Grain::Network
                || (network_speaks_late
                    && !home
                    && !peoples_network
                    && p.novelty.new_network
                    && (address_active || p.novelty.new_device)
                    && d.others_failure_share() >= c.network_failure_share);
            // An IPv6 /48 speaks only when its other attempts mostly failed — a
            // provider's customer block or a carrier's pool mostly succeeds (its
            // people's sign-ins), a hosting tenant handing every attempt a fresh
            // /64 fails on nearly all of them — and for a success without
            // history, or from a new network and a new ASN (the owner's own
            // provider hands out the owner's /48).
            let block_ok = *g != Grain::V6Block
                || (block_speaks_late
                    && (p.novelty.known_successes == 0
                        || (p.novelty.new_network && p.novelty.new_asn))
                    && d.others_failure_share() >= c.network_failure_share);
            // An address speaks only when its other attempts mostly failed
            // (`address_mostly_fails`), as a network: a payment service's or a
            // carrier's shared address signs in to many accounts and mostly
            // succeeds, and a busy day's mistyped addresses of its customers
            // are a count, not a combo list (fourth trace, a quiet Cyber Monday:
            // the payment service's address, 6 unknown names in 108 attempts,
            // flagged 9 of its customers).
            // And not in the site's people's network (`peoples_network_share`):
            // a CGNAT pool's address is shared at once by the people behind it
            // and the proxies exiting through it, and at 100,000 accounts each
            // of the pool's addresses carries a few of the attack's names,
            // from the very app string its people use (the second trace's
            // `mobile_proxy`, seed 44: 122 innocents and 5 takeovers found by
            // this grain alone). The address's other accounts
            // (`address_tried_others`) and the ASN still speak.
            let address_ok = *g != Grain::Ip
                || (!peoples_network
                    && (!c.address_mostly_fails
                        || d.others_failure_share() >= c.network_failure_share));
            // An ASN speaks only with the context the success came in.
            let history_ok = network_ok
                && block_ok
                && address_ok
                && (*g != Grain::Asn || asn_ctx)
                && (local
                    || (*g == Grain::Asn
                        && p.novelty.known_successes >= c.wide_history
                        && corroborated
                        && asn_speaks_at_home));
            if z >= zmin
                && !spray_only(&d)
                && excess >= c.min_excess
                && share_now(&d) >= share_min
                && history_ok
                && p.novelty.level() >= novelty_min
            {
                let margin = z / zmin;
                if best.is_none_or(|b| margin > b.1 / need) {
                    best = Some(grain_figures(*g, &d, (z, excess, attempts, expected)));
                    need = zmin;
                }
            }
        }
        // The site-wide excess alone does not flag: during an attack every innocent
        // new device would be. It opens the rules below, which ask for more. (The
        // cheap conditions are checked first: most successes are nobody's.)
        // (`site_hot` above: the attack was in progress when the success came.)
        let n = p.novelty;
        let mut rule = TakeoverRule::GrainExcess;
        // An address that tried other accounts (`other_accounts` above) and
        // mostly failed, during an attack, and a success unlike the owner.
        // Failures among the address's *other* attempts (the success is one of its
        // attempts): a proxy's other attempts all failed; a shared address's are
        // mostly its people's successes, even in an outage hour.
        let others_failed = ip.others_failure_share() >= c.address_failure_share;
        // About one attempt per account: a combo list's (`address_attempts_per_account`).
        // On the second trace's seed 2 (nine shapes) the takeovers' addresses made
        // 1.00–1.22 attempts an account; the innocents' 0.8–2.5, and 17 of the 18
        // without history (a marketing e-mail's returners on a CGNAT address, each
        // failing on their own dormant account, then succeeding) 1.35–2.5.
        let one_try_each = c.address_attempts_per_account <= 0.0
            || ip.day[0] <= c.address_attempts_per_account * ip.day[3].max(1.0);
        // A wrong password on another account than the one that succeeded (a
        // person's wrong passwords are on their own), an unknown account tried from
        // another browser than the one that succeeded, or a third account: more
        // than the owner's mistyped e-mail address before their success. A single
        // unknown account is not enough: at 100,000 accounts it flagged travellers
        // who mistyped on a hotel computer.
        // Unlike the owner: a new network, and a new device or a new ASN (a combo
        // list's user agents are popular browsers, so a victim's own browser comes
        // up; its ASN does not, unless the proxy sits in the victim's own) — or no
        // history at all, which the address's other attempts then speak against.
        // On an address with a past of its own (`established_address`: a CGNAT's,
        // an office's), only a history unlike on every count.
        let established =
            c.established_address > 0.0 && ip.past_attempts() >= c.established_address;
        let novel = if established {
            n.known_successes > 0 && n.new_network && n.new_device && n.new_asn
        } else {
            // No history is unlike the owner, but not while the site's first
            // sign-ins surge (`first_sign_in_surge`, `firsts.rs`): an office
            // falling back to passwords when its single sign-on fails.
            (n.known_successes == 0 && !firsts)
                || (n.new_network
                    && if c.tried_others_device_and_asn {
                        n.new_device && n.new_asn
                    } else {
                        n.new_device || n.new_asn
                    })
        };
        // Or, without any of those (an attack spread over days barely moves the
        // site, a consumer ASN or its rotated user agents: low-and-slow at 100,000
        // accounts), the success's /24 · /64 itself (`neighbours_failing` above):
        // a botnet spread over a /24's few addresses; a household's or a
        // carrier's /24 mostly succeeds and rarely mistypes an e-mail address.
        // The attack in progress: the site's window, the success's ASN, or its user
        // agent showing a combo list's excess (low-and-slow at 100,000 accounts
        // barely moves the site or a consumer ASN, but its rotated user agents
        // often do), or else its /24's other addresses failing (above).
        // Or the site's slow drift: over the last day, attempts on unknown
        // accounts well above its own earlier days (low-and-slow).
        let mut context = Corroboration::None;
        if best.is_none()
            && other_accounts
            && others_failed
            && one_try_each
            && beyond_typo
            && novel
            && !home
            && !spray_only(&ip)
        {
            let attack = if site_hot || asn_ctx || ua_ctx {
                Some(Corroboration::None)
            } else if neighbours_failing
                && (!c.neighbours_need_site
                    || abroad
                    || !self.drift.baseline_known
                    || self.drift.ratio >= c.drift_ratio)
            {
                // (`neighbours_need_site`: a carrier's /24 keeps a burst's
                // failures for a day, and its people's phones are at home.)
                Some(Corroboration::NetworkFailures)
            } else if drift
                && n.known_successes > 0
                && n.new_device
                && (!c.drift_needs_abroad
                    || abroad
                    || (c.drift_home_fresh > 0.0 && ip.fresh_share() >= c.drift_home_fresh))
            {
                // A day-long context is weaker than an hour's: only for a history
                // the success is unlike on a new device too (without these, the
                // drift left by a burst flagged the first sign-ins of accounts
                // without history and owners' own devices on a new network: 0
                // takeovers and 22 innocents over the tuning seeds). And from a
                // country new to the account (`drift_needs_abroad`), or from an
                // address whose attempts all came in a burst just now
                // (`drift_home_fresh`): a proxy's session, not a shared
                // address's day.
                Some(Corroboration::SiteDrift)
            } else if c.names_after_first_sign_in && names_after && n.known_successes == 0 && !late
            {
                // No context at all, for an account's first sign-in on record:
                // its address tried the list's next line after the hit (a
                // low-and-slow exit trying a line or two, days from any
                // window). `novel` above has excluded the site's first
                // sign-ins surging (an office's fallback). Within
                // `context_minutes` of the success: an exit tries its next
                // line within minutes; a shared address whose name came an
                // hour or a day later is its next person's typo (on the design
                // runs the rule's takeovers were judged 1–7 minutes after the
                // sign-in, its innocents 52 minutes to 6 hours).
                Some(Corroboration::NamesAfter)
            } else if names_long_before {
                // No context either, for an account's first sign-in on
                // record: its own client tried a name that does not exist
                // more than an hour before and never redeemed it — a
                // residential exit kept by one session for hours, trying a
                // list's lines now and then. A person's mistyped address
                // comes minutes before the sign-in that redeems it; another
                // browser's old name on the address is a household's or a
                // CGNAT's next person (99 innocents and 23 takeovers on the
                // design runs), not this one.
                Some(Corroboration::NamesLongBefore)
            } else {
                None
            };
            if let Some(attack) = attack {
                best = Some(address_figures(&ip));
                need = 1.0;
                rule = TakeoverRule::AddressTriedOthers;
                context = attack;
            }
        }
        // The address did nothing else, but its /24 · /64's other addresses
        // failed on other accounts at a combo list's share of unknown names, during
        // an attack in progress, and the success is on a new device from a new
        // network and ASN: a botnet's address that tries once a day. A known device
        // keeps a traveller abroad out of it (their own phone keeps its user agent),
        // and a young history (fewer than `wide_history` successes) out of it: with
        // one success every second device is new, and at 100,000 accounts
        // residential proxies land in the /24s of the site's own users (17
        // innocents and no takeover on the tuning seeds; 14 takeovers in botnet
        // and low-and-slow). And from abroad (`network_novelty_abroad`): the
        // site's own people in a /24 the proxies exit through sign in from
        // home (on seeds 41–42, 14 of the rule's 15 innocents; every takeover
        // of it came from a country new to the account).
        if best.is_none()
            && c.network_novelty
            && (abroad || !c.network_novelty_abroad)
            && n.known_successes >= c.wide_history
            && n.new_device
            && n.new_network
            && n.new_asn
            && neighbours_failing
            && (drift || site_hot || asn_ctx || ua_ctx)
        {
            let (z, _, attempts, expected) = net.excess(prior, c.min_history);
            best = Some((
                Grain::Network,
                z,
                0.0,
                attempts.max(net.day[0]),
                expected,
                net.day[1],
            ));
            need = 1.0;
            context = Corroboration::NetworkFailures;
        }
        // Novelty alone, for a mature history, while both the site and the
        // success's ASN are under attack and its user agent is one the attacker
        // rotates: a proxy address used once has nothing else to show. Not from a
        // new country: a traveller's hotel computer is that.
        if best.is_none()
            && c.window_history > 0
            && site_hot
            && n.known_successes >= c.window_history
            && n.new_device
            && n.new_network
            && n.new_asn
            && !n.new_country
            && asn_ctx
            && ua_ctx
            && !self.grains[2]
                .peek(p.keys[2])
                .is_some_and(|d| spray_only(&d))
        {
            let d = self.grains[2].peek(p.keys[2]).unwrap_or_default();
            best = Some(grain_figures(
                Grain::Asn,
                &d,
                d.excess(prior, c.min_history),
            ));
            need = c.wide_z;
            rule = TakeoverRule::AttackWindow;
        }
        // Novelty abroad while the site is under attack (`abroad_history`): a
        // residential proxy's exit used once has nothing else to show, and the
        // proxy network's pool is mostly another country than its victim's. A
        // person abroad mostly signs in on their own phone (a known device); one
        // on a borrowed or hotel computer is on a network the attack is not
        // passing through — their ASN tried no name that does not exist in
        // about the last hour (`abroad_asn_names`), where a proxy network's
        // exits, drawn from the consumer ISPs the site's people use, leave the
        // list's names. (One whose user agent is cold while the attack runs
        // through warm ones was spared above.)
        // (The novelty is the success's own and does not change; the ASN is read,
        // and kept for a later judgement, only for a success it could flag.)
        let abroad_novelty = c.abroad_history > 0
            && n.known_successes >= c.abroad_history
            && n.new_device
            && n.new_network
            && n.new_asn
            && n.new_country;
        if best.is_none() && abroad_novelty {
            let asn_names = ctx_now(CTX_ASN_NAMES, &|| {
                p.keys[2] != 0
                    && self.grains[2]
                        .peek(p.keys[2])
                        .is_some_and(|d| d.fast[1] >= c.abroad_asn_names)
            });
            if asn_names && !late {
                self.pending[idx].ctx |= CTX_ASN_NAMES;
            }
            if site_hot && asn_names && !spray_only(&ip) {
                best = Some(address_figures(&ip));
                need = 1.0;
                rule = TakeoverRule::AbroadInWindow;
            }
        }
        // A provider with none of the site's people (`peopleless_asn_share`):
        // no past, or a small past (under `peoples_network_share` of the
        // site's) mostly of names that do not exist; its other
        // attempts of about the last day mostly failed (a consumer ISP new to
        // the site mostly succeeds, its people's first day); and the attack
        // not gone from it (its last hour is not its people's again, as a
        // carrier's is hours after a burst: `failing_network_ends`). A hosting
        // provider that low-and-slow stuffing trickles through for days, each
        // of its exits signing in once: its excess is nobody else's, and
        // speaks without the corroboration an ASN otherwise needs — for an
        // account's first sign-in on record (not while the site's first
        // sign-ins surge: an office's fallback). Not for a history: a
        // traveller on a hotel computer abroad is new on every count in a
        // hosting ASN too, and the crate's own low-and-slow shape flagged two
        // such. Its excess is judged against the site's share, never its own
        // past, which is the attack's. Kept for a later judgement like the
        // other contexts.
        if best.is_none()
            && c.peopleless_asn_share > 0.0
            && p.keys[2] != 0
            && site_past >= c.min_history
            && n.known_successes == 0
            && !firsts
        {
            let d = self.grains[2].peek(p.keys[2]).unwrap_or_default();
            let (z, excess, attempts, expected) = d.excess(prior, f32::INFINITY);
            let hot = ctx_now(CTX_NO_PEOPLE, &|| {
                d.peopleless(c.peopleless_asn_share, c.peoples_network_share, site_past)
                    && d.others_failure_share() >= c.network_failure_share
                    && !d.attack_left()
                    && !spray_only(&d)
                    && z >= c.wide_z
                    && excess >= c.min_excess
                    && d.unknown_share() >= c.wide_unknown_share
            });
            if hot {
                if !late {
                    self.pending[idx].ctx |= CTX_NO_PEOPLE;
                }
                best = Some(grain_figures(
                    Grain::Asn,
                    &d,
                    (z, excess, attempts, expected),
                ));
                need = c.wide_z;
                context = Corroboration::NoPeople;
            }
        }
        let Some((grain, z, _excess, attempts, expected, unknown)) = best else {
            return;
        };
        let (site_z, ..) = self.site.excess(prior, c.min_history);
        self.pending[idx].done = true;
        let strength = ((z / need).log2() / 2.0).clamp(0.0, 1.0);
        let score = (0.5 + 0.25 * p.novelty.level() + 0.25 * strength).clamp(0.0, 1.0);
        let ip_failed = ip.day[2] >= 1.0;
        out.push(Signal {
            detector: Detector::AccountTakeover,
            kind: SignalKind::LikelyCompromised,
            account: Some(p.account),
            score,
            evidence: Evidence {
                subject: Subject::Account(p.account),
                distinct: 0,
                attempts: attempts.round() as u32,
                failures: unknown.round() as u32,
                failure_ratio: if attempts > 0.0 {
                    unknown / attempts
                } else {
                    0.0
                },
                marked: 0,
                window_start_ms: p.time_ms,
                window_end_ms: now,
                success: Some(SuccessSeen {
                    time_ms: p.time_ms,
                    source: Source::Ip(p.ip),
                    source_failed_before: ip_failed,
                }),
                takeover: Some(TakeoverEvidence {
                    grain,
                    z,
                    unknown,
                    expected_unknown: expected,
                    site_z,
                    known_successes: p.novelty.known_successes,
                    new_device: p.novelty.new_device,
                    new_network: p.novelty.new_network,
                    new_asn: p.novelty.new_asn,
                    new_country: p.novelty.new_country,
                    country: p.country,
                    rule,
                    address_accounts: ip.day[3],
                    address_failure_share: ip.failure_share(),
                    corroboration: match rule {
                        TakeoverRule::GrainExcess
                            if grain == Grain::Asn && context == Corroboration::None =>
                        {
                            corroboration
                        }
                        TakeoverRule::AddressTriedOthers => context,
                        TakeoverRule::GrainExcess => context,
                        _ => Corroboration::None,
                    },
                    site_drift: self.drift.ratio,
                    site_drifting: drift,
                    judged_after_secs: ((now - p.time_ms).max(0) / 1000) as u32,
                }),
            },
        });
    }
}
