#!/usr/bin/env bats
# slipway run: build, then deploy the primary artifact to a group, with
# one combined report.

load helpers

setup_project() { # VERSION [fail-validate]
	mkdir -p "$PROJ/scripts"
	cat >"$PROJ/buildspec.yml" <<'YML'
version: 0.2
phases:
  build:
    commands:
      - mkdir -p out && echo "version $APP_VERSION" > out/index.html
artifacts:
  files:
    - appspec.yml
    - scripts/**/*
    - out/index.html
YML
	cat >"$PROJ/appspec.yml" <<'YML'
version: 0.0
os: linux
files:
  - source: out
    destination: /var/www
hooks:
  ValidateService:
    - location: scripts/validate.sh
YML
	printf '#!/bin/sh\necho "validate $LIFECYCLE_EVENT"\nexit %s\n' \
		"${2:-0}" >"$PROJ/scripts/validate.sh"
	chmod +x "$PROJ/scripts/validate.sh"
	cat >"$T/fleet.yml" <<YML
application: app
deployment-group: g
deployment-config: CodeDeployDefault.AllAtOnce
auto-rollback: true
hosts:
  - name: a
  - name: b
YML
	APP_VERSION=$1
}

sw_run() {
	run "$SLIPWAY" run "$PROJ" --group "$T/fleet.yml" --state-dir "$STATE" \
		--report "$REPORT" -e "APP_VERSION=$APP_VERSION" "$@"
}

@test "run: builds, deploys the artifact to the group, one report with both" {
	setup_project 1
	sw_run
	[ "$status" -eq 0 ]
	same() { [ "$1" = "$2" ] || { echo "got '$1' want '$2'"; return 1; }; }
	same "$(jq -r .status "$REPORT")" Succeeded
	same "$(jq -r .build.buildStatus "$REPORT")" SUCCEEDED
	same "$(jq -r '.deployments | length' "$REPORT")" 1
	same "$(jq -r '.deployments[0].status' "$REPORT")" Succeeded
	same "$(jq -r '.deployments[0].revision.location' "$REPORT")" \
		"$(jq -r .build.artifacts.location "$REPORT")"
	same "$(cat "$STATE/hosts/a/root/var/www/index.html")" "version 1"
	same "$(cat "$STATE/hosts/b/root/var/www/index.html")" "version 1"
	local id
	id=$(jq -r .runId "$REPORT")
	cmp "$REPORT" "$STATE/runs/$id/report.json"
	[[ "$output" == *"a | [stdout]validate ValidateService"* ]]
}

@test "run: a failed build deploys nothing and exits with the build's status" {
	setup_project 1
	printf 'version: 0.2\nphases:\n  build:\n    commands:\n      - exit 5\n' \
		>"$PROJ/buildspec.yml"
	sw_run
	[ "$status" -eq 1 ]
	[ "$(jq -r .status "$REPORT")" = Failed ]
	[ "$(jq -r .build.buildStatus "$REPORT")" = FAILED ]
	[ "$(jq -r '.deployments | length' "$REPORT")" = 0 ]
	[[ "$(jq -r .message "$REPORT")" == *"nothing was deployed"* ]]
	[ ! -d "$STATE/deployments" ]
	[ ! -d "$STATE/hosts" ]
}

@test "run: an artifact without an appspec is refused, naming what it holds" {
	setup_project 1
	sed -i '/appspec.yml/d' "$PROJ/buildspec.yml"
	sw_run
	[ "$status" -eq 3 ]
	[[ "$output" == *"holds no appspec.yml at its root: it holds "*"out/"* ]]
	[[ "$output" == *"scripts/"* ]]
	[ ! -d "$STATE/deployments" ]
}

@test "run: --max-bundle-size refuses an artifact that unpacks past it, nothing installed" {
	setup_project 1
	sed -i 's|> out/index.html|> out/index.html \&\& head -c 2M /dev/zero > out/zeros|; s|    - out/index.html|    - out/*|' \
		"$PROJ/buildspec.yml"
	sw_run --max-bundle-size 1M
	[ "$status" -eq 3 ]
	[[ "$output" == *"entry 'out/zeros' expands the bundle past 1 MiB (--max-bundle-size)"* ]]
	[ "$(jq -r .build.buildStatus "$REPORT")" = SUCCEEDED ]
	[ -z "$(find "$STATE/hosts" -path '*/root/var/www*' 2>/dev/null)" ]
	run "$SLIPWAY" run "$PROJ" --group "$T/fleet.yml" --max-bundle-ratio x
	[ "$status" -eq 2 ]
}

@test "run: a failed deployment rolls back, and the report holds both" {
	setup_project 1
	sw_run
	[ "$status" -eq 0 ]
	setup_project 2 1
	sw_run
	[ "$status" -eq 1 ]
	[ "$(jq -r .status "$REPORT")" = Failed ]
	[ "$(jq -r '.deployments | length' "$REPORT")" = 2 ]
	[ "$(jq -r '.deployments[1].creator' "$REPORT")" = codeDeployRollback ]
	[ "$(jq -r '.deployments[1].rollbackInfo.rollbackTriggeringDeploymentId' "$REPORT")" = \
		"$(jq -r '.deployments[0].deploymentId' "$REPORT")" ]
	# the rollback redeployed revision 1's files
	[ "$(cat "$STATE/hosts/a/root/var/www/index.html")" = "version 1" ]
}

@test "run: an invalid group file is found before the build" {
	setup_project 1
	printf 'application: a\nhosts: 3\n' >"$T/fleet.yml"
	sw_run
	[ "$status" -eq 3 ]
	[[ "$output" == *"fleet.yml:"* ]]
	[ ! -d "$STATE/builds" ]
	run "$SLIPWAY" run "$PROJ" --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--group FILE is required"* ]]
}

@test "run: a release pipeline's packaging buildspec (no phases) deploys; --strict warns" {
	setup_project 1
	mkdir -p "$PROJ/out"
	echo prebuilt >"$PROJ/out/index.html"
	cat >"$PROJ/buildspec.yml" <<'YML'
version: 0.2
env:
  variables:
    STAGE: prod
artifacts:
  files:
    - appspec.yml
    - scripts/**/*
    - out/index.html
YML
	sw_run --strict
	[ "$status" -eq 0 ]
	[ "$(jq -r .build.buildStatus "$REPORT")" = SUCCEEDED ]
	[ "$(cat "$STATE/hosts/a/root/var/www/index.html")" = prebuilt ]
	[[ "$output" == *"no 'phases': the build runs no commands"* ]]
}

@test "run: a batch buildspec builds its own phases once, as the docs say" {
	setup_project 1
	cat >>"$PROJ/buildspec.yml" <<'YML'
batch:
  build-list:
    - identifier: one
    - identifier: two
YML
	sw_run
	[ "$status" -eq 0 ]
	[ "$(jq -r .build.buildStatus "$REPORT")" = SUCCEEDED ]
	[ "$(jq -r '.build.batchBuildIdentifier // "none"' "$REPORT")" = none ]
	[[ "$output" == *"Batch section (build-list): running this buildspec's own phases as one build ('slipway build' runs the batch)"* ]]
	[ "$(cat "$STATE/hosts/a/root/var/www/index.html")" = "version 1" ]
}

@test "run: prune while the run deploys leaves the build whose artifact it deploys" {
	setup_project 1
	mkfifo "$T/go"
	printf '#!/bin/sh\ntouch "%s/started"\ncat "%s/go" >/dev/null\n' "$T" "$T" \
		>"$PROJ/scripts/validate.sh"
	sed -i 's/^  - name: b$//' "$T/fleet.yml"
	"$SLIPWAY" run "$PROJ" --group "$T/fleet.yml" --state-dir "$STATE" \
		--report "$REPORT" -e APP_VERSION=1 >"$T/out" 2>&1 3>&- &
	pid=$!
	for i in $(seq 200); do [ -e "$T/started" ] && break; sleep 0.1; done
	[ -e "$T/started" ]
	build=$(ls -d "$STATE"/builds/proj-*)
	[ -f "$build/report.json" ] # the build has ended
	run "$SLIPWAY" prune --keep 0 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	# the build, the deployment and the run
	[[ "$output" == *"pruned 0 builds"*"3 running"* ]]
	[ -f "$build/report.json" ]
	[ -d "$STATE/runs/$(ls "$STATE/runs")" ]
	echo go >"$T/go"
	wait "$pid"
	cat "$T/out"
	[ "$(jq -r .status "$REPORT")" = Succeeded ]
	# ended: the next prune takes it
	run "$SLIPWAY" prune --keep 0 --state-dir "$STATE"
	[ ! -e "$build" ]
}

@test "run: prune removes old runs' records by count and age, never a running one" {
	setup_project 1
	sw_run
	[ "$status" -eq 0 ]
	old=$(jq -r .runId "$REPORT")
	sw_run
	[ "$status" -eq 0 ]
	new=$(jq -r .runId "$REPORT")
	[ ! -e "$STATE/runs/$new/run.lock" ] # ended: no lock left
	run "$SLIPWAY" prune --keep 1 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed run $old"* ]]
	[[ "$output" == *", 1 run:"*"kept 1 build and 1 deployment, 1 run"* ]]
	[ ! -e "$STATE/runs/$old" ]
	[ -f "$STATE/runs/$new/report.json" ]
	run "$SLIPWAY" prune --older-than 1h --keep 0 --state-dir "$STATE"
	[ -f "$STATE/runs/$new/report.json" ]
	touch -d '2 hours ago' "$STATE/runs/$new/report.json"
	run "$SLIPWAY" prune --older-than 1h --keep 0 --state-dir "$STATE"
	[[ "$output" == *"removed run $new"* ]]
	[ ! -e "$STATE/runs/$new" ]
}
