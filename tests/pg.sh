#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests: initdb into a new directory under
# /tmp, a server listening only on a Unix socket in that directory (no
# TCP, no system service), a database "slipway".
#
#   url=$(tests/pg.sh start) || skip    # prints the URL; exit 77: no binaries
#   ... slipway --db "$url" ...
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
	as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-k $dir -c listen_addresses= -F -c max_connections=200" \
		start >/dev/null ||
		{ cat "$dir/server.log" >&2; rm -rf "$dir"; die "pg_ctl start failed"; }
	as_owner "$bin/createdb" -h "$dir" -U postgres slipway ||
		{ stop_dir "$dir"; die "createdb failed"; }
	url="postgresql://postgres@/slipway?host=$dir"
	echo "$url"
}

stop_dir() {
	local dir=$1 bin
	case "$dir" in /tmp/sw-pg-*) ;; *) die "'$dir' is not a directory of pg.sh" ;; esac
	bin=$(bindir) || die "PostgreSQL binaries not found"
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop \
			>/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop)
	[ $# -eq 2 ] || die "usage: pg.sh stop URL"
	stop_dir "${2##*host=}"
	;;
*) die "usage: pg.sh start | pg.sh stop URL" ;;
esac
