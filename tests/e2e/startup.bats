#!/usr/bin/env bats
# Start-up: what every command pays before it does anything.

load helpers

@test "libcurl and libxml2 are loaded only when called" {
	command -v readelf >/dev/null || skip "no readelf"
	needed=$(readelf -d "$SLIPWAY" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
	[[ "$needed" == *libgit2* ]]
	[[ "$needed" != *libcurl* ]]
	[[ "$needed" != *libxml2* ]]
	# a build with a JUnit report loads libxml2 when it reads it
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - printf '<testsuite name="s"><testcase name="ok"/><testcase name="bad"><failure message="m"/></testcase></testsuite>' >r.xml
reports:
  unit:
    files: [r.xml]
EOF2
	sw_build
	[ "$status" -eq 0 ]
	buildlog | grep -q 'Report group unit: 2 tests, 1 passed, 1 failed'
	! buildlog | grep -q 'cannot load' || false
}

@test "a one-command build syncs the report.json and its directory, not the page beside it" {
	command -v strace >/dev/null || skip "no strace"
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - "true"
EOF2
	# LeakSanitizer cannot work under ptrace: an ASan build would exit 1
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
		run strace -f -y -e trace=fsync,fdatasync,syncfs -o "$T/trace" \
		"$SLIPWAY" build "$PROJ" --state-dir "$STATE" -q
	echo "$output"
	[ "$status" -eq 0 ]
	[ -s "$(ls "$STATE"/builds/*/report.html | head -n 1)" ]
	# the build number, report.json and the build's directory
	[ "$(grep -c 'fsync(' "$T/trace")" -eq 3 ]
	grep -q 'fsync(.*report\.json' "$T/trace"
	! grep -q 'fsync(.*report\.html' "$T/trace" || false
}
