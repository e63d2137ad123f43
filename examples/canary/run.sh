#!/bin/bash
# A canary deployment, end to end:
#
#   1. revision 1.0 of examples/webapp goes to four hosts under Canary25
#      (web-1 first, a 2 s bake and ./health.sh, then the other three);
#   2. revision 2.0 goes out the same way: web-1 serves 2.0 while the
#      others still serve 1.0 during the bake; ./health.sh checks web-1
#      over HTTP, and only then do web-2..4 take 2.0;
#   3. every host is asked over HTTP and must serve 2.0.
#
#   examples/canary/run.sh [SLIPWAY]
#
# Ports WEBAPP_PORT_BASE+1..4 (default 28281-28284, or the first hundred up
# where nothing listens). Everything goes to a new temporary directory,
# or $SLIPWAY_EXAMPLE_DIR; the servers are stopped on exit. Ends with
# "PASS" (exit 0) or "FAIL: why" (exit 1).
set -u

here=$(cd "$(dirname "$0")" && pwd)
examples=$(dirname "$here")
slipway=${1:-${SLIPWAY:-}}
if [ -z "$slipway" ]; then
	if [ -x "$examples/../slipway" ]; then
		slipway=$examples/../slipway
	else
		slipway=slipway
	fi
fi
. "$examples/webapp/scripts/common.sh"
export WEBAPP_PORT_BASE=${WEBAPP_PORT_BASE:-$(free_port_base 28280)}
if [ -n "${SLIPWAY_EXAMPLE_DIR:-}" ]; then
	dir=$SLIPWAY_EXAMPLE_DIR
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/slipway-canary.XXXXXX")
fi
state=$dir/state
group=$here/fleet.yml

trap '"$examples/webapp/stop-servers.sh" "$state"' EXIT
trap 'exit 1' HUP INT TERM

step() {
	printf '\n==> %s\n' "$*"
}

fail() {
	echo "FAIL: $*"
	exit 1
}

deploy() { # VERSION
	local status=0

	WEBAPP_EXPECT_VERSION=$1 "$slipway" run "$examples/webapp" \
		--group "$group" --state-dir "$state" -e APP_VERSION="$1" \
		--report "$dir/run-$1.json" || status=$?
	[ "$status" -eq 0 ] || fail "revision $1 did not deploy (exit $status)"
}

step "revision 1.0 under Canary25"
deploy 1.0
"$examples/webapp/check.sh" "$group" 1.0 || fail "1.0 is not served"

step "revision 2.0 under Canary25"
deploy 2.0

step "every host serves 2.0"
"$examples/webapp/check.sh" "$group" 2.0 || fail "2.0 is not served"

step "stopping the servers"
"$examples/webapp/stop-servers.sh" "$state"
trap - EXIT

echo
echo "report: $dir/run-2.0.json"
echo "PASS: 2.0 went to web-1, passed the health check, then to all 4 hosts"
