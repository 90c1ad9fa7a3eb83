"""An independent relying party -- Python's Authlib, written for apps, not for
Gatehouse -- against a real `gatehouse serve` (started by
scripts/oidc-interop.sh, on SQLite or PostgreSQL).

It drives what an app does: discovery, the authorization code flow with PKCE
S256 (the person's side -- sign-in and the consent form -- as plain HTTP with
the session cookie of `POST /api/v1/sessions`), ID-token validation with
Authlib's own JOSE (signature against the JWKS, `iss`, `aud`, `nonce`, `exp`),
userinfo, refresh with rotation (the old token then refused), revocation
(RFC 7009), introspection (RFC 7662), RP-initiated logout, and the promise of
issue 16: a Gatehouse session that ends -- logged out, or suspended by a forced
reset (a campaign through the admin API) -- makes the app's next refresh and
introspection fail. And issue 17's back-channel logout: an app registered with a
logout URI (a receiver in this process) gets a logout token when the session
ends, validated with PyJWT (signature against the JWKS, `typ`, `iss`, `aud`,
`exp`, the event, `sid`, `sub`, no `nonce`).

Each check prints `ok - …`; the first failure prints what was expected and
what came back, then the count line, and exits 1.

Environment (set by scripts/oidc-interop.sh):
  GH_ISSUER            the server's public URL (the issuer)
  GH_CLIENT_ID/SECRET  a confidential third-party client (consent page)
  GH_PUBLIC_CLIENT_ID  a public first-party client (PKCE only, no consent)
  GH_REDIRECT_URI      the redirect URI both are registered with
  GH_LOGOUT_URI        their registered post-logout redirect URI
  GH_OPERATOR_KEYS     two operator API keys, comma-separated (a campaign's
                       creator cannot approve it)
"""

import base64
import html.parser
import http.server
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
import warnings

import requests

# The server under test listens on loopback over plain HTTP; Authlib refuses
# http:// endpoints unless told this is deliberate.
os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"

from authlib.integrations.base_client.errors import OAuthError  # noqa: E402
from authlib.integrations.requests_client import OAuth2Session  # noqa: E402
from authlib.jose import JsonWebKey, JsonWebToken  # noqa: E402
from authlib.jose.errors import JoseError  # noqa: E402
from authlib.oidc.core import CodeIDToken  # noqa: E402
import jwt as pyjwt  # noqa: E402  (PyJWT: the logout-token check, another library)

warnings.simplefilter("error")  # a deprecation in the RP library is news

SESSION_REVOKED = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
ISSUER = os.environ["GH_ISSUER"].rstrip("/")
CLIENT_ID = os.environ["GH_CLIENT_ID"]
CLIENT_SECRET = os.environ["GH_CLIENT_SECRET"]
PUBLIC_CLIENT_ID = os.environ["GH_PUBLIC_CLIENT_ID"]
REDIRECT_URI = os.environ["GH_REDIRECT_URI"]
LOGOUT_URI = os.environ["GH_LOGOUT_URI"]
OPERATORS = os.environ["GH_OPERATOR_KEYS"].split(",")
PASSWORD = "correct horse battery staple"
SCOPE = "openid email profile offline_access"
TIMEOUT = 30

passed = 0


class Failed(Exception):
    """A check that did not hold; the message says what and why."""


def check(cond, what, got=None):
    if not cond:
        raise Failed(what if got is None else f"{what}\n    got: {got!r}")


def ok(what):
    global passed
    passed += 1
    print(f"ok - {what}", flush=True)


def api(method, path, key=None, body=None, expect=(200,), s=None):
    """A JSON call to Gatehouse's own API; fails loudly on another status."""
    headers = {"authorization": f"Bearer {key}"} if key else {}
    r = (s or requests).request(
        method, f"{ISSUER}/api/v1{path}", json=body, headers=headers, timeout=TIMEOUT
    )
    check(
        r.status_code in expect,
        f"{method} /api/v1{path}: expected {expect}",
        f"{r.status_code} {r.text[:500]}",
    )
    return r.json() if r.content else None


class FormReader(html.parser.HTMLParser):
    """The inputs of the first form on a page (the consent page has one)."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields = []
        self.buttons = []
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = a.get("action")
            self._depth = 1
        elif self._depth and tag == "input" and a.get("name"):
            self.fields.append((a["name"], a.get("value") or ""))
        elif self._depth and tag == "button" and a.get("name"):
            self.buttons.append((a["name"], a.get("value") or ""))

    def handle_endtag(self, tag):
        if tag == "form" and self._depth:
            self._depth = 0


class Person:
    """A person's browser: Gatehouse's session cookie, redirects not followed."""

    def __init__(self, email):
        self.email = email
        self.http = requests.Session()
        api("POST", "/accounts", body={"email": email, "password": PASSWORD}, expect=(201,))
        self.sign_in()

    def sign_in(self):
        out = api(
            "POST", "/sessions", body={"email": self.email, "password": PASSWORD},
            expect=(201,), s=self.http,
        )
        self.token = out["token"]
        check(
            any(c.name.endswith("gatehouse_session") for c in self.http.cookies),
            "POST /api/v1/sessions sets the session cookie",
            list(self.http.cookies.keys()),
        )

    def authorize(self, url):
        """Follows an authorization request to the answer for the app: the
        redirect to the app, through the consent page if one is shown."""
        r = self.http.get(url, allow_redirects=False, timeout=TIMEOUT)
        if r.status_code == 200 and "/oauth2/authorize/consent" in r.text:
            form = FormReader()
            form.feed(r.text)
            check(("gh_decision", "allow") in form.buttons, "the consent page offers Allow", form.buttons)
            check(
                r.headers.get("x-frame-options") == "DENY",
                "the consent page cannot be framed",
                r.headers.get("x-frame-options"),
            )
            r = self.http.post(
                urllib.parse.urljoin(ISSUER + "/", form.action),
                data=form.fields + [("gh_decision", "allow")],
                # A browser posting the page's own form says where it came from.
                headers={"origin": ISSUER},
                allow_redirects=False,
                timeout=TIMEOUT,
            )
        check(r.status_code in (302, 303), "the authorization ends in a redirect", f"{r.status_code} {r.text[:300]}")
        return r.headers["location"]


class Provider:
    """What discovery says, read once as an app does at start-up."""

    def __init__(self):
        r = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=TIMEOUT)
        check(r.status_code == 200, "discovery answers 200", r.status_code)
        self.meta = r.json()
        jwks = requests.get(self.meta["jwks_uri"], timeout=TIMEOUT)
        check(jwks.status_code == 200, "the JWKS answers 200", jwks.status_code)
        self.keys = JsonWebKey.import_key_set(jwks.json())
        # Pin the algorithms to what discovery promises: an RP that accepts
        # whatever `alg` a token names is open to `none` and key confusion.
        self.algs = self.meta["id_token_signing_alg_values_supported"]
        self.jwt = JsonWebToken(self.algs)

    def rp(self, client_id=CLIENT_ID, secret=CLIENT_SECRET, **kw):
        return OAuth2Session(
            client_id,
            secret,
            scope=SCOPE,
            redirect_uri=REDIRECT_URI,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            **kw,
        )

    def id_claims(self, id_token, nonce, client_id=CLIENT_ID, access_token=None):
        claims = self.jwt.decode(
            id_token,
            self.keys,
            claims_cls=CodeIDToken,
            claims_options={
                "iss": {"essential": True, "value": ISSUER},
                "aud": {"essential": True, "value": client_id},
            },
            claims_params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
        )
        claims.validate()
        return claims

    def sign_in(self, person, rp, nonce=None, **extra):
        """The code flow with PKCE: authorize, the person's answer, exchange."""
        verifier = secrets.token_urlsafe(48)
        nonce = nonce or secrets.token_urlsafe(16)
        url, state = rp.create_authorization_url(
            self.meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
        )
        back = person.authorize(url)
        check(back.startswith(REDIRECT_URI + "?"), "the answer goes to the registered redirect URI", back)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))
        check("code" in q, "the answer carries a code", q)
        # RFC 9207: the issuer in the answer, compared by the RP (Authlib 1.6
        # leaves this to the app).
        check(q.get("iss") == ISSUER, "the answer names the issuer (RFC 9207)", q.get("iss"))
        # Authlib checks `state` itself: a mismatch raises.
        token = rp.fetch_token(
            self.meta["token_endpoint"], authorization_response=back, code_verifier=verifier
        )
        return token, nonce, state

    def introspect(self, token):
        r = self.rp().introspect_token(self.meta["introspection_endpoint"], token=token)
        check(r.status_code == 200, "introspection answers 200", f"{r.status_code} {r.text}")
        return r.json()

    def refresh_refused(self, rt, why):
        try:
            self.rp().refresh_token(self.meta["token_endpoint"], refresh_token=rt)
        except OAuthError as e:
            check(e.error == "invalid_grant", f"{why}: refused with invalid_grant", e.error)
            return
        raise Failed(f"{why}: the refresh token still worked")


def unverified(jwt):
    header, payload, _ = jwt.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
    )


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def run():
    tag = secrets.token_hex(4)
    p = Provider()
    m = p.meta
    check(m["issuer"] == ISSUER, "discovery's issuer is the public URL", m["issuer"])
    check(m["code_challenge_methods_supported"] == ["S256"], "PKCE S256 only", m["code_challenge_methods_supported"])
    check("none" not in p.algs and not any(a.startswith("HS") for a in p.algs), "no `none` or HMAC ID tokens", p.algs)
    check(m["response_types_supported"] == ["code"], "the code flow only", m["response_types_supported"])
    check(m.get("authorization_response_iss_parameter_supported") is True, "RFC 9207 advertised")
    check(len(p.keys.keys) >= 1, "the JWKS holds a key", p.keys.as_dict())
    ok(f"discovery and JWKS (algorithms {p.algs}, {len(p.keys.keys)} key(s))")

    # --- the code flow, a third-party app: consent, then tokens ----------------
    eve = Person(f"authlib-{tag}@example.com")
    rp = p.rp()
    token, nonce, _ = p.sign_in(eve, rp)
    check(token.get("token_type", "").lower() == "bearer", "a bearer access token", token.get("token_type"))
    check("refresh_token" in token, "offline_access gives a refresh token", list(token))
    header, _ = unverified(token["id_token"])
    check(header["alg"] in p.algs and header.get("kid"), "the ID token names a published alg and kid", header)
    claims = p.id_claims(token["id_token"], nonce, access_token=token["access_token"])
    check(claims.get("email") == eve.email, "the ID token carries the address (scope email)", claims.get("email"))
    check(isinstance(claims.get("auth_time"), int), "auth_time in the ID token", claims.get("auth_time"))
    check(claims.get("sid"), "sid in the ID token", dict(claims))
    ok("code + PKCE S256 through the consent page; ID token valid (signature, iss, aud, nonce, exp)")

    # The same ID token, checked by an RP that expected something else.
    def refused(what, fn):
        try:
            fn()
        except JoseError:
            return
        raise Failed(f"an ID token with {what} was accepted")

    refused("another nonce", lambda: p.id_claims(token["id_token"], "another-nonce"))
    refused("another audience", lambda: p.id_claims(token["id_token"], nonce, client_id="someone-else"))
    refused(
        "a lapsed exp",
        lambda: p.jwt.decode(
            token["id_token"], p.keys, claims_cls=CodeIDToken,
            claims_params={"nonce": nonce, "client_id": CLIENT_ID},
        ).validate(now=claims["exp"] + 1),
    )
    h, body, sig = token["id_token"].split(".")
    forged = dict(claims, email="mallory@example.com")
    refused("a changed payload", lambda: p.jwt.decode(f"{h}.{b64(forged)}.{sig}", p.keys))
    refused("alg none", lambda: p.jwt.decode(f"{b64({'alg': 'none'})}.{body}.", p.keys))
    ok("the ID token fails for another nonce, audience, a lapsed exp, a changed payload, alg none")

    r = rp.get(m["userinfo_endpoint"])
    check(r.status_code == 200, "userinfo answers 200", f"{r.status_code} {r.text}")
    check(r.headers.get("cache-control") == "no-store", "userinfo is not cached", r.headers.get("cache-control"))
    info = r.json()
    check(info.get("sub") == claims["sub"], "userinfo's sub is the ID token's", info)
    check(info.get("email") == eve.email, "userinfo's email", info)
    ok("userinfo with the access token")

    at, rt = token["access_token"], token["refresh_token"]
    ati = p.introspect(at)
    check(ati.get("active") is True and ati.get("client_id") == CLIENT_ID, "the access token is active", ati)
    check(ati.get("sub") == claims["sub"] and ati.get("sid") == claims["sid"], "introspection names sub and sid", ati)
    rti = p.introspect(rt)
    check(rti.get("active") is True and rti.get("token_type") == "refresh_token", "the refresh token is active", rti)
    ok("introspection (RFC 7662) of the access and refresh tokens")

    # --- refresh with rotation; the old token refused, and its family with it ---
    fresh = rp.refresh_token(m["token_endpoint"], refresh_token=rt)
    rt2 = fresh.get("refresh_token")
    check(rt2 and rt2 != rt, "the refresh token is rotated", rt2)
    check(fresh.get("access_token") and fresh["access_token"] != at, "a new access token")
    if "id_token" in fresh:
        p.id_claims(fresh["id_token"], None)
    check(p.introspect(rt).get("active") is False, "the rotated-out token is inactive")
    p.refresh_refused(rt, "the rotated-out refresh token")
    p.refresh_refused(rt2, "its successor after the reuse (the family is revoked)")
    ok("refresh with rotation; reuse of the old token refused and revokes the family")

    # --- revocation (RFC 7009) -------------------------------------------------
    token, _, _ = p.sign_in(eve, p.rp())  # consent remembered: straight back
    r = p.rp().revoke_token(m["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token")
    check(r.status_code == 200, "revocation answers 200", f"{r.status_code} {r.text}")
    check(p.introspect(token["refresh_token"]).get("active") is False, "a revoked refresh token is inactive")
    check(p.introspect(token["access_token"]).get("active") is False, "the access token of a revoked grant is inactive")
    p.refresh_refused(token["refresh_token"], "a revoked refresh token")
    r = p.rp().revoke_token(m["revocation_endpoint"], token="not-a-token-we-issued")
    check(r.status_code == 200, "revoking an unknown token is not an error (RFC 7009 §2.2)", r.status_code)
    ok("revocation (RFC 7009) ends the grant")

    # --- a public client: PKCE and its id only --------------------------------
    pub = p.rp(PUBLIC_CLIENT_ID, None)
    ptoken, pnonce, _ = p.sign_in(eve, pub)  # first party: no consent page
    p.id_claims(ptoken["id_token"], pnonce, client_id=PUBLIC_CLIENT_ID)
    r = requests.get(
        m["authorization_endpoint"],
        params={"response_type": "code", "client_id": PUBLIC_CLIENT_ID, "redirect_uri": REDIRECT_URI,
                "scope": "openid", "state": "s1", "nonce": "n1"},
        cookies=eve.http.cookies, allow_redirects=False, timeout=TIMEOUT,
    )
    back = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(r.headers.get("location", "")).query))
    check(back.get("error") == "invalid_request" and back.get("state") == "s1",
          "an authorization request without PKCE is refused to the app", f"{r.status_code} {back}")
    ok("a public client signs in with PKCE alone; no PKCE, no code")

    # --- RP-initiated logout ends the Gatehouse session and the app's grant -----
    token, nonce, _ = p.sign_in(eve, p.rp())
    r = eve.http.get(
        m["end_session_endpoint"],
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": LOGOUT_URI, "state": "bye-1"},
        allow_redirects=False, timeout=TIMEOUT,
    )
    check(r.status_code in (302, 303) and r.headers.get("location") == f"{LOGOUT_URI}?state=bye-1",
          "RP-initiated logout sends the person back with state", f"{r.status_code} {r.headers.get('location')}")
    check(p.introspect(token["access_token"]).get("active") is False, "after logout the access token is inactive")
    check(p.introspect(token["refresh_token"]).get("active") is False, "after logout the refresh token is inactive")
    p.refresh_refused(token["refresh_token"], "after RP-initiated logout")
    r = requests.get(m["userinfo_endpoint"], headers={"authorization": f"Bearer {token['access_token']}"}, timeout=TIMEOUT)
    check(r.status_code == 401, "after logout userinfo refuses the access token", r.status_code)
    ok("RP-initiated logout: the session ends, and with it refresh, introspection and userinfo")

    # --- the session logged out through Gatehouse's own API ---------------------
    eve.sign_in()
    token, _, _ = p.sign_in(eve, p.rp())
    api("DELETE", "/sessions/current", key=eve.token, expect=(204,))
    check(p.introspect(token["refresh_token"]).get("active") is False, "after a Gatehouse logout the refresh token is inactive")
    check(p.introspect(token["access_token"]).get("active") is False, "after a Gatehouse logout the access token is inactive")
    p.refresh_refused(token["refresh_token"], "after a Gatehouse logout")
    ok("signing out of Gatehouse stops the app's next refresh and introspection")

    # --- back-channel logout: the app is told, server to server (issue 17) ------
    check(m.get("backchannel_logout_supported") is True, "discovery says back-channel logout")
    check(m.get("backchannel_logout_session_supported") is True, "discovery says logout tokens carry sid")
    received = []
    arrived = threading.Event()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (the http.server name)
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            received.append((self.path, self.headers.get("content-type"), self.headers.get("authorization"), body))
            if len(received) >= 2:
                arrived.set()
            # RFC 8935 §2.2: a push receiver answers 202; a logout URI, 200.
            self.send_response(202 if self.path == "/ssf" else 200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ann = OPERATORS[0]
        app_id = f"pyjwt-app-{tag}"
        created = api("POST", "/admin/oidc/clients", key=ann, expect=(201,), body={
            "client_id": app_id, "name": "PyJWT app", "redirect_uris": [REDIRECT_URI], "first_party": True,
            "backchannel_logout_uri": f"http://127.0.0.1:{server.server_address[1]}/backchannel-logout",
        })
        # The same app is a Shared Signals receiver: a stream asking for CAEP
        # session-revoked, created with its client credentials (Basic).
        ssf = requests.get(f"{ISSUER}/.well-known/ssf-configuration", timeout=TIMEOUT).json()
        check(ssf.get("issuer") == ISSUER and ssf.get("jwks_uri") == m["jwks_uri"], "SSF metadata: issuer, jwks_uri", ssf)
        r = requests.post(ssf["configuration_endpoint"], auth=(app_id, created["client_secret"]), timeout=TIMEOUT, json={
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": f"http://127.0.0.1:{server.server_address[1]}/ssf",
                         "authorization_header": "Bearer pyjwt-receiver"},
            "events_requested": [SESSION_REVOKED],
        })
        check(r.status_code == 201 and r.json().get("events_delivered") == [SESSION_REVOKED], "a stream is created", r.text)
        frank = Person(f"pyjwt-{tag}@example.com")
        token, nonce, _ = p.sign_in(frank, p.rp(app_id, created["client_secret"]))
        id_claims = p.id_claims(token["id_token"], nonce, client_id=app_id)
        api("DELETE", "/sessions/current", key=frank.token, expect=(204,))
        check(arrived.wait(30), "the app receives a logout token and a SET within 30 s")
    finally:
        server.shutdown()
        server.server_close()
    check(len(received) == 2, "exactly one logout token and one SET for one session", received)
    path, ctype, auth, set_token = next(r for r in received if r[0] == "/ssf")
    check(ctype == "application/secevent+jwt" and auth == "Bearer pyjwt-receiver", "the SET is pushed per RFC 8935", (ctype, auth))
    check(pyjwt.get_unverified_header(set_token).get("typ") == "secevent+jwt", "the SET is typed secevent+jwt")
    set_key = pyjwt.PyJWKClient(m["jwks_uri"]).get_signing_key_from_jwt(set_token)
    st = pyjwt.decode(set_token, set_key.key, algorithms=p.algs, audience=app_id, issuer=ISSUER,
                      options={"require": ["iss", "aud", "iat", "jti"], "verify_exp": False})
    check(list(st.get("events", {})) == [SESSION_REVOKED], "the session-revoked event", st)
    check(st.get("sub_id", {}).get("user", {}).get("sub") == id_claims["sub"]
          and st["sub_id"].get("session", {}).get("id") == id_claims["sid"],
          "sub_id names the person and the session the ID token named", st)
    ok("Shared Signals: a stream created with the client's credentials; one session-revoked SET, valid for PyJWT")
    path, ctype, _, body = next(r for r in received if r[0] != "/ssf")
    form = dict(urllib.parse.parse_qsl(body))
    check(ctype == "application/x-www-form-urlencoded", "the token is POSTed as a form", ctype)
    logout_token = form.get("logout_token", "")
    header = pyjwt.get_unverified_header(logout_token)
    check(header.get("typ") == "logout+jwt", "the logout token is typed logout+jwt", header)
    key = pyjwt.PyJWKClient(m["jwks_uri"]).get_signing_key_from_jwt(logout_token)
    lt = pyjwt.decode(
        logout_token, key.key, algorithms=p.algs, audience=app_id, issuer=ISSUER,
        options={"require": ["iss", "aud", "iat", "exp", "jti", "sub"]},
    )
    check(lt.get("events") == {"http://schemas.openid.net/event/backchannel-logout": {}},
          "the back-channel logout event", lt.get("events"))
    check(lt.get("sid") == id_claims["sid"] and lt.get("sub") == id_claims["sub"],
          "sid and sub name the session and person the ID token named", lt)
    check("nonce" not in lt, "no nonce in a logout token", lt)
    try:
        pyjwt.decode(logout_token, key.key, algorithms=p.algs, audience="someone-else", issuer=ISSUER)
        raise Failed("a logout token for another audience was accepted")
    except pyjwt.InvalidAudienceError:
        pass
    ok("back-channel logout: one logout token, valid for PyJWT (signature, typ, iss, aud, exp, event, sid, sub)")

    # --- a forced reset (a campaign, two operators) suspends the session --------
    eve.sign_in()
    token, _, _ = p.sign_in(eve, p.rp())
    ann, bob = OPERATORS
    c = api("POST", "/admin/campaigns", key=ann, expect=(201,), body={
        "name": f"authlib interop {tag}", "reason": "your password appeared in a list of stolen credentials",
        "accounts": [eve.email], "bake_secs": 0,
    })
    cid = c["id"]
    preview = api("POST", f"/admin/campaigns/{cid}/preview", key=ann, body={})
    api("POST", f"/admin/campaigns/{cid}/approve", key=bob, body={"snapshot": preview["snapshot"]})
    api("POST", f"/admin/campaigns/{cid}/start", key=ann, body={})
    deadline = time.monotonic() + 30
    while True:
        shown = api("GET", f"/admin/campaigns/{cid}", key=ann)
        if shown["targets"].get("applied") == 1:
            break
        check(time.monotonic() < deadline, "the running server applies the campaign within 30 s", shown)
        time.sleep(0.2)
    check(p.introspect(token["refresh_token"]).get("active") is False, "after the forced reset the refresh token is inactive")
    check(p.introspect(token["access_token"]).get("active") is False, "after the forced reset the access token is inactive")
    p.refresh_refused(token["refresh_token"], "after the forced reset")
    r = requests.post(f"{ISSUER}/api/v1/sessions", json={"email": eve.email, "password": PASSWORD}, timeout=TIMEOUT)
    check(r.status_code in (401, 403), "the reset password no longer signs in", f"{r.status_code} {r.text}")
    ok(f"a forced reset (campaign {cid}) stops the app's next refresh and introspection at once")


def main():
    started = time.monotonic()
    try:
        run()
    except (Failed, OAuthError, JoseError, requests.RequestException, KeyError) as e:
        print(f"FAILED - {type(e).__name__}: {e}", file=sys.stderr, flush=True)
        print(f"authlib: {passed} passed, 1 failed")
        sys.exit(1)
    print(f"authlib: every flow passed in {time.monotonic() - started:.1f} s")
    print(f"authlib: {passed} passed, 0 failed")


if __name__ == "__main__":
    main()
