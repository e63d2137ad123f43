#!/usr/bin/env bats
# slipway history: what ran, of every kind, from the store, under a
# header, oldest first, filtered; slipway show: any kind of id, a build
# by number; neither makes a state directory.

bats_require_minimum_version 1.5.0
load helpers

# $T/webapp (builds webapp#1, #2 and a failed #3) and $T/api (api#1);
# a deployment, a batch, a run and a pipeline execution beside them.
fill_state() {
	mkdir -p "$T/webapp" "$T/api" "$T/site"
	cat >"$T/webapp/buildspec.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - test ! -e fail
artifacts:
  files: [appspec.yml]
EOF
	printf 'version: 0.0\nos: linux\n' >"$T/webapp/appspec.yml"
	cp "$T/webapp/buildspec.yml" "$T/webapp/appspec.yml" "$T/api/"
	local i
	for i in 1 2; do
		"$SLIPWAY" build "$T/webapp" --state-dir "$STATE" -q 2>/dev/null
	done
	touch "$T/webapp/fail"
	"$SLIPWAY" build "$T/webapp" --state-dir "$STATE" -q 2>/dev/null || true
	rm "$T/webapp/fail"
	"$SLIPWAY" build "$T/api" --state-dir "$STATE" -q 2>/dev/null
	printf 'application: webapp\ndeployment-group: g\nhosts:\n  - name: h\n' \
		>"$T/group.yml"
	"$SLIPWAY" deploy "$T/webapp" --group "$T/group.yml" \
		--deployment-id d-HISTORY1 --state-dir "$STATE" -q 2>/dev/null
	"$SLIPWAY" run "$T/webapp" --group "$T/group.yml" --state-dir "$STATE" \
		-q >/dev/null 2>&1
	mkdir -p "$T/batch"
	cat >"$T/batch/buildspec.yml" <<'EOF'
version: 0.2
batch:
  build-list:
    - identifier: one
phases:
  build:
    commands:
      - echo one
EOF
	"$SLIPWAY" build "$T/batch" --state-dir "$STATE" -q >/dev/null 2>&1
	echo a >"$T/site/a.txt"
	cat >"$T/pl.yml" <<'EOF'
pipeline:
  name: nightly
  stages:
    - name: Source
      actions:
        - name: Src
          actionTypeId: {category: Source, owner: AWS, provider: S3, version: "1"}
          configuration: {S3Bucket: b, S3ObjectKey: site}
          outputArtifacts: [{name: Src}]
    - name: Last
      actions:
        - name: Mark
          actionTypeId: {category: Invoke, owner: Custom, provider: Command, version: "1"}
          configuration: {Command: "true"}
slipway:
  sources: {b/site: site}
EOF
	"$SLIPWAY" pipeline start "$T/pl.yml" --state-dir "$STATE" >/dev/null 2>&1
}

@test "history: a header, every kind, oldest first, by start time" {
	fill_state
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^STARTED\ +KIND\ +ID\ +PROJECT\ +STATUS\ +DURATION\ +NOTE$ ]]
	# the kinds, in the order they started
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --json
	[ "$status" -eq 0 ]
	kinds=$(jq -r '[.[].kind] | unique | join(" ")' <<<"$output")
	[ "$kinds" = "batch build deployment pipeline run" ]
	# ordered by start time
	[ "$(jq '[.[].startTime] == ([.[].startTime] | sort)' <<<"$output")" = true ]
	[ "$(jq -r '.[0].id' <<<"$output")" = "$(jq -r '[.[] | select(.kind == "build")][0].id' <<<"$output")" ]
	[ "$(jq -r '.[-1].kind' <<<"$output")" = pipeline ]
	# a build is shown as PROJECT#N and has its number in JSON
	[ "$(jq -r '[.[] | select(.kind == "build" and .project == "webapp")][2] | "\(.number) \(.status)"' <<<"$output")" = "3 FAILED" ]
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE"
	echo "$output" | grep -E " build +webapp#3 +webapp +FAILED .*phase BUILD"
	echo "$output" | grep -E " deployment +d-HISTORY1 +webapp/g +Succeeded "
	echo "$output" | grep -E " pipeline +pe-[0-9a-f-]+ +nightly +Succeeded "
	echo "$output" | grep -E " run +[^ ]+ +webapp +(Succeeded|SUCCEEDED) "
	echo "$output" | grep -E " batch +batch:[0-9a-f-]+ +batch +SUCCEEDED "
}

@test "history: --project, --status, --since and -n filter; --json is an array" {
	fill_state
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --project api --json
	[ "$(jq -r '[.[] | "\(.kind) \(.project)"] | join(",")' <<<"$output")" = "build api" ]
	# a deployment's project is its application
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --project webapp --json
	[ "$(jq -r '[.[].kind] | unique | join(" ")' <<<"$output")" = "build deployment run" ]
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --status failed
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[1]}" == *" webapp#3 "* ]]
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --status SUCCEEDED --project webapp -n 1 --json
	[ "$(jq -r 'length' <<<"$output")" = 1 ]
	[ "$(jq -r '.[0].status' <<<"$output")" = Succeeded ]
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --since 1h --json
	[ "$(jq -r 'length' <<<"$output")" -ge 8 ]
	# nothing started in the future
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --since 2999-01-01 --json
	[ "$(jq -r 'length' <<<"$output")" = 0 ]
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --since yesterday
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--since: 'yesterday' is neither a duration"* ]]
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" -n 3
	[ "${#lines[@]}" -eq 4 ]
}

@test "show: PROJECT#N, N within one project, a prefix, any kind of id" {
	fill_state
	run --separate-stderr "$SLIPWAY" history --state-dir "$STATE" --json
	local all=$output
	w2=$(jq -r '[.[] | select(.kind == "build" and .project == "webapp")][1].id' <<<"$all")
	run --separate-stderr "$SLIPWAY" show 'webapp#2' --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == "build:    $w2"* ]]
	# 3 is a build number of webapp alone
	run --separate-stderr "$SLIPWAY" show 3 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"number:   3"*"status:   FAILED"* ]]
	# 1 is one in webapp, api and the batch's task: refused, all named
	run --separate-stderr "$SLIPWAY" show 1 --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"'1' names 3 records:"*"webapp#1"*"api#1"*"batch#1"* ]]
	# a unique prefix of the uuid, of the id
	uuid=${w2#webapp:}
	run --separate-stderr "$SLIPWAY" show "${uuid:0:8}" --state-dir "$STATE" --json
	[ "$(jq -r .id <<<"$output")" = "$w2" ]
	run --separate-stderr "$SLIPWAY" show d-HIST --state-dir "$STATE"
	[[ "$output" == *"deployment:  d-HISTORY1"* ]]
	pe=$(jq -r '[.[] | select(.kind == "pipeline")][0].id' <<<"$all")
	run --separate-stderr "$SLIPWAY" show "${pe:0:10}" --state-dir "$STATE" --json
	[ "$status" -eq 0 ]
	[[ "$output" == *"$pe"* ]]
	run_id=$(jq -r '[.[] | select(.kind == "run")][0].id' <<<"$all")
	run --separate-stderr "$SLIPWAY" show "$run_id" --state-dir "$STATE" --json
	[ "$(jq -r .runId <<<"$output")" = "$run_id" ]
	batch_id=$(jq -r '[.[] | select(.kind == "batch")][0].id' <<<"$all")
	run --separate-stderr "$SLIPWAY" show "$batch_id" --state-dir "$STATE"
	[[ "$output" == "batch:    $batch_id"*"status:   SUCCEEDED"* ]]
	run --separate-stderr "$SLIPWAY" show nosuch --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$stderr" == "error: no build, deployment or run 'nosuch' in $STATE" ]]
}

@test "history and show make no state directory where there is none" {
	cd "$T"
	run --separate-stderr "$SLIPWAY" history
	[ "$status" -eq 0 ]
	[[ "$stderr" == "no builds or deployments in $T/.slipway" ]]
	run --separate-stderr "$SLIPWAY" history --json
	[ "$status" -eq 0 ]
	[ "$output" = "[]" ]
	run --separate-stderr "$SLIPWAY" show 1
	[ "$status" -eq 2 ]
	run --separate-stderr "$SLIPWAY" history --state-dir "$T/none"
	[ "$status" -eq 0 ]
	[ ! -e "$T/.slipway" ]
	[ ! -e "$T/none" ]
}
