#!/usr/bin/env bats
# slipway deploy --group on local fleets: how many hosts deploy at once and
# when a deployment stops or succeeds under each deployment configuration
# (the reference's section 3.2), canary and linear steps, host order,
# rollbacks, slipway plan, a large fleet, and the per-host output.
# The hooks' BeforeInstall records its start and end, so the tests can
# count the hosts in flight.

load helpers
load deploy_helpers
load fleet_local_helpers

eval "deploy_$(declare -f setup)"

setup() {
	deploy_setup
	fleet_setup
}

# ---- the built-in configurations: how many at once ----

@test "OneAtATime on 4 and 9 hosts: one host at a time, in file order" {
	local n
	echo 0.15 >"$T/sleep"
	frev r1 one
	for n in 4 9; do
		rm -rf "$STATE"
		: >"$TIMES"
		# shellcheck disable=SC2046
		group_file CodeDeployDefault.OneAtATime $(hosts $n)
		fdeploy "$T/r1"
		[ "$status" -eq 0 ]
		same "$(rj .status)" Succeeded
		same "$(max_in_flight)" 1
		same "$(start_order)" "$(hosts $n)"
		same "$(inst_statuses | grep -c ' Succeeded$')" "$n"
	done
}

@test "HalfAtATime on 9 hosts: 4 at a time (batches 4, 4, 1), all succeed" {
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.HalfAtATime $(hosts 9)
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	same "$(rj .status)" Succeeded
	same "$(max_in_flight)" 4
	same "$(rj .deploymentOverview.Succeeded)" 9
	# the ninth host starts after one of the first four ended
	local first_end h9
	first_end=$(times_of end h1 h2 h3 h4 | min_of)
	h9=$(times_of start h9)
	[ "$h9" -gt "$first_end" ]
}

@test "HalfAtATime on 4 hosts: 2 at a time" {
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.HalfAtATime $(hosts 4)
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	same "$(max_in_flight)" 2
	same "$(rj .deploymentOverview.Succeeded)" 4
}

@test "AllAtOnce on 4 and 9 hosts: every host at once" {
	local n
	echo 0.6 >"$T/sleep"
	frev r1 one
	for n in 4 9; do
		rm -rf "$STATE"
		: >"$TIMES"
		# shellcheck disable=SC2046
		group_file CodeDeployDefault.AllAtOnce $(hosts $n)
		fdeploy "$T/r1"
		[ "$status" -eq 0 ]
		same "$(max_in_flight)" "$n"
		same "$(rj .deploymentOverview.Succeeded)" "$n"
	done
}

# ---- the built-in configurations: when a deployment stops or fails ----

@test "OneAtATime on 4: a failure of the second host stops it, the rest Skipped" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.OneAtATime $(hosts 4)
	fail_on BeforeInstall h2
	fdeploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
	same "$(statuses_sorted)" \
		"h1 Succeeded h2 Failed h3 Skipped h4 Skipped"
	# the skipped hosts were not touched
	same "$(start_order)" "h1 h2"
	[ ! -e "$(hroot h3)/var/www/html/index.html" ]
	[ ! -e "$(hroot h4)/var/www/html/index.html" ]
	grep -Eq "^h2 +\| BeforeInstall Failed" \
		"$STATE/deployments/$DEP/deployment.log"
}

@test "OneAtATime on 4: a failure of the last host still Succeeds" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.OneAtATime $(hosts 4)
	fail_on BeforeInstall h4
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	same "$(rj .status)" Succeeded
	same "$(statuses_sorted)" \
		"h1 Succeeded h2 Succeeded h3 Succeeded h4 Failed"
}

@test "OneAtATime on 1 host: the only host failing fails the deployment" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	group_file CodeDeployDefault.OneAtATime h1
	fail_on BeforeInstall h1
	fdeploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
}

@test "HalfAtATime on 9: 4 failures stop it (5 Skipped), 3 do not" {
	echo 0.2 >"$T/sleep"
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.HalfAtATime $(hosts 9)
	fail_on BeforeInstall h1
	fail_on BeforeInstall h2
	fail_on BeforeInstall h3
	fail_on BeforeInstall h4
	fdeploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
	same "$(rj .deploymentOverview.Failed) $(rj .deploymentOverview.Skipped)" \
		"4 5"
	# only the first batch started
	same "$(start_order | tr ' ' '\n' | sort -V | tr '\n' ' ' |
		sed 's/ $//')" "h1 h2 h3 h4"
	# 3 failures: 6 succeed (>= 5), the deployment Succeeds
	rm -rf "$STATE" "$T/fail"
	: >"$TIMES"
	fail_on BeforeInstall h1
	fail_on BeforeInstall h2
	fail_on BeforeInstall h3
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	same "$(rj .status)" Succeeded
	same "$(rj .deploymentOverview.Failed) $(rj .deploymentOverview.Succeeded)" \
		"3 6"
}

@test "AllAtOnce on 9: 8 failures still Succeed, 9 Fail" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.AllAtOnce $(hosts 9)
	local h
	for h in $(hosts 8); do
		fail_on BeforeInstall "$h"
	done
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	same "$(rj .status)" Succeeded
	same "$(rj .deploymentOverview.Failed) $(rj .deploymentOverview.Succeeded)" \
		"8 1"
	rm -rf "$STATE"
	fail_on BeforeInstall h9
	fdeploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
	same "$(rj .deploymentOverview.Failed)" 9
}

# ---- custom minimum healthy hosts ----

@test "custom HOST_COUNT 2 on 4 hosts: 2 at a time; FLEET_PERCENT 75 on 4: 1 at a time" {
	echo 0.25 >"$T/sleep"
	frev r1 one
	# shellcheck disable=SC2046
	GF_EXTRA=1 group_file Two $(hosts 4) <<'YML'
deployment-configs:
  Two:
    minimum-healthy-hosts: {type: HOST_COUNT, value: 2}
  ThreeQuarters:
    minimum-healthy-hosts: {type: FLEET_PERCENT, value: 75}
YML
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	same "$(rj .deploymentConfigName)" Two
	same "$(max_in_flight)" 2
	: >"$TIMES"
	fdeploy "$T/r1" --config ThreeQuarters
	[ "$status" -eq 0 ]
	same "$(rj .deploymentConfigName)" ThreeQuarters
	same "$(max_in_flight)" 1
	same "$(rj .deploymentOverview.Succeeded)" 4
}

@test "FLEET_PERCENT 95 on 10 hosts fails at the start: exit 1, no host touched" {
	frev r1 one
	# shellcheck disable=SC2046
	GF_ROOTS=1 GF_EXTRA=1 group_file Strict $(hosts 10) <<'YML'
deployment-configs:
  Strict:
    minimum-healthy-hosts: {type: FLEET_PERCENT, value: 95}
YML
	fdeploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
	same "$(rj .errorInformation.code)" HEALTH_CONSTRAINTS_INVALID
	same "$(rj .deploymentOverview.Skipped)" 10
	same "$(find "$T/roots" -mindepth 2 | wc -l)" 0
	[ ! -s "$HOOKLOG" ]
}

# ---- rollbacks ----

# Revision 1 on 4 hosts (OneAtATime), then revision 2 whose ValidateService
# fails on h2: h1 succeeded, h2 failed, h3 and h4 skipped.
rollback_fixture() {
	echo 0.05 >"$T/sleep"
	frev r1 one
	frev r2 two
	# shellcheck disable=SC2046
	GF_EXTRA=1 group_file CodeDeployDefault.OneAtATime $(hosts 4) \
		<<<"auto-rollback: true"
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	DEP1=$DEP
	fail_on ValidateService h2 two
}

@test "auto-rollback: a failing ValidateService rolls back the hosts that received the revision" {
	rollback_fixture
	fdeploy "$T/r2"
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
	same "$(statuses_sorted)" \
		"h1 Succeeded h2 Failed h3 Skipped h4 Skipped"
	local rb
	rb=$(rj .rollbackInfo.rollbackDeploymentId)
	[[ "$rb" =~ ^d-[A-Z0-9]{9}$ ]]
	[ "$rb" != "$DEP" ]
	[[ "$(rj .rollbackInfo.rollbackMessage)" == *"$rb"*Succeeded* ]]
	# the rollback's own report
	local R=$STATE/deployments/$rb/report.json
	same "$(jq -r .creator "$R")" codeDeployRollback
	same "$(jq -r .rollbackInfo.rollbackTriggeringDeploymentId "$R")" "$DEP"
	same "$(jq -r .status "$R")" Succeeded
	same "$(jq -r '[.instances[].instanceId] | sort | join(" ")' "$R")" \
		"h1 h2"
	# revision 1's hooks ran in the rollback, on those hosts only
	same "$(hosts_run one BeforeInstall "$rb")" "h1 h2"
	same "$(hosts_run one ValidateService "$rb")" "h1 h2"
	same "$(hosts_run two BeforeInstall "$rb")" ""
	# every host serves revision 1 again
	local h
	for h in h1 h2 h3 h4; do
		diff -r "$T/r1/app" "$(hroot "$h")/var/www/html"
	done
}

@test "--no-rollback: no rollback; then --rollback by hand redeploys the last good revision" {
	rollback_fixture
	fdeploy "$T/r2" --no-rollback
	[ "$status" -eq 1 ]
	same "$(rj .rollbackInfo)" null
	same "$(ls "$STATE/deployments" | wc -l)" 2
	# h1 keeps revision 2
	diff -r "$T/r2/app" "$(hroot h1)/var/www/html"
	# by hand
	fdeploy --rollback
	[ "$status" -eq 0 ]
	same "$(rj .status)" Succeeded
	local rb
	rb=$(rj .deploymentId)
	[ "$rb" != "$DEP1" ]
	same "$(hosts_run one BeforeInstall "$rb" | wc -w)" "$(rj '.instances | length')"
	local h
	for h in h1 h2 h3 h4; do
		diff -r "$T/r1/app" "$(hroot "$h")/var/www/html"
	done
}

@test "a BUNDLE with --rollback-of is a rollback of that deployment, not rolled back in turn" {
	rollback_fixture
	fdeploy "$T/r2" --rollback-of d-LOST1234
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
	same "$(rj .creator)" codeDeployRollback
	same "$(rj .rollbackInfo.rollbackTriggeringDeploymentId)" d-LOST1234
	same "$(rj .rollbackInfo.rollbackDeploymentId)" null
	# no second deployment: nothing rolled it back
	same "$(ls "$STATE/deployments" | wc -l)" 2
	diff -r "$T/r2/app" "$(hroot h1)/var/www/html"
}

@test "--rollback by hand with no successful deployment is an error" {
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.AllAtOnce $(hosts 2)
	fdeploy --rollback
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"nothing to roll back to"* ]]
}

# ---- canary and linear ----

# A health command in the group's directory that logs its time and the
# deployed hosts; it fails when $T/health-fails exists.
health_script() {
	cat >"$T/health.sh" <<SH
#!/bin/sh
echo "\$(date +%s%N) \$SLIPWAY_DEPLOYED_HOSTS" >>"$T/health.log"
[ ! -e "$T/health-fails" ]
SH
	chmod +x "$T/health.sh"
}

@test "canary 25% with a 1 s bake and a health command, on 4 and 8 hosts" {
	local n step first rest
	echo 0.4 >"$T/sleep"
	frev r1 one
	health_script
	for n in 4 8; do
		rm -rf "$STATE" "$T/health.log"
		: >"$TIMES"
		# shellcheck disable=SC2046
		GF_EXTRA=1 group_file Canary25 $(hosts $n) <<'YML'
deployment-configs:
  Canary25:
    canary: {percent: 25, bake: 1s, health: ./health.sh}
YML
		fdeploy "$T/r1"
		[ "$status" -eq 0 ]
		same "$(rj .status)" Succeeded
		step=$((n / 4))
		first=$(hosts $step)
		rest=$(hosts $n | cut -d' ' -f$((step + 1))-)
		# the first step alone, then the rest all at once
		same "$(start_order | cut -d' ' -f1-$step | tr ' ' '\n' |
			sort -V | tr '\n' ' ' | sed 's/ $//')" "$first"
		same "$(max_in_flight)" $((n - step))
		# the health command ran once, after the first step and
		# before the rest, with the first step's hosts
		same "$(wc -l <"$T/health.log")" 1
		same "$(cut -d' ' -f2- "$T/health.log")" "$first"
		local end1 hc start2
		# shellcheck disable=SC2086
		end1=$(times_of end $first | max_of)
		hc=$(cut -d' ' -f1 "$T/health.log")
		# shellcheck disable=SC2086
		start2=$(times_of start $rest | min_of)
		[ "$hc" -gt "$end1" ]
		[ "$start2" -gt "$hc" ]
		# the bake: at least 1 s between the first step's end and
		# the second step's start
		if [ $((start2 - end1)) -lt 1000000000 ]; then
			echo "bake $(((start2 - end1) / 1000000)) ms" >&2
			return 1
		fi
	done
}

@test "canary: a failing health command stops the deployment, the rest Skipped" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	health_script
	: >"$T/health-fails"
	# shellcheck disable=SC2046
	GF_EXTRA=1 group_file Canary25 $(hosts 4) <<'YML'
deployment-configs:
  Canary25:
    canary: {percent: 25, bake: 0s, health: ./health.sh}
YML
	fdeploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(rj .status)" Failed
	same "$(statuses_sorted)" \
		"h1 Succeeded h2 Skipped h3 Skipped h4 Skipped"
	same "$(wc -l <"$T/health.log")" 1
	same "$(start_order)" h1
}

@test "canary: a failing canary host stops the deployment before the health command" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	health_script
	# shellcheck disable=SC2046
	GF_EXTRA=1 group_file Canary25 $(hosts 8) <<'YML'
deployment-configs:
  Canary25:
    canary: {percent: 25, bake: 0s, health: ./health.sh}
YML
	fail_on AfterInstall h2
	fdeploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(rj .deploymentOverview.Skipped)" 6
	[ ! -e "$T/health.log" ]
}

@test "linear 34% every 1 s on 5 hosts: steps of 2, 2, 1 with the interval between" {
	echo 0.1 >"$T/sleep"
	frev r1 one
	health_script
	# shellcheck disable=SC2046
	GF_EXTRA=1 group_file Lin34 $(hosts 5) <<'YML'
deployment-configs:
  Lin34:
    linear: {percent: 34, interval: 1s, health: ./health.sh}
YML
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	same "$(rj .status)" Succeeded
	same "$(start_order)" "$(hosts 5)" ||
		same "$(start_order | tr ' ' '\n' | sort -V | tr '\n' ' ' |
			sed 's/ $//')" "$(hosts 5)"
	[ "$(max_in_flight)" -le 2 ]
	# health checks between the steps only: after steps 1 and 2
	same "$(cut -d' ' -f2- "$T/health.log")" "h1 h2
h1 h2 h3 h4"
	local e1 s2 e2 s3
	e1=$(times_of end h1 h2 | max_of)
	s2=$(times_of start h3 h4 | min_of)
	e2=$(times_of end h3 h4 | max_of)
	s3=$(times_of start h5)
	[ $((s2 - e1)) -ge 1000000000 ]
	[ $((s3 - e2)) -ge 1000000000 ]
}

# ---- host order ----

@test "host order: a host whose last deployment failed goes first, then never-deployed ones" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.AllAtOnce $(hosts 4)
	fail_on BeforeInstall h3
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	rm -rf "$T/fail"
	# h5 joins the group: never deployed
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.OneAtATime $(hosts 5)
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	same "$(grep '^batch' <<<"$output")" "batch 1: h3 (unhealthy)
batch 2: h5
batch 3: h1
batch 4: h2
batch 5: h4"
	: >"$TIMES"
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	same "$(start_order)" "h3 h5 h1 h2 h4"
	same "$(inst_statuses | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')" \
		"h3 h5 h1 h2 h4"
}

# ---- slipway plan ----

@test "plan: 9 hosts under HalfAtATime, OneAtATime and AllAtOnce" {
	# shellcheck disable=SC2046
	GF_ROOTS=1 group_file CodeDeployDefault.HalfAtATime $(hosts 9)
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "group fleet of app (id "*"): 9 hosts" ]]
	same "${lines[1]}" "CodeDeployDefault.HalfAtATime: minimum healthy 5 of 9 (FLEET_PERCENT 50); up to 4 hosts at a time; succeeds when at least 5 succeed"
	same "$(grep '^batch' <<<"$output")" "batch 1: h1 h2 h3 h4
batch 2: h5 h6 h7 h8
batch 3: h9"
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE" \
		--config CodeDeployDefault.OneAtATime
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == "CodeDeployDefault.OneAtATime: minimum healthy 8 of 9"*"1 host"*"at a time"* ]]
	same "$(grep -c '^batch' <<<"$output")" 9
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE" \
		--config CodeDeployDefault.AllAtOnce
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" == "CodeDeployDefault.AllAtOnce: minimum healthy 0 of 9"*"all 9 hosts at once"*"at least 1 succeed"* ]]
	same "$(grep '^batch' <<<"$output")" "batch 1: h1 h2 h3 h4 h5 h6 h7 h8 h9"
	# plan touches no host
	same "$(find "$T/roots" -mindepth 2 | wc -l)" 0
	[ ! -e "$STATE/hosts" ]
}

@test "plan: canary and linear batches" {
	# shellcheck disable=SC2046
	GF_EXTRA=1 group_file C $(hosts 8) <<'YML'
deployment-configs:
  C:
    canary: {percent: 25, bake: 30s, health: ./nope.sh}
  L:
    linear: {percent: 34, interval: 10s}
YML
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	same "$(grep '^batch' <<<"$output")" "batch 1: h1 h2
batch 2: h3 h4 h5 h6 h7 h8"
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE" --config L
	[ "$status" -eq 0 ]
	same "$(grep '^batch' <<<"$output")" "batch 1: h1 h2 h3
batch 2: h4 h5 h6
batch 3: h7 h8"
	# the health command did not run
	[ ! -e "$STATE/hosts" ]
}

@test "plan: exit 1 for an impossible config, 3 for an invalid group file, 2 for an unknown config" {
	# shellcheck disable=SC2046
	GF_ROOTS=1 GF_EXTRA=1 group_file Strict $(hosts 10) <<'YML'
deployment-configs:
  Strict:
    minimum-healthy-hosts: {type: FLEET_PERCENT, value: 95}
YML
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Strict: "*"10"* ]]
	! grep -q '^batch' <<<"$output" || false
	run "$SLIPWAY" plan --group "$GF" --state-dir "$STATE" --config Nope
	[ "$status" -eq 2 ]
	[[ "$output" == *"unknown deployment config 'Nope'"* ]]
	printf 'application: app\ndeployment-group: g\nhosts: []\n' >"$T/bad.yml"
	run "$SLIPWAY" plan --group "$T/bad.yml" --state-dir "$STATE"
	[ "$status" -eq 3 ]
	printf 'application: app\nhosts:\n  - name: a\n    ssh: "h:0"\n' >"$T/bad2.yml"
	run "$SLIPWAY" plan --group "$T/bad2.yml" --state-dir "$STATE"
	[ "$status" -eq 3 ]
	[[ "$output" == *"bad2.yml:"* ]]
	same "$(find "$T/roots" -mindepth 2 | wc -l)" 0
	[ ! -e "$STATE/hosts" ]
}

# ---- a larger fleet ----

@test "50 local hosts under AllAtOnce with trivial hooks" {
	echo 0 >"$T/sleep"
	frev r1 one
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.AllAtOnce $(hosts 50)
	fdeploy "$T/r1" -q
	[ "$status" -eq 0 ]
	same "$(rj .status)" Succeeded
	same "$(rj '.instances | length')" 50
	same "$(rj .deploymentOverview.Succeeded)" 50
	local h missing=0
	for h in $(hosts 50); do
		cmp -s "$T/r1/app/index.html" \
			"$STATE/hosts/$h/root/var/www/html/index.html" ||
			missing=$((missing + 1))
	done
	same "$missing" 0
	same "$(grep -c ' ValidateService ' "$HOOKLOG")" 50
	if [ "$WALL_MS" -ge 60000 ]; then
		echo "50 hosts took $WALL_MS ms" >&2
		return 1
	fi
}

# ---- output ----

@test "output: each host's lines are prefixed with its name padded to the longest" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	group_file CodeDeployDefault.HalfAtATime a web-10 db
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	local log=$STATE/deployments/$DEP/deployment.log h
	[ -f "$log" ]
	for h in "a     " "web-10" "db    "; do
		grep -qx "$h | ValidateService Succeeded ([0-9]* ms)" "$log"
		grep -q "^$h | \[stdout\]" "$log" || true
		grep -qx "$h | BeforeInstall Succeeded ([0-9]* ms)" "$log"
	done
	# every line is the driver's or a host's, prefixed
	! grep -Ev '^(slipway|a     |web-10|db    ) \| ' "$log" || false
	# the terminal output says the same
	grep -qx "web-10 | Install Succeeded ([0-9]* ms)" <<<"$output"
	grep -qx "a      | Install Succeeded ([0-9]* ms)" <<<"$output"
}

# ---- a bundle every host would refuse ----

@test "a bad appspec: exit 3, INVALID_REVISION, nothing installed on any host" {
	frev r1 one
	printf 'version: 9.9\nos: linux\n' >"$T/r1/appspec.yml"
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.OneAtATime $(hosts 4)
	fdeploy "$T/r1"
	[ "$status" -eq 3 ]
	same "$(rj .status)" Failed
	same "$(rj .errorInformation.code)" INVALID_REVISION
	# checked before any host got it
	same "$(statuses_sorted)" "h1 Skipped h2 Skipped h3 Skipped h4 Skipped"
	same "$(find "$STATE/hosts" -path '*/root/var/*' | wc -l)" 0
	[ ! -s "$HOOKLOG" ]
}

# Failing against the current slipway (not committed):

@test "after an auto-rollback on some hosts, a rollback by hand still reaches every host" {
	rollback_fixture
	fdeploy "$T/r2"
	[ "$status" -eq 1 ]
	local rb
	rb=$(rj .rollbackInfo.rollbackDeploymentId)
	same "$(jq -r .status "$STATE/deployments/$rb/report.json")" Succeeded
	# the group's last good revision is revision 1, which every host
	# holds; the rollback ran on h1 and h2 only
	fdeploy --rollback
	same "$(statuses_sorted)" \
		"h1 Succeeded h2 Succeeded h3 Succeeded h4 Succeeded"
	[ "$status" -eq 0 ]
}

@test "a bad appspec: exit 3 and no host was tried, all at once or not" {
	frev r1 one
	printf 'version: 9.9\nos: linux\n' >"$T/r1/appspec.yml"
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.AllAtOnce $(hosts 4)
	fdeploy "$T/r1"
	[ "$status" -eq 3 ]
	same "$(rj .status)" Failed
	same "$(statuses_sorted)" "h1 Skipped h2 Skipped h3 Skipped h4 Skipped"
	local log=$STATE/deployments/$DEP/deployment.log
	! grep -Eq '^h[1234] +\| ' "$log" || false
	[ ! -e "$STATE/hosts/h2" ] || same "$(find "$STATE/hosts/h2" \
		-path '*/deployment-root/*' -name 'd-*' | wc -l)" 0
}

@test "plan writes nothing, not even the state directory" {
	mkdir -p "$T/empty"
	printf 'application: a\ndeployment-group: g\nhosts:\n  - name: x\n' \
		>"$T/g.yml"
	cd "$T/empty"
	run "$SLIPWAY" plan --group "$T/g.yml"
	[ "$status" -eq 0 ]
	[ -z "$(ls -A "$T/empty")" ]
}

@test "canary: a health command that never ends is killed at the health timeout, one that leaves a process behind is not waited for" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	# never ends, with its output closed: killed after 2 s
	printf '#!/bin/sh\nexec >/dev/null 2>&1\nexec sleep 1000.%s\n' "$MARK" \
		>"$T/hang.sh"
	# ends at once, but a child keeps its stdout open
	printf '#!/bin/sh\necho checked\nsleep 1000.%s &\nexit 0\n' "$MARK" \
		>"$T/leave.sh"
	chmod +x "$T/hang.sh" "$T/leave.sh"
	local t0 script
	for script in hang leave; do
		# shellcheck disable=SC2046
		GF_EXTRA=1 group_file Canary25 $(hosts 4) <<YML
deployment-configs:
  Canary25:
    canary: {percent: 25, bake: 0s, health: $T/$script.sh}
YML
		t0=$SECONDS
		SLIPWAY_HEALTH_TIMEOUT=2 fdeploy "$T/r1"
		[ $((SECONDS - t0)) -lt 30 ]
		if [ "$script" = hang ]; then
			same "$status" 1
			[[ "$output" == *"health check: no end after 2 s: killed"* ]]
			! pgrep -f "sleep 1000\\.$MARK" >/dev/null || false
		else
			same "$status" 0
			[[ "$output" == *"health | checked"* ]]
			[[ "$output" == *"health check passed"* ]]
		fi
	done
}
