#!/usr/bin/env bash
# Debian's PostgreSQL as a server on 127.0.0.1 with its data folder in the project (ignored):
#   services/postgres.sh up | down | status
# The superuser's password is PGPASSWORD from the environment (never written to the repository);
# PGUSER (default customs) and PGPORT (default 5433) name the role and port. `up` creates the
# databases in CUSTOMS_PG_DATABASES (Dagster's and MLflow's) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${PG_DIR:-.services/postgres}
PORT=${PGPORT:-5433}
ROLE=${PGUSER:-customs}
DATABASES=${CUSTOMS_PG_DATABASES:-customs_dagster customs_mlflow}

pg_bin() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bin" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing Debian's postgresql" >&2
      DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
      bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    else
      echo "PostgreSQL is not installed: sudo apt-get install -y postgresql (or point PGHOST at a server)" >&2
      exit 1
    fi
  fi
  echo "$bin"
}

# The server refuses to run as root: as root, run it as Debian's postgres user.
as_server_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

up() {
  : "${PGPASSWORD:?set PGPASSWORD in the environment: the password of the role $ROLE}"
  local bin; bin=$(pg_bin)
  mkdir -p "$DIR"
  local data; data=$(cd "$DIR" && pwd)/data
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then chown -R postgres: "$DIR"; fi
    PWFILE=$(mktemp)
    trap 'rm -f "$PWFILE"' EXIT
    chmod 600 "$PWFILE"
    if [ "$(id -u)" = 0 ]; then chown postgres: "$PWFILE"; fi
    printf '%s\n' "$PGPASSWORD" >"$PWFILE"
    as_server_user "$bin/initdb" -D "$data" -U "$ROLE" --pwfile="$PWFILE" --auth=scram-sha-256 -E UTF8 >/dev/null
    rm -f "$PWFILE"
  fi
  if as_server_user "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    echo "PostgreSQL already running on 127.0.0.1:$PORT ($DIR)"
  else
    as_server_user "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-k $data -p $PORT -c listen_addresses=127.0.0.1" start >/dev/null
  fi
  for db in $DATABASES; do
    if ! PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=$ROLE psql -d postgres -tAc "select 1 from pg_database where datname='$db'" | grep -q 1; then
      PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=$ROLE createdb "$db"
    fi
  done
  echo "PostgreSQL up on 127.0.0.1:$PORT (role $ROLE, databases: $DATABASES; data in $DIR)"
}

down() {
  local bin; bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  local data="$DIR/data"
  if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then
    as_server_user "$bin/pg_ctl" -D "$(cd "$data" && pwd)" -m fast -w stop >/dev/null
    echo "PostgreSQL down ($DIR)"
  else
    echo "no PostgreSQL running from $DIR"
  fi
}

status() {
  local bin; bin=$(pg_bin)
  as_server_user "$bin/pg_ctl" -D "$(cd "$DIR/data" && pwd)" status
}

case "${1:-}" in
  up) up ;; down) down ;; status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
