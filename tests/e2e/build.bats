#!/usr/bin/env bats
# slipway build: exit statuses, the report's phase table, build numbers,
# the command line, history and show.

load helpers

@test "a successful build reports every phase in order and exits 0" {
	spec <<'EOF'
version: 0.2
phases:
  install:
    commands:
      - echo in-install
  build:
    commands:
      - echo in-build
artifacts:
  files:
    - buildspec.yml
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE INSTALL PRE_BUILD BUILD POST_BUILD UPLOAD_ARTIFACTS FINALIZING COMPLETED" ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	[ "$(rj .currentPhase)" = COMPLETED ]
	for p in DOWNLOAD_SOURCE INSTALL PRE_BUILD BUILD POST_BUILD UPLOAD_ARTIFACTS FINALIZING; do
		[ "$(phase_status $p)" = SUCCEEDED ]
	done
	[ "$(rj '.phases[-1] | has("phaseStatus")')" = false ]
	[ "$(rj '.phases[-1].phaseType')" = COMPLETED ]
	buildlog | grep -qx in-install
	buildlog | grep -qx in-build
	[[ "$output" == *"Entering phase BUILD"* ]]
}

@test "a failing command gives COMMAND_EXECUTION_ERROR and exit 1" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - exit 7
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(rj .buildStatus)" = FAILED ]
	[ "$(phase_status BUILD)" = FAILED ]
	[ "$(phase_ctx BUILD statusCode)" = COMMAND_EXECUTION_ERROR ]
	[ "$(phase_ctx BUILD message)" = "Error while executing command: exit 7. Reason: exit status 7" ]
	buildlog | grep -q 'Phase complete: BUILD State: FAILED'
}

@test "the report is kept in the state directory as well" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
EOF
	sw_build
	[ "$status" -eq 0 ]
	id=$(rj .id)
	cmp "$REPORT" "$STATE/builds/$id/report.json"
	[ -f "$STATE/builds/$id/build.log" ]
}

@test "build numbers count up per project" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "NUM=$CODEBUILD_BUILD_NUMBER"
EOF
	mkdir -p "$T/other"
	cp "$PROJ/buildspec.yml" "$T/other/"
	sw_build
	[ "$(rj .buildNumber)" = 1 ]
	[ "$(printed NUM)" = 1 ]
	sw_build
	[ "$(rj .buildNumber)" = 2 ]
	[ "$(printed NUM)" = 2 ]
	run "$SLIPWAY" build "$T/other" --state-dir "$STATE" --report "$REPORT"
	[ "$status" -eq 0 ]
	[ "$(rj .buildNumber)" = 1 ]
	[ "$(rj .projectName)" = other ]
	sw_build
	[ "$(rj .buildNumber)" = 3 ]
	[ "$(rj .projectName)" = proj ]
}

@test "an invalid buildspec exits 3 with YAML_FILE_ERROR in DOWNLOAD_SOURCE" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands: [echo a
EOF
	sw_build
	[ "$status" -eq 3 ]
	[ "$(phase_status DOWNLOAD_SOURCE)" = FAILED ]
	[ "$(phase_ctx DOWNLOAD_SOURCE statusCode)" = YAML_FILE_ERROR ]
	[ "$(rj .buildStatus)" = FAILED ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE FINALIZING COMPLETED" ]
}

@test "an unsupported buildspec version exits 3" {
	spec <<'EOF'
version: 7.5
phases:
  build:
    commands:
      - echo a
EOF
	sw_build
	[ "$status" -eq 3 ]
	[ "$(phase_ctx DOWNLOAD_SOURCE statusCode)" = YAML_FILE_ERROR ]
	! buildlog | grep -q 'Entering phase BUILD' || false
}

@test "a missing buildspec fails DOWNLOAD_SOURCE" {
	sw_build
	[ "$status" -ne 0 ]
	[ "$(phase_status DOWNLOAD_SOURCE)" = FAILED ]
	[ "$(phase_ctx DOWNLOAD_SOURCE statusCode)" = YAML_FILE_ERROR ]
}

@test "-b picks another buildspec relative to the source" {
	mkdir -p "$PROJ/ci"
	cat >"$PROJ/ci/other.yml" <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo from-other-spec
EOF
	sw_build -b ci/other.yml
	[ "$status" -eq 0 ]
	buildlog | grep -qx from-other-spec
}

@test "--timeout on sleep 60 times out with exit 4 within seconds" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - sleep 60
artifacts:
  files:
    - buildspec.yml
EOF
	t0=$(now_ms)
	sw_build --timeout 2s
	t1=$(now_ms)
	[ "$status" -eq 4 ]
	[ $((t1 - t0)) -lt 8000 ]
	[ $((t1 - t0)) -ge 1900 ]
	[ "$(rj .buildStatus)" = TIMED_OUT ]
	[ "$(phase_status BUILD)" = TIMED_OUT ]
}

@test "-q keeps build output off the terminal but in build.log" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo quiet-marker-line
EOF
	sw_build -q
	[ "$status" -eq 0 ]
	[[ "$output" != *quiet-marker-line* ]]
	buildlog | grep -qx quiet-marker-line
	buildlog | grep -q 'Running command echo quiet-marker-line'
}

@test "slipway --help and build --help exit 0" {
	run "$SLIPWAY" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *build* ]]
	run "$SLIPWAY" build --help
	[ "$status" -eq 0 ]
	[[ "$output" == *--timeout* ]]
	[[ "$output" == *--secrets-file* ]]
}

@test "usage errors exit 2 and run no build" {
	run "$SLIPWAY" build --no-such-option --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" build "$PROJ" --timeout bogus --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *bogus* ]]
	run "$SLIPWAY" build "$PROJ" --shell zsh --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" build "$PROJ" -e NOEQUALS --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" no-such-command
	[ "$status" -eq 2 ]
	[ ! -d "$STATE/builds" ] || [ -z "$(ls -A "$STATE/builds")" ]
}

@test "history lists builds; show prints the phase table and --json the report" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "$CODEBUILD_BUILD_NUMBER" | grep -qx 1
EOF
	sw_build
	[ "$status" -eq 0 ]
	first=$(rj .id)
	sw_build
	[ "$status" -eq 1 ]
	second=$(rj .id)
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "STARTED "*" KIND "*" ID "*" PROJECT "*" STATUS "*" DURATION  NOTE" ]]
	echo "$output" | grep " build  *proj#1  *proj  *SUCCEEDED"
	echo "$output" | grep " build  *proj#2  *proj  *FAILED"
	run "$SLIPWAY" history --json --state-dir "$STATE"
	[ "$(jq -r '[.[].id] | join(" ")' <<<"$output")" = "$first $second" ]
	uuid=${second#proj:}
	run "$SLIPWAY" show "${uuid:0:8}" --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"$second"* ]]
	echo "$output" | grep -E '^BUILD +FAILED' | grep -q 'Error while executing command: echo'
	echo "$output" | grep -Eq '^INSTALL +SUCCEEDED'
	run "$SLIPWAY" show "$second" --json --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .id)" = "$second" ]
	[ "$(echo "$output" | jq -r .buildStatus)" = FAILED ]
	[ "$(echo "$output" | jq -r .buildNumber)" = 2 ]
}

@test "show of an unknown build fails" {
	mkdir -p "$STATE"
	run "$SLIPWAY" show deadbeef-nothing --state-dir "$STATE"
	[ "$status" -ne 0 ]
}

@test "concurrent builds of one project get distinct numbers" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "NUM=$CODEBUILD_BUILD_NUMBER"
EOF
	for i in 1 2 3 4; do
		"$SLIPWAY" build "$PROJ" -q --state-dir "$STATE" \
			--report "$T/r$i.json" >/dev/null 2>&1 3>&- &
	done
	wait
	nums=$(for i in 1 2 3 4; do jq -r .buildNumber "$T/r$i.json"; done | sort -n | tr '\n' ' ')
	[ "$nums" = "1 2 3 4 " ]
	[ "$(for i in 1 2 3 4; do jq -r .id "$T/r$i.json"; done | sort -u | wc -l)" -eq 4 ]
}

@test "--timeout takes 90s, 10m, 2h and bare minutes" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
EOF
	sw_build --timeout 2h
	[ "$status" -eq 0 ]
	[ "$(rj .timeoutInMinutes)" = 120 ]
	sw_build --timeout 25
	[ "$status" -eq 0 ]
	[ "$(rj .timeoutInMinutes)" = 25 ]
	sw_build --timeout 10m
	[ "$(rj .timeoutInMinutes)" = 10 ]
	sw_build
	[ "$(rj .timeoutInMinutes)" = 60 ]
}

@test "history of an empty state directory lists nothing and exits 0" {
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" != *:*-*-*-* ]]
}

@test "history -n limits to the last builds" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
EOF
	sw_build
	first=$(rj .id)
	sw_build
	sw_build
	last=$(rj .id)
	run "$SLIPWAY" history -n 1 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "$output" == *" proj#3 "* ]]
	[[ "$output" != *" proj#1 "* ]]
	run "$SLIPWAY" history -n 1 --json --state-dir "$STATE"
	[ "$(jq -r '.[0].id' <<<"$output")" = "$last" ]
}
