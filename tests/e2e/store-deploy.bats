#!/usr/bin/env bats
# The store indexes deployments as builds: a row when one starts and when
# it ends, the rollback it triggers its own row; history from the store
# prints the lines the reports give.

load helpers
load deploy_helpers
load fleet_local_helpers

eval "deploy_$(declare -f setup)"

setup() {
	deploy_setup
	fleet_setup
}

db() {
	sqlite3 -bail "$STATE/slipway.db" "$@"
}

@test "deployments and their rollback are rows; history is the same after the store is made again from the reports" {
	echo 0.05 >"$T/sleep"
	frev r1 one
	frev r2 two
	# shellcheck disable=SC2046
	GF_EXTRA=1 group_file CodeDeployDefault.OneAtATime $(hosts 3) \
		<<<"auto-rollback: true"
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	DEP1=$DEP
	fail_on ValidateService h2 two
	fdeploy "$T/r2"
	[ "$status" -eq 1 ]
	DEP2=$DEP
	rb=$(rj .rollbackInfo.rollbackDeploymentId)
	same "$(db "SELECT status, hosts_succeeded, hosts_total, creator FROM deployments WHERE id = '$DEP1'")" \
		"Succeeded|3|3|user"
	same "$(db "SELECT status, hosts_succeeded, hosts_total, application, deployment_group, end_ms > start_ms FROM deployments WHERE id = '$DEP2'")" \
		"Failed|1|3|app|fleet|1"
	same "$(db "SELECT status, hosts_total, creator FROM deployments WHERE id = '$rb'")" \
		"Succeeded|2|codeDeployRollback"
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[[ "${lines[1]}" =~ \ deployment\ +$DEP1\ +app/fleet\ +Succeeded\ .*\ 3/3\ hosts$ ]]
	[[ "${lines[2]}" =~ \ deployment\ +$DEP2\ +app/fleet\ +Failed\ .*\ 1/3\ hosts$ ]]
	[[ "${lines[3]}" =~ \ deployment\ +$rb\ +app/fleet\ +Succeeded\ .*\ 2/2\ hosts\ \(rollback\)$ ]]
	from_store=$output
	rm -f "$STATE"/slipway.db*
	run "$SLIPWAY" history --state-dir "$STATE"
	same "$output" "$from_store"
}
