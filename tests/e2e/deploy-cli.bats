#!/usr/bin/env bats
# slipway deploy from the outside: the agent entry point and its protocol,
# rehearsal hosts, --root / onto this machine, stopping a deployment, an
# agent that dies, and the usage errors.

load helpers
load deploy_helpers

@test "agent: 'slipway agent deploy' speaks one JSON object per line, hello first and result last" {
	rev r1 one
	std_appspec r1 BeforeInstall AfterInstall
	run "$SLIPWAY" agent deploy --deployment-root "$DR" --host-root "$HOST" \
		--deployment-id d-AGENT0001 --deployment-group-id g1 \
		--application app --deployment-group G -- "$T/r1"
	[ "$status" -eq 0 ]
	# every line is a JSON object with a type
	local n
	n=$(jq -c 'select(type == "object" and has("type"))' <<<"$output" | wc -l)
	same "$n" "$(wc -l <<<"$output")"
	same "$(head -n1 <<<"$output" | jq -r .type)" hello
	same "$(tail -n1 <<<"$output" | jq -r '"\(.type) \(.status) \(.exit)"')" \
		"result Succeeded 0"
	# the events' final statuses, in lifecycle order
	same "$(jq -r 'select(.type == "event" and .status != "InProgress") |
		"\(.event) \(.status)"' <<<"$output")" "ApplicationStop Succeeded
DownloadBundle Succeeded
BeforeInstall Succeeded
Install Succeeded
AfterInstall Succeeded
ApplicationStart Succeeded
ValidateService Succeeded"
	# the hooks' output travels as line objects
	same "$(jq -r 'select(.type == "line" and .stream == "stdout") |
		"\(.event) \(.text)"' <<<"$output")" \
		"BeforeInstall hook one BeforeInstall hook.sh
AfterInstall hook one AfterInstall hook.sh"
	[ -f "$HOST/var/www/html/index.html" ]
	file_is "$DR/deployment-instructions/g1_last_successful_install" \
		"$DR/g1/d-AGENT0001"
}

@test "agent: a missing required option is a usage error, and nothing is written" {
	run "$SLIPWAY" agent deploy --deployment-root "$DR" "$T/nothing"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--deployment-id"* ]]
	[ ! -e "$DR" ]
	run "$SLIPWAY" agent frobnicate
	[ "$status" -eq 2 ]
}

@test "agent: --traffic-remote waits for the deploying machine's answer WAIT at most, and no more once its stdout's reader is gone" {
	rev r1 one
	std_appspec r1 ApplicationStart
	local t0
	# no answer within the wait: BlockTraffic fails then, saying so
	t0=$SECONDS
	run timeout 30 "$SLIPWAY" agent deploy --deployment-root "$DR" \
		--host-root "$HOST" --deployment-id d-AGENTTR01 \
		--deployment-group-id g1 --application app --deployment-group G \
		--traffic --traffic-remote=1s -- "$T/r1"
	[ "$status" -eq 1 ]
	[ $((SECONDS - t0)) -lt 10 ]
	same "$(jq -r 'select(.type == "event" and .event == "BlockTraffic" and
		.status == "Failed") | .diagnostics.message' <<<"$output")" \
		"no answer from the load balancer's side within 1000 ms"
	# the reader of its stdout (the connection) goes once BlockTraffic
	# started: the agent ends at once, not after the minute
	t0=$SECONDS
	timeout 30 "$SLIPWAY" agent deploy --deployment-root "$DR" \
		--host-root "$HOST" --deployment-id d-AGENTTR02 \
		--deployment-group-id g1 --application app --deployment-group G \
		--traffic --traffic-remote=60s -- "$T/r1" 2>/dev/null |
		sed '/"event":"BlockTraffic","status":"InProgress"/q' >"$T/seen"
	[ $((SECONDS - t0)) -lt 10 ]
	grep -q '"event":"BlockTraffic","status":"InProgress"' "$T/seen"
	# a WAIT that is not a duration is a usage error
	run "$SLIPWAY" agent deploy --deployment-root "$DR" \
		--deployment-id d-AGENTTR03 --deployment-group-id g1 \
		--traffic-remote=soon -- "$T/r1"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--traffic-remote: not a duration: 'soon'"* ]]
}

@test "rehearsal host: without --root the host lives in the state directory, named by --host" {
	rev r1 one
	std_appspec r1 ApplicationStart
	run "$SLIPWAY" deploy "$T/r1" --state-dir "$STATE" --host web-1 \
		--report "$REPORT"
	[ "$status" -eq 0 ]
	[ -f "$STATE/hosts/web-1/root/var/www/html/index.html" ]
	[ -d "$STATE/hosts/web-1/deployment-root/$DG" ]
	[[ "$output" == *"web-1 | [stdout]hook one ApplicationStart hook.sh"* ]]
	same "$(jq -r '.instances[0].instanceId' "$REPORT")" web-1
	# the state keeps the report and the output
	local id
	id=$(jq -r .deploymentId "$REPORT")
	[[ "$id" =~ ^d-[A-Z0-9]{9}$ ]]
	cmp "$REPORT" "$STATE/deployments/$id/report.json"
	grep -qx "web-1 | ApplicationStart Succeeded ([0-9]* ms)" \
		"$STATE/deployments/$id/deployment.log"
	# the hook saw the host root
	grep -q "one ApplicationStart" "$HOOKLOG"
}

@test "--root /: a real install onto this machine, with the agent state elsewhere" {
	[ "$(id -u)" = 0 ] || skip "needs root"
	local dest=$T/real/www
	rev r1 one
	appspec r1 <<YML
version: 0.0
os: linux
files:
  - source: app
    destination: $dest
hooks:
  AfterInstall:
    - location: scripts/env.sh
YML
	printf '#!/bin/sh\necho "root=$SLIPWAY_HOST_ROOT"\n' >"$T/r1/scripts/env.sh"
	chmod +x "$T/r1/scripts/env.sh"
	run "$SLIPWAY" deploy "$T/r1" --root / --deployment-root "$T/dr" \
		--state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ -f "$dest/index.html" ]
	[[ "$output" == *"[stdout]root=/"* ]]
	# the cleanup file names the real paths
	grep -qx "$dest/index.html" "$T/dr/deployment-instructions/$DG-cleanup"
}

@test "a TERM to slipway stops the running hook's group and fails the deployment" {
	rev r1 one
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/long.sh
YML
	cat >"$T/r1/scripts/long.sh" <<SH
#!/bin/sh
echo \$\$ >"$T/hook.pid"
exec sleep 1000.$MARK
SH
	chmod +x "$T/r1/scripts/long.sh"
	"$SLIPWAY" deploy "$T/r1" --root "$HOST" --state-dir "$STATE" \
		--report "$REPORT" >"$T/out" 2>&1 &
	local pid=$! i
	for i in $(seq 100); do
		[ -s "$T/hook.pid" ] && break
		sleep 0.1
	done
	[ -s "$T/hook.pid" ]
	kill -TERM "$pid"
	local st=0
	wait "$pid" || st=$?
	same "$st" 1
	# the hook is gone
	! kill -0 "$(cat "$T/hook.pid")" 2>/dev/null || false
	same "$(jq -r .status "$REPORT")" Stopped
	same "$(jq -r .errorInformation.code "$REPORT")" MANUAL_STOP
	same "$(jq -r '.instances[0].lifecycleEvents[] |
		select(.lifecycleEventName == "BeforeInstall") | .status' \
		"$REPORT")" Failed
}

@test "an agent that dies mid-deployment fails the host with AGENT_ISSUE, never a hang" {
	rev r1 one
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/kill-agent.sh
YML
	# the hook's parent is the host's agent
	cat >"$T/r1/scripts/kill-agent.sh" <<'SH'
#!/bin/sh
kill -KILL "$PPID"
sleep 1
SH
	chmod +x "$T/r1/scripts/kill-agent.sh"
	sw_deploy "$T/r1"
	same "$status" 1
	deployment_is Failed
	same "$RCODE" AGENT_ISSUE
	[[ "$stderr" == *"the agent was killed by signal 9"* ]]
}

@test "usage: a missing bundle, a reused deployment id, a bad id, a bad option" {
	run "$SLIPWAY" deploy "$T/nope" --state-dir "$STATE"
	same "$status" 2
	[[ "$output" == *"cannot read bundle"* ]]
	rev r1 one
	std_appspec r1
	sw_deploy "$T/r1" --deployment-id d-SAME00001
	same "$status" 0
	sw_deploy "$T/r1" --deployment-id d-SAME00001
	same "$status" 2
	[[ "$stderr" == *"deployment d-SAME00001 already exists"* ]]
	sw_deploy "$T/r1" --deployment-id ../escape
	same "$status" 2
	[ ! -e "$STATE/escape" ]
	run "$SLIPWAY" deploy "$T/r1" --file-exists-behavior SOMETIMES
	same "$status" 2
	run "$SLIPWAY" deploy "$T/r1" --config CodeDeployDefault.Sometimes
	same "$status" 2
	run "$SLIPWAY" deploy "$T/r1" --max-revisions 0
	same "$status" 2
}

@test "a named deployment group gets a stable id derived from its name" {
	rev r1 one
	std_appspec r1 BeforeInstall
	sw_deploy "$T/r1" --deployment-group staging
	same "$status" 0
	local id
	id=$(jq -r .deploymentGroupId "$REPORT")
	[[ "$id" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]
	[ -f "$DR/deployment-instructions/$id-cleanup" ]
	sw_deploy "$T/r1" --deployment-group staging
	same "$status" 0
	same "$(jq -r .deploymentGroupId "$REPORT")" "$id"
}

@test "history lists deployments and show prints one by id or prefix" {
	rev r1 one
	std_appspec r1 BeforeInstall
	sw_deploy "$T/r1" --deployment-id d-HISTORY01
	same "$status" 0
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  AfterInstall:
    - location: scripts/fail.sh
YML
	sw_deploy "$T/r1" --deployment-id d-HISTORY02
	same "$status" 1
	run "$SLIPWAY" history --state-dir "$STATE"
	same "$status" 0
	[[ "${lines[1]}" =~ \ deployment\ +d-HISTORY01\ .*\ Succeeded\ .*\ 1/1\ hosts$ ]]
	[[ "${lines[2]}" =~ \ deployment\ +d-HISTORY02\ .*\ Failed\ .*\ 0/1\ hosts$ ]]
	run "$SLIPWAY" show d-HISTORY02 --state-dir "$STATE"
	same "$status" 0
	[[ "$output" == *"status:      Failed"* ]]
	[[ "$output" == *"AfterInstall: ScriptFailed: Script at specified location: scripts/fail.sh failed with exit code 3"* ]]
	grep -qE '^local +Failed +SSSSF--$' <<<"$output"
	run "$SLIPWAY" show d-HISTORY01 --json --state-dir "$STATE"
	same "$(jq -r .status <<<"$output")" Succeeded
	# an ambiguous prefix names nothing
	run "$SLIPWAY" show d-HISTORY --state-dir "$STATE"
	same "$status" 2
}

@test "a terminal gets a live summary line, NO_COLOR or a pipe does not" {
	command -v script >/dev/null || skip "needs script (util-linux)"
	rev r1 one
	std_appspec r1 BeforeInstall
	printf 'application: a\ndeployment-group: g\nhosts:\n  - name: x\n  - name: y\n' \
		>"$T/g.yml"
	TERM=xterm script -qec "$SLIPWAY deploy $T/r1 --group $T/g.yml --state-dir $STATE" \
		"$T/tty.out" >/dev/null
	grep -q $'\r\033\\[K'"d-[A-Z0-9]*: [0-9] done, [0-9] in flight" "$T/tty.out"
	# the line is cleared before the final summary is written
	# (the status in green on a terminal)
	grep -q $'\r\033\\[K'"slipway: deployment d-[A-Z0-9]* "$'\033\\[32mSucceeded\033\\[0m'" on 2 of 2 hosts" \
		"$T/tty.out"
	NO_COLOR=1 TERM=xterm script -qec "$SLIPWAY deploy $T/r1 --group $T/g.yml --state-dir $STATE" \
		"$T/nc.out" >/dev/null
	! grep -q 'in flight' "$T/nc.out" || false
	run "$SLIPWAY" deploy "$T/r1" --group "$T/g.yml" --state-dir "$STATE"
	[[ "$output" != *"in flight"* ]]
}

@test "retention keeps the last good archive after failures past Install, so --rollback still works" {
	rev r1 one
	std_appspec r1 BeforeInstall
	sw_deploy "$T/r1" --deployment-id d-GOOD00001
	same "$status" 0
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  AfterInstall:
    - location: scripts/fail.sh
YML
	local i
	for i in 1 2 3 4 5 6; do
		sw_deploy "$T/r1" --file-exists-behavior OVERWRITE
		same "$status" 1
	done
	# the agent's own pointer moved on to the failed ones (Install
	# succeeded), yet the driver's last good archive is still there
	[ -d "$DR/$DG/d-GOOD00001/deployment-archive" ]
	same "$(ls "$DR/$DG" | wc -l)" 5
	run "$SLIPWAY" deploy --rollback --root "$HOST" --state-dir "$STATE" \
		--report "$REPORT"
	same "$status" 0
	same "$(jq -r .revision.deploymentId "$REPORT")" d-GOOD00001
}
