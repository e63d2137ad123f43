#!/usr/bin/env bats
# A group behind a load balancer: a managed HAProxy that slipway starts,
# the six traffic events done for real (a host is drained and taken out
# before ApplicationStop, put back once HAProxy's health check passes),
# `slipway lb status`, and --probe counting the requests that failed
# while the deployment ran. The hosts serve lb_app.py on loopback ports.

load helpers
load lb_helpers

eval "base_$(declare -f setup)"
eval "base_$(declare -f teardown)"

setup() {
	base_setup
	lb_setup
}

teardown() {
	local b
	# the sandboxes a test started (and their balancer)
	for b in "$STATE"/hosts/*/box.json; do
		[ -e "$b" ] || continue
		"$SLIPWAY" host stop "$(basename "$(dirname "$b")")" \
			--state-dir "$STATE" >/dev/null 2>&1 || true
	done
	lb_teardown
	base_teardown
}

# Every host's ApplicationStop found its server in maintenance.
all_drained_before_stop() { # HOST...
	local h
	for h in "$@"; do
		grep -qx "ApplicationStop $h MAINT" "$HOOKLOG" || {
			echo "ApplicationStop of $h did not find it in MAINT:"
			cat "$HOOKLOG"
			return 1
		}
	done
}

@test "OneAtATime redeploy behind HAProxy: each host drained before ApplicationStop, 0 requests failed" {
	lb_group CodeDeployDefault.OneAtATime w1 w2 w3
	lb_rev r1 v1
	lb_rev r2 v2
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	[ "$(lb_state w1)" = UP ]
	: >"$HOOKLOG"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 0 ]
	all_drained_before_stop w1 w2 w3
	# one host at a time: the next one is blocked after the last allowed
	[ "$(grep -E '^(BeforeBlockTraffic|AfterAllowTraffic)' "$HOOKLOG" |
		awk '{print $1}' | uniq -c | awk '{print $1}' | sort -u)" = 1 ]
	[ "$(rj .probe.failed)" = 0 ]
	[ "$(rj .probe.sent)" -gt 10 ]
	# both versions answered: v1 first, v2 last
	[ "$(rj '.probe.versions[0].version')" = v1 ]
	[ "$(rj '.probe.versions[1].version')" = v2 ]
	[ "$(rj '.probe.versions | length')" = 2 ]
	[[ "$output" == *"probe: 0 of $(rj .probe.sent) requests failed"* ]]
	# the traffic events ran and say what they did
	[[ "$output" == *"w2 | [slipway] load balancer: w2 drained in "* ]]
	[[ "$output" == *"w2 | [slipway] load balancer: w2 ready; its health check passed"* ]]
	# the page shows the probe: each version a line of the timeline
	run "$SLIPWAY" report --state-dir "$STATE" "$(rj .deploymentId)" --html "$T/r.html"
	[ "$status" -eq 0 ]
	grep -q "0 of $(jq -r .probe.sent "$REPORT") requests failed" "$T/r.html"
	[ "$(grep -c '<tr><td><code>v[12]</code>' "$T/r.html")" = 2 ]
	for h in w1 w2 w3; do
		[ "$(lb_state $h)" = UP ]
	done
}

@test "HalfAtATime redeploy of 4 hosts behind HAProxy: 0 requests failed" {
	lb_group CodeDeployDefault.HalfAtATime w1 w2 w3 w4
	lb_rev r1 v1
	lb_rev r2 v2
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	: >"$HOOKLOG"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 0 ]
	all_drained_before_stop w1 w2 w3 w4
	[ "$(rj .probe.failed)" = 0 ]
	[ "$(rj '[.probe.versions[].version] | join(" ")')" = "v1 v2" ]
}

@test "a probe through a balancer with no host up counts every request as failed" {
	LB_WAIT=1s lb_group CodeDeployDefault.AllAtOnce w1 w2
	lb_rev r1 v1
	touch "$T/nostart/w1" "$T/nostart/w2"
	lb_deploy "$T/r1" --probe "http://127.0.0.1:$LB_PORT/,50"
	[ "$status" -eq 1 ]
	echo "$output"
	[ "$(rj .probe.sent)" -gt 5 ]
	[ "$(rj .probe.failed)" = "$(rj .probe.sent)" ]
	[ "$(rj '.probe.versions | length')" = 0 ]
	[[ "$(rj '.probe.failures[0].error')" == "status 503"* ]]
	# the longest gap is the whole probe
	[ "$(rj .probe.longestGapMs)" -gt 900 ]
	[[ "$output" == *"probe: $(rj .probe.sent) of $(rj .probe.sent) requests failed"* ]]
}

@test "a host that never passes the health check fails AllowTraffic with the check's result" {
	LB_WAIT=1s lb_group CodeDeployDefault.OneAtATime w2 w1
	lb_rev r1 v1
	touch "$T/nostart/w2"
	lb_deploy "$T/r1"
	echo "$output"
	[ "$status" -eq 1 ]
	same "$(jq -r '.instances[] | select(.instanceId == "w2") |
		.lifecycleEvents[] | select(.lifecycleEventName == "AllowTraffic") |
		.status' "$REPORT")" Failed
	[[ "$output" == *"w2 did not pass the load balancer's health check (GET /health every 200 ms) within 1000 ms: it is DOWN, last check L4CON"* ]]
	# AfterAllowTraffic did not run on it
	! grep -q "AfterAllowTraffic w2" "$HOOKLOG" || false
	[ "$(lb_state w2)" = DOWN ]
}

@test "a failed ValidateService leaves the host out; the rollback puts the old version back behind the balancer" {
	GF_EXTRA=1 lb_group CodeDeployDefault.OneAtATime w1 w2 w3 <<<"auto-rollback: true"
	lb_rev r1 v1
	lb_rev r2 v2
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	mkdir -p "$T/badvalidate/v2"
	touch "$T/badvalidate/v2/w2"
	: >"$HOOKLOG"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
	[[ "$(rj .rollbackInfo.rollbackMessage)" == *"Succeeded" ]]
	# w2 was drained before it stopped, in the deployment and the rollback
	[ "$(grep -c '^ApplicationStop w2 MAINT$' "$HOOKLOG")" = 2 ]
	# after the rollback every host serves v1 again, all in rotation
	for h in w1 w2; do
		[ "$(lb_state $h)" = UP ]
	done
	[ "$(lb_state w3)" = UP ]
	[ "$(rj .probe.failed)" = 0 ]
	# v1 answered last: after the rollback
	[ "$(rj '([.probe.versions[] | select(.version == "v1")][0].lastAt) >
		([.probe.versions[] | select(.version == "v2")][0].lastAt)')" = true ]
	[[ "$output" == *"and its rollback; probe: 0 of "* ]]
}

@test "lb status shows each server as HAProxy sees it; host stop stops the balancer" {
	lb_group CodeDeployDefault.AllAtOnce w1 w2
	lb_rev r1 v1
	run "$SLIPWAY" lb status --group "$GF" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"the load balancer of group lbfleet is not running"* ]]
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	run "$SLIPWAY" lb status --group "$GF" --state-dir "$STATE"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == SERVER* ]]
	[[ "$output" == *"w1 "*"127.0.0.1:"*" UP "* ]]
	python3 "$BATS_TEST_DIRNAME/lb_admin.py" "$(lb_sock)" \
		set server slipway/w2 state maint
	run "$SLIPWAY" lb status --group "$GF" --state-dir "$STATE"
	[[ "$output" == *"w2 "*" MAINT "* ]]
	pid=$(cut -d' ' -f1 "$STATE"/lb/*/haproxy.pid)
	running "$pid"
	run "$SLIPWAY" host stop --state-dir "$STATE" w1
	echo "$output"
	[[ "$output" == *"load balancer of"*"stopped"* ]]
	! running "$pid" || false
	[ ! -e "$(lb_sock)" ] || ! lb_state w1
}

@test "group file: load-balancer errors point at the line" {
	cat >"$T/g.yml" <<'YML'
application: a
deployment-group: g
load-balancer:
  kind: haproxy
  managed: {listen: 127.0.0.1:8080}
hosts:
  - name: w1
    target: 127.0.0.1:99999
YML
	run "$SLIPWAY" validate "$T/g.yml"
	[ "$status" -eq 3 ]
	[[ "$output" == *"g.yml:8:13: 'hosts[0].target' must be address:port"* ]]
	sed -i 's/    target: 127.0.0.1:99999//' "$T/g.yml"
	run "$SLIPWAY" validate "$T/g.yml"
	[ "$status" -eq 3 ]
	[[ "$output" == *"g.yml:7:5: 'hosts[0]' (w1) has no 'target'"* ]]
	sed -i 's/  kind: haproxy/  kind: nginx/' "$T/g.yml"
	run "$SLIPWAY" validate "$T/g.yml"
	[ "$status" -eq 3 ]
	[[ "$output" == *"g.yml:4:9: unknown load balancer kind"* ]]
}

@test "sandboxed hosts with addresses of their own and no target: the balancer reaches each at its address and port" {
	command -v ip >/dev/null || skip "iproute2 is needed"
	local ports
	ports=($(free_ports 1))
	LB_PORT=${ports[0]}
	cc -O1 -o "$T/webapp" "$BATS_TEST_DIRNAME/../../examples/webapp/server.c"
	mkdir -p "$T/sb/bin"
	cp "$T/webapp" "$T/sb/bin/"
	cat >"$T/sb/appspec.yml" <<'YML'
version: 0.0
os: linux
files:
  - source: bin
    destination: /opt/web
hooks:
  ApplicationStop:
    - location: stop.sh
  ApplicationStart:
    - location: start.sh
YML
	cat >"$T/sb/start.sh" <<'SH'
#!/bin/bash
nohup /opt/web/webapp -p 8000 -a 0.0.0.0 -n "$(hostname)" -V sb \
	-P /run/web.pid >/var/log/web.log 2>&1 </dev/null &
for i in $(seq 500); do
	(exec 3<>/dev/tcp/127.0.0.1/8000) 2>/dev/null && exit 0
	sleep 0.01
done
exit 1
SH
	cat >"$T/sb/stop.sh" <<'SH'
#!/bin/bash
[ -s /run/web.pid ] && kill "$(cat /run/web.pid)" || true
SH
	chmod +x "$T/sb/start.sh" "$T/sb/stop.sh"
	cat >"$GF" <<YML
application: app
deployment-group: sandboxed
deployment-config: CodeDeployDefault.OneAtATime
load-balancer:
  kind: haproxy
  managed: {listen: 127.0.0.1:$LB_PORT}
  port: 8000
  health: {path: /, interval: 200ms, wait: 5s}
  deregistration-delay: 5s
hosts:
  - name: s1
  - name: s2
YML
	lb_deploy "$T/sb" --isolation sandbox --host-network private
	echo "$output"
	[ "$status" -eq 0 ]
	a1=$(jq -r .address "$STATE/hosts/s1/box.json")
	a2=$(jq -r .address "$STATE/hosts/s2/box.json")
	[[ "$a1" == 10.213.* ]] && [[ "$a2" == 10.213.* ]]
	run "$SLIPWAY" lb status --group "$GF" --state-dir "$STATE"
	echo "$output"
	[[ "$output" == *"s1 "*" $a1:8000 "*" UP "* ]]
	[[ "$output" == *"s2 "*" $a2:8000 "*" UP "* ]]
	# both answer through the balancer (round robin)
	same "$(for _ in 1 2 3 4; do
		curl -s --max-time 5 "http://127.0.0.1:$LB_PORT/"
	done | sort -u)" "$(printf '%s\n' 'webapp sb on s1' 'webapp sb on s2')"
	# a redeploy behind it, each drained first: 0 requests failed
	lb_deploy "$T/sb" --isolation sandbox --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(rj .probe.failed)" = 0 ]
	[[ "$output" == *"s1 | [slipway] load balancer: s1 drained in "* ]]
}

# ---- blue/green ----

@test "blue/green KEEP_ALIVE: the replacement fleet takes the traffic, the originals leave it and keep running" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1 b2" "g1 g2"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	BG_EXTRA="  original: {action: KEEP_ALIVE}" \
		lb_bg_group BLUE_GREEN CodeDeployDefault.OneAtATime "b1 b2" "g1 g2"
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE"
	echo "$output"
	[[ "$output" == *"replacement fleet (green): g1 g2"* ]]
	[[ "$output" == *"then the original fleet (blue), all at once: b1 b2; BeforeBlockTraffic, BlockTraffic, AfterBlockTraffic; kept (KEEP_ALIVE)"* ]]
	: >"$HOOKLOG"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 0 ]
	same "$(jq -r '.instances[] | "\(.instanceId) \(.instanceType) \(.status)"' "$REPORT" | sort)" \
		"$(printf '%s\n' 'b1 BLUE Succeeded' 'b2 BLUE Succeeded' 'g1 GREEN Succeeded' 'g2 GREEN Succeeded')"
	# the replacements ran the install and Allow events, the originals
	# only the Block ones
	same "$(jq -r '.instances[] | select(.instanceId == "b1") |
		[.lifecycleEvents[].lifecycleEventName] | join(" ")' "$REPORT")" \
		"BeforeBlockTraffic BlockTraffic AfterBlockTraffic"
	same "$(jq -r '.instances[] | select(.instanceId == "g1") |
		[.lifecycleEvents[].lifecycleEventName] | join(" ")' "$REPORT")" \
		"ApplicationStop DownloadBundle BeforeInstall Install AfterInstall ApplicationStart ValidateService BeforeAllowTraffic AllowTraffic AfterAllowTraffic"
	for h in g1 g2; do [ "$(lb_state $h)" = UP ]; done
	for h in b1 b2; do [ "$(lb_state $h)" = MAINT ]; done
	# the originals were blocked after every replacement took traffic
	last_allow=$(grep -n '^AfterAllowTraffic g' "$HOOKLOG" | tail -n 1 | cut -d: -f1)
	first_block=$(grep -n '^BeforeBlockTraffic b' "$HOOKLOG" | head -n 1 | cut -d: -f1)
	[ "$last_allow" -lt "$first_block" ]
	# kept: their servers still run
	! grep -q '^ApplicationStop b' "$HOOKLOG" || false
	running "$(cat "$STATE/hosts/b1/root/app.pid")"
	[ "$(rj .probe.failed)" = 0 ]
	[ "$(rj '[.probe.versions[].version] | join(" ")')" = "v1 v2" ]
	# from now on only the replacements answer
	same "$(python3 -c '
import sys, urllib.request
for _ in range(10):
    print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())
' "http://127.0.0.1:$LB_PORT/" | sort -u)" v2
	# the same again: the replacements, in service now, are taken out
	# before they are deployed to
	lb_deploy "$T/r2"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"g1 | [slipway] load balancer: g1 drained in "* ]]
	for h in g1 g2; do [ "$(lb_state $h)" = UP ]; done
}

@test "blue/green: a bundle deployed by hand with --rollback-of is deployed as usual, not a traffic rollback" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1 b2" "g1 g2"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	first=$(jq -r .deploymentId "$REPORT")
	BG_EXTRA="  original: {action: KEEP_ALIVE}" \
		lb_bg_group BLUE_GREEN CodeDeployDefault.AllAtOnce "b1 b2" "g1 g2"
	lb_deploy "$T/r2" --rollback-of "$first"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r .creator "$REPORT")" = codeDeployRollback ]
	# the replacements installed the bundle and took the traffic
	same "$(jq -r '.instances[] | select(.instanceId == "g1") |
		[.lifecycleEvents[].lifecycleEventName] | join(" ")' "$REPORT")" \
		"ApplicationStop DownloadBundle BeforeInstall Install AfterInstall ApplicationStart ValidateService BeforeAllowTraffic AllowTraffic AfterAllowTraffic"
	for h in g1 g2; do [ "$(lb_state $h)" = UP ]; done
	for h in b1 b2; do [ "$(lb_state $h)" = MAINT ]; done
}

@test "blue/green TERMINATE: the originals stop after the wait and are removed" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1 b2" "g1"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	bpid=$(cat "$STATE/hosts/b1/root/app.pid")
	BG_EXTRA="  original: {action: TERMINATE, wait: 300ms}" \
		lb_bg_group BLUE_GREEN CodeDeployDefault.AllAtOnce "b1 b2" "g1"
	: >"$HOOKLOG"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 0 ]
	# drained and out before they were stopped
	grep -qx 'ApplicationStop b1 MAINT' "$HOOKLOG"
	grep -qx 'ApplicationStop b2 MAINT' "$HOOKLOG"
	[[ "$output" == *"b1 | [slipway] out of the load balancer; stopped in 300 ms (original.wait)"* ]]
	[[ "$output" == *"b1 | [slipway] terminated: host stopped and removed"* ]]
	[ ! -e "$STATE/hosts/b1" ] && [ ! -e "$STATE/hosts/b2" ]
	! running "$bpid" || false
	same "$(jq -r '[.instances[] | select(.terminated) | .instanceId] | join(" ")' "$REPORT")" "b1 b2"
	[ "$(lb_state g1)" = UP ]
	[ "$(rj .probe.failed)" = 0 ]
}

@test "blue/green rollback: traffic goes back to the originals first, then leaves the replacements" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1 b2" "g1 g2"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	lb_bg_group BLUE_GREEN CodeDeployDefault.AllAtOnce "b1 b2" "g1 g2"
	mkdir -p "$T/badvalidate/v2"
	touch "$T/badvalidate/v2/g1" "$T/badvalidate/v2/g2"
	: >"$HOOKLOG"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$(rj .rollbackInfo.rollbackMessage)" == *"Succeeded" ]]
	rb=$(rj .rollbackInfo.rollbackDeploymentId)
	rbr=$STATE/deployments/$rb/report.json
	# the originals ran the Allow events, with their own (last good)
	# scripts, then the replacements the Block events
	same "$(jq -r '.instances[] | select(.instanceId == "b1") |
		[.lifecycleEvents[].lifecycleEventName] | join(" ")' "$rbr")" \
		"BeforeAllowTraffic AllowTraffic AfterAllowTraffic"
	same "$(jq -r '.instances[] | select(.instanceId == "g1") |
		[.lifecycleEvents[].lifecycleEventName] | join(" ")' "$rbr")" \
		"BeforeBlockTraffic BlockTraffic AfterBlockTraffic"
	last_allow=$(grep -n '^AfterAllowTraffic b' "$HOOKLOG" | tail -n 1 | cut -d: -f1)
	first_block=$(grep -n '^BeforeBlockTraffic g' "$HOOKLOG" | head -n 1 | cut -d: -f1)
	[ -n "$last_allow" ] && [ "$last_allow" -lt "$first_block" ]
	for h in b1 b2; do [ "$(lb_state $h)" = UP ]; done
	for h in g1 g2; do [ "$(lb_state $h)" = MAINT ]; done
	[ "$(rj .probe.failed)" = 0 ]
	[ "$(rj '[.probe.versions[].version] | join(" ")')" = v1 ]
}

# The deployment ID, run in the background, once it says Ready (its
# report), or fail when it ends first.
wait_ready() { # ID PID
	local r=$STATE/deployments/$1/report.json
	for _ in $(seq 1500); do
		[ "$(jq -r .status "$r" 2>/dev/null)" = Ready ] && return 0
		running "$2" || {
			echo "deployment $1 ended before it was Ready"
			cat "$T/bg.out"
			return 1
		}
		sleep 0.02
	done
	return 1
}

@test "blue/green STOP_DEPLOYMENT: Ready until deploy continue, then the traffic moves; 0 requests failed" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1 b2" "g1 g2"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	BG_EXTRA=$'  ready: {action: STOP_DEPLOYMENT, wait: 10m}\n  original: {action: KEEP_ALIVE}' \
		lb_bg_group BLUE_GREEN CodeDeployDefault.OneAtATime "b1 b2" "g1 g2"
	: >"$HOOKLOG"
	"$SLIPWAY" deploy "$T/r2" --group "$GF" --state-dir "$STATE" \
		--report "$REPORT" --deployment-id d-bgwait01 \
		--probe "http://127.0.0.1:$LB_PORT/,50" >"$T/bg.out" 2>&1 &
	pid=$!
	wait_ready d-bgwait01 "$pid"
	# waiting: installed, out of rotation; the originals serve
	for h in g1 g2; do [ "$(lb_state $h)" = MAINT ]; done
	for h in b1 b2; do [ "$(lb_state $h)" = UP ]; done
	grep -q '^ValidateService g2 v2$' "$HOOKLOG"
	! grep -q 'AllowTraffic g' "$HOOKLOG" || false
	[ "$(rj .deploymentOverview.Ready)" = 2 ]
	[ "$(rj '.instances[] | select(.instanceId == "g1") | .status')" = Ready ]
	[ "$(rj .blueGreenDeploymentConfiguration.deploymentReadyOption.outcome)" = Waiting ]
	grep -q "deployment d-bgwait01 Ready: the replacement fleet is installed" "$T/bg.out"
	run "$SLIPWAY" show d-bgwait01 --state-dir "$STATE"
	[[ "$output" == *"status:      Ready"* ]]
	[[ "$output" == *"waiting:     for \`slipway deploy continue d-bgwait01\` (or stop) until 20"* ]]
	run "$SLIPWAY" history --state-dir "$STATE"
	echo "$output"
	[[ "$output" == *d-bgwait01*Ready* ]]
	# from another terminal
	run "$SLIPWAY" deploy continue d-bgwait01 --state-dir "$STATE"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"deployment d-bgwait01 continued"* ]]
	rc=0
	wait "$pid" || rc=$?
	cat "$T/bg.out"
	[ "$rc" -eq 0 ]
	same "$(rj .status)" Succeeded
	[ "$(rj .blueGreenDeploymentConfiguration.deploymentReadyOption.outcome)" = Continued ]
	# one lifecycle per replacement host: the install, then the Allow events
	same "$(jq -r '.instances[] | select(.instanceId == "g1") |
		[.lifecycleEvents[].lifecycleEventName] | join(" ")' "$REPORT")" \
		"ApplicationStop DownloadBundle BeforeInstall Install AfterInstall ApplicationStart ValidateService BeforeAllowTraffic AllowTraffic AfterAllowTraffic"
	for h in g1 g2; do [ "$(lb_state $h)" = UP ]; done
	for h in b1 b2; do [ "$(lb_state $h)" = MAINT ]; done
	[ "$(rj .probe.failed)" = 0 ]
	[ "$(rj '[.probe.versions[].version] | join(" ")')" = "v1 v2" ]
	# a finished deployment, an unknown one
	run "$SLIPWAY" deploy continue d-bgwait01 --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"error: deployment d-bgwait01 does not wait for a decision: it is Succeeded"* ]]
	run "$SLIPWAY" deploy stop d-nosuch --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"error: no deployment d-nosuch in "* ]]
	run "$SLIPWAY" deploy continue --state-dir "$STATE"
	[ "$status" -eq 2 ]
}

@test "blue/green STOP_DEPLOYMENT: not continued within ready.wait, it stops (exit 4); the traffic stays on the original fleet" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1" "g1"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	BG_EXTRA="  ready: {action: STOP_DEPLOYMENT, wait: 300ms}" \
		lb_bg_group BLUE_GREEN CodeDeployDefault.AllAtOnce "b1" "g1"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 4 ]
	same "$(rj .status)" Stopped
	same "$(rj .errorInformation.code)" TIMEOUT
	[[ "$(rj .errorInformation.message)" == "not continued within ready.wait (300ms): the traffic stays on the original fleet"* ]]
	[ "$(rj .blueGreenDeploymentConfiguration.deploymentReadyOption.outcome)" = Expired ]
	[ "$(rj .rollbackInfo)" = null ]
	# the replacement: installed, never in rotation, kept; the original
	# untouched and serving
	same "$(jq -r '.instances[] | select(.instanceId == "g1") |
		[.lifecycleEvents[].lifecycleEventName] | join(" ")' "$REPORT")" \
		"ApplicationStop DownloadBundle BeforeInstall Install AfterInstall ApplicationStart ValidateService"
	[ "$(rj '.instances[] | select(.instanceId == "b1") | .status')" = Skipped ]
	[ "$(lb_state g1)" = MAINT ]
	[ "$(lb_state b1)" = UP ]
	[ -d "$STATE/hosts/b1" ] && [ -d "$STATE/hosts/g1" ]
	! grep -q 'BlockTraffic b1' "$HOOKLOG" || false
	[ "$(rj .probe.failed)" = 0 ]
	[ "$(rj '[.probe.versions[].version] | join(" ")')" = v1 ]
	# the FIFO is gone: nothing waits
	[ ! -e "$STATE/deployments/$(rj .deploymentId)/control" ]
}

@test "blue/green STOP_DEPLOYMENT: deploy stop while it waits stops it (exit 1)" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1" "g1"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	BG_EXTRA="  ready: {action: STOP_DEPLOYMENT}" \
		lb_bg_group BLUE_GREEN CodeDeployDefault.AllAtOnce "b1" "g1"
	"$SLIPWAY" deploy "$T/r2" --group "$GF" --state-dir "$STATE" \
		--report "$REPORT" --deployment-id d-bgstop01 >"$T/bg.out" 2>&1 &
	pid=$!
	wait_ready d-bgstop01 "$pid"
	run "$SLIPWAY" deploy stop d-bgstop01 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	rc=0
	wait "$pid" || rc=$?
	cat "$T/bg.out"
	[ "$rc" -eq 1 ]
	same "$(rj .status)" Stopped
	same "$(rj .errorInformation.code)" MANUAL_STOP
	[ "$(lb_state g1)" = MAINT ]
	[ "$(lb_state b1)" = UP ]
	run "$SLIPWAY" deploy continue d-bgstop01 --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not wait for a decision: it is Stopped"* ]]
}

@test "blue/green TERMINATE: deploy continue cuts original.wait short (TERMINATION_WAIT); deploy stop is refused there" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1" "g1"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	run "$SLIPWAY" deploy continue d-bgterm01 --state-dir "$STATE"
	[ "$status" -eq 1 ]
	BG_EXTRA="  original: {action: TERMINATE, wait: 10m}" \
		lb_bg_group BLUE_GREEN CodeDeployDefault.AllAtOnce "b1" "g1"
	"$SLIPWAY" deploy "$T/r2" --group "$GF" --state-dir "$STATE" \
		--report "$REPORT" --deployment-id d-bgterm01 >"$T/bg.out" 2>&1 &
	pid=$!
	# the original host waits in its agent
	for _ in $(seq 1500); do
		grep -q 'b1 | \[slipway\] out of the load balancer; stopped in 600000 ms' \
			"$T/bg.out" && break
		running "$pid" || break
		sleep 0.02
	done
	grep -q 'stopped in 600000 ms (original.wait)' "$T/bg.out"
	run "$SLIPWAY" deploy stop d-bgterm01 --state-dir "$STATE"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"error: deployment d-bgterm01: its traffic has moved; it waits to terminate the original fleet (original.wait)"* ]]
	run "$SLIPWAY" deploy continue d-bgterm01 --state-dir "$STATE"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"deployment d-bgterm01 continued: the original fleet is terminated now"* ]]
	rc=0
	wait "$pid" || rc=$?
	cat "$T/bg.out"
	[ "$rc" -eq 0 ]
	grep -q 'b1 | \[slipway\] original.wait cut short: the deployment was continued' "$T/bg.out"
	grep -q 'b1 | \[slipway\] terminated: host stopped and removed' "$T/bg.out"
	[ ! -e "$STATE/hosts/b1" ]
	[ "$(lb_state g1)" = UP ]
	same "$(rj .status)" Succeeded
}

@test "blue/green STOP_DEPLOYMENT: a deployment killed while it waits refuses continue; history says Failed" {
	lb_rev r1 v1
	lb_rev r2 v2
	lb_bg_group IN_PLACE CodeDeployDefault.AllAtOnce "b1" "g1"
	lb_deploy "$T/r1"
	[ "$status" -eq 0 ]
	BG_EXTRA="  ready: {action: STOP_DEPLOYMENT}" \
		lb_bg_group BLUE_GREEN CodeDeployDefault.AllAtOnce "b1" "g1"
	"$SLIPWAY" deploy "$T/r2" --group "$GF" --state-dir "$STATE" \
		--report "$REPORT" --deployment-id d-bgkill01 >"$T/bg.out" 2>&1 &
	pid=$!
	wait_ready d-bgkill01 "$pid"
	kill -KILL "$pid"
	wait "$pid" || true
	run "$SLIPWAY" deploy continue d-bgkill01 --state-dir "$STATE"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"error: deployment d-bgkill01 does not wait for a decision: it is Ready but its process is gone"* ]]
	run "$SLIPWAY" history --state-dir "$STATE"
	echo "$output"
	[[ "$output" == *d-bgkill01*Failed* ]]
	[ "$(lb_state b1)" = UP ]
}

# ---- an existing HAProxy ----

@test "an existing HAProxy driven over its admin socket: drained, back, 0 requests failed; its configuration untouched" {
	local ports
	ports=($(free_ports 3))
	LB_PORT=${ports[0]}
	mkdir -p "$T/hx"
	cat >"$T/hx/haproxy.cfg" <<CFG
global
	stats socket $T/hx/admin.sock mode 600 level admin
	stats timeout 1m
defaults
	mode http
	timeout connect 2s
	timeout client 30s
	timeout server 30s
frontend fe
	bind 127.0.0.1:$LB_PORT
	default_backend web
backend web
	option httpchk GET /health
	default-server inter 200 fastinter 200 downinter 200 rise 1 fall 2
	server x1 127.0.0.1:${ports[1]} check
	server x2 127.0.0.1:${ports[2]} check
CFG
	echo "x1 ${ports[1]}" >"$LBT_PORTS"
	echo "x2 ${ports[2]}" >>"$LBT_PORTS"
	cp "$T/hx/haproxy.cfg" "$T/hx/orig.cfg"
	(cd "$T/hx" && exec setsid /usr/sbin/haproxy -db -f haproxy.cfg \
		</dev/null >log 2>&1) &
	echo $! >"$T/hx/pid"
	for _ in $(seq 500); do
		[ -S "$T/hx/admin.sock" ] && break
		sleep 0.01
	done
	cat >"$GF" <<YML
application: app
deployment-group: existing
load-balancer:
  kind: haproxy
  socket: hx/admin.sock
  backend: web
  health: {path: /health, interval: 200ms, wait: 3s}
  deregistration-delay: 5s
hosts:
  - {name: x1, target: 127.0.0.1:${ports[1]}}
  - {name: x2, target: 127.0.0.1:${ports[2]}}
YML
	lb_rev r1 v1
	lb_rev r2 v2
	lb_deploy "$T/r1"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"load balancer: haproxy at $T/hx/admin.sock, backend web"* ]]
	: >"$HOOKLOG"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 0 ]
	sock=$T/hx/admin.sock
	for h in x1 x2; do
		grep -qx "ApplicationStop $h MAINT" "$HOOKLOG"
		[ "$(python3 "$BATS_TEST_DIRNAME/lb_admin.py" "$sock" state web $h)" = UP ]
	done
	[ "$(rj .probe.failed)" = 0 ]
	[ "$(rj '[.probe.versions[].version] | join(" ")')" = "v1 v2" ]
	# slipway started nothing and wrote nothing of its own for it
	[ ! -e "$STATE/lb" ]
	cmp "$T/hx/haproxy.cfg" "$T/hx/orig.cfg"
	run "$SLIPWAY" lb status --group "$GF" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"haproxy at $T/hx/admin.sock, backend web"* ]]
	# a host the backend lacks is refused before anything runs
	sed -i 's/name: x2/name: x3/' "$GF"
	echo "x3 ${ports[2]}" >>"$LBT_PORTS"
	lb_deploy "$T/r2"
	[ "$status" -eq 1 ]
	[[ "$output" == *"backend 'web' of $T/hx/admin.sock has no server 'x3'"* ]]
}
