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

find_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

is_root() { [ "$(id -u)" = "0" ]; }

# Run a command as the cluster's owner, from / (the owner may not be able to enter the caller's cwd).
as_owner() {
  if is_root; then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}

# A fresh private directory under the system temp dir that the owner can reach.
make_dir() {
  local base
  for base in "${TMPDIR:-/tmp}" /tmp; do
    as_owner mktemp -d "$base/dataops-pg.XXXXXX" 2>/dev/null && return 0
  done
  echo "pg.sh: cannot create a private directory under ${TMPDIR:-/tmp} or /tmp as $(is_root && echo postgres || id -un)" >&2
  return 1
}

read_state() {  # sets dir, bin
  dir="" bin=""
  local key value
  while IFS='=' read -r key value; do
    case "$key" in dir) dir=$value ;; bin) bin=$value ;; esac
  done <"$state"
  case "$dir" in
    */dataops-pg.*) [ -d "$dir" ] || dir="" ;;
    *) echo "pg.sh: $state does not name a cluster directory made by pg.sh (dir=$dir); not removing it" >&2; exit 1 ;;
  esac
}

case "$cmd" in
  start)
    if [ -e "$state" ]; then
      read_state
      if [ -n "$dir" ]; then
        echo "pg.sh: $state names a cluster that still exists ($dir): run 'pg.sh stop $state' first" >&2; exit 1
      fi
      rm -f "$state"  # left by a run that never stopped, whose directory is gone (e.g. a reboot)
    fi
    if ! bin=$(find_bin); then
      if is_root; then
        echo "pg.sh: PostgreSQL server binaries missing; installing the Debian package postgresql" >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
        bin=$(find_bin)
      else
        echo "pg.sh: PostgreSQL server binaries missing (no /usr/lib/postgresql/*/bin/initdb);" \
          "install them as root: apt-get install -y postgresql" >&2
        exit 1
      fi
    fi
    if is_root && ! id postgres >/dev/null 2>&1; then
      useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
    dir=$(make_dir)
    trap 'as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir"' ERR
    as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; false; }
    # A free port: a random one nobody listens on; if another process binds it first, try another.
    port=""
    for attempt in 1 2 3 4 5 6 7 8; do
      candidate=$((20000 + RANDOM % 40000))
      (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null && continue
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
  stop)
    [ -f "$state" ] || exit 0
    read_state
    if [ -n "$dir" ]; then
      [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
      rm -rf "$dir"
    fi
    rm -f "$state"
    ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
