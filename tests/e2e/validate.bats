#!/usr/bin/env bats
# slipway validate on the buildspec fixtures: every malformed or hostile
# file is refused with exit 3 and one "error: FILE:LINE:COL: ..." line
# (holding the "# expect:" text of its first line, when it has one), and
# never with a crash; every good file passes.

bats_require_minimum_version 1.5.0

BAD=tests/fixtures/bad-buildspecs
GOOD=tests/fixtures/good-buildspecs

setup() {
	if [ ! -e "${SLIPWAY:-}" ]; then
		skip "no slipway binary at '${SLIPWAY:-}'"
	fi
	cd "$BATS_TEST_DIRNAME/../.."
}

# Checks one bad fixture; prints what is wrong, nothing when all is well.
check_bad() {
	local f=$1 expect line errors rest

	run --separate-stderr "$SLIPWAY" validate "$f"
	if [ "$status" -ge 128 ]; then
		echo "$f: killed by signal $((status - 128))"
		return
	fi
	if [ "$status" -ne 3 ]; then
		echo "$f: exit status $status, want 3 (stderr: $stderr)"
		return
	fi
	errors=$(grep -c '^error: ' <<<"$stderr")
	if [ "$errors" -ne 1 ]; then
		echo "$f: $errors error lines, want 1: $stderr"
		return
	fi
	line=$(grep '^error: ' <<<"$stderr")
	if [[ "$line" != "error: $f:"* ]]; then
		echo "$f: error does not name the file: $line"
		return
	fi
	rest=${line#"error: $f:"}
	if ! [[ "$rest" =~ ^[0-9]+:[0-9]+:\ . ]]; then
		echo "$f: error has no line:col: $line"
		return
	fi
	expect=$(head -n 1 "$f" | tr -d '\0' | sed -n 's/^# expect: //p')
	if [ -n "$expect" ] && [[ "$line" != *"$expect"* ]]; then
		echo "$f: error lacks '$expect': $line"
	fi
}

@test "every bad buildspec fixture is refused with exit 3 and a positioned error" {
	local f problems= n=0

	for f in "$BAD"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		problems+=$(check_bad "$f")$'\n'
	done
	echo "$problems"
	[ -z "${problems//$'\n'/}" ]
	[ "$n" -ge 35 ]
}

@test "every good buildspec fixture validates with exit 0" {
	local f problems= n=0

	for f in "$GOOD"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		run --separate-stderr "$SLIPWAY" validate "$f"
		if [ "$status" -ne 0 ]; then
			problems+="$f: exit $status: $stderr"$'\n'
		elif [[ "$output" != *"$f: ok"* ]]; then
			problems+="$f: no ok line: $output"$'\n'
		elif grep -q '^error: ' <<<"$stderr"; then
			problems+="$f: error printed: $stderr"$'\n'
		fi
	done
	echo "$problems"
	[ -z "${problems//$'\n'/}" ]
	[ "$n" -ge 10 ]
}

@test "unknown keys are warnings on stderr, not errors" {
	local f=$GOOD/minimal-scalar-commands.yml

	run --separate-stderr "$SLIPWAY" validate "$f"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"warning: $f:12:1: unknown key 'unknown_top_level' ignored"* ]]
	[[ "$stderr" == *"warning: $f:9:3: unknown phase 'deploy' ignored"* ]]
	! grep -q '^error: ' <<<"$stderr" || false
}

@test "an unquoted ': ' in a command is reported where it is" {
	local f=$BAD/command-unquoted-colon.yml

	run --separate-stderr "$SLIPWAY" validate "$f"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"error: $f:7:9: a command in 'phases.build.commands' must be a string"* ]]
}

@test "a billion laughs file is refused quickly" {
	local start=$SECONDS

	run --separate-stderr "$SLIPWAY" validate "$BAD/billion-laughs.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"document expands to too many nodes (aliases)"* ]]
	[ $((SECONDS - start)) -lt 5 ]
}

@test "one bad file among good ones makes validate exit 3" {
	run --separate-stderr "$SLIPWAY" validate "$GOOD/full-v02.yml" \
		"$BAD/duplicate-key.yml" "$GOOD/v01.yml"
	[ "$status" -eq 3 ]
	[[ "$output" == *"$GOOD/full-v02.yml: ok"* ]]
	[[ "$output" == *"$GOOD/v01.yml: ok"* ]]
	[ "$(grep -c '^error: ' <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *"error: $BAD/duplicate-key.yml:7:3: duplicate key 'build'"* ]]
}

@test "a build matrix that validate refuses, build refuses alike, before anything runs" {
	local proj=$BATS_TEST_TMPDIR/proj state=$BATS_TEST_TMPDIR/state want

	want="'batch.build-matrix' expands to 1000000000000 builds, more than 1000"
	run --separate-stderr "$SLIPWAY" validate "$BAD/batch-matrix-huge.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"batch-matrix-huge.yml:9:5: $want"* ]]
	mkdir -p "$proj"
	cp "$BAD/batch-matrix-huge.yml" "$proj/buildspec.yml"
	# the build is recorded as failed at DOWNLOAD_SOURCE (YAML_FILE_ERROR,
	# as CodeBuild), and nothing ran
	run --separate-stderr "$SLIPWAY" build "$proj" --state-dir "$state" \
		--report "$BATS_TEST_TMPDIR/report.json"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"buildspec.yml:9:5: $want"* ]]
	[[ "$output" == *"YAML_FILE_ERROR Message: $proj/buildspec.yml:9:5: $want"* ]]
	[[ "$output" != *"Running command"* ]]
	[ "$(jq -r .currentPhase "$BATS_TEST_TMPDIR/report.json")" = COMPLETED ]
	[ "$(jq -r '[.phases[].phaseType] | join(" ")' \
		"$BATS_TEST_TMPDIR/report.json")" = "DOWNLOAD_SOURCE FINALIZING COMPLETED" ]
}

@test "validate --strict: a release pipeline's buildspec without phases" {
	f=tests/fixtures/good-buildspecs/no-phases-release-pipeline.yml
	run --separate-stderr "$SLIPWAY" validate "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "$f: ok (buildspec 0.2, 0 phases)" ]
	[ -z "$stderr" ]
	run --separate-stderr "$SLIPWAY" validate --strict "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "$f: ok (buildspec 0.2, 0 phases)" ]
	[ "$stderr" = "warning: $f:3:1: no 'phases': the build runs no commands" ]
	# --strict anywhere among the files; alone it is a usage error
	run --separate-stderr "$SLIPWAY" validate "$f" --strict
	[ "$status" -eq 0 ]
	[ -n "$stderr" ]
	run "$SLIPWAY" validate --strict
	[ "$status" -eq 2 ]
}
