#!/usr/bin/env bash
# Install the Debian packages the test suite needs, if they are missing: the PostgreSQL and MariaDB
# server binaries, what building mysqlclient needs, and Chromium (for the UI tests; never a browser
# download of Playwright's own).
set -euo pipefail
need=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
[ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)  # the MySQL/MariaDB warehouse (scripts/mariadb.sh)
# mysqlclient, the MySQL provider's driver, is built from source: headers, pkg-config and a C compiler
[ -f /usr/include/mariadb/mysql.h ] || need+=(libmariadb-dev)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v cc >/dev/null || need+=(gcc)
# The UI tests launch ${DATAOPS_CHROMIUM:-/usr/bin/chromium} (tests/e2e): check that very file.
[ -x "${DATAOPS_CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || need+=(redis-server)  # Celery broker (tests/e2e/celery_stack.py)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ]; then
  hint=""
  [[ " ${need[*]} " == *" chromium "* ]] && hint=" (or point DATAOPS_CHROMIUM at a Chromium binary you have)"
  echo "system-deps: missing ${need[*]}; install them with: sudo apt-get install -y ${need[*]}$hint" >&2
  exit 1
fi
echo "system-deps: installing ${need[*]} (Debian packages)" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
