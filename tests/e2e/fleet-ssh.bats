#!/usr/bin/env bats
# A fleet over ssh: a group file of 4 hosts that are network namespaces of
# this machine with their own sshd (fleet_helpers.bash), each with its own
# root on the shared filesystem. Needs root and sshd; skipped otherwise.

load helpers
load deploy_helpers
load fleet_helpers

SW_BIN=$(realpath "$SLIPWAY")

# A group file of hosts h1..hN reached over ssh, with the config and
# options given.
ssh_group() { # CONFIG N [extra top-level lines...]
	local config=$1 n=$2 i
	shift 2
	{
		printf 'application: webapp\ndeployment-group: ssh-fleet\n'
		printf 'deployment-config: %s\n' "$config"
		printf '%s\n' "$@"
		printf 'hosts:\n'
		for i in $(seq "$n"); do
			mkdir -p "$T/h$i"
			printf '  - name: h%s\n    ssh: h%s\n    root: %s\n' \
				"$i" "$i" "$T/h$i"
		done
	} >"$T/fleet.yml"
}

gdeploy() { # BUNDLE [options]
	: >"$REPORT"
	status=0
	SLIPWAY_REMOTE_BIN=$SW_BIN "$SLIPWAY" deploy "$@" --group "$T/fleet.yml" \
		--state-dir "$STATE" --report "$REPORT" >"$T/stdout" \
		2>"$T/stderr" || status=$?
	output=$(<"$T/stdout")
	stderr=$(<"$T/stderr")
}

statuses() {
	jq -r '[.instances[] | "\(.instanceId) \(.status)"] | sort | join(" ")' \
		"${1:-$REPORT}"
}

# Revision 2: ValidateService fails on the hosts named in $T/bad.
rev_bad() {
	rev r2 two
	echo "two extra" >"$T/r2/app/extra.html"
	cat >"$T/r2/scripts/validate.sh" <<SH
#!/bin/sh
echo "two ValidateService \${SLIPWAY_HOST_ROOT##*/}" >>"$T/validate.log"
grep -qx "\${SLIPWAY_HOST_ROOT##*/}" "$T/bad" && exit 9
exit 0
SH
	chmod +x "$T/r2/scripts/validate.sh"
	appspec r2 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  ApplicationStop:
    - location: scripts/hook.sh
  ValidateService:
    - location: scripts/validate.sh
YML
}

@test "ssh fleet: HalfAtATime stops when two hosts fail, skips the rest, and rolls the two back" {
	fleet_up 4
	rev r1 one
	std_appspec r1 ApplicationStop BeforeInstall ApplicationStart
	ssh_group CodeDeployDefault.HalfAtATime 4 "auto-rollback: true"
	gdeploy "$T/r1"
	same "$status" 0
	same "$(statuses)" "h1 Succeeded h2 Succeeded h3 Succeeded h4 Succeeded"
	local good
	good=$(cd "$T/h1/var/www/html" && find . -type f | sort | xargs cat)

	rev_bad
	printf 'h1\nh2\n' >"$T/bad"
	gdeploy "$T/r2"
	same "$status" 1
	# h1 and h2 run first, 2 at a time; with both failed, going on
	# could leave fewer than 2 of 4 healthy: stop, h3 and h4 untouched
	same "$(statuses)" "h1 Failed h2 Failed h3 Skipped h4 Skipped"
	same "$(jq -r .errorInformation.code "$REPORT")" HEALTH_CONSTRAINTS
	[[ "$(jq -r '.instances[] | select(.instanceId == "h1") |
		.lifecycleEvents[] | select(.lifecycleEventName ==
		"ValidateService") | .diagnostics.message' "$REPORT")" == *"failed with exit code 9"* ]]
	[ ! -e "$T/h3/var/www/html/extra.html" ]
	# the rollback: a new deployment of revision 1 on h1 and h2 only
	local rb
	rb=$(jq -r .rollbackInfo.rollbackDeploymentId "$REPORT")
	[[ "$rb" =~ ^d-[A-Z0-9]{9}$ ]]
	local rbr=$STATE/deployments/$rb/report.json
	same "$(jq -r .creator "$rbr")" codeDeployRollback
	same "$(jq -r .rollbackInfo.rollbackTriggeringDeploymentId "$rbr")" \
		"$(jq -r .deploymentId "$REPORT")"
	same "$(statuses "$rbr")" "h1 Succeeded h2 Succeeded"
	# revision 1's files are back, revision 2's are gone
	local h
	for h in h1 h2; do
		same "$(cd "$T/$h/var/www/html" && find . -type f | sort |
			xargs cat)" "$good"
		[ ! -e "$T/$h/var/www/html/extra.html" ]
		# revision 1's hooks ran in the rollback (after the
		# failed revision's ApplicationStop, as the agent does)
		tail -n 2 "$T/$h.hooks.log" | grep -qx "one ApplicationStart hook.sh"
	done
}

@test "ssh fleet: canary with a failing health command stops after the first step" {
	fleet_up 4
	rev r1 one
	std_appspec r1 BeforeInstall
	cat >"$T/health.sh" <<SH
#!/bin/sh
echo "\$SLIPWAY_DEPLOYED_HOSTS" >"$T/health.ran"
exit 1
SH
	chmod +x "$T/health.sh"
	ssh_group Canary25 4 "deployment-configs:" "  Canary25:" \
		"    canary: {percent: 25, bake: 1s, health: $T/health.sh}"
	gdeploy "$T/r1"
	same "$status" 1
	same "$(cat "$T/health.ran")" h1
	same "$(statuses)" "h1 Succeeded h2 Skipped h3 Skipped h4 Skipped"
	[[ "$stderr" == *"health command failed after step 1"* ]]
	[ -f "$T/h1/var/www/html/index.html" ]
	[ ! -e "$T/h2/var/www" ]
}

@test "ssh fleet: a host whose sshd is killed mid-deployment fails alone, the others finish" {
	fleet_up 4
	rev r1 one
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  BeforeInstall:
    - location: scripts/slow.sh
YML
	cat >"$T/r1/scripts/slow.sh" <<SH
#!/bin/sh
touch "$T/\${SLIPWAY_HOST_ROOT##*/}.started"
sleep 2
SH
	chmod +x "$T/r1/scripts/slow.sh"
	ssh_group CodeDeployDefault.AllAtOnce 4
	SLIPWAY_REMOTE_BIN=$SW_BIN "$SLIPWAY" deploy "$T/r1" \
		--group "$T/fleet.yml" --state-dir "$STATE" --report "$REPORT" \
		>"$T/stdout" 2>"$T/stderr" &
	local pid=$! i st=0
	for i in $(seq 100); do
		[ -e "$T/h3.started" ] && break
		sleep 0.1
	done
	[ -e "$T/h3.started" ]
	fleet_kill_sshd 3
	wait "$pid" || st=$?
	# AllAtOnce: three successes are enough
	same "$st" 0
	same "$(statuses)" "h1 Succeeded h2 Succeeded h3 Failed h4 Succeeded"
	[[ "$(jq -r '.instances[] | select(.instanceId == "h3") | .message' \
		"$REPORT")" == *"ssh connection to h3"* ]]
}
