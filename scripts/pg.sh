#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the test suite and the benchmarks.
#
#   url=$(bash scripts/pg.sh start STATE)   # prints the SQLAlchemy URL, records the cluster in STATE
#   bash scripts/pg.sh stop STATE           # stops it, removes its directory and STATE (no-op without STATE)
#
# The cluster lives in a private directory made by mktemp under the system temp dir
# (${TMPDIR:-/tmp}/dataops-pg.XXXXXX, mode 0700), never under the checkout, so it starts wherever the
# checkout is (a 0700 home, a mktemp -d).  initdb refuses to run as root, so as root the cluster
# runs as the `postgres` user (created if absent), which owns that directory and never needs to
# read the checkout; as any other user it runs as that user.  As root the Debian server package is
# installed if missing.
set -euo pipefail
usage="usage: pg.sh start|stop STATE_FILE"
cmd=${1:?$usage}
state=${2:?$usage}
NAME=pg.sh KIND=cluster PREFIX=dataops-pg OWNER=postgres
# shellcheck source=throwaway_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/throwaway_server.sh"

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

stop_server() { [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; }

case "$cmd" in
  start)
    check_no_live_state
    if ! bin=$(find_bin); then
      install_or_explain postgresql "PostgreSQL server binaries missing" "no /usr/lib/postgresql/*/bin/initdb"
      bin=$(find_bin)
    fi
    ensure_owner /var/lib/postgresql /bin/bash
    dir=$(make_dir)
    trap 'stop_server; rm -rf "$dir"' ERR
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; false; }
    # A free port: a random one nobody listens on; if another process binds it first, try another.
    port=""
    for attempt in 1 2 3 4 5 6 7 8; do
      candidate=$(random_port)
      log="$dir/server-$attempt.log"
      if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$log" -w -t 60 \
        -o "-h 127.0.0.1 -p $candidate -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null 2>&1; then
        port=$candidate; break
      fi
      grep -q "could not bind" "$log" 2>/dev/null || { cat "$log" >&2; false; }
    done
    [ -n "$port" ] || { echo "pg.sh: found no free port for PostgreSQL in 8 tries" >&2; false; }
    printf 'dir=%s\nbin=%s\nport=%s\n' "$dir" "$bin" "$port" >"$state"
    trap - ERR
    echo "postgresql+psycopg2://postgres@127.0.0.1:$port/postgres"
    ;;
  stop) stop_from_state ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
