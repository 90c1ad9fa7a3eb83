#!/usr/bin/env bash
# The whole test suite, from a fresh machine: README.md names this command and
# .ci/run calls it. It starts its own throwaway PostgreSQL so every store and
# HTTP test runs on SQLite *and* PostgreSQL, sends mail to Postfix's smtp-sink
# (installed if missing), runs an independent OpenID Connect relying party
# (scripts/oidc-interop.sh: Python's Authlib in a virtualenv it makes) against a
# real server, checks the API against /openapi.json with schemathesis
# (scripts/api-contract.sh, also in a virtualenv), then drives the pages in headless Chromium (scripts/e2e.sh
# installs it if missing); both on both engines.
#   scripts/test.sh [extra arguments for cargo nextest / cargo test]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test: installing PostgreSQL server binaries" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

# The mail tests send over SMTP to Postfix's smtp-sink (a real SMTP server).
scripts/ensure-smtp-sink.sh

# The blind trace's generator and scorer (a few seconds; the trace itself is run by
# eval/blind-trace/run.sh, too long for the suite).
echo "test: blind-trace generator and scorer (python unittest)" >&2
python3 -m unittest discover -s eval/blind-trace
# The second independent trace's generator (about 5 s; eval/second-trace/run.sh runs it).
echo "test: second-trace generator (python unittest)" >&2
python3 -m unittest discover -s eval/second-trace
# The third independent trace's generator and breakdown (about 2 s; eval/third-trace/run.sh runs it).
echo "test: third-trace generator (python unittest)" >&2
python3 -m unittest discover -s eval/third-trace
# The fourth independent trace's generator and breakdown (about 6 s; eval/fourth-trace/run.sh runs it).
echo "test: fourth-trace generator (python unittest)" >&2
python3 -m unittest discover -s eval/fourth-trace
# The fifth independent trace's generator and breakdown (about 5 s; eval/fifth-trace/run.sh runs it).
echo "test: fifth-trace generator (python unittest)" >&2
python3 -m unittest discover -s eval/fifth-trace

# Every binary and test target, once, with one feature set: the scripts below
# then run these binaries (GATEHOUSE_SUITE_PREBUILT) instead of each running
# `cargo build -p gatehouse`, which resolves features apart from the tests and
# rebuilt about half of the dependencies (about 4.5 minutes of CI).
echo "test: building the workspace's binaries and tests" >&2
cargo build --workspace --bins --tests
export GATEHOUSE_SUITE_PREBUILT=1
# The browser tests check each page's accessibility once across both engines'
# runs (same build, same style sheet; e2e/harness.mjs).
mkdir -p test-output
export GATEHOUSE_E2E_AXE_PASSED="$PWD/test-output/axe-passed.txt"
: >"$GATEHOUSE_E2E_AXE_PASSED"

if cargo nextest --version >/dev/null 2>&1; then
  runner=(cargo nextest run --workspace --no-fail-fast)
else
  runner=(cargo test --workspace --no-fail-fast)
fi

# Inside the cluster's lifetime: Rust tests, doc tests, the OpenID Connect
# interop test (an independent RP library, Python's Authlib, against a real
# `serve`), then the browser tests -- each on SQLite and on the PostgreSQL cluster.
scripts/with-postgres.sh bash -c '
  set -euo pipefail
  "$@"
  cargo test --workspace --doc --quiet
  echo "test: OpenID Connect interop (Authlib) on SQLite" >&2
  scripts/oidc-interop.sh
  echo "test: OpenID Connect interop (Authlib) on PostgreSQL" >&2
  GATEHOUSE_INTEROP_PG_URL="$GATEHOUSE_TEST_PG_URL" scripts/oidc-interop.sh
  # schemathesis is one Python process, held to one core by its interpreter
  # lock (the server under test used about a tenth of one): the two engines
  # side by side take about the time of one (5-6 minutes of CI saved).
  echo "test: API contract (schemathesis) on SQLite and on PostgreSQL, side by side" >&2
  scripts/api-contract.sh 2> >(sed -u "s/^/[sqlite] /" >&2) &
  contract_sqlite=$!
  GATEHOUSE_CONTRACT_PG_URL="$GATEHOUSE_TEST_PG_URL" scripts/api-contract.sh \
    2> >(sed -u "s/^/[postgresql] /" >&2) &
  contract_postgres=$!
  contract=0
  wait "$contract_sqlite" || contract=1
  wait "$contract_postgres" || contract=1
  [ "$contract" = 0 ] || { echo "test: the API contract failed (above)" >&2; exit 1; }
  echo "test: browser tests on SQLite" >&2
  scripts/e2e.sh
  echo "test: browser tests on PostgreSQL" >&2
  GATEHOUSE_E2E_DATABASE_URL="$GATEHOUSE_TEST_PG_URL" scripts/e2e.sh
' test-suite "${runner[@]}" "$@"
echo "test: all passed" >&2
