#!/bin/bash
# The slipway demo: build examples/hello (a quick look at a build and its
# artifacts), then run examples/webapp end to end: validate its files,
# build, unit-test and deploy it to four rehearsal hosts with one
# `slipway run`, ask every host over HTTP what it serves, and stop the
# servers again. Last, the same webapp through examples/pipeline: the
# pipeline stops at its manual approval (exit 5), is approved here with
# `slipway pipeline approve`, deploys to two rehearsal hosts and ends
# Succeeded, with its report.html. Last, the webapp is redeployed one
# host at a time behind an HAProxy that slipway runs
# (examples/webapp/fleet-lb.yml) while --probe sends requests through it:
# "0 of N requests failed" (skipped where HAProxy is not installed).
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
pstate=$demo/pipeline-state
export PIPELINE_EVENTS=$demo/pipeline-events.jsonl

. "$webapp/scripts/common.sh"
export WEBAPP_PORT_BASE=${WEBAPP_PORT_BASE:-$(free_port_base 28080)}
lbgroup=$demo/fleet-lb.yml
trap '"$webapp/stop-servers.sh" "$state"; "$webapp/stop-servers.sh" "$pstate"
	[ -f "$lbgroup" ] && "$slipway" lb stop --group "$lbgroup" \
		--state-dir "$state" >/dev/null 2>&1' EXIT
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

step "slipway validate examples/pipeline/pipeline.yml"
"$slipway" validate "$here/pipeline/pipeline.yml"

step "slipway pipeline start examples/pipeline/pipeline.yml"
rc=0
pe=$("$slipway" pipeline start "$here/pipeline/pipeline.yml" \
	--state-dir "$pstate") || rc=$?
if [ "$rc" -ne 5 ] || [ -z "$pe" ]; then
	echo "demo: the pipeline should wait for its approval (exit 5)," \
		"not exit $rc" >&2
	exit 1
fi

step "slipway pipeline approve $pe"
"$slipway" pipeline approve "$pe" --state-dir "$pstate" \
	--summary "approved by the demo"

step "slipway pipeline show $pe"
"$slipway" pipeline show "$pe" --state-dir "$pstate"
"$webapp/check.sh" "$here/pipeline/rehearsal.yml" 1.0

step "stopping the pipeline's servers"
"$webapp/stop-servers.sh" "$pstate"

if command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ]; then
	# the example's ports, moved to this demo's
	lbport=$((WEBAPP_PORT_BASE + 9))
	sed -e "s/127\.0\.0\.1:28080/127.0.0.1:$lbport/" \
		-e "s/127\.0\.0\.1:28081/127.0.0.1:$((WEBAPP_PORT_BASE + 1))/" \
		-e "s/127\.0\.0\.1:28082/127.0.0.1:$((WEBAPP_PORT_BASE + 2))/" \
		-e "s/127\.0\.0\.1:28083/127.0.0.1:$((WEBAPP_PORT_BASE + 3))/" \
		-e "s/127\.0\.0\.1:28084/127.0.0.1:$((WEBAPP_PORT_BASE + 4))/" \
		"$webapp/fleet-lb.yml" >"$lbgroup"
	bundle=$(jq -r '.deployments[0].revision.location' "$run_report")

	step "slipway deploy the webapp behind HAProxy (examples/webapp/fleet-lb.yml)"
	"$slipway" deploy "$bundle" --group "$lbgroup" --state-dir "$state" -q

	step "redeploy one host at a time with --probe http://127.0.0.1:$lbport/"
	"$slipway" deploy "$bundle" --group "$lbgroup" --state-dir "$state" \
		-q --probe "http://127.0.0.1:$lbport/,20" \
		--report "$demo/lb-report.json"
	jq -r '"\(.probe.failed) of \(.probe.sent) requests failed; " +
		"longest gap between answers \(.probe.longestGapMs) ms"' \
		"$demo/lb-report.json"
	if [ "$(jq -r .probe.failed "$demo/lb-report.json")" != 0 ]; then
		echo "demo: requests were lost behind the load balancer" >&2
		exit 1
	fi
	"$slipway" lb status --group "$lbgroup" --state-dir "$state"

	step "stopping the servers and the load balancer"
	"$webapp/stop-servers.sh" "$state"
	"$slipway" lb stop --group "$lbgroup" --state-dir "$state"
else
	step "no HAProxy here (apt-get install haproxy): the load balancer part is skipped"
fi
trap - EXIT

step "done"
id=$(jq -r .runId "$run_report")
echo "hello build: $report"
echo "artifacts:   $out"
echo "state:       $state"
if [ -f "$state/runs/$id/report.html" ]; then
	echo "html:        $state/runs/$id/report.html"
fi
echo "pipeline:    $pstate/executions/$pe/report.html"
echo "events:      $PIPELINE_EVENTS"
echo "report:      $state/runs/$id/report.json"
