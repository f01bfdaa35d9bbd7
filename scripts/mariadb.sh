#!/usr/bin/env bash
# A throwaway MariaDB server for the test suite and the benchmarks (the MySQL/MariaDB warehouse).
#
#   url=$(bash scripts/mariadb.sh start STATE)   # prints the SQLAlchemy URL, records the server in STATE
#   bash scripts/mariadb.sh stop STATE           # stops it, removes its directory and STATE (no-op without STATE)
#
# The server lives in a private directory made by mktemp under the system temp dir
# (${TMPDIR:-/tmp}/dataops-mariadb.XXXXXX, mode 0700), never under the checkout, listens on a free
# loopback port and on a socket in that directory, and has one passwordless user `dataops` allowed
# from 127.0.0.1 only (tests create a fresh database each).  mariadbd refuses to run as root, so as
# root the server runs as the `mysql` user (created if absent, as the Debian package does); as any
# other user it runs as that user.  As root the Debian server package is installed if missing.
set -euo pipefail
usage="usage: mariadb.sh start|stop STATE_FILE"
cmd=${1:?$usage}
state=${2:?$usage}
NAME=mariadb.sh KIND=server PREFIX=dataops-mariadb OWNER=mysql
# shellcheck source=throwaway_server.sh
. "$(dirname "${BASH_SOURCE[0]}")/throwaway_server.sh"

find_bin() {  # sets server, installer, client
  server="" installer="" client=""
  local d
  for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin; do
    [ -z "$server" ] && [ -x "$d/mariadbd" ] && server=$d/mariadbd
    [ -z "$installer" ] && [ -x "$d/mariadb-install-db" ] && installer=$d/mariadb-install-db
    [ -z "$client" ] && [ -x "$d/mariadb" ] && client=$d/mariadb
  done
  [ -n "$server" ] && [ -n "$installer" ] && [ -n "$client" ]
}

stop_server() {  # the server whose pid file is in $dir: TERM, then KILL after 30 s
  local p i
  p=$(cat "$dir/mariadbd.pid" 2>/dev/null || true)
  [ -n "$p" ] || p=${pid:-}
  [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 0
  kill "$p" 2>/dev/null || true
  for i in $(seq 1 60); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.5; done
  kill -9 "$p" 2>/dev/null || true
}

case "$cmd" in
  start)
    check_no_live_state
    if ! find_bin; then
      install_or_explain mariadb-server "MariaDB server binaries missing" "no mariadbd / mariadb-install-db" \
        --no-install-recommends
      find_bin
    fi
    ensure_owner /nonexistent /usr/sbin/nologin
    dir=$(make_dir)
    trap 'stop_server; rm -rf "$dir"' ERR
    as_owner "$installer" --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
      --skip-test-db --skip-name-resolve >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; false; }
    port="" pid=""
    for attempt in 1 2 3 4 5 6 7 8; do
      candidate=$(random_port)
      log="$dir/server-$attempt.log"
      # Started in the background, detached from this shell's stdout (the caller reads our stdout).
      as_owner "$server" --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" \
        --pid-file="$dir/mariadbd.pid" --port="$candidate" --bind-address=127.0.0.1 --skip-name-resolve \
        --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --sync-binlog=0 --skip-log-bin \
        --max-connections=300 --character-set-server=utf8mb4 --collation-server=utf8mb4_nopad_bin \
        --log-error="$log" </dev/null >/dev/null 2>&1 &
      for _ in $(seq 1 120); do
        [ -S "$dir/mysqld.sock" ] && grep -q "ready for connections" "$log" 2>/dev/null && break
        grep -q "Do you already have another\|Can't start server: Bind" "$log" 2>/dev/null && break
        sleep 0.5
      done
      if grep -q "ready for connections" "$log" 2>/dev/null; then
        port=$candidate; pid=$(cat "$dir/mariadbd.pid"); break
      fi
      stop_server
      grep -q "Bind on TCP/IP port\|Do you already have another" "$log" 2>/dev/null || { cat "$log" >&2; false; }
    done
    [ -n "$port" ] || { echo "mariadb.sh: found no free port for MariaDB in 8 tries" >&2; false; }
    as_owner "$client" --no-defaults --socket="$dir/mysqld.sock" -uroot -e \
      "CREATE USER 'dataops'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'dataops'@'127.0.0.1' WITH GRANT OPTION;"
    printf 'dir=%s\npid=%s\nport=%s\n' "$dir" "$pid" "$port" >"$state"
    trap - ERR
    echo "mysql+mysqldb://dataops@127.0.0.1:$port/mysql?charset=utf8mb4"
    ;;
  stop) stop_from_state ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
