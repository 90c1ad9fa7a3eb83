# Shared by the scripts that drive a real `gatehouse serve` from outside
# (scripts/oidc-interop.sh, scripts/api-contract.sh): a pinned Python virtualenv,
# the binary, a throwaway data directory (SQLite, or a fresh PostgreSQL database),
# the server on a free loopback port, and cleanup on exit. Source it after
# `set -euo pipefail` and `cd` to the repository root, with `tool` set to the
# caller's name (log prefix); then call the functions in order.
#
# Sets: root, py (the venv's python), bin (gatehouse), data_dir, server_log,
# base_url (also GATEHOUSE_PUBLIC_URL), server_pid.

root=$(pwd)
started=$(date +%s)
server_pid=
pg_db=
pg_url=
data_dir=

log() { echo "$tool: $*" >&2; }

# sut_venv NAME REQUIREMENTS: a virtualenv in the cargo target directory with
# the pinned packages of REQUIREMENTS (rebuilt only when that file changes).
sut_venv() {
  local name=$1 requirements=$2
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    log "installing python3-venv"
    local sudo=()
    [ "$(id -u)" = 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  target_dir=$(cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  local venv="$target_dir/$name" want
  # The stamp names the venv's own path too: a venv copied or moved with its
  # target directory keeps scripts whose #! lines point at the old place.
  want="$(sha256sum "$requirements" | cut -d' ' -f1) $venv"
  # Under a lock: two runs side by side (scripts/test.sh's two engines) would
  # otherwise both build it, each removing the other's.
  mkdir -p "$target_dir"
  (
    flock 9
    if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
      log "setting up $venv ($requirements)"
      rm -rf "$venv"
      python3 -m venv "$venv"
      "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
      echo "$want" >"$venv/.requirements.sha256"
    fi
  ) 9>"$venv.lock"
  py="$venv/bin/python"
  venv_bin="$venv/bin"
}

# sut_build: the gatehouse binary (debug, like the rest of the suite).
# With GATEHOUSE_SUITE_PREBUILT set (scripts/test.sh, which built every binary
# with the tests' feature set), it builds nothing: `cargo build -p gatehouse`
# alone resolves features differently and would rebuild half the dependencies.
sut_build() {
  if [ -n "${GATEHOUSE_SUITE_PREBUILT:-}" ]; then
    log "using the suite's build of gatehouse"
  else
    log "building gatehouse"
    cargo build --quiet -p gatehouse
  fi
  bin="$target_dir/debug/gatehouse"
  [ -x "$bin" ] || { log "no binary at $bin"; exit 1; }
}

sut_cleanup() {
  local rc=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_db" ]; then
    psql "$pg_url" -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  [ -z "$data_dir" ] || rm -rf "$data_dir"
  log "finished in $(($(date +%s) - started)) s (exit $rc)"
  exit "$rc"
}

# sut_environment LOGNAME: the server's environment -- a free port, a data
# directory, SQLite or (with SUT_PG_URL, a PostgreSQL superuser URL) a
# database of its own, cheap hashing -- and the cleanup trap.
sut_environment() {
  local port
  port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  data_dir=$(mktemp -d "/tmp/gatehouse-$tool.XXXXXX")
  mkdir -p "$root/test-output"
  server_log="$root/test-output/$1"
  : >"$server_log"
  trap sut_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  export GATEHOUSE_LISTEN="127.0.0.1:$port"
  export GATEHOUSE_PUBLIC_URL="http://127.0.0.1:$port"
  export GATEHOUSE_DATA_DIR="$data_dir"
  base_url=$GATEHOUSE_PUBLIC_URL
  # Cheap hashing: these tests are about the protocol, not argon2's cost.
  export GATEHOUSE_ARGON2_MEMORY_KIB="${GATEHOUSE_ARGON2_MEMORY_KIB:-1024}"
  export GATEHOUSE_ARGON2_ITERATIONS="${GATEHOUSE_ARGON2_ITERATIONS:-1}"
  if [ -n "${SUT_PG_URL:-}" ]; then
    # A database of its own: nothing else's rows, budgets or breaker. (The
    # cleanup trap drops it: it keeps the URL, SUT_PG_URL lives only for this call.)
    pg_url=$SUT_PG_URL
    pg_db="gh_${tool//-/_}_$(date +%s)_$$"
    psql "$SUT_PG_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $pg_db" >/dev/null
    export GATEHOUSE_DATABASE_URL="${SUT_PG_URL%/*}/$pg_db"
    log "database: PostgreSQL database $pg_db"
  else
    unset GATEHOUSE_DATABASE_URL
    log "database: SQLite in $data_dir"
  fi
}

# sut_serve: starts `serve` and waits until /healthz answers (60 s at most).
sut_serve() {
  "$bin" serve >>"$server_log" 2>&1 &
  server_pid=$!
  log "server pid $server_pid on $base_url (log: ${server_log#"$root"/})"
  local probe='import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)'
  for _ in $(seq 1 300); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      log "the server exited before it was ready:"; tail -n 40 "$server_log" >&2; exit 1
    fi
    "$py" -c "$probe" "$base_url/healthz" 2>/dev/null && return 0
    sleep 0.2
  done
  log "the server was not healthy within 60 s:"; tail -n 40 "$server_log" >&2; exit 1
}
