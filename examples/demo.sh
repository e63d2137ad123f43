#!/bin/bash
# The slipway demo: build examples/hello (a quick look at a build and its
# artifacts), then run examples/webapp end to end: validate its files,
# build, unit-test and deploy it to four rehearsal hosts with one
# `slipway run`, ask every host over HTTP what it serves, and stop the
# servers again.
#
#   examples/demo.sh [SLIPWAY]     (make demo runs it with the built binary)
#
# Everything goes to one new temporary directory, or to $SLIPWAY_DEMO_DIR
# when that is set; the repository is left as it was. The webapp's hosts
# serve on 127.0.0.1 ports WEBAPP_PORT_BASE+1..4 (default 28081-28084, or
# the first hundred up where nothing listens); every server is stopped
# when the demo ends, however it ends.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
slipway=${1:-${SLIPWAY:-}}
if [ -z "$slipway" ]; then
	if [ -x "$here/../slipway" ]; then
		slipway=$here/../slipway
	else
		slipway=slipway
	fi
fi
if [ -n "${SLIPWAY_DEMO_DIR:-}" ]; then
	demo=$SLIPWAY_DEMO_DIR
	mkdir -p "$demo"
else
	demo=$(mktemp -d "${TMPDIR:-/tmp}/slipway-demo.XXXXXX")
fi
state=$demo/state
out=$demo/artifacts
report=$demo/report.json
run_report=$demo/webapp-run.json
webapp=$here/webapp

. "$webapp/scripts/common.sh"
export WEBAPP_PORT_BASE=${WEBAPP_PORT_BASE:-$(free_port_base 28080)}
trap '"$webapp/stop-servers.sh" "$state"' EXIT
trap 'exit 1' HUP INT TERM

step() {
	printf '\n==> %s\n' "$*"
}

step "slipway validate examples/hello/buildspec.yml"
"$slipway" validate "$here/hello/buildspec.yml"

step "slipway build examples/hello -o $out"
"$slipway" build "$here/hello" --state-dir "$state" -o "$out" \
	--report "$report" -q

step "artifacts"
for zip in "$out"/*.zip; do
	unzip -l "$zip"
done

step "slipway validate examples/webapp/{buildspec,appspec,fleet}.yml"
"$slipway" validate "$webapp/buildspec.yml" "$webapp/appspec.yml" \
	"$webapp/fleet.yml"

step "slipway plan --group examples/webapp/fleet.yml"
"$slipway" plan --group "$webapp/fleet.yml" --state-dir "$state"

step "slipway run examples/webapp --group examples/webapp/fleet.yml"
"$slipway" run "$webapp" --group "$webapp/fleet.yml" --state-dir "$state" \
	--report "$run_report"

step "every host answers over HTTP"
"$webapp/check.sh" "$webapp/fleet.yml" 1.0

step "the run"
jq -r '"run \(.runId): \(.status)",
	"build \(.build.id): \(.build.buildStatus)",
	(.build.reports[]? | "  tests \(.reportGroupName): " +
		"\(.testSummary.statusCounts.SUCCEEDED) of " +
		"\(.testSummary.total) passed"),
	(.deployments[] | "deployment \(.deploymentId): \(.status)",
		(.instances[]? | "  \(.instanceId // .name): \(.status)"))' \
	"$run_report"

step "stopping the servers"
"$webapp/stop-servers.sh" "$state"
trap - EXIT

step "done"
id=$(jq -r .runId "$run_report")
echo "hello build: $report"
echo "artifacts:   $out"
echo "state:       $state"
if [ -f "$state/runs/$id/report.html" ]; then
	echo "html:        $state/runs/$id/report.html"
fi
echo "report:      $state/runs/$id/report.json"
