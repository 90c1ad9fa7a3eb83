#!/usr/bin/env bash
# The API contract: schemathesis (a property-based tester from PyPI) generates
# requests from /openapi.json -- valid ones and invalid ones -- against a real
# `gatehouse serve` and checks every answer against the document: no 5xx, every
# status code and content type documented, every body valid against its
# schema, invalid input refused, valid input accepted. Any finding fails.
#   scripts/api-contract.sh
# Sets up a virtualenv in the cargo target directory with the pinned packages of
# interop/contract-requirements.txt, builds gatehouse, starts `serve` with a
# throwaway data directory and a small breach index, makes two operators, an
# account and its session, and runs schemathesis with interop/schemathesis.toml
# in two passes: everything, then the operations that end the caller's own
# credentials (sign-out, ending sessions, changing the password, operators'
# key and state changes).
#
# Environment:
#   GATEHOUSE_CONTRACT_PG_URL  a PostgreSQL superuser URL (e.g. with-postgres.sh's
#                              GATEHOUSE_TEST_PG_URL): the server runs on a fresh
#                              database made in it, instead of SQLite
#   GATEHOUSE_CONTRACT_EXAMPLES  test cases per operation (default: the config's 25)
#   GATEHOUSE_CONTRACT_SEED    schemathesis's seed (default: a fixed one, so the
#                              suite tests the same cases each run; `random` for a
#                              new one, printed -- how to hunt for new findings:
#                              GATEHOUSE_CONTRACT_SEED=random GATEHOUSE_CONTRACT_EXAMPLES=200)
#   GATEHOUSE_SUITE_PREBUILT  set (scripts/test.sh does): use the gatehouse binary
#                             already in the target directory, build nothing
# Output: test-output/api-contract-server-ENGINE.log and test-output/api-contract/ENGINE/
# (reports), ENGINE being sqlite or postgresql: the two engines' runs may go
# side by side (scripts/test.sh runs them so).
set -euo pipefail
cd "$(dirname "$0")/.."
tool=api-contract
# shellcheck source=scripts/lib/server-under-test.sh
source scripts/lib/server-under-test.sh

sut_venv contract-venv interop/contract-requirements.txt
log "$("$venv_bin/schemathesis" --version)"
sut_build
engine=sqlite
[ -z "${GATEHOUSE_CONTRACT_PG_URL:-}" ] || engine=postgresql
SUT_PG_URL="${GATEHOUSE_CONTRACT_PG_URL:-}" sut_environment "api-contract-server-$engine.log"

# A breach index at the default path, so /breach/check answers rather than
# reporting that checks are off.
"$py" - "$data_dir/corpus.txt" <<'PY'
import hashlib, sys
with open(sys.argv[1], "w") as f:
    for i, pw in enumerate(["password", "123456", "qwerty", "letmein", "hunter2"]):
        f.write(f"{hashlib.sha1(pw.encode()).hexdigest().upper()}:{1000 * (i + 1)}\n")
PY
"$bin" breach import "$data_dir/corpus.txt" --out "$data_dir/breach.idx" >>"$server_log" 2>&1

keys=()
for name in ann bob; do
  keys+=("$("$bin" operator create --email "contract-$name@ops.example" 2>>"$server_log")")
done
sut_serve

# An account and its session, through the API itself.
GH_SESSION_TOKEN=$("$py" - "$base_url" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=10))
who = {"email": "contract-user@example.com", "password": "a long passphrase nobody has breached 42"}
post("/api/v1/accounts", who)
print(post("/api/v1/sessions", who)["token"])
PY
)
export GH_SESSION_TOKEN GH_ACCESS_TOKEN=none

out="$root/test-output/api-contract/$engine"
rm -rf "$out"
mkdir -p "$out"
seed="${GATEHOUSE_CONTRACT_SEED:-20261203}"
# The suite's run is deterministic (the same cases each time, whatever the
# responses held); a hunting run is not.
deterministic=(--generation-deterministic) # (which also keeps no example database)
[ "$seed" != random ] || { seed="$RANDOM$RANDOM"; deterministic=(); }
run_pass() {
  local name=$1 key=$2
  shift 2
  local args=(--config-file interop/schemathesis.toml run "$base_url/openapi.json"
    --checks all --workers 2 --seed "$seed" --phases examples,coverage,fuzzing,stateful
    # Not a finding: the generator's own clock (drawing long patterned text is
    # slow on a loaded machine), which would fail the run without a request made.
    --suppress-health-check too_slow
    --report junit --report-dir "$out/$name" --no-color)
  args+=("${deterministic[@]}")
  [ -z "${GATEHOUSE_CONTRACT_EXAMPLES:-}" ] || args+=(--max-examples "$GATEHOUSE_CONTRACT_EXAMPLES")
  log "pass '$name' (seed $seed)"
  GH_OPERATOR_KEY="$key" "$venv_bin/schemathesis" "${args[@]}" "$@" >"$out/$name.txt" 2>&1 || {
    log "pass '$name' found contract failures:"
    sed -n '/FAILURES/,$p' "$out/$name.txt" >&2
    return 1
  }
  log "pass '$name': $(grep -E '^Test cases:' -A1 "$out/$name.txt" | tail -n1 | sed 's/^ *//')"
}
# What ends the caller's own credentials runs last, so it cannot starve the rest.
own='^/api/v1/(sessions/current|me/sessions.*|me/password|admin/operators/.+)$'
status=0
run_pass everything "${keys[0]}" --exclude-path-regex "$own" || status=1
run_pass own-credentials "${keys[1]}" --include-path-regex "$own" || status=1
exit "$status"
