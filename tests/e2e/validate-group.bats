#!/usr/bin/env bats
# slipway validate on the deployment group fixtures: every malformed or
# hostile group file is refused with exit 3 and one "error: FILE:LINE:COL:
# ..." line holding the "# expect:" text of its first line, and never with
# a crash; every good one passes with "FILE: ok (group G, N hosts, config
# C)". A file is a group file when its top level has 'hosts' or
# 'deployment-group'.

bats_require_minimum_version 1.5.0

load helpers

BAD=tests/fixtures/bad-groups
GOOD=tests/fixtures/good-groups

setup() {
	if [ ! -e "${SLIPWAY:-}" ]; then
		skip "no slipway binary at '${SLIPWAY:-}'"
	fi
	T=$BATS_TEST_TMPDIR
	cd "$BATS_TEST_DIRNAME/../.."
}

# Nothing is started here: nothing to clean up.
teardown() {
	:
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
	if [ -n "$output" ]; then
		echo "$f: printed on stdout: $output"
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
	if [ -z "$expect" ]; then
		echo "$f: no '# expect:' first line"
	elif [[ "$line" != *"$expect"* ]]; then
		echo "$f: error lacks '$expect': $line"
	fi
}

@test "every bad group fixture is refused with exit 3 and a positioned error" {
	local f problems= n=0

	for f in "$BAD"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		problems+=$(check_bad "$f")$'\n'
	done
	echo "$problems"
	[ -z "${problems//$'\n'/}" ]
	[ "$n" -ge 25 ]
}

@test "every good group fixture validates with exit 0 as a group file" {
	local f problems= n=0

	for f in "$GOOD"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		run --separate-stderr "$SLIPWAY" validate "$f"
		if [ "$status" -ne 0 ]; then
			problems+="$f: exit $status: $stderr"$'\n'
		elif ! [[ "$output" =~ ^"$f: ok (group "[^,]+", "[0-9]+" hosts, config "[^\)]+")"$ ]]; then
			problems+="$f: no group ok line: $output"$'\n'
		elif grep -q '^error: ' <<<"$stderr"; then
			problems+="$f: error printed: $stderr"$'\n'
		fi
	done
	echo "$problems"
	[ -z "${problems//$'\n'/}" ]
	[ "$n" -ge 4 ]
}

@test "the ok line names the group, counts its hosts and names its config" {
	run --separate-stderr "$SLIPWAY" validate "$GOOD/full.yml" \
		"$GOOD/minimal.yml" "$GOOD/rehearsal-fleet.yml"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$GOOD/full.yml: ok (group staging, 6 hosts, config Canary25)" ]
	[ "${lines[1]}" = "$GOOD/minimal.yml: ok (group dev, 1 hosts, config CodeDeployDefault.OneAtATime)" ]
	[ "${lines[2]}" = "$GOOD/rehearsal-fleet.yml: ok (group rehearsal, 3 hosts, config CodeDeployDefault.HalfAtATime)" ]
	[ -z "$stderr" ]
}

@test "unknown group keys are warnings on stderr, not errors" {
	local f=$GOOD/anchors-and-unknown-keys.yml

	run --separate-stderr "$SLIPWAY" validate "$f"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"warning: $f:5:1: unknown key 'x-notes' ignored"* ]]
	[[ "$stderr" == *"warning: $f:12:5: unknown key 'region' in 'hosts[0]' ignored"* ]]
	! grep -q '^error: ' <<<"$stderr" || false
}

@test "a duplicate host name is refused naming both lines" {
	local f=$BAD/duplicate-host.yml

	run --separate-stderr "$SLIPWAY" validate "$f"
	[ "$status" -eq 3 ]
	[ "$stderr" = "error: $f:7:11: duplicate host name 'web-1' in 'hosts[2]': 'hosts[0]' on line 5 has it already" ]
}

@test "a file with 'hosts' or 'deployment-group' is read as a group file" {
	printf 'application: a\ndeployment-group: g\n' >"$T/g1.yml"
	run --separate-stderr "$SLIPWAY" validate "$T/g1.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "error: $T/g1.yml:1:1: 'hosts' is required"* ]]

	printf 'hosts:\n  - name: a\n' >"$T/g2.yml"
	run --separate-stderr "$SLIPWAY" validate "$T/g2.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "error: $T/g2.yml:1:1: 'application' is required"* ]]

	printf 'application: a\ndeployment-group: g\nhosts: [{name: a, root: r}]\n' >"$T/g3.yml"
	run --separate-stderr "$SLIPWAY" validate "$T/g3.yml"
	[ "$status" -eq 0 ]
	[ "$output" = "$T/g3.yml: ok (group g, 1 hosts, config CodeDeployDefault.OneAtATime)" ]

	# a buildspec stays a buildspec
	printf 'version: 0.2\nphases:\n  build:\n    commands: [make]\n' >"$T/ci.yml"
	run --separate-stderr "$SLIPWAY" validate "$T/ci.yml"
	[ "$status" -eq 0 ]
	[ "$output" = "$T/ci.yml: ok (buildspec 0.2, 1 phases)" ]
}

@test "buildspecs, appspecs and group files validate in one call; one bad file makes it exit 3" {
	run --separate-stderr "$SLIPWAY" validate \
		tests/fixtures/good-buildspecs/full-v02.yml \
		tests/fixtures/good-appspecs/sample-app-linux.yml \
		"$GOOD/minimal.yml" "$BAD/ssh-bad-port.yml"
	[ "$status" -eq 3 ]
	[[ "${lines[0]}" == "tests/fixtures/good-buildspecs/full-v02.yml: ok (buildspec 0.2,"* ]]
	[[ "${lines[1]}" == "tests/fixtures/good-appspecs/sample-app-linux.yml: ok (appspec 0.0,"* ]]
	[ "${lines[2]}" = "$GOOD/minimal.yml: ok (group dev, 1 hosts, config CodeDeployDefault.OneAtATime)" ]
	[ "$(grep -c '^error: ' <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *"error: $BAD/ssh-bad-port.yml:6:10: 'hosts[0].ssh' has an invalid port (deploy@h:70000): 1 to 65535"* ]]
}

@test "a group billion laughs file is refused quickly" {
	local start=$SECONDS

	run --separate-stderr "$SLIPWAY" validate "$BAD/billion-laughs.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"document expands to too many nodes (aliases)"* ]]
	[ $((SECONDS - start)) -lt 5 ]
}

@test "validate --help says group files are checked too" {
	run "$SLIPWAY" validate --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Deployment group files"* ]]
	[[ "$output" == *"'hosts' or 'deployment-group'"* ]]
}
