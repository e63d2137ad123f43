#!/bin/bash
# A deployment that fails and rolls back, end to end:
#
#   1. revision 1.0 of examples/webapp goes to four hosts (OneAtATime);
#   2. revision 2.0 (the webapp plus rev2/config/web-3.env, a typo that
#      makes web-3's server refuse to start) goes out one host at a time:
#      web-1 and web-2 take it, web-3 fails ValidateService, the
#      deployment stops (web-4 is skipped) and rolls back;
#   3. every host is asked over HTTP and must serve 1.0 again.
#
#   examples/rollback/run.sh [SLIPWAY]
#
# Ports WEBAPP_PORT_BASE+1..4 (default 28181-28184, or the first hundred up
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
export WEBAPP_PORT_BASE=${WEBAPP_PORT_BASE:-$(free_port_base 28180)}
if [ -n "${SLIPWAY_EXAMPLE_DIR:-}" ]; then
	dir=$SLIPWAY_EXAMPLE_DIR
	mkdir -p "$dir"
else
	dir=$(mktemp -d "${TMPDIR:-/tmp}/slipway-rollback.XXXXXX")
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

step "revision 1.0 to every host"
"$slipway" run "$examples/webapp" --group "$group" --state-dir "$state" \
	-e APP_VERSION=1.0 --report "$dir/run1.json" -q ||
	fail "revision 1.0 did not deploy (exit $?)"
"$examples/webapp/check.sh" "$group" 1.0 || fail "1.0 is not served"

step "revision 2.0, broken on web-3"
rm -rf "$dir/rev2"
cp -R "$examples/webapp" "$dir/rev2"
cp -R "$here/rev2/." "$dir/rev2/"
status=0
"$slipway" run "$dir/rev2" --group "$group" --state-dir "$state" \
	-e APP_VERSION=2.0 --report "$dir/run2.json" || status=$?
[ "$status" -eq 1 ] || fail "revision 2.0 exited $status, not 1"

step "what happened"
jq -r '.deployments[] |
	"\(.deploymentId) \(.status)" +
	(if .rollbackInfo.rollbackDeploymentId then
		" (rolled back by \(.rollbackInfo.rollbackDeploymentId))"
	 else "" end),
	(.instances[] | "  \(.instanceId // .name) \(.status)" +
		([.lifecycleEvents[] | select(.status == "Failed") |
		  " \(.lifecycleEventName): \(.diagnostics.message)"] |
		 join("")))' "$dir/run2.json"
[ "$(jq -r '.deployments[0].status' "$dir/run2.json")" = Failed ] ||
	fail "the deployment of 2.0 did not fail"
[ "$(jq -r '.deployments[1].status' "$dir/run2.json")" = Succeeded ] ||
	fail "the rollback did not succeed"

step "every host serves 1.0 again"
"$examples/webapp/check.sh" "$group" 1.0 ||
	fail "not every host serves 1.0 after the rollback"

step "stopping the servers"
"$examples/webapp/stop-servers.sh" "$state"
trap - EXIT

echo
echo "report: $dir/run2.json"
echo "PASS: 2.0 failed on web-3, was rolled back, and all 4 hosts serve 1.0"
