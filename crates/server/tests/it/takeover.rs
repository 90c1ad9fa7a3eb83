//! The account-takeover rule end to end, on both engines: three days of ordinary
//! sign-ins, then credential stuffing spread thin over 40 /24s (a dozen attempts
//! each, under the stuffing rule's 20 accounts per /24), the monitor's state
//! rebuilt from history as after a restart, and findings that explain themselves.
//! The shipped stuffing rule sees nothing; the takeover rule flags exactly the
//! accounts the botnet opened, not the owner signing in from home, nor a
//! traveller on their own phone abroad.

use std::time::Duration;

use crate::support::*;
use gatehouse_server::app::monitor::Monitor;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PW: &str = "correct horse battery staple";
const PHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Safari/604.1";

struct Ev<'a> {
    who: String,
    ip: String,
    asn: u32,
    ua: &'a str,
    country: &'a str,
    outcome: &'a str,
    ago_secs: u64,
}

fn json_of(t: &TestApp, e: Ev<'_>) -> Value {
    json!({
        "time": t.app.clock.now().minus(Duration::from_secs(e.ago_secs)).to_rfc3339(),
        "account": e.who,
        "ip": e.ip,
        "asn": e.asn,
        "user_agent": e.ua,
        "country": e.country,
        "outcome": e.outcome,
    })
}

both_engines!(
    the_takeover_rule_catches_stuffing_spread_thin_and_spares_the_owners,
    |t: TestApp| async move {
        t.app.install_rules().await.unwrap();
        let (_op, key) = t.app.create_operator("ops@example.com").await.unwrap();
        let key = key.expose().to_string();
        let people: Vec<String> = (0..60).map(|i| format!("p{i}@example.com")).collect();
        let hash = t
            .app
            .hasher
            .hash_now(PW, &gatehouse_domain::OsEntropy)
            .unwrap();
        let lines: String = people
            .iter()
            .map(|p| format!("{}\n", json!({"email": p, "password_hash": hash})))
            .collect();
        t.app
            .import_accounts(lines.as_bytes(), 100, |_| {})
            .await
            .unwrap();

        // Three days of sign-ins: each person from home (their own /24 in a
        // consumer ASN), on their own phone, twice a day; a few typos.
        let home = |i: usize| format!("10.{}.{}.5", 1 + i / 200, i % 200);
        let mut evs = Vec::new();
        for (i, p) in people.iter().enumerate() {
            for k in 0..6u64 {
                let ago = 3 * 86_400 - k * 12 * 3600 - i as u64 * 60;
                if i % 5 == 0 {
                    evs.push((p.clone(), home(i), 64600, PHONE, "wrong_password", ago + 20));
                }
                evs.push((p.clone(), home(i), 64600, PHONE, "success", ago));
            }
        }
        // The botnet, in the last half hour: 40 /24s in 8 ASNs, 12 attempts per
        // /24 (a combo list: two thirds unknown addresses); three victims open,
        // each from a /24 that also tried unknown addresses, on a browser the
        // victim never used.
        let victims = ["p7@example.com", "p21@example.com", "p44@example.com"];
        let bot_ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0";
        let mut combo = 0;
        for n in 0..40u32 {
            for k in 0..12u32 {
                let ip = format!("198.{}.{}.{}", 18 + n % 2, n, 10 + k);
                let asn = 65000 + n % 8;
                let ago = 1800 - u64::from(n * 12 + k) * 3;
                let (who, outcome) = if k % 3 == 2 {
                    (people[(n * 3 + k) as usize % 60].clone(), "wrong_password")
                } else {
                    combo += 1;
                    (format!("combo{combo}@example.net"), "unknown_account")
                };
                evs.push((who, ip, asn, bot_ua, outcome, ago));
            }
        }
        for (j, v) in victims.iter().enumerate() {
            let n = 5 + 10 * j as u32;
            evs.push((
                v.to_string(),
                format!("198.{}.{n}.99", 18 + n % 2),
                65000 + n % 8,
                bot_ua,
                "success",
                600,
            ));
        }
        // During the attack: p3 signs in from home; p30 from abroad, on their phone.
        evs.push((
            "p3@example.com".into(),
            home(3),
            64600,
            PHONE,
            "success",
            900,
        ));
        evs.push((
            "p30@example.com".into(),
            "172.20.9.9".into(),
            64700,
            PHONE,
            "success",
            800,
        ));
        let mut json_evs: Vec<Value> = evs
            .into_iter()
            .map(|(who, ip, asn, ua, outcome, ago_secs)| {
                let country = if who == "p30@example.com" && ago_secs == 800 {
                    "PT"
                } else {
                    "NL"
                };
                json_of(
                    &t,
                    Ev {
                        who,
                        ip,
                        asn,
                        ua,
                        country,
                        outcome,
                        ago_secs,
                    },
                )
            })
            .collect();
        json_evs.sort_by(|a, b| a["time"].as_str().cmp(&b["time"].as_str()));
        for chunk in json_evs.chunks(1000) {
            let r = t
                .post_json_auth("/api/v1/events/login", &key, &json!({ "events": chunk }))
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        }

        // The events were imported before the monitor ever ran: its first pass
        // finds history older than the live window and says so; the rebuild that
        // follows (as `serve` does) learns it in time order.
        let mut monitor = Monitor::start(t.app.clone()).await.unwrap();
        let first = monitor.pass().await.unwrap();
        assert!(first.late_history > 0, "{first:?}");
        let rebuilt = monitor.rebuild().await.unwrap();
        assert!(rebuilt.warmed_up > 0 && rebuilt.events > 0, "{rebuilt:?}");

        let r = t.get_auth("/api/v1/admin/findings", &key).await;
        let findings: Vec<Value> = r.json().await.unwrap();
        let mut flagged: Vec<(&str, &str)> = findings
            .iter()
            .map(|f| (f["rule"].as_str().unwrap(), f["email"].as_str().unwrap()))
            .collect();
        flagged.sort();
        flagged.dedup();
        let mut want: Vec<(&str, &str)> =
            victims.iter().map(|v| ("account-takeover", *v)).collect();
        want.sort();
        assert_eq!(flagged, want, "{findings:#?}");
        // The backtest of the same rule over the same events judges as the
        // live monitor did (it learns the history before its period the same way).
        let since = t
            .app
            .clock
            .now()
            .minus(Duration::from_secs(3600))
            .to_rfc3339();
        let r = t
            .post_json_auth(
                "/api/v1/admin/rules/account-takeover/backtest",
                &key,
                &json!({"since": since, "limit": 100}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let report: Value = r.json().await.unwrap();
        let mut backtested: Vec<&str> = report["flagged"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["email"].as_str().unwrap())
            .collect();
        backtested.sort();
        let mut live: Vec<&str> = victims.to_vec();
        live.sort();
        assert_eq!(backtested, live, "{report:#}");
        // The sources judged attacking are the grains behind the findings.
        let sources = report["sources"].as_array().unwrap();
        assert_eq!(sources.len(), 3, "{report:#}");
        assert!(
            sources
                .iter()
                .all(|s| s["failures"].as_u64().unwrap() > 0 && s["why"].as_str().is_some()),
            "{report:#}"
        );
        assert!(
            !report["detector_windows"].as_array().unwrap().is_empty(),
            "the detector saw the attack in progress: {report:#}"
        );
        assert_eq!(
            report["attack_windows"].as_array().unwrap().len(),
            1,
            "{report:#}"
        );
        for f in &findings {
            let ev = &f["evidence"];
            assert_eq!(ev["detector"], "account_takeover");
            assert_eq!(ev["history"]["new_device"], true, "{ev}");
            assert!(ev["z"].as_f64().unwrap() >= 5.0, "{ev}");
            let why = ev["explanation"].as_str().unwrap();
            assert!(
                why.contains("signed in successfully from 198.")
                    && why.contains("addresses that do not exist"),
                "{why}"
            );
        }
    }
);
