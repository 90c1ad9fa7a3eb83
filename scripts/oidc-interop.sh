#!/usr/bin/env bash
# OpenID Connect interop: an independent relying-party library (Python's
# Authlib, interop/authlib_rp.py) drives a real `gatehouse serve` through every
# flow an app uses -- discovery, code + PKCE, ID-token validation, userinfo,
# refresh rotation, revocation, introspection, RP-initiated logout, and a
# logout or forced reset that stops the app's grant. From a fresh Debian machine:
#   scripts/oidc-interop.sh
# Sets up a virtualenv in the cargo target directory with the pinned packages of
# interop/requirements.txt (again only when that file changes), builds
# gatehouse, starts `serve` on a free loopback port with a throwaway data
# directory, registers two clients and two operators with the CLI, runs the
# RP, and stops the server. Exits non-zero if anything fails.
#
# Environment:
#   GATEHOUSE_INTEROP_PG_URL  a PostgreSQL superuser URL (e.g. with-postgres.sh's
#                             GATEHOUSE_TEST_PG_URL): the server runs on a fresh
#                             database made in it (and dropped after), instead
#                             of a fresh SQLite one
#   CARGO_TARGET_DIR          honoured, like any cargo setting
#   GATEHOUSE_SUITE_PREBUILT  set (scripts/test.sh does): use the gatehouse binary
#                             already in the target directory, build nothing
# Output: test-output/oidc-interop-server.log.
set -euo pipefail
cd "$(dirname "$0")/.."
tool=oidc-interop
# shellcheck source=scripts/lib/server-under-test.sh
source scripts/lib/server-under-test.sh

sut_venv oidc-interop-venv interop/requirements.txt
log "$("$py" -c 'import authlib, jwt, requests, sys; print(f"Authlib {authlib.__version__}, PyJWT {jwt.__version__}, requests {requests.__version__}, Python {sys.version.split()[0]}")')"
sut_build
SUT_PG_URL="${GATEHOUSE_INTEROP_PG_URL:-}" sut_environment oidc-interop-server.log

# What an administrator does before pointing apps at Gatehouse: two operators
# (a forced reset of one person needs a second one to approve it) and two apps.
keys=()
for name in ann bob; do
  keys+=("$("$bin" operator create --email "interop-$name@ops.example" 2>>"$server_log")")
done
export GH_OPERATOR_KEYS="${keys[0]},${keys[1]}"
export GH_REDIRECT_URI="https://app.example/auth/callback"
export GH_LOGOUT_URI="https://app.example/signed-out"
export GH_CLIENT_ID="authlib-shop" GH_PUBLIC_CLIENT_ID="authlib-spa"
created=$("$bin" oidc client create "$GH_CLIENT_ID" --name "Authlib Shop" \
  --redirect-uri "$GH_REDIRECT_URI" --post-logout-redirect-uri "$GH_LOGOUT_URI" 2>>"$server_log")
GH_CLIENT_SECRET=$(sed -n 's/^client_secret: *//p' <<<"$created")
[ -n "$GH_CLIENT_SECRET" ] || { log "oidc client create printed no secret:"; echo "$created" >&2; exit 1; }
export GH_CLIENT_SECRET
"$bin" oidc client create "$GH_PUBLIC_CLIENT_ID" --name "Authlib SPA" --public --first-party \
  --redirect-uri "$GH_REDIRECT_URI" --post-logout-redirect-uri "$GH_LOGOUT_URI" >/dev/null 2>>"$server_log"

sut_serve
export GH_ISSUER="$base_url"

# --- the relying party ------------------------------------------------------------
status=0
"$py" interop/authlib_rp.py || status=$?
if [ "$status" != 0 ]; then
  log "the Authlib relying party failed; last lines of the server log:"
  tail -n 30 "$server_log" >&2
fi
exit "$status"
