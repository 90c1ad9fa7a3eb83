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
# Output: test-output/oidc-interop-server.log.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)

log() { echo "oidc-interop: $*" >&2; }

# --- Python and the RP library ---------------------------------------------------
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  log "installing python3-venv"
  if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq python3 python3-venv >/dev/null
fi

target_dir=$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
venv="$target_dir/oidc-interop-venv"
want=$(sha256sum interop/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  log "setting up $venv (interop/requirements.txt)"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r interop/requirements.txt
  echo "$want" >"$venv/.requirements.sha256"
fi
py="$venv/bin/python"
log "$("$py" -c 'import authlib, jwt, requests, sys; print(f"Authlib {authlib.__version__}, PyJWT {jwt.__version__}, requests {requests.__version__}, Python {sys.version.split()[0]}")')"

# --- the binary ---------------------------------------------------------------
log "building gatehouse"
cargo build --quiet -p gatehouse
bin="$target_dir/debug/gatehouse"
[ -x "$bin" ] || { log "no binary at $bin"; exit 1; }

# --- the server -----------------------------------------------------------------
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
data_dir=$(mktemp -d /tmp/gatehouse-interop.XXXXXX)
out_dir="$root/test-output"
mkdir -p "$out_dir"
server_log="$out_dir/oidc-interop-server.log"
: >"$server_log"
server_pid=
pg_db=

cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql "$GATEHOUSE_INTEROP_PG_URL" -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  rm -rf "$data_dir"
  log "finished in $(($(date +%s) - started)) s (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export GATEHOUSE_LISTEN="127.0.0.1:$port"
export GATEHOUSE_PUBLIC_URL="http://127.0.0.1:$port"
export GATEHOUSE_DATA_DIR="$data_dir"
# Cheap hashing: this is about the protocol, not argon2's cost.
export GATEHOUSE_ARGON2_MEMORY_KIB="${GATEHOUSE_ARGON2_MEMORY_KIB:-1024}"
export GATEHOUSE_ARGON2_ITERATIONS="${GATEHOUSE_ARGON2_ITERATIONS:-1}"
if [ -n "${GATEHOUSE_INTEROP_PG_URL:-}" ]; then
  # A database of its own: the run's forced reset and budget see nothing else's.
  pg_db="gh_interop_$(date +%s)_$$"
  psql "$GATEHOUSE_INTEROP_PG_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pg_db" >/dev/null
  export GATEHOUSE_DATABASE_URL="${GATEHOUSE_INTEROP_PG_URL%/*}/$pg_db"
  log "database: PostgreSQL database $pg_db"
else
  unset GATEHOUSE_DATABASE_URL
  log "database: SQLite in $data_dir"
fi

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

"$bin" serve >>"$server_log" 2>&1 &
server_pid=$!
export GH_ISSUER="$GATEHOUSE_PUBLIC_URL"
log "server pid $server_pid on $GH_ISSUER (log: ${server_log#"$root"/})"
for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "the server exited before it was ready:"; tail -n 40 "$server_log" >&2; exit 1
  fi
  if "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "$GH_ISSUER/healthz" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
"$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$GH_ISSUER/healthz" \
  || { log "the server was not healthy within 60 s:"; tail -n 40 "$server_log" >&2; exit 1; }

# --- the relying party ------------------------------------------------------------
status=0
"$py" interop/authlib_rp.py || status=$?
if [ "$status" != 0 ]; then
  log "the Authlib relying party failed; last lines of the server log:"
  tail -n 30 "$server_log" >&2
fi
exit "$status"
