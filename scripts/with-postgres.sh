#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL cluster, then removes the cluster.
#   scripts/with-postgres.sh COMMAND [ARGS...]
# The command sees GATEHOUSE_TEST_PG_URL (a superuser URL; tests create their
# own databases in it). Uses Debian's binaries in /usr/lib/postgresql/*/bin,
# which are not on PATH. As root, the cluster runs as the `postgres` user,
# because PostgreSQL refuses to run as root.
set -euo pipefail

pgbin=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "with-postgres: no PostgreSQL server binaries found (looked in /usr/lib/postgresql/*/bin)." >&2
  echo "with-postgres: install them with: apt-get install -y postgresql" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
chmod 755 "$dir"
run_as=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  run_as=(runuser -u postgres --)
fi

# A free port: ask the kernel for one.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  "${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${run_as[@]}" "$pgbin/initdb" -D "$dir/data" -U gatehouse --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
# Durability off: this cluster lives for one test run.
"${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

export GATEHOUSE_TEST_PG_URL="postgres://gatehouse@127.0.0.1:$port/postgres"
echo "with-postgres: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on port $port" >&2
"$@"
