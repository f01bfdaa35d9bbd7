# Shared by scripts/pg.sh and scripts/mariadb.sh (sourced, not run): the parts of a throwaway
# database server that do not depend on which server it is.
#
# The sourcing script sets, before calling these:
#   NAME   its name in messages (pg.sh, mariadb.sh)
#   KIND   what it starts, in messages (cluster, server)
#   PREFIX its private directories' prefix under the system temp dir (dataops-pg, dataops-mariadb)
#   OWNER  the system user the server runs as when we are root (postgres, mysql)
#   state  the state file (key=value lines; `dir` is the private directory)
# and defines stop_server (stops the server of $dir; read_state has set the keys of the state file).

is_root() { [ "$(id -u)" = "0" ]; }

# Run a command as the server's owner, from / (the owner may not be able to enter the caller's cwd).
as_owner() {
  if is_root; then (cd / && runuser -u "$OWNER" -- "$@"); else (cd / && "$@"); fi
}

# A fresh private directory under the system temp dir that the owner can reach.
make_dir() {
  local base
  for base in "${TMPDIR:-/tmp}" /tmp; do
    as_owner mktemp -d "$base/$PREFIX.XXXXXX" 2>/dev/null && return 0
  done
  echo "$NAME: cannot create a private directory under ${TMPDIR:-/tmp} or /tmp as $(is_root && echo "$OWNER" || id -un)" >&2
  return 1
}

# Sets dir, bin, pid and port from $state; dir is emptied when that directory is gone, and a state
# file naming any other directory is refused (we never remove what we did not make).
read_state() {
  dir="" bin="" pid="" port=""
  local key value
  while IFS='=' read -r key value; do
    case "$key" in dir | bin | pid | port) printf -v "$key" '%s' "$value" ;; esac
  done <"$state"
  case "$dir" in
    */"$PREFIX".*) [ -d "$dir" ] || dir="" ;;
    *) echo "$NAME: $state does not name a $KIND directory made by $NAME (dir=$dir); not removing it" >&2; exit 1 ;;
  esac
}

# Before a start: refuse a state file whose server still exists; forget one whose directory is gone
# (left by a run that never stopped, e.g. before a reboot).
check_no_live_state() {
  [ -e "$state" ] || return 0
  read_state
  if [ -n "$dir" ]; then
    echo "$NAME: $state names a $KIND that still exists ($dir): run '$NAME stop $state' first" >&2; exit 1
  fi
  rm -f "$state"
}

# As root: install a missing Debian package.  As anyone else: say how to, and fail.
install_or_explain() {  # PACKAGE WHAT_IS_MISSING DETAIL [apt-get options…]
  local package=$1 missing=$2 detail=$3
  shift 3
  if is_root; then
    echo "$NAME: $missing; installing the Debian package $package" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" "$package") >&2
  else
    echo "$NAME: $missing ($detail); install them as root: apt-get install -y $package" >&2
    exit 1
  fi
}

# As root: create the owner's system user if absent.
ensure_owner() {  # HOME SHELL
  if is_root && ! id "$OWNER" >/dev/null 2>&1; then
    useradd --system --home-dir "$1" --shell "$2" "$OWNER"
  fi
}

# A random loopback port nobody listens on now (another process may still bind it first: callers retry).
random_port() {
  local candidate i
  for i in $(seq 1 100); do
    candidate=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null || break
  done
  echo "$candidate"
}

# The stop command: stop the server the state file names, remove its directory and the state file.
stop_from_state() {
  [ -f "$state" ] || exit 0
  read_state
  if [ -n "$dir" ]; then
    stop_server
    rm -rf "$dir"
  fi
  rm -f "$state"
}
