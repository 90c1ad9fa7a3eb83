#!/usr/bin/env bash
# End-to-end tests of the HTML pages in a real headless Chromium, from a fresh
# Debian machine:
#   scripts/e2e.sh [extra arguments for `node --test`]
# Installs Chromium if missing, installs the test's npm packages (npm ci),
# builds gatehouse and the example app, creates two console operators, starts
# `gatehouse serve` on a free loopback port with a throwaway data directory and
# the example app (crates/example-app) registered as a third-party client (with
# its back-channel logout URI) on another, runs e2e/pages.test.mjs, e2e/console.test.mjs and
# e2e/example-app.test.mjs, and stops both.
# Exits non-zero if anything fails.
#
# Environment:
#   GATEHOUSE_E2E_DATABASE_URL  run the server on this database (e.g. a
#                               postgres:// URL) instead of a fresh SQLite one
#   GATEHOUSE_E2E_AXE_PASSED    a file of the pages that passed the accessibility
#                               check, kept between runs of the same build (e.g.
#                               on two engines) so each page is checked once;
#                               default: a fresh one per run
#   GATEHOUSE_SUITE_PREBUILT    set (scripts/test.sh does): use the binaries
#                               already in the target directory, build nothing
#   CARGO_TARGET_DIR            honoured, like any cargo setting
# Output: test-output/screenshots/*.png, test-output/axe-results.jsonl (the
# axe-core check of each page), test-output/e2e-server.log and
# test-output/e2e-example-app.log.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)

log() { echo "e2e: $*" >&2; }

# --- Chromium -----------------------------------------------------------------
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  log "installing chromium and chromium-driver"
  if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
fi
log "$(/usr/bin/chromium --version 2>/dev/null | head -n 1)"

# --- the SMTP server -------------------------------------------------------------
# Notices go over SMTP to Postfix's smtp-sink, which dumps each message to a
# file; the tests read the recovery code from there, as a person reads a mail.
scripts/ensure-smtp-sink.sh

# --- npm packages ---------------------------------------------------------------
command -v node >/dev/null || { log "node is required (Node 20 or later)"; exit 1; }
(cd e2e && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

# --- the binary ---------------------------------------------------------------
if [ -n "${GATEHOUSE_SUITE_PREBUILT:-}" ]; then
  log "using the suite's build of gatehouse and the example app"
else
  log "building gatehouse and the example app"
  cargo build -p gatehouse -p gatehouse-example-app
fi
target_dir=$(cargo metadata --format-version 1 --no-deps \
  | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
bin="$target_dir/debug/gatehouse"
[ -x "$bin" ] || { log "no binary at $bin"; exit 1; }
app_bin="$target_dir/debug/gatehouse-example-app"
[ -x "$app_bin" ] || { log "no binary at $app_bin"; exit 1; }

# --- the server -----------------------------------------------------------------
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
data_dir=$(mktemp -d /tmp/gatehouse-e2e.XXXXXX)
out_dir="$root/test-output"
mkdir -p "$out_dir/screenshots"
# One line per page the accessibility check saw (harness.mjs); this run's only.
: >"$out_dir/axe-results.jsonl"
# The pages that passed it (harness.mjs checks each page once): this run's
# only, unless the caller shares a file between runs of the same build.
if [ -z "${GATEHOUSE_E2E_AXE_PASSED:-}" ]; then
  export GATEHOUSE_E2E_AXE_PASSED="$out_dir/axe-passed.txt"
  : >"$GATEHOUSE_E2E_AXE_PASSED"
fi
server_log="$out_dir/e2e-server.log"
server_pid=
app_pid=
app_log="$out_dir/e2e-example-app.log"
sink_pid=
mail_dir=$(mktemp -d /tmp/gatehouse-e2e-mail.XXXXXX)
chmod 777 "$mail_dir" # smtp-sink drops to "nobody" when started as root

cleanup() {
  local rc=$?
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null || true
  if [ -n "$app_pid" ]; then kill -TERM "$app_pid" 2>/dev/null || true; wait "$app_pid" 2>/dev/null || true; fi
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$data_dir" "$mail_dir"
  log "finished in $(($(date +%s) - started)) s (exit $rc)"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export GATEHOUSE_LISTEN="127.0.0.1:$port"
export GATEHOUSE_PUBLIC_URL="http://127.0.0.1:$port"
export GATEHOUSE_DATA_DIR="$data_dir"
# Cheap hashing: these tests are about the pages, not argon2's cost.
export GATEHOUSE_ARGON2_MEMORY_KIB="${GATEHOUSE_ARGON2_MEMORY_KIB:-1024}"
export GATEHOUSE_ARGON2_ITERATIONS="${GATEHOUSE_ARGON2_ITERATIONS:-1}"
# The tests pose as a random client address per run (X-Forwarded-For), so the
# per-address login throttle does not carry over between runs on one database.
export GATEHOUSE_TRUSTED_PROXIES="127.0.0.1/32"
if [ -n "${GATEHOUSE_E2E_DATABASE_URL:-}" ]; then
  export GATEHOUSE_DATABASE_URL="$GATEHOUSE_E2E_DATABASE_URL"
  log "database: GATEHOUSE_E2E_DATABASE_URL"
else
  unset GATEHOUSE_DATABASE_URL
  log "database: SQLite in $data_dir"
fi

smtp_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
if [ "$(id -u)" = 0 ]; then sink_user=(-u nobody); else sink_user=(); fi
/usr/sbin/smtp-sink "${sink_user[@]}" -d "$mail_dir/%H%M%S." "127.0.0.1:$smtp_port" 100 &
sink_pid=$!
export GATEHOUSE_SMTP_URL="smtp://127.0.0.1:$smtp_port"
log "smtp-sink pid $sink_pid on port $smtp_port, dumping to $mail_dir"

# Two console operators (a campaign over many accounts needs a second approver),
# made with the CLI as an administrator would; unique per run, so a reused
# database (GATEHOUSE_E2E_DATABASE_URL) takes them too.
: >"$server_log"
operators=()
operator_keys=()
for name in ann bob; do
  op_email="e2e-$name-$(date +%s%N)@ops.example"
  operator_keys+=("$("$bin" operator create --email "$op_email" 2>>"$server_log")")
  op_password=$("$bin" operator password --email "$op_email" --generate 2>>"$server_log")
  operators+=("$op_email:$op_password")
done
export GATEHOUSE_E2E_OPERATORS="${operators[0]},${operators[1]}"
# Their API keys too: the forced-reset test drives a campaign through the API.
export GATEHOUSE_E2E_OPERATOR_KEYS="${operator_keys[0]},${operator_keys[1]}"
# An app signing people in through Gatehouse, so the console's Apps page shows
# one (with a long redirect URI: it must wrap on a phone).
"$bin" oidc client create "e2e-shop-$(date +%s%N)" --name "E2E Shop" \
  --redirect-uri "https://shop.example/a/rather/long/path/to/the/openid-connect/callback" \
  --post-logout-redirect-uri "https://shop.example/" >/dev/null 2>>"$server_log"

# The example app of the site, as a third-party client (so the test sees the
# consent page); its secret is printed once, on the line "client_secret: …".
app_port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
app_url="http://127.0.0.1:$app_port"
app_client="e2e-example-app-$(date +%s%N)"
app_secret=$("$bin" oidc client create "$app_client" --name "Example app" \
  --redirect-uri "$app_url/callback" --post-logout-redirect-uri "$app_url/" \
  --backchannel-logout-uri "$app_url/backchannel-logout" 2>>"$server_log" \
  | sed -n 's/^client_secret: *//p')
[ -n "$app_secret" ] || { log "registering the example app printed no secret"; exit 1; }

"$bin" serve >>"$server_log" 2>&1 &
server_pid=$!
log "server pid $server_pid on $GATEHOUSE_PUBLIC_URL (log: ${server_log#"$root"/})"

ready=
for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "the server exited before it was ready:"; tail -n 40 "$server_log" >&2; exit 1
  fi
  if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))' \
      "$GATEHOUSE_PUBLIC_URL/healthz" 2>/dev/null; then
    ready=1; break
  fi
  sleep 0.2
done
[ -n "$ready" ] || { log "the server was not healthy within 60 s:"; tail -n 40 "$server_log" >&2; exit 1; }

: >"$app_log"
GATEHOUSE_EXAMPLE_CLIENT_SECRET="$app_secret" "$app_bin" --issuer "$GATEHOUSE_PUBLIC_URL" \
  --client-id "$app_client" --listen "127.0.0.1:$app_port" >>"$app_log" 2>&1 &
app_pid=$!
ready=
for _ in $(seq 1 100); do
  if ! kill -0 "$app_pid" 2>/dev/null; then
    log "the example app exited before it was ready:"; tail -n 20 "$app_log" >&2; exit 1
  fi
  if node -e 'fetch(process.argv[1]).then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))' \
      "$app_url/" 2>/dev/null; then
    ready=1; break
  fi
  sleep 0.2
done
[ -n "$ready" ] || { log "the example app did not answer within 20 s:"; tail -n 20 "$app_log" >&2; exit 1; }
log "example app pid $app_pid on $app_url (log: ${app_log#"$root"/})"

# --- the tests ------------------------------------------------------------------
log "running the browser tests"
status=0
(
  cd e2e
  GATEHOUSE_E2E_BASE_URL="$GATEHOUSE_PUBLIC_URL" \
  GATEHOUSE_E2E_SCREENSHOTS="$out_dir/screenshots" \
  GATEHOUSE_E2E_MAIL_DIR="$mail_dir" \
  GATEHOUSE_E2E_APP_URL="$app_url" \
    node --test --test-concurrency=1 --test-reporter=spec "$@" pages.test.mjs console.test.mjs \
      example-app.test.mjs
) || status=$?
if [ "$status" != 0 ]; then
  log "tests failed; last lines of the server log:"
  tail -n 30 "$server_log" >&2
  log "last lines of the example app's log:"
  tail -n 10 "$app_log" >&2
fi
log "screenshots in ${out_dir#"$root"/}/screenshots/"
exit "$status"
