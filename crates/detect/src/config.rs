//! Thresholds and sizes, with conservative defaults.
//!
//! All structs are `Serialize + Deserialize` with `#[serde(default)]`, so a rule in
//! TOML can carry only the values it changes. The defaults are chosen to stay quiet on
//! ordinary traffic (typos, travel, shared NAT addresses, popular passwords): each
//! detector needs *many distinct* targets *and* a failure ratio that normal users
//! do not reach, within one window.

use serde::{Deserialize, Serialize};

use crate::event::SourceGrouping;

/// When a tracked key counts as an attack.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Distinct targets in the window (accounts for stuffing and spraying, sources
    /// for distributed guessing), as estimated by the HyperLogLog.
    pub min_distinct: u32,
    /// Failed attempts in the window.
    pub min_failures: u32,
    /// Failures / attempts in the window, in `0..=1`.
    pub min_failure_ratio: f32,
}

/// How big a detector's memory is, whatever the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Capacity {
    /// Failures a key needs (count-min estimate, in the window) before it is tracked.
    pub promote_after_failures: u32,
    /// Keys tracked at once (each ~600 bytes).
    pub tracked_keys: u32,
    /// Bytes of the count-min sketch that picks the keys to track.
    pub sketch_bytes: u32,
}

impl Default for Capacity {
    fn default() -> Self {
        Capacity {
            promote_after_failures: 3,
            tracked_keys: 4096,
            sketch_bytes: 4 << 20,
        }
    }
}

/// Credential stuffing: one source, many accounts, mostly failing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StuffingConfig {
    /// Off skips the detector entirely.
    pub enabled: bool,
    /// What one source is.
    pub grouping: SourceGrouping,
    /// When a source is attacking.
    pub thresholds: Thresholds,
    /// Memory bounds.
    pub capacity: Capacity,
}

impl Default for StuffingConfig {
    fn default() -> Self {
        StuffingConfig {
            enabled: true,
            grouping: SourceGrouping::Network,
            // A household or office /24 rarely sees 20 different accounts fail; a
            // carrier NAT sees many accounts but mostly succeeding (ratio ≪ 0.8).
            thresholds: Thresholds {
                min_distinct: 20,
                min_failures: 20,
                min_failure_ratio: 0.8,
            },
            capacity: Capacity::default(),
        }
    }
}

/// Password spraying: one password digest, many accounts, mostly failing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SprayingConfig {
    /// Off skips the detector entirely.
    pub enabled: bool,
    /// When a password is being sprayed.
    pub thresholds: Thresholds,
    /// Score factor for a success with the sprayed password from a source (under
    /// the stuffing grouping) that had not failed with it in the window. Default 0:
    /// no signal, as that is most often the owner of an account whose (popular)
    /// password happens to be the sprayed one.
    pub unseen_source_factor: f32,
    /// Score factor for such a success when it is also unlike the account's
    /// history — a new device on a new network, for an account with
    /// history (needs the legacy gate's histories): a residential proxy's single
    /// try with the sprayed password, which never failed with it. An owner whose
    /// popular password is being sprayed signs in from their own device or
    /// network. 0: none.
    pub novel_unseen_factor: f32,
    /// Share of the password's failures in the window that must carry an
    /// attacker's mark — an account the site does not have, or an account with
    /// history tried from a network it never signed in from — before its
    /// successes are reported (needs the legacy gate's histories; 0: off). When an
    /// identity provider fails and a company's people fall back to passwords they
    /// never used, dozens guess the same popular one (`Welcome@123`) on their own
    /// accounts from their own offices: a spray by count, with about 1 % unknown
    /// names; a spray's list is 5–40 % stale names, and its real accounts are tried
    /// from proxies.
    pub min_marked_share: f32,
    /// A success with the password counts only if it failed on some account at
    /// most this many minutes before (0: any time in the window). A window of
    /// hours adds up a spray aimed at one company — a few dozen accounts over an
    /// afternoon — but a big spray's counts then outlast it by hours, and the
    /// people whose own popular password it was sign in after it ended; the
    /// sprayer's success comes amid its own failures.
    pub recent_failure_minutes: u32,
    /// Memory bounds.
    pub capacity: Capacity,
}

impl Default for SprayingConfig {
    fn default() -> Self {
        SprayingConfig {
            enabled: true,
            // A popular password shared by many real users mostly *succeeds*; a typo
            // is unique. 20 accounts failing with one password at ≥ 90 % is a spray.
            thresholds: Thresholds {
                min_distinct: 20,
                min_failures: 20,
                min_failure_ratio: 0.9,
            },
            unseen_source_factor: 0.0,
            novel_unseen_factor: 0.8,
            min_marked_share: 0.1,
            recent_failure_minutes: 60,
            capacity: Capacity::default(),
        }
    }
}

/// Distributed guessing: one account, many sources, mostly failing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuessingConfig {
    /// Off skips the detector entirely.
    pub enabled: bool,
    /// What one source is (default: single addresses, as botnets spread over many).
    pub grouping: SourceGrouping,
    /// When an account is under attack.
    pub thresholds: Thresholds,
    /// Score factor for a success from a source that had not failed on the account
    /// in the window: `0..=1`. Default 0: no signal, as it is most often the owner
    /// logging in from home while strangers guess (the `Attack` signal still names
    /// the account).
    pub unseen_source_factor: f32,
    /// Score factor for such a success when it is also unlike the account's
    /// history (as for spraying): the guesser's next proxy exit. 0: none.
    pub novel_unseen_factor: f32,
    /// Memory bounds.
    pub capacity: Capacity,
}

impl Default for GuessingConfig {
    fn default() -> Self {
        GuessingConfig {
            enabled: true,
            grouping: SourceGrouping::Ip,
            // An owner who travels fails from 2–3 addresses at most; 10 is an attack.
            thresholds: Thresholds {
                min_distinct: 10,
                min_failures: 10,
                min_failure_ratio: 0.8,
            },
            unseen_source_factor: 0.0,
            novel_unseen_factor: 0.8,
            capacity: Capacity::default(),
        }
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        StuffingConfig::default().thresholds
    }
}

/// Account takeover (`takeover.rs`): successes unlike the account's history while
/// some grain (address, /24·/64, ASN, user agent) or the site shows a combo list's
/// excess of unknown-account attempts. Also holds the per-account history that
/// gates the three key detectors' `LikelyCompromised` signals.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TakeoverConfig {
    /// Raise `AccountTakeover` signals.
    pub enabled: bool,
    /// Suppress the stuffing, spraying and guessing detectors' `LikelyCompromised`
    /// for a success from a device the account knows (or none sent) on a network or
    /// ASN it knows: the owner behind a busy NAT, CGNAT or an outage's retries.
    pub legacy_gate: bool,
    /// Account histories kept: buckets × 4 (power of two; 65,536 → 262,144 accounts,
    /// 56 bytes each).
    pub profile_buckets: u32,
    /// Slots per grain table (address, network, user agent; a quarter of it for
    /// ASNs; 26 bytes each — counts packed in 16-bit floats — 2-way
    /// set-associative). 131,072 hold a day of addresses at 100,000 accounts.
    pub grain_slots: u32,
    /// Half-lives of the fast, day and baseline counts, in hours.
    pub fast_half_life_hours: f32,
    /// See `fast_half_life_hours`.
    pub day_half_life_hours: f32,
    /// See `fast_half_life_hours`.
    pub baseline_half_life_hours: f32,
    /// Attempts a grain needs in its baseline before its own unknown share is used
    /// (below: the site's).
    pub min_history: f32,
    /// Unknown-account attempts over the expected a grain needs to count at all.
    pub min_excess: f32,
    /// z an address or network needs, and the novelty the success then needs.
    pub local_z: f32,
    /// See `local_z`.
    pub local_novelty: f32,
    /// z an ASN or user agent needs, and the novelty the success then needs.
    pub wide_z: f32,
    /// See `wide_z`.
    pub wide_novelty: f32,
    /// Successes an account needs in its history before an ASN may speak for it
    /// (a young history makes every second device look new).
    pub wide_history: u16,
    /// Unknown-account attempts (decayed over about a day) the success's own address
    /// or /24 · /64 needs before an ASN may speak for it. A botnet's address or
    /// network also tried names that do not exist; a traveller's hotel or an
    /// innocent's new network in the same ASN did not — without this, every new
    /// device on a new network in an attacked ASN was flagged.
    pub wide_corroboration: f32,
    /// Share of a grain's recent attempts on unknown accounts it needs (an address,
    /// network) to count: a combo list runs at 30–80 %, people at 1–2 %, a busy
    /// NAT whose users mistype now and then stays far below.
    pub local_unknown_share: f32,
    /// The same for an ASN or a user agent, diluted by its real users' traffic.
    pub wide_unknown_share: f32,
    /// Novelty below which a success is not kept for judging at all.
    pub min_novelty: f32,
    /// Successes kept for judging again (a ring).
    pub pending: u32,
    /// How long a success stays open to judging, in hours.
    pub pending_hours: u32,
    /// How often open successes are judged again, in minutes.
    pub review_minutes: u32,
    /// How long after a success the attack's *context* — its ASN's or user
    /// agent's excess, the site's window or slow drift — may still be found, in
    /// minutes. Later, a success is judged again only on its own source's evidence
    /// (its address or /24 · /64 trying others) with the context it came in: an
    /// attack that begins hours after a person's sign-in says nothing about that
    /// sign-in (on the blind trace, 32–55 innocents per run were sign-ins made
    /// 0.5–12 hours before the burst they were blamed on). 0: no bound.
    pub context_minutes: u32,
    /// The site's unknown-account excess (z) that opens an attack-in-progress
    /// window ([`crate::takeover::AttackWindow`]); it closes below half of it.
    /// During one, an address that tries other accounts is suspect (below).
    pub site_z: f32,
    /// Accounts (decayed over about a day) the success's address must have tried
    /// for [`crate::TakeoverRule::AddressTriedOthers`]: 2 is the success's account
    /// and one other. A person's address tries their own account; a residential
    /// proxy's fresh address tries a new one with every attempt.
    pub address_accounts: f32,
    /// Share of that address's attempts that failed (a combo list fails 97–99 %
    /// of the time; a carrier's CGNAT address, which also tries many accounts, is
    /// mostly its users' successes, even in an outage hour).
    pub address_failure_share: f32,
    /// Successes an account needs before [`crate::TakeoverRule::AttackWindow`]
    /// may flag it on novelty alone (new device, network and ASN) while the site
    /// and the success's ASN are under attack; 0 (the default): never. Novelty
    /// alone is a person's new phone on their own carrier as often as a
    /// residential proxy inside it: over the five traces' 89 runs at 20,000
    /// accounts (fourteenth pass), at 3 (the former default) the rule flagged 39
    /// takeovers and 101 innocents, 32 and 100 of them found by no other rule.
    pub window_history: u16,
    /// Successes an account needs before [`crate::TakeoverRule::AbroadInWindow`]
    /// may flag it on novelty alone while the site's attack-in-progress window
    /// is open: a new device, network, ASN *and country* (0: never). A
    /// residential proxy's exit is drawn from the proxy network's pool, mostly
    /// another country than the victim's; a person's first sign-in abroad is
    /// usually on their own phone (a known device). Its innocents are
    /// travellers on a borrowed or hotel computer, a relative abroad sharing
    /// the account, a VPN exit abroad — during an attack window only. At 1, on
    /// the twenty-first pass's 24 design runs, 42 more innocents for 12 more
    /// takeovers than at 2: with one success on record every second device is
    /// new.
    pub abroad_history: u16,
    /// Names that do not exist (decayed over about an hour) the success's ASN
    /// must have tried for [`crate::TakeoverRule::AbroadInWindow`]: the attack
    /// passing through the network the success came from. A residential proxy
    /// network exits through the consumer ISPs the site's people use, and leaves
    /// the list's names there; a traveller's hotel or roaming network abroad
    /// rarely carries the attack (on the traces' runs 18 of 30 such innocents'
    /// ASNs had tried none in the hour, 8 of about 100 takeovers').
    pub abroad_asn_names: f32,
    /// An address that tried a name the site does not have only *after* the
    /// success counts as having tried more than the owner's mistyped e-mail
    /// address, for [`crate::TakeoverRule::AddressTriedOthers`]: a person's
    /// typo of their own address comes before the success it is redeemed by,
    /// a list's next line after its hit (a residential exit trying one or two
    /// lines seconds apart).
    pub names_after_success: bool,
    /// An account's first sign-in on record whose address then tried a name the
    /// site does not have (`names_after_success`), its other attempts mostly
    /// failing, is a list's hit without any attack in progress
    /// ([`crate::Corroboration::NamesAfter`]): an attack spread over days opens
    /// no window and barely moves an ASN or a user agent, and its exits try a
    /// line or two. A person's mistyped address comes before their success; a
    /// household's address that tries another account after one's sign-in
    /// mostly succeeds. The name must come within `context_minutes` of the
    /// success (an exit's next line comes in minutes; a shared address's next
    /// person's typo an hour or a day later). Only for accounts without
    /// history: with one, the success's novelty has its own rules, and an
    /// address that tried a name after the success, from the same browser,
    /// with no other account succeeding there, was a person's 45 times and an
    /// attacker's 7 on the low-and-slow runs of seed 41
    /// (`eval/lib/exit_lines.py`).
    pub names_after_first_sign_in: bool,
    /// An account's first sign-in on record whose address had tried a name the
    /// site does not have from the same browser more than about an hour
    /// before, without that name being redeemed (the same client then getting
    /// into an account its wrong password was on), its other attempts mostly
    /// failing, is a list's hit without any attack in progress
    /// ([`crate::Corroboration::NamesLongBefore`]): a residential exit is
    /// handed to the same session for hours and tries a line now and then; a
    /// person's mistyped e-mail address comes minutes before the sign-in it is
    /// redeemed by. On 45 design runs of seeds 41–44 (exact counts over the
    /// events), a first sign-in whose address's last such name
    /// came from its browser over an hour before, every other attempt there
    /// failing, was the attacker's 62 times and a person's never; from another
    /// browser (a household's or a CGNAT's next person) a person's 99 times
    /// and an attacker's 23.
    pub names_long_before_first_sign_in: bool,
    /// Successes an account needs in its history before an ASN corroborated by
    /// nothing but the success's user agent may speak for a sign-in from its own
    /// country, by an address that tried no other account (0: no such need). A
    /// residential-proxy network exits through the very consumer ISPs the site's
    /// people use, with the browsers they use: the ISP's and the browser's
    /// excess is then all that speaks, and for a young history (a person who
    /// signed in on their phone, now on the laptop at home) every device and
    /// network is new. From abroad, or an address that also tried other
    /// accounts, the rule is unchanged. On the twenty-third pass's design runs
    /// (seeds 41–43, the four traces' residential), the ASN arm at home with
    /// fewer than 5 successes and a silent address flagged 9 takeovers and 34
    /// innocents; with 5 or more, 18 and 12.
    pub asn_home_history: u16,
    /// The share of the site's attempts before the last day (decayed over about
    /// three days) at which a /24 · /64 is the site's people's own network —
    /// a carrier's CGNAT pool — whose excess of names that do not exist, that of
    /// its addresses, and its addresses failing on other accounts (the context
    /// `network_failures` gives) do not speak against a success on their own
    /// (0: never; and never for a /24 with fewer than 50 such attempts). A 4G
    /// proxy network exiting through the pool a third of the site's phones
    /// share makes the pool's /24s and addresses hot, and its people's
    /// sign-ins there are no more the attacker's than before; the address's
    /// other accounts (`address_tried_others`), the ASN with its corroboration
    /// and the other detectors still speak. A share, not a count, so the same
    /// pool is the same at any size — as long as the site sees as much of it:
    /// the second trace's carrier pool is 8 /24s at 20,000 accounts (1–3 % of
    /// the site's past each) and 28 at 100,000 (about 1 %). On the
    /// twenty-third pass's design runs (seeds 41–43), network findings on such
    /// /24s were all in the carrier's pool (34 takeovers, 32 of them found by
    /// another rule too, and 25 innocents); a botnet's and a residential
    /// proxy's /24s held under 0.3 %.
    pub peoples_network_share: f32,
    /// The share of names that do not exist in an ASN's past (its attempts
    /// before about the last day) at or above which that past is an attack's,
    /// not people's (0: off). An ASN with no past at all, or a small one (under
    /// `peoples_network_share` of the site's past) mostly of a list's names,
    /// carries none of the site's people; if its other attempts of about the
    /// last day mostly failed too (`network_failure_share`) and the attack has
    /// not left it, its excess of names that do not exist speaks for an
    /// account's first sign-in on record without the history and the
    /// corroboration an ASN otherwise needs. A consumer ISP's or a carrier's
    /// excess is shared by its people; a hosting provider that low-and-slow
    /// stuffing trickles through for days has none, and each of its exits
    /// signs in once. Not for an account with a history: a traveller on a
    /// hotel computer is new on every count in a hosting ASN too. The excess
    /// is judged against the site's share, never the ASN's own past (the days
    /// of such an attack must not become its baseline), and only once the
    /// site has `min_history` attempts of past (before that every ASN has
    /// none).
    pub peopleless_asn_share: f32,
    /// Failures and accounts (each decayed over about a day) at which the
    /// success's /24 · /64 counts as *failing on other accounts*: a botnet spread
    /// over a /24's few addresses, each trying an account or two, fails on many
    /// accounts there; a household's /24 tries its own and mostly succeeds, even
    /// in an outage hour. It corroborates a hot ASN (besides the address's or the
    /// network's unknown accounts and the user agent); counted beyond the
    /// address's own failures, it is also the attack's context for
    /// [`crate::TakeoverRule::AddressTriedOthers`] when no site window, ASN or
    /// user agent shows one (an attack spread over days); 0: never.
    pub network_failures: f32,
    /// The site's slow drift (`takeover/drift.rs`): the excess (z) of its
    /// unknown-account attempts over the last 24 hours against the lower median
    /// of its earlier days' share, which opens a drift period — an attack in
    /// progress for an address that tried other accounts
    /// ([`crate::TakeoverRule::AddressTriedOthers`]) or a /24 · /64 failing on
    /// other accounts (`network_novelty`), not by itself; 0: never.
    pub drift_z: f32,
    /// The ratio of that share to the baseline the drift also needs: on a big
    /// site a tiny day-to-day change is many standard deviations.
    pub drift_ratio: f32,
    /// The drift also needs the unknown share of the day's *failures* at this
    /// multiple of the earlier days' (0: not asked). A combo list's failures
    /// are 30–80 % names the site does not have; a day when people fail more
    /// (a mandatory password change, an outage, a patch that signs everyone
    /// out) raises the unknown share of attempts with their mistyped and
    /// forgotten addresses, but lowers it among failures: on the fourth trace's
    /// forced change the drift opened at 2.4× and flagged a quiet day's sign-in.
    pub drift_failure_ratio: f32,
    /// Leave the hours in which an attack-in-progress window was open out of
    /// the drift's trailing day: a burst has its window, and a drift is what the
    /// windows do not explain. Without this a four-hour proxy burst kept the
    /// drift open for the day after it (second trace, `mobile_proxy`, seed 2:
    /// 23 of the carrier's people flagged 9–21 hours after the burst, on a new
    /// phone from an address the proxies had used).
    pub drift_outside_windows: bool,
    /// Flag a success whose address did nothing else when its /24 · /64's *other*
    /// addresses failed on other accounts (`network_failures`, at a combo list's
    /// share of unknown names) during an attack in progress (a window, the ASN,
    /// the user agent or the site's drift), on a new device, network and ASN for
    /// an account with history: a botnet's address that tries once a day.
    pub network_novelty: bool,
    /// ...and only from a country new to the account, or one the event does
    /// not say (`network_novelty_abroad`): a residential proxy network's exits
    /// land in the consumer ISPs' /24s the site's own people sign in from, and
    /// those people's new phone at home is then "a silent address in a failing
    /// /24". On the traces' runs of seeds 41–42 the rule's 5 takeovers were all
    /// from a country new to the account, 14 of its 15 innocents from their own.
    pub network_novelty_abroad: bool,
    /// An attack's context ends when it leaves a grain: the address, network,
    /// ASN and user agent speak (as the excess of `grain_excess`, or as an ASN's
    /// or user agent's attack context) only while their unknown-account share
    /// over about the last hour shows the combo list, not their day-long share
    /// (the excess itself may still be the day's: low-and-slow adds up). A busy
    /// grain — a carrier's CGNAT /24 or ASN — falls back to its people's share
    /// within hours of a burst; with the day's share it kept it for a day and
    /// flagged its users 10–45 h after the attack (second trace, `mobile_proxy`).
    pub context_ends: bool,
    /// The attack-in-progress window — and an ASN's attack context — also need
    /// the unknown-account share over the last hour to reach this multiple of
    /// the site's (the ASN's) own long-run share: a z-score grows with the
    /// square root of the volume, and a promotion brings back thousands of
    /// people and their mistyped or other addresses, many standard deviations
    /// at a few times the usual share (second trace: 5.7 % against 1.3 %); a
    /// combo list is 30–80 % unknown names. 0: no share floor.
    pub site_share_ratio: f32,
    /// For [`crate::TakeoverRule::AddressTriedOthers`], a success with history
    /// is unlike the owner only on a new device *and* from a new network and
    /// ASN (false: a new network and a new device *or* ASN). A carrier's user on
    /// a new phone in another /24 of their own carrier, or on their own phone
    /// abroad, is not the attacker, and behind a shared CGNAT address their
    /// neighbours' failures make the address look like a proxy's. Off by
    /// default: on the crate's residential shape (popular browsers, proxies in
    /// the site's own consumer ASNs) it cost 11 of 233 takeovers on seeds 1–5
    /// (recall 0.95 → 0.90) for no innocent fewer there.
    pub tried_others_device_and_asn: bool,
    /// A /24 · /64 (as `grain_excess`'s grain) and an IPv6 /48 speak only when
    /// this share of their other attempts over about the last day failed: a
    /// carrier's or an ISP's CGNAT /24 that residential proxies exit through is
    /// mostly its people's successes; a botnet's, a proxy provider's or a
    /// hosting tenant's block fails on nearly everything. 0: no floor.
    pub network_failure_share: f32,
    /// The address, as `grain_excess`'s grain, also speaks only when
    /// `network_failure_share` of its other attempts failed: an address that
    /// signs in to many accounts and mostly succeeds — a payment-initiation
    /// service signing in for its customers, a carrier's CGNAT address — shows a
    /// combo list's unknown-name *count* on a busy day (its customers' mistyped
    /// addresses) but not its failures; a proxy's or a botnet's address fails on
    /// nearly everything it tries.
    pub address_mostly_fails: bool,
    /// For [`crate::TakeoverRule::AddressTriedOthers`]: an address with at least
    /// this many attempts (decayed, about 3 days) *before* the last day — at the
    /// default 0.5, about one attempt one to three days ago, or a few over the last
    /// day — is an address with a past — a carrier's CGNAT address, an office's or a gateway's
    /// NAT — where neighbours' failures on other accounts are the everyday, and a
    /// promotion's or an outage's failing returners make it look like a proxy's.
    /// On it a success is unlike the owner only for an account with history, on a
    /// new network, device *and* ASN (a first sign-in there is a new colleague's or
    /// a returner's). A residential proxy's exit is new to the site. 0: off.
    pub established_address: f32,
    /// For [`crate::TakeoverRule::AddressTriedOthers`]: the most attempts an
    /// account (decayed over about a day) the success's address may have made. A
    /// combo list tries each credential once, so a stuffing or spraying address
    /// makes about one attempt per account; people behind a shared address — a
    /// carrier's CGNAT address when a marketing e-mail brings dormant accounts
    /// back, an office's — retry their own accounts after a wrong password. 0: off.
    pub address_attempts_per_account: f32,
    /// A spray speaks only for its own passwords: a grain (address, /24 · /64,
    /// ASN, user agent, /48) whose failures over about the last day were at
    /// least this share on sprayed passwords (`sprayed_password_accounts`) does
    /// not speak — as an excess, as an attack's context or as corroboration —
    /// against a success whose password was not tried on other accounts
    /// (`success_password_accounts`). A spray's attacker knows the sprayed
    /// passwords and no other: a success with the person's own password, behind
    /// an address or network the spray's proxies also used (a carrier's, an
    /// office's, a residential ISP's), is not the sprayer's. Only for successes
    /// that carry a password digest. 0: off.
    pub sprayed_share: f32,
    /// Accounts the site has (decayed over about a day) a password must have
    /// failed on for a failure with it to count as sprayed. A person's wrong or
    /// stale password fails on their own account; a spray's on thousands.
    pub sprayed_password_accounts: f32,
    /// The success's password is the spray's (and `sprayed_share` does not
    /// apply) when it failed on at least this many accounts (decayed over about
    /// a day): a spray aimed at one company tries a few dozen accounts with the
    /// company's name, not thousands.
    pub success_password_accounts: f32,
    /// A wrong password that is the one the account last signed in with is the
    /// site failing, not a wrong password: an outage logged as wrong passwords,
    /// a password manager retrying a password just changed elsewhere. The
    /// stuffing, spraying and guessing trackers skip it; the takeover detector
    /// counts it only at its address, as an attempt on the person's own account
    /// that did not fail (people retry their accounts; a combo list tries each
    /// credential once). An attacker's wrong password is never the account's own: with
    /// the right one the attempt succeeds. Only for events with a password
    /// digest, against the account's last success with one (an 8-bit tag kept in
    /// its history). At 100,000 accounts a common password is dozens of people's
    /// own, and in an outage it "failed" on 20–30 accounts: a spray.
    pub own_password_failures: bool,
    /// A success judged after the fact (more than `context_minutes` after it
    /// came) is not blamed on its /24 · /64 or IPv6 /48 — their excess of names
    /// that do not exist, or their other addresses failing on other accounts
    /// (`network_failures`) — if that network was its people's when the success
    /// came (a few other attempts that day, mostly successes) and no attack was
    /// in progress then (no site window, hot ASN or user agent, or drift). A carrier's CGNAT
    /// /24 that rented 4G proxies exit through hours later is a later attack's,
    /// not the sign-in's: on the second trace's `mobile_proxy` (seed 2) 72
    /// innocents who had signed in 1–5 hours before the proxies came were
    /// blamed on their /24's later counts, against 5 takeovers (all of them also
    /// found by the stuffing detector). A botnet's /24 trying accounts for days
    /// was failing already when its success came.
    pub late_network_needs_context: bool,
    /// A /24 · /64 whose other addresses failed on other accounts
    /// (`network_failures`) stops counting as an attack in progress — the
    /// context of `AddressTriedOthers` and `network_novelty` — once the attack
    /// has left it: its last hour's other attempts are a few, hold less than
    /// about one name that does not exist and under half the day's share of
    /// them (`Decayed::attack_left`). It still corroborates an ASN hot now. Its
    /// day-long counts keep a proxy burst's failures for a day; on the second
    /// trace's `mobile_proxy` (seed 2) the carrier's people signing in 9–21 hours
    /// after the burst, on new phones or from new /24s of its pool, were blamed
    /// on it (22 innocents).
    pub failing_network_ends: bool,
    /// A /24 · /64's names that do not exist corroborate a success (the
    /// `NetworkUnknown` corroboration of an ASN's excess) only if its other
    /// attempts mostly failed (`network_failure_share`), as the network needs
    /// to speak by itself. A carrier's or an ISP's CGNAT /24 that residential
    /// proxies exit through for days carries the combo list's names *and* its
    /// people's successes, and their new phones there are not the attacker's; a
    /// proxy provider's or a cheap cloud's /24 fails on nearly everything. On
    /// the fifth trace's `low_and_slow` (seed 1) 15 innocents were flagged on
    /// this corroboration, from /24s whose other attempts failed 17–57 %.
    pub unknown_network_fails: bool,
    /// The same for the success's own address (the `AddressUnknown`
    /// corroboration): a carrier's CGNAT address on a marketing e-mail's evening
    /// carries its returners' mistyped addresses and their successes. On the
    /// second trace's quiet days at 100,000 accounts (seed 16) three people's new
    /// phones were flagged on it, on addresses whose other attempts had failed
    /// 29–55 %; over the five traces' 89 runs at 20,000 accounts it changed no
    /// takeover found (the backtests' run-to-run variation aside).
    pub unknown_address_fails: bool,
    /// A success from the owner's own device at home — a user agent the account
    /// signed in with, from a country it signed in from (both sent) — on a new
    /// network is not flagged by the weaker rules: a network's excess
    /// (`GrainExcess` at the /24 · /64), `AddressTriedOthers`, and the stuffing
    /// detector's successes. Their phone off the home Wi-Fi lands on the
    /// carrier's CGNAT, which a 4G proxy network also exits through; the
    /// address's and the /24's failures are the proxies', not theirs. An
    /// address's, an ASN's or a user agent's own combo-list excess still
    /// speaks, and a user agent hot with one (the attacker sending the site's
    /// most common browser string) excuses nothing. On the five traces' 89
    /// runs at 20,000 accounts it spared 142 innocents (all in a carrier or
    /// CGNAT class of their trace's truth; 80 on the second trace's
    /// `mobile_proxy`) and
    /// lost 10 takeovers, whose attacker had sent the victim's own browser
    /// string from the victim's country.
    pub own_device_home: bool,
    /// The /24 · /64's failing neighbours (`network_failures`), when no site
    /// window, ASN or user agent shows an attack, are the context of
    /// `AddressTriedOthers` only for a success from a country new to the
    /// account, or while the site's trailing day (its attack windows left out)
    /// holds more names that do not exist than its earlier days (`drift_ratio`;
    /// the drift's z is not asked; before the drift has earlier days to weigh
    /// against, as without the switch). A low-and-slow list raises the site's day;
    /// a carrier's CGNAT /24 keeps a 4G proxy burst's failures for a day after
    /// it, while the site's day is back to its usual share, and its people's
    /// new phones there are at home. On the five traces' 89 runs at 20,000
    /// accounts the neighbours alone, without either, had flagged 25 people
    /// (second trace `mobile_proxy`: 23) and no takeover.
    pub neighbours_need_site: bool,
    /// An address's or a /24 · /64's names that do not exist — a few, at most
    /// four — do not speak against another client's success there once the
    /// client that tried them got into the account its wrong password was on
    /// (*redeemed* them): a person who mistyped their address, then their
    /// password, on a CGNAT address others share. A combo list tries each
    /// account once and has more names than that. On the second trace's quiet
    /// days at 100,000 accounts (seed 15) a returner failed four times on their
    /// own account, tried a variant of their address twice and got in, all
    /// from one phone; another person's new phone there a minute later was
    /// flagged on those names.
    pub redeemed_typos: bool,
    /// The site's slow drift alone (the `SiteDrift` context of
    /// `AddressTriedOthers`, when no window, ASN, user agent or failing /24
    /// shows an attack) speaks only for a success from a country new to the
    /// account (or an event without one). A day-long context is the weakest:
    /// on the five traces' 89 runs at 20,000 accounts, the successes it alone
    /// flagged from the account's own country were 54 innocents (a carrier's
    /// and a household's addresses that a low-and-slow list also passed
    /// through) and 13 takeovers; from a new country, 49 takeovers and none.
    pub drift_needs_abroad: bool,
    /// With `drift_needs_abroad`, the site's drift still speaks for a success
    /// from the account's own country when the success's address made its
    /// attempts in a burst: the share of its last day's attempts (the 1-day
    /// half-life count) that its last hour's (the 1-hour one) still holds is at
    /// least this — 0.85 is an address whose attempts are, on average, about a
    /// quarter of an hour old; a second attempt half an hour before the success
    /// is just under. A proxy's exit tries its few accounts in minutes; the
    /// carrier's and the household's addresses that the drift had flagged had
    /// been used through the day. 0 turns it off (only a new country then).
    pub drift_home_fresh: f32,
    /// A success through a *cold* user agent — one with a past at the site
    /// (at least 20 attempts over about the last day) and no combo list's
    /// share of names that do not exist (under `wide_unknown_share`, over
    /// both the hour and the day) — is not flagged, by the takeover detector
    /// or the stuffing detector, while at least this share of the site's
    /// attempts on unknown accounts over about the last hour (at least 20 of
    /// them) came through user agents *warm* with a combo list's excess
    /// (the `ua_ctx` bar: the wide z, a local grain's share). An attack whose
    /// rotated browser strings show it, as nearly every list's do, is not
    /// the people who sign in with another browser behind the same CGNAT,
    /// office or ISP addresses. An attack that mimics the site's own mix of
    /// browsers shows no warm user agent, and nothing is spared then; one
    /// that sends a part of its list through the site's popular browsers
    /// loses that part's takeovers to this (measured in BENCHMARKS.md). 0
    /// turns it off.
    pub cold_client_share: f32,
    /// A success of an account with no earlier successful sign-in is not, by
    /// that alone, unlike its owner (for `address_tried_others`, the rule that
    /// judges such a success by its address) while the site's first sign-ins
    /// surge: over about the last quarter of an hour, at a rate of at least 50
    /// an hour, this multiple of the site's own usual rate (its three-day
    /// baseline), and at least half the rate of its attempts on unknown
    /// accounts; at every judgement of the success, not once. A single sign-on outage whose staff fall
    /// back to passwords, an onboarded tenant's first morning, a marketing
    /// e-mail's returners sign in for the first time by the hundred in an
    /// hour, mistyping, from shared addresses; an attack's own takeovers of
    /// accounts without history come a few an hour among its many unknown
    /// names. The grains' own excess still speaks for such a success; a
    /// takeover of an account without history, by an address that shows no
    /// excess of its own, during such a surge is lost to this (measured in
    /// BENCHMARKS.md). 0 turns it off.
    pub first_sign_in_surge: f32,
}

impl Default for TakeoverConfig {
    fn default() -> Self {
        TakeoverConfig {
            enabled: true,
            legacy_gate: true,
            profile_buckets: 1 << 16,
            grain_slots: 1 << 17,
            fast_half_life_hours: 1.0,
            day_half_life_hours: 24.0,
            baseline_half_life_hours: 72.0,
            min_history: 200.0,
            min_excess: 2.0,
            local_z: 5.0,
            local_novelty: 0.4,
            wide_z: 8.0,
            wide_novelty: 0.8,
            wide_history: 2,
            wide_corroboration: 0.9,
            local_unknown_share: 0.15,
            wide_unknown_share: 0.05,
            min_novelty: 0.4,
            pending: 8192,
            pending_hours: 6,
            review_minutes: 5,
            context_minutes: 15,
            site_z: 8.0,
            address_accounts: 1.5,
            address_failure_share: 0.6,
            window_history: 0,
            abroad_history: 2,
            abroad_asn_names: 0.5,
            names_after_success: true,
            names_after_first_sign_in: true,
            names_long_before_first_sign_in: true,
            asn_home_history: 5,
            peoples_network_share: 0.005,
            peopleless_asn_share: 0.3,
            network_failures: 2.5,
            drift_z: 8.0,
            drift_ratio: 1.25,
            drift_failure_ratio: 1.5,
            drift_outside_windows: true,
            network_novelty: true,
            network_novelty_abroad: true,
            context_ends: true,
            site_share_ratio: 6.0,
            tried_others_device_and_asn: false,
            network_failure_share: 0.6,
            address_mostly_fails: true,
            established_address: 0.5,
            address_attempts_per_account: 1.3,
            sprayed_share: 0.5,
            sprayed_password_accounts: 20.0,
            success_password_accounts: 3.0,
            own_password_failures: true,
            late_network_needs_context: true,
            failing_network_ends: true,
            unknown_network_fails: true,
            unknown_address_fails: true,
            own_device_home: true,
            neighbours_need_site: true,
            redeemed_typos: true,
            drift_needs_abroad: true,
            drift_home_fresh: 0.85,
            cold_client_share: 0.8,
            first_sign_in_surge: 4.0,
        }
    }
}

/// All the detectors.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Sliding window length in seconds, kept as two half-window buckets: counts
    /// cover between half of it and all of it.
    pub window_secs: u32,
    /// Credential stuffing.
    pub stuffing: StuffingConfig,
    /// Password spraying.
    pub spraying: SprayingConfig,
    /// Distributed guessing.
    pub guessing: GuessingConfig,
    /// Account takeover, and the account histories that gate the others.
    pub takeover: TakeoverConfig,
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            window_secs: 3600,
            stuffing: StuffingConfig::default(),
            spraying: SprayingConfig::default(),
            guessing: GuessingConfig::default(),
            takeover: TakeoverConfig::default(),
        }
    }
}

impl DetectConfig {
    /// Half the window in milliseconds (at least 1).
    pub fn half_window_ms(&self) -> i64 {
        (i64::from(self.window_secs) * 500).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_config_keeps_defaults_for_the_rest() {
        let c: DetectConfig = serde_json::from_str(
            r#"{"window_secs": 600, "stuffing": {"grouping": "asn", "thresholds": {"min_distinct": 50}}}"#,
        )
        .unwrap();
        assert_eq!(c.window_secs, 600);
        assert_eq!(c.stuffing.grouping, SourceGrouping::Asn);
        assert_eq!(c.stuffing.thresholds.min_distinct, 50);
        assert_eq!(c.stuffing.thresholds.min_failure_ratio, 0.8);
        assert_eq!(c.spraying, SprayingConfig::default());
        let back: DetectConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let r: Result<DetectConfig, _> = serde_json::from_str(r#"{"windw_secs": 600}"#);
        assert!(r.is_err());
    }
}
