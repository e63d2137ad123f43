#!/usr/bin/env bats
# slipway validate on the appspec fixtures: every malformed or hostile
# appspec is refused with exit 3 and one "error: FILE:LINE:COL: ..." line
# holding the "# expect:" text of its first line, and never with a crash;
# every good one passes with "FILE: ok (appspec 0.0, N hooks, M files)".
# Buildspecs and appspecs can be checked in one call.

bats_require_minimum_version 1.5.0

BAD=tests/fixtures/bad-appspecs
GOOD=tests/fixtures/good-appspecs

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

@test "every bad appspec fixture is refused with exit 3 and a positioned error" {
	local f problems= n=0

	for f in "$BAD"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		problems+=$(check_bad "$f")$'\n'
	done
	echo "$problems"
	[ -z "${problems//$'\n'/}" ]
	[ "$n" -ge 30 ]
}

@test "every good appspec fixture validates with exit 0 as an appspec" {
	local f problems= n=0

	for f in "$GOOD"/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		run --separate-stderr "$SLIPWAY" validate "$f"
		if [ "$status" -ne 0 ]; then
			problems+="$f: exit $status: $stderr"$'\n'
		elif ! [[ "$output" =~ ^"$f: ok (appspec 0.0, "[0-9]+" hooks, "[0-9]+" files)"$ ]]; then
			problems+="$f: no appspec ok line: $output"$'\n'
		elif grep -q '^error: ' <<<"$stderr"; then
			problems+="$f: error printed: $stderr"$'\n'
		fi
	done
	echo "$problems"
	[ -z "${problems//$'\n'/}" ]
	[ "$n" -ge 8 ]
}

@test "the ok line counts events with scripts and file mappings" {
	run --separate-stderr "$SLIPWAY" validate \
		"$GOOD/all-hooks-with-load-balancer.yml" "$GOOD/minimal.yml" \
		"$GOOD/wordpress-tutorial.yml"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$GOOD/all-hooks-with-load-balancer.yml: ok (appspec 0.0, 9 hooks, 2 files)" ]
	[ "${lines[1]}" = "$GOOD/minimal.yml: ok (appspec 0.0, 0 hooks, 0 files)" ]
	[ "${lines[2]}" = "$GOOD/wordpress-tutorial.yml: ok (appspec 0.0, 4 hooks, 1 files)" ]
}

@test "unknown appspec keys are warnings on stderr, not errors" {
	local f=$GOOD/anchors-and-unknown-keys.yml

	run --separate-stderr "$SLIPWAY" validate "$f"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"warning: $f:5:1: unknown key 'x-defaults' ignored"* ]]
	! grep -q '^error: ' <<<"$stderr" || false
}

@test "os: windows is refused where it is written" {
	local f=$BAD/os-windows.yml

	run --separate-stderr "$SLIPWAY" validate "$f"
	[ "$status" -eq 3 ]
	[ "$stderr" = "error: $f:3:5: unsupported operating system (windows): only os: linux is supported" ]
}

@test "a file named appspec.yml or appspec.yaml is always read as an appspec" {
	local d=$BATS_TEST_TMPDIR

	printf 'version: 0.2\nphases:\n  build:\n    commands: [make]\n' >"$d/appspec.yml"
	run --separate-stderr "$SLIPWAY" validate "$d/appspec.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "error: $d/appspec.yml:1:10: invalid version value (0.2)"* ]]

	printf 'version: 0.0\nos: linux\n' >"$d/appspec.yaml"
	run --separate-stderr "$SLIPWAY" validate "$d/appspec.yaml"
	[ "$status" -eq 0 ]
	[ "$output" = "$d/appspec.yaml: ok (appspec 0.0, 0 hooks, 0 files)" ]

	# another name with a buildspec's keys stays a buildspec
	printf 'version: 0.2\nphases:\n  build:\n    commands: [make]\n' >"$d/ci.yml"
	run --separate-stderr "$SLIPWAY" validate "$d/ci.yml"
	[ "$status" -eq 0 ]
	[ "$output" = "$d/ci.yml: ok (buildspec 0.2, 1 phases)" ]

	# hooks without os or version: an appspec, told what it lacks
	printf 'hooks:\n  AfterInstall:\n    - location: a.sh\n' >"$d/deploy.yml"
	run --separate-stderr "$SLIPWAY" validate "$d/deploy.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == "error: $d/deploy.yml:1:1: 'version' is required"* ]]
}

@test "buildspecs and appspecs validate in one call; one bad file makes it exit 3" {
	run --separate-stderr "$SLIPWAY" validate \
		tests/fixtures/good-buildspecs/full-v02.yml \
		"$GOOD/sample-app-linux.yml"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "tests/fixtures/good-buildspecs/full-v02.yml: ok (buildspec 0.2, 4 phases)" ]
	[ "${lines[1]}" = "$GOOD/sample-app-linux.yml: ok (appspec 0.0, 2 hooks, 1 files)" ]

	run --separate-stderr "$SLIPWAY" validate "$GOOD/sample-app-linux.yml" \
		"$BAD/hooks-reserved-install.yml" \
		tests/fixtures/good-buildspecs/v01.yml
	[ "$status" -eq 3 ]
	[[ "$output" == *"$GOOD/sample-app-linux.yml: ok"* ]]
	[[ "$output" == *"tests/fixtures/good-buildspecs/v01.yml: ok"* ]]
	[ "$(grep -c '^error: ' <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == *"error: $BAD/hooks-reserved-install.yml:5:3: lifecycle event 'Install' is reserved"* ]]
}

@test "an appspec billion laughs file is refused quickly" {
	local start=$SECONDS

	run --separate-stderr "$SLIPWAY" validate "$BAD/billion-laughs.yml"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"document expands to too many nodes (aliases)"* ]]
	[ $((SECONDS - start)) -lt 5 ]
}

@test "validate --help says appspecs are checked too" {
	run "$SLIPWAY" validate --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"Appspec files"* ]]
	[[ "$output" == *"appspec.yml or appspec.yaml"* ]]
}

@test "an appspec with 40,000 acl entries validates in linear time" {
	local f=$BATS_TEST_TMPDIR/appspec.yml

	{
		printf 'version: 0.0\nos: linux\npermissions:\n'
		printf '  - object: /srv/app\n    acls:\n'
		seq 100000 139999 | sed 's/.*/      - u:&:rwx/'
		printf '      - u:1:bad\n'
	} >"$f"
	# Quadratic, this took over 10 s (40,000 entries found one by one).
	run --separate-stderr timeout 5 "$SLIPWAY" validate "$f"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"appspec.yml:40006:9: the access control list (ACL) entry u:1:bad contains an invalid character (b)"* ]]
}
