#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: initdb into a new directory under
# /tmp, a server listening only on a Unix socket in that directory (no
# TCP, no system service), a database "slipway".
#
#   url=$(tests/pg.sh start) || skip    # prints the URL; exit 77: no binaries
#   ... slipway --db "$url" ...
#   tests/pg.sh down "$url"             # the server goes away (as a crash),
#   tests/pg.sh up "$url"               #   and comes back with its data
#   tests/pg.sh stop "$url"             # stops it and removes the directory
#
# As root the server runs as "nobody" (PostgreSQL refuses root). PGBIN
# names the directory of initdb and pg_ctl; else the newest
# /usr/lib/postgresql/*/bin, else PATH.
set -eu

die() {
	echo "pg.sh: $*" >&2
	exit 1
}

bindir() {
	local d
	if [ -n "${PGBIN:-}" ]; then
		echo "$PGBIN"
		return
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
	done
	d=$(command -v initdb 2>/dev/null) && { dirname "$d"; return; }
	return 1
}

# Run a PostgreSQL program as the owner of the cluster.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

up() {
	as_owner "$1/pg_ctl" -D "$2/data" -l "$2/server.log" -w -t 30 \
		-o "-k $2 -c listen_addresses= -F -c max_connections=200" \
		start >/dev/null ||
		{ cat "$2/server.log" >&2; die "pg_ctl start failed"; }
}

start() {
	local bin dir url
	if ! bin=$(bindir) || [ ! -x "$bin/initdb" ] || [ ! -x "$bin/pg_ctl" ]; then
		echo "pg.sh: PostgreSQL binaries (initdb, pg_ctl) not found; install" \
			"Debian's postgresql or set PGBIN" >&2
		exit 77
	fi
	dir=$(mktemp -d /tmp/sw-pg-XXXXXX)
	[ "$(id -u)" -eq 0 ] && chown nobody: "$dir"
	as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
		--no-locale --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; rm -rf "$dir"; die "initdb failed"; }
	up "$bin" "$dir" || { rm -rf "$dir"; exit 1; }
	as_owner "$bin/createdb" -h "$dir" -U postgres slipway ||
		{ stop_dir "$dir"; die "createdb failed"; }
	url="postgresql://postgres@/slipway?host=$dir"
	echo "$url"
}

check_dir() {
	case "$1" in /tmp/sw-pg-*) ;; *) die "'$1' is not a directory of pg.sh" ;; esac
	[ -d "$1/data" ] || die "'$1': no such server"
}

down() {
	local bin
	bin=$(bindir) || die "PostgreSQL binaries not found"
	if [ -f "$1/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$1/data" -m immediate -w stop \
			>/dev/null 2>&1 || true
	fi
}

stop_dir() {
	check_dir "$1"
	down "$1"
	rm -rf "$1"
}

case "${1:-}" in
start) start ;;
stop | down | up)
	[ $# -eq 2 ] || die "usage: pg.sh $1 URL"
	dir=${2##*host=}
	dir=${dir%%&*}
	case $1 in
	stop) stop_dir "$dir" ;;
	down) check_dir "$dir" && down "$dir" ;;
	up) check_dir "$dir" && up "$(bindir)" "$dir" ;;
	esac
	;;
*) die "usage: pg.sh start | pg.sh stop|down|up URL" ;;
esac
