#!/usr/bin/env bats
# The examples as a newcomer runs them: examples/webapp built, tested and
# deployed to four rehearsal hosts that answer over HTTP, the rollback and
# canary run scripts, and the demo. Every server a test starts is stopped
# in teardown (by the pid files under the test's directory), and each
# test checks that none is left.

load helpers

EX=$BATS_TEST_DIRNAME/../../examples

setup() {
	T=$BATS_TEST_TMPDIR
	STATE=$T/state
	REPORT=$T/report.json
	MARK=$RANDOM$RANDOM$RANDOM
	# shellcheck source=../../examples/webapp/scripts/common.sh
	. "$EX/webapp/scripts/common.sh"
	# A port range of this test's own: 20000-24900, moved up past any
	# range where something listens.
	WEBAPP_PORT_BASE=$(free_port_base $((20000 + MARK % 50 * 100)))
	export WEBAPP_PORT_BASE
}

# Every webapp server started under this test's directory.
servers() {
	pgrep -f "^$T/.*/opt/webapp/bin/webapp " || true
}

teardown() {
	local pidfile state h
	for h in "$STATE"/hosts/*/box.json; do
		[ -f "$h" ] || continue
		h=${h%/box.json}
		"$SLIPWAY" host stop "${h##*/}" --state-dir "$STATE" \
			>/dev/null 2>&1 || true
	done

	for pidfile in $(find "$T" -path '*/var/run/webapp/webapp.pid' \
		2>/dev/null); do
		state=${pidfile%/hosts/*}
		"$EX/webapp/stop-servers.sh" "$state" >/dev/null
	done
	for p in $(servers); do
		kill -KILL "$p" 2>/dev/null || true
	done
}

# The body of GET / on host NAME of the current port range.
get() { # NAME
	http_get "$(host_port "$1")" /
}

@test "examples: webapp builds, tests and deploys; all 4 hosts serve it over HTTP; the cache is reused" {
	run timeout 120 "$SLIPWAY" run "$EX/webapp" \
		--group "$EX/webapp/fleet.yml" --state-dir "$STATE" \
		--report "$REPORT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"slipway: run r-"*" Succeeded; report: "* ]]
	for h in web-1 web-2 web-3 web-4; do
		[ "$(get "$h")" = "webapp 1.0 on $h" ]
		[ "$(http_get "$(host_port "$h")" /health)" = ok ]
	done
	# the unit tests' report group
	[ "$(rj .status)" = Succeeded ]
	[ "$(rj '.build.reports[0].reportGroupName')" = webapp-unit ]
	[ "$(rj '.build.reports[0].testSummary.total')" -eq 7 ]
	[ "$(rj '.build.reports[0].testSummary.statusCounts.SUCCEEDED')" -eq 7 ]
	[[ "$output" == *"Report group unit: 7 tests, 7 passed, 0 failed"* ]]
	# the object cache: a miss, then saved under the hash of server.c
	[[ "$(rj .build.cache.restore)" == *"miss"* ]]
	[[ "$(rj .build.cache.save)" == "Saving cache: key webapp-obj-"* ]]
	[ "$(rj '.deployments[0].status')" = Succeeded ]
	[ "$(rj '.deployments | length')" -eq 1 ]

	# a second run: server.o comes from the cache; 1.1 replaces 1.0
	run timeout 120 "$SLIPWAY" run "$EX/webapp" \
		--group "$EX/webapp/fleet.yml" --state-dir "$STATE" \
		--report "$REPORT" -e APP_VERSION=1.1
	[ "$status" -eq 0 ]
	[[ "$(rj .build.cache.restore)" == "Restoring cache: key webapp-obj-"* ]]
	[[ "$output" == *"obj/server.o restored from the cache"* ]]
	[[ "$output" == *"stopping webapp on web-1"* ]]
	for h in web-1 web-2 web-3 web-4; do
		[ "$(get "$h")" = "webapp 1.1 on $h" ]
	done
	[ "$(servers | wc -l)" -eq 4 ]

	"$EX/webapp/stop-servers.sh" "$STATE"
	[ -z "$(servers)" ]
	! get web-1 || false
	# nothing was written into the example itself
	[ ! -e "$EX/webapp/obj" ]
	[ ! -e "$EX/webapp/dist" ]
	[ ! -e "$EX/webapp/.slipway" ]
}

@test "examples: webapp in sandboxes: the build sandboxed, 4 hosts with their own networks each serve port 80; a second run stops and replaces them; host stop ends them" {
	command -v ip >/dev/null || skip "iproute2 is needed"
	run timeout 120 "$SLIPWAY" run "$EX/webapp" \
		--group "$EX/webapp/fleet.yml" --state-dir "$STATE" \
		--report "$REPORT" --isolation sandbox --host-network private
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Running in a sandbox, source at /codebuild/output/src"* ]]
	addrs=
	for h in web-1 web-2 web-3 web-4; do
		a=$(jq -r .address "$STATE/hosts/$h/box.json")
		[[ "$a" == 10.213.* ]]
		[ "$(curl -s --max-time 5 "http://$a/")" = "webapp 1.0 on $h" ]
		[ "$(curl -s --max-time 5 "http://$a/health")" = ok ]
		addrs="$addrs $a"
	done
	# four distinct addresses, port 80 each, nothing on this machine's
	[ "$(echo $addrs | tr ' ' '\n' | sort -u | wc -l)" -eq 4 ]
	run timeout 120 "$SLIPWAY" run "$EX/webapp" \
		--group "$EX/webapp/fleet.yml" --state-dir "$STATE" \
		--report "$REPORT" --isolation sandbox -e APP_VERSION=1.1
	[ "$status" -eq 0 ]
	[[ "$output" == *"stopping webapp on web-1"* ]]
	for a in $addrs; do
		[[ "$(curl -s --max-time 5 "http://$a/")" == "webapp 1.1 on web-"* ]]
	done
	[ "$(pgrep -fc "^/opt/webapp/bin/webapp -p 80 ")" -eq 4 ]
	run "$SLIPWAY" host stop web-1 web-2 web-3 web-4 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(pgrep -fc "^/opt/webapp/bin/webapp -p 80 ")" -eq 0 ]
	for a in $addrs; do
		[ ! -e "/run/slipway/net/$a" ]
	done
	[ ! -e "$EX/webapp/obj" ]
}

@test "examples: rollback: revision 2 fails on web-3, rolls back, 1.0 is served again" {
	SLIPWAY_EXAMPLE_DIR=$T/rb run timeout 180 "$EX/rollback/run.sh" \
		"$SLIPWAY"
	[ "$status" -eq 0 ]
	[[ "${lines[${#lines[@]} - 1]}" == "PASS: 2.0 failed on web-3"* ]]
	jq -e '.deployments[0].status == "Failed" and
		.deployments[1].status == "Succeeded"' "$T/rb/run2.json"
	jq -e '[.deployments[0].instances[] | .status] ==
		["Succeeded", "Succeeded", "Failed", "Skipped"]' "$T/rb/run2.json"
	[ -z "$(servers)" ]
}

@test "examples: canary: 2.0 goes to web-1, passes the HTTP health check, then to all" {
	SLIPWAY_EXAMPLE_DIR=$T/cn run timeout 180 "$EX/canary/run.sh" \
		"$SLIPWAY"
	[ "$status" -eq 0 ]
	[[ "${lines[${#lines[@]} - 1]}" == "PASS: 2.0 went to web-1"* ]]
	[[ "$output" == *"health check: ./health.sh (hosts: web-1)"* ]]
	[[ "$output" == *"web-1: healthy: webapp 2.0 on web-1"* ]]
	[[ "$output" == *"health check passed"* ]]
	[ -z "$(servers)" ]
}

@test "examples: a canary whose hosts do not answer fails the health check" {
	SLIPWAY_DEPLOYED_HOSTS="web-1 web-2" run "$EX/canary/health.sh"
	[ "$status" -eq 1 ]
	[[ "$output" == *"web-1: UNHEALTHY: /health (no answer)"* ]]
}

@test "examples: the demo runs the webapp end to end and says where the report is" {
	local d=$T/demo start=$SECONDS

	SLIPWAY_DEMO_DIR=$d run timeout 120 "$EX/demo.sh" "$SLIPWAY"
	[ "$status" -eq 0 ]
	[ $((SECONDS - start)) -lt 60 ]
	for h in web-1 web-2 web-3 web-4; do
		[[ "$output" == *"$h  http://127.0.0.1:"*"/  webapp 1.0 on $h"* ]]
	done
	[[ "$output" == *"stopped webapp on web-4"* ]]
	run_report=$(printf '%s\n' "$output" | sed -n 's/^report: *//p')
	[[ "$run_report" == "$d/state/runs/r-"*"/report.json" ]]
	[ "$(jq -r .status "$run_report")" = Succeeded ]
	[ -z "$(servers)" ]
}

@test "examples: pipeline validates with nothing to say, waits at its approval, approved deploys to both hosts; events reach notify.sh" {
	touch "$T/mark"
	run "$SLIPWAY" validate "$EX/pipeline/pipeline.yml"
	[ "$status" -eq 0 ]
	[ "$output" = "$EX/pipeline/pipeline.yml: ok (pipeline webapp, 4 stages, 5 actions, QUEUED)" ]

	export PIPELINE_EVENTS=$T/events.jsonl
	run "$SLIPWAY" pipeline start "$EX/pipeline/pipeline.yml" \
		--state-dir "$STATE"
	[ "$status" -eq 5 ]
	pe=$(printf '%s\n' "$output" | grep -m1 '^pe-')
	# Build and Lint ran side by side: both started before either ended
	[ "$(printf '%s\n' "$output" | grep -n '^Build/Lint: started' | cut -d: -f1)" -lt \
		"$(printf '%s\n' "$output" | grep -n '^Build/Build: Succeeded' | cut -d: -f1)" ]
	[[ "$output" == *"CustomData: deploy webapp 1.0 ("*") to the rehearsal hosts"* ]]
	[ -z "$(servers)" ]

	run "$SLIPWAY" pipeline approve "$pe" --state-dir "$STATE" \
		--summary "ship it"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$pe Succeeded"* ]]
	[ "$(get web-1)" = "webapp 1.0 on web-1" ]
	[ "$(get web-2)" = "webapp 1.0 on web-2" ]
	# every event went to the notification command, the last one the
	# execution's success
	flock -w 60 "$STATE/executions/$pe/notify/cmd-0.lock" true
	[ "$(wc -l <"$PIPELINE_EVENTS")" -eq \
		"$(wc -l <"$STATE/executions/$pe/events.jsonl")" ]
	[ "$(tail -1 "$PIPELINE_EVENTS" | jq -r '.detail.state')" = SUCCEEDED ]
	grep -q 'ship it' "$STATE/executions/$pe/report.html"
	# nothing written into the example
	[ -z "$(find "$EX/pipeline" "$EX/webapp" -newer "$T/mark")" ]
	"$EX/webapp/stop-servers.sh" "$STATE" >/dev/null
	[ -z "$(servers)" ]
}
