//! `gatehouse oidc …` as an operator runs it, on SQLite and PostgreSQL:
//! registering apps (secret shown once), clear refusals of bad input,
//! rotation, disabling, and the signing keys.

use crate::support::*;

#[tokio::test]
async fn clients_and_keys_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    for db in databases(dir.path()).await {
        let run = |args: &[&str]| {
            let o = gatehouse(dir.path(), &db, args);
            let (out, err) = text(&o);
            (o.status.success(), out, err)
        };
        // Bad input is refused with the reason, and nothing is stored.
        let (ok, _, err) = run(&[
            "oidc",
            "client",
            "create",
            "shop",
            "--name",
            "Shop",
            "--redirect-uri",
            "http://shop.example/cb",
        ]);
        assert!(!ok);
        assert!(err.contains("must use https"), "{err}");
        let (ok, _, err) = run(&[
            "oidc",
            "client",
            "create",
            "shop",
            "--name",
            "Shop",
            "--redirect-uri",
            "https://shop.example/cb#frag",
        ]);
        assert!(!ok && err.contains("fragment"), "{err}");
        let (ok, _, err) = run(&[
            "oidc",
            "client",
            "create",
            "a b",
            "--name",
            "Shop",
            "--redirect-uri",
            "https://shop.example/cb",
        ]);
        assert!(!ok && err.contains("client id"), "{err}");

        let (ok, out, err) = run(&[
            "oidc",
            "client",
            "create",
            "shop",
            "--name",
            "Shop",
            "--redirect-uri",
            "https://shop.example/cb",
            "--post-logout-redirect-uri",
            "https://shop.example/",
            "--first-party",
        ]);
        assert!(ok, "{err}");
        let secret = out
            .lines()
            .find_map(|l| l.strip_prefix("client_secret: "))
            .expect("the secret is printed")
            .to_owned();
        assert!(secret.starts_with("ghk_"));
        assert!(
            err.contains("shown only this once")
                && err.contains("/.well-known/openid-configuration")
        );
        let (ok, _, err) = run(&[
            "oidc",
            "client",
            "create",
            "shop",
            "--name",
            "Again",
            "--redirect-uri",
            "https://shop.example/cb",
        ]);
        assert!(!ok && err.contains("exists"), "{err}");
        let (ok, out, _) = run(&[
            "oidc",
            "client",
            "create",
            "spa",
            "--name",
            "SPA",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1:3000/cb",
        ]);
        assert!(ok && !out.contains("client_secret"), "{out}");

        let (_, out, _) = run(&["oidc", "client", "list"]);
        assert!(
            out.contains("shop")
                && out.contains("confidential")
                && out.contains("spa")
                && out.contains("public"),
            "{out}"
        );
        let (_, out, _) = run(&["oidc", "client", "show", "shop"]);
        assert!(
            out.contains("https://shop.example/cb") && !out.contains(&secret),
            "the secret is never shown again: {out}"
        );
        let (ok, _, err) = run(&["oidc", "client", "show", "nope"]);
        assert!(!ok && err.contains("not found"), "{err}");

        let (ok, out, err) = run(&[
            "oidc",
            "client",
            "update",
            "shop",
            "--name",
            "The Shop",
            "--redirect-uri",
            "https://shop.example/cb",
            "--redirect-uri",
            "https://shop.example/cb2",
        ]);
        assert!(ok, "{err}");
        assert!(
            out.contains("The Shop") && out.contains("cb2") && out.contains("first party:   no"),
            "{out}"
        );

        // A back-channel logout URI: https (or http on loopback), no fragment.
        let update_logout = |uri: &str| {
            run(&[
                "oidc",
                "client",
                "update",
                "shop",
                "--name",
                "The Shop",
                "--redirect-uri",
                "https://shop.example/cb",
                "--backchannel-logout-uri",
                uri,
            ])
        };
        let (ok, _, err) = update_logout("http://shop.example/logout");
        assert!(
            !ok && err.contains("backchannel_logout_uri") && err.contains("https"),
            "{err}"
        );
        let (ok, _, err) = update_logout("https://shop.example/logout#x");
        assert!(!ok && err.contains("fragment"), "{err}");
        let (ok, out, err) = update_logout("https://shop.example/logout");
        assert!(ok, "{err}");
        assert!(
            out.contains("logout tokens: https://shop.example/logout"),
            "{out}"
        );
        // Nothing owed yet: the app-delivery outbox is empty, and says so.
        let (ok, out, err) = run(&["outbox", "apps"]);
        assert!(
            ok && out.contains("pending") && err.contains("no logout tokens"),
            "{out}{err}"
        );
        let (ok, _, err) = run(&["outbox", "retry-app", "nope"]);
        assert!(!ok && err.contains("only a failed delivery"), "{err}");

        let (ok, out, _) = run(&["oidc", "client", "rotate-secret", "shop"]);
        assert!(
            ok && out.contains("client_secret: ghk_") && !out.contains(&secret),
            "{out}"
        );
        let (ok, _, err) = run(&["oidc", "client", "rotate-secret", "spa"]);
        assert!(!ok && err.contains("public client"), "{err}");

        let (ok, out, _) = run(&["oidc", "client", "disable", "shop"]);
        assert!(ok && out.contains("disabled"), "{out}");
        let (_, out, _) = run(&["oidc", "client", "list", "--json"]);
        let shop: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(shop["client_id"], "shop");
        assert!(shop["disabled_at"].is_string());

        // Keys: the first is made on demand and signs at once; a rotated key
        // is published first and signs only when cached JWKS have it.
        let (ok, out, err) = run(&["oidc", "keys", "list"]);
        assert!(ok, "{err}");
        assert_eq!(out.lines().count(), 1);
        assert!(out.contains("ES256") && out.contains("(signing)"));
        let (ok, out, _) = run(&["oidc", "keys", "rotate"]);
        assert!(ok);
        let new_kid = out.split_whitespace().next().unwrap().to_owned();
        let (_, out, _) = run(&["oidc", "keys", "list"]);
        assert_eq!(out.lines().count(), 2, "{out}");
        let signing = out.lines().find(|l| l.ends_with("(signing)")).unwrap();
        assert!(!signing.starts_with(&new_kid), "{out}");
        let new_line = out.lines().find(|l| l.starts_with(&new_kid)).unwrap();
        assert!(new_line.contains("(published; signs from "), "{out}");

        // Every change went into the audit chain, which still holds.
        let (ok, out, err) = run(&["audit", "verify"]);
        assert!(ok, "{out}{err}");
    }
}
