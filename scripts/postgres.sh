#!/usr/bin/env bash
# A throwaway local PostgreSQL for the test suite.
#   scripts/postgres.sh start DIR   installs Debian's postgresql if absent (apt-get), creates a cluster
#                                   in DIR, starts it on a free loopback port, and prints the
#                                   SQLAlchemy URL (postgresql+psycopg://...) on stdout.
#   scripts/postgres.sh stop DIR    stops that server and deletes DIR.
# As root, the server runs as the `postgres` user (created if missing): PostgreSQL refuses root.
set -euo pipefail

action=${1:-}
dir=${2:-}
[ -n "$action" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 64; }

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

as_owner() {  # run a command as the cluster's owner
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
start)
  if ! bin=$(find_bin); then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "postgres.sh: installing postgresql with apt-get" >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 \
        || { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2; }
    fi
    bin=$(find_bin) || { echo "postgres.sh: PostgreSQL is not installed and cannot be installed" >&2; exit 69; }
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home postgres
  fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  as_owner "$bin/initdb" -D "$dir/data" -U solvent --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on -c max_connections=50" start >&2 \
    || { cat "$dir/server.log" >&2; exit 1; }
  echo "$port" > "$dir/port"
  as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U solvent solvent >&2
  echo "postgresql+psycopg://solvent@127.0.0.1:$port/solvent"
  ;;
stop)
  if [ -d "$dir/data" ] && bin=$(find_bin); then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 64 ;;
esac
