#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL 15 + PostGIS cluster and stops the cluster after it,
# whatever the command's outcome:
#
#   ./scripts/with-postgres.sh cargo test --all-targets
#
# The cluster lives in a new folder under /tmp (initdb, a free loopback port, its socket in the same
# folder, trust authentication on loopback only) and is removed at the end. The command sees
#   LAGESBILD_TEST_PG        postgres://postgres@127.0.0.1:PORT/postgres, the superuser's URL; tests
#                            create a database each from the template below
#   LAGESBILD_TEST_PG_TEMPLATE  lagesbild_template, a database with PostGIS already created
#   LAGESBILD_TEST_PG_BIN    the folder of pg_ctl, for tests that stop and start the server
#   LAGESBILD_TEST_PG_DATA   the cluster's data folder (for pg_ctl -D)
#   LAGESBILD_TEST_PG_USER   the OS user pg_ctl must run as (`postgres` as root, else empty)
#   LAGESBILD_TEST_PG_REQUIRED=1, so that a PostgreSQL test fails instead of skipping.
# As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
if [[ ! -x "$bin/initdb" ]]; then
  echo "with-postgres: $bin/initdb not found; run ./scripts/setup.sh --browser" >&2
  exit 2
fi

# The data folder's parents must be enterable by the server's user, so the folder is 0755 and
# only the data folder inside it is the server's own 0700.
dir=$(mktemp -d /tmp/lagesbild-pg.XXXXXX)
chmod 755 "$dir"
data="$dir/data"
log="$dir/server.log"
as=()
if [[ $(id -u) -eq 0 ]]; then
  as=(runuser -u postgres --)
  mkdir "$data"
  chown postgres:postgres "$dir" "$data"
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  "${as[@]}" "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

"${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 2; }
# fsync off: the tests never crash the machine, only processes (a committed transaction survives
# a kill -9 of the server with or without fsync). synchronous_commit stays on, so an acknowledged
# commit is on the server's disk before the client hears of it.
"${as[@]}" "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=400 -c full_page_writes=off" \
  start >/dev/null || { cat "$log" >&2; exit 2; }

url="postgres://postgres@127.0.0.1:$port/postgres"
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
"${psql[@]}" -d postgres -c "CREATE DATABASE lagesbild_template" >/dev/null
"${psql[@]}" -d lagesbild_template -c "CREATE EXTENSION postgis" >/dev/null
echo "with-postgres: PostgreSQL $("${psql[@]}" -d lagesbild_template -tAc "SELECT split_part(version(), ' ', 2) || ', PostGIS ' || postgis_lib_version()") on port $port" >&2

export LAGESBILD_TEST_PG="$url"
export LAGESBILD_TEST_PG_TEMPLATE=lagesbild_template
export LAGESBILD_TEST_PG_BIN="$bin"
export LAGESBILD_TEST_PG_DATA="$data"
if ((${#as[@]})); then export LAGESBILD_TEST_PG_USER=postgres; else export LAGESBILD_TEST_PG_USER=; fi
export LAGESBILD_TEST_PG_REQUIRED=1
set +e
"$@"
rc=$?
set -e
exit $rc
