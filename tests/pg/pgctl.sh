#!/usr/bin/env bash
# tests/pg/pgctl.sh — a throw-away PostgreSQL 15 cluster for the tests.
#
#   pgctl.sh start DIR         initdb DIR/data and start the server
#   pgctl.sh createdb DIR NAME create database NAME (owner: phivault)
#   pgctl.sh restart DIR       fast shutdown and start again, same port
#                              (tests that a node survives a database restart)
#   pgctl.sh stop DIR          fast shutdown, then remove DIR
#
# What `start` makes:
#  - a cluster in DIR/data, initialised and run by an unprivileged user:
#    as root, initdb/pg_ctl run through `setpriv` as "postgres" (or
#    "nobody" when there is no such user; PostgreSQL refuses to run as
#    root), DIR is chowned to that user, and every ancestor of DIR that the
#    user cannot search gets o+x (search only, never read);
#  - listening on a unix socket in DIR and on 127.0.0.1 at a free port
#    (retried on another port if the bind races with someone else);
#  - one superuser role, phivault, with a random password; every
#    connection (local and TCP) authenticates with scram-sha-256;
#  - DIR/pgpass (0600) holding that password for libpq, and DIR/env, lines
#    KEY=VALUE (no quotes; `set -a; . DIR/env; set +a` exports them):
#      PGHOST=127.0.0.1 PGPORT=… PGUSER=phivault PGPASSFILE=DIR/pgpass
#      PGCTL_SOCKDIR=DIR (the unix socket's directory, for host=DIR)
#  - fsync, synchronous_commit and full_page_writes ON: durability is part
#    of what the tests show, so nothing is traded for speed here;
#  - the server log in DIR/postgres.log.
#
# Every wait is bounded (pg_ctl -t, timeout). Nothing listens beyond
# 127.0.0.1. Exit status 0 on success, 1 on failure, 2 on bad usage.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER_ROLE=phivault
WAIT_S=60

die() { echo "pgctl.sh: $*" >&2; exit 1; }
usage() {
  echo "usage: pgctl.sh start|restart|stop DIR | createdb DIR NAME" >&2
  exit 2
}

# The user the server runs as, and the command prefix that becomes it.
AS=()
RUN_USER=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  if getent passwd postgres >/dev/null; then RUN_USER=postgres; else RUN_USER=nobody; fi
  AS=(setpriv --reuid="$(id -u "$RUN_USER")" --regid="$(id -g "$RUN_USER")"
      --init-groups --)
fi

abs_dir() { # abs_dir DIR — DIR made absolute, refused if unsafe for a conf file
  local d=$1
  case "$d" in /*) ;; *) d=$PWD/$d ;; esac
  d=${d%/}
  [[ "$d" =~ ^[A-Za-z0-9_./+-]+$ ]] ||
    die "DIR may hold only letters, digits and _ . / + - (got '$d')"
  # A unix socket path is at most 107 bytes: DIR/.s.PGSQL.NNNNN
  [ ${#d} -le 90 ] || die "DIR is too long for a unix socket path (${#d} > 90)"
  printf '%s' "$d"
}

# Lets RUN_USER reach DIR: o+x on each ancestor it cannot search.
open_path() {
  local d=$1 p
  [ "$(id -u)" -eq 0 ] || return 0
  p=$(dirname "$d")
  while [ "$p" != / ]; do
    if ! "${AS[@]}" test -x "$p"; then
      chmod o+x "$p"
    fi
    p=$(dirname "$p")
  done
}

free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

read_env() { # read_env DIR — the values of DIR/env into this shell
  local k v
  [ -f "$1/env" ] || die "$1 is not a pgctl cluster (no env file)"
  while IFS='=' read -r k v; do
    case "$k" in
      PGHOST|PGPORT|PGUSER|PGPASSFILE|PGCTL_SOCKDIR) printf -v "$k" '%s' "$v" ;;
    esac
  done <"$1/env"
}

pg_ctl_start() { # pg_ctl_start DIR — true when the server is up
  (cd "$1" && "${AS[@]}" "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/postgres.log" \
     -w -t "$WAIT_S" start >/dev/null 2>&1)
}

set_port() { # set_port DIR PORT
  sed -i "s/^port = .*/port = $2/" "$1/data/postgresql.conf"
}

cmd_start() {
  local dir pw port try
  dir=$(abs_dir "$1")
  [ -x "$PG_BIN/initdb" ] || die "no $PG_BIN/initdb (scripts/deps test installs postgresql-15)"
  [ ! -e "$dir/data" ] || die "$dir/data exists already"
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ "$(id -u)" -ne 0 ] || chown "$RUN_USER:$(id -gn "$RUN_USER")" "$dir"
  open_path "$dir"
  "${AS[@]}" test -w "$dir" || die "$RUN_USER cannot write $dir"
  touch "$dir/.pgctl" # the marker that lets `stop` remove DIR
  pw=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
  # initdb reads the password from a file its user can read; gone after.
  (umask 077 && printf '%s\n' "$pw" >"$dir/pwfile")
  [ "$(id -u)" -ne 0 ] || chown "$RUN_USER" "$dir/pwfile"
  if ! (cd "$dir" && "${AS[@]}" timeout 120 "$PG_BIN/initdb" -D "$dir/data" \
          -U "$PG_USER_ROLE" --pwfile="$dir/pwfile" -A scram-sha-256 \
          -E UTF8 --locale=C >"$dir/initdb.log" 2>&1); then
    rm -f "$dir/pwfile"
    cat "$dir/initdb.log" >&2
    die "initdb failed"
  fi
  rm -f "$dir/pwfile"
  cat >>"$dir/data/postgresql.conf" <<EOF

# --- tests/pg/pgctl.sh ---
listen_addresses = '127.0.0.1'
port = 0
unix_socket_directories = '$dir'
unix_socket_permissions = 0777
password_encryption = 'scram-sha-256'
max_connections = 200
fsync = on
synchronous_commit = on
full_page_writes = on
log_min_messages = warning
EOF
  cat >"$dir/data/pg_hba.conf" <<EOF
# tests/pg/pgctl.sh: passwords (scram-sha-256) on the socket and on loopback
local  all  all                 scram-sha-256
host   all  all  127.0.0.1/32   scram-sha-256
EOF
  for try in 1 2 3 4 5; do
    port=$(free_port)
    set_port "$dir" "$port"
    pg_ctl_start "$dir" && break
    port=""
    # Another process took the port between the probe and the bind.
    grep -q "could not bind\|could not create any TCP/IP sockets" \
      "$dir/postgres.log" 2>/dev/null || break
  done
  if [ -z "$port" ]; then
    tail -n 20 "$dir/postgres.log" >&2 2>/dev/null || true
    die "the server did not start"
  fi
  (umask 077
   printf '*:%s:*:%s:%s\n' "$port" "$PG_USER_ROLE" "$pw" >"$dir/pgpass"
   printf 'PGHOST=127.0.0.1\nPGPORT=%s\nPGUSER=%s\nPGPASSFILE=%s\nPGCTL_SOCKDIR=%s\n' \
     "$port" "$PG_USER_ROLE" "$dir/pgpass" "$dir" >"$dir/env")
  echo "pgctl.sh: PostgreSQL up on 127.0.0.1:$port and $dir (env: $dir/env)" >&2
}

cmd_createdb() {
  local dir name
  dir=$(abs_dir "$1")
  name=$2
  [[ "$name" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "bad database name '$name'"
  read_env "$dir"
  PGPASSFILE=$PGPASSFILE timeout "$WAIT_S" "$PG_BIN/createdb" -h "$PGHOST" \
    -p "$PGPORT" -U "$PGUSER" -O "$PGUSER" "$name" ||
    die "createdb $name failed"
}

pg_ctl_stop() { # pg_ctl_stop DIR — fast, then immediate, then SIGKILL
  local dir=$1 pid
  "${AS[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t "$WAIT_S" stop \
    >/dev/null 2>&1 && return 0
  "${AS[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 10 stop \
    >/dev/null 2>&1 && return 0
  if [ -f "$dir/data/postmaster.pid" ]; then
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null || true
  fi
  return 0
}

cmd_restart() {
  local dir
  dir=$(abs_dir "$1")
  read_env "$dir"
  pg_ctl_stop "$dir"
  set_port "$dir" "$PGPORT"
  pg_ctl_start "$dir" || die "the server did not start again on port $PGPORT"
}

cmd_stop() {
  local dir
  dir=$(abs_dir "$1")
  [ -d "$dir" ] || return 0
  [ -f "$dir/.pgctl" ] || die "$dir was not made by pgctl.sh; not removing it"
  [ ! -f "$dir/data/PG_VERSION" ] || pg_ctl_stop "$dir"
  rm -rf "$dir"
}

[ $# -ge 2 ] || usage
case "$1" in
  start) [ $# -eq 2 ] || usage; cmd_start "$2" ;;
  createdb) [ $# -eq 3 ] || usage; cmd_createdb "$2" "$3" ;;
  restart) [ $# -eq 2 ] || usage; cmd_restart "$2" ;;
  stop) [ $# -eq 2 ] || usage; cmd_stop "$2" ;;
  *) usage ;;
esac
