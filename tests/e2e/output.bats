#!/usr/bin/env bats
# The terminal view (--output pretty, the default on a terminal) and
# CodeBuild's lines (--output codebuild, the default elsewhere and always
# in build.log).

load helpers

view_spec() {
	spec <<'EOF2'
version: 0.2
phases:
  install:
    commands:
      - echo "hidden-$((1+1))"
  build:
    commands:
      - echo fine
      - |
        for i in $(seq 1 40); do echo "line-$i of the failure"; done
        exit 3
  post_build:
    commands:
      - echo post
EOF2
}

# slipway build on a pseudo-terminal; the screen in $T/tty.txt.
on_tty() {
	: >"$T/steps"
	rm -f "$REPORT"
	run python3 "$BATS_TEST_DIRNAME/ptydrive.py" "$T/tty.txt" -- \
		"$SLIPWAY" build "$PROJ" --state-dir "$STATE" \
		--report "$REPORT" "$@" <"$T/steps"
	LOG=$(jq -r .logs.location "$REPORT")
}

@test "output: on a terminal, a line per phase and command; a failure's output in full" {
	view_spec
	on_tty
	[ "$status" -eq 1 ]
	# what the screen shows: a line rewritten after \r is its last text
	sed 's/\r$//; s/.*\r//; s/\x1b\[[0-9;]*[mK]//g' "$T/tty.txt" >"$T/screen"
	grep -Eq "^✓ INSTALL +[0-9]+\.[0-9]s$" "$T/screen"
	grep -Eq "^  ✓ echo fine +[0-9]+\.[0-9]s$" "$T/screen"
	grep -Eq "✗ for i in \\\$\(seq 1 40\).*\.\.\. +[0-9]+\.[0-9]s  failed$" \
		"$T/screen"
	grep -Eq "^✗ BUILD +[0-9]+\.[0-9]s  FAILED$" "$T/screen"
	grep -Eq "^✓ POST_BUILD " "$T/screen"
	# every line of the failing command's output, none of the others'
	[ "$(grep -c '^line-[0-9]* of the failure$' "$T/screen")" -eq 40 ]
	! grep -qx hidden-2 "$T/screen" || false
	! grep -q "\[Container\]" "$T/screen" || false
	# the summary names the failed command's line in the buildspec
	grep -q "^slipway:   buildspec.yml:9: for i in \$(seq 1 40); do echo \"line-\$i of the failure\"; done ... (phase BUILD, exit status 3)$" \
		"$T/screen"
	# build.log keeps CodeBuild's lines and all the output
	buildlog | grep -q "\[Container\] .* Running command echo fine"
	buildlog | grep -qx hidden-2
	! buildlog | grep -q "✓" || false
}

@test "output: --output codebuild on a terminal keeps CodeBuild's lines" {
	view_spec
	on_tty --output codebuild
	[ "$status" -eq 1 ]
	grep -q "\[Container\] .* Running command echo fine" "$T/tty.txt"
	grep -q "^hidden-2" "$T/tty.txt"
	! grep -q "✓" "$T/tty.txt" || false
	! grep -q "^slipway:   buildspec.yml" "$T/tty.txt" || false
}

@test "output: off a terminal CodeBuild's lines by default; --output pretty asks for the view" {
	view_spec
	sw_build
	[ "$status" -eq 1 ]
	[[ "$output" == *"[Container] "*"Running command echo fine"* ]]
	[[ "$output" != *"✓"* ]]
	sw_build --output pretty
	[ "$status" -eq 1 ]
	[[ "$output" == *"✓ INSTALL"* ]]
	[[ "$output" != *"[Container]"* ]]
	run "$SLIPWAY" build "$PROJ" --state-dir "$STATE" --output fancy
	[ "$status" -eq 2 ]
	[[ "$output" == *"--output must be pretty or codebuild, not 'fancy'"* ]]
}

@test "output: a deployment on a terminal has its statuses in colour, none with NO_COLOR or off a terminal" {
	mkdir -p "$T/bundle" "$T/host"
	cat >"$T/bundle/appspec.yml" <<'EOF2'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: fail.sh
EOF2
	printf '#!/bin/sh\necho oops >&2\nexit 3\n' >"$T/bundle/fail.sh"
	chmod +x "$T/bundle/fail.sh"
	: >"$T/steps"
	run env TERM=xterm python3 "$BATS_TEST_DIRNAME/ptydrive.py" \
		"$T/tty.txt" -- "$SLIPWAY" deploy "$T/bundle" --root "$T/host" \
		--state-dir "$STATE" <"$T/steps"
	[ "$status" -eq 1 ]
	grep -q $'BeforeInstall \e\[31mFailed\e\[0m (' "$T/tty.txt"
	grep -q $'ApplicationStop \e\[32mSucceeded\e\[0m (' "$T/tty.txt"
	grep -q $'Install \e\[33mSkipped\e\[0m' "$T/tty.txt"
	grep -q $'slipway: deployment d-[A-Z0-9]* \e\[31mFailed\e\[0m: ' \
		"$T/tty.txt"
	run env TERM=xterm NO_COLOR=1 python3 "$BATS_TEST_DIRNAME/ptydrive.py" \
		"$T/tty2.txt" -- "$SLIPWAY" deploy "$T/bundle" --root "$T/host" \
		--state-dir "$STATE" <"$T/steps"
	[ "$status" -eq 1 ]
	grep -q "BeforeInstall Failed (" "$T/tty2.txt"
	! grep -q $'\e\[3' "$T/tty2.txt" || false
	run "$SLIPWAY" deploy "$T/bundle" --root "$T/host" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"BeforeInstall Failed ("* ]]
	[[ "$output" != *$'\e['* ]]
}

@test "output: the bundle's upload to an ssh host shows its progress on a terminal" {
	mkdir -p "$T/bundle"
	printf 'version: 0.0\nos: linux\n' >"$T/bundle/appspec.yml"
	head -c 300000 /dev/urandom >"$T/bundle/blob"
	mkfifo "$T/gate"
	# an ssh that reads a third of the bundle, then waits for the test
	cat >"$T/fake-ssh" <<EOF2
#!/bin/sh
dd bs=100000 count=1 iflag=fullblock of=/dev/null 2>/dev/null
cat "$T/gate" >/dev/null
cat >/dev/null
exit 255
EOF2
	chmod +x "$T/fake-ssh"
	cat >"$T/steps" <<EOF2
expect h: bundle 3[0-9]% of 0.3 MB
write $T/gate go
EOF2
	run env TERM=xterm SLIPWAY_SSH="$T/fake-ssh" python3 \
		"$BATS_TEST_DIRNAME/ptydrive.py" "$T/tty.txt" -- "$SLIPWAY" \
		deploy "$T/bundle" --ssh u@h --root /srv/x --state-dir "$STATE" \
		<"$T/steps"
	[ "$status" -eq 1 ]
	grep -q "the ssh connection to h failed" "$T/tty.txt"
	# not in deployment.log, not off a terminal
	! grep -rq "bundle 3[0-9]%" "$STATE/deployments" || false
}

@test "output: a deployment on a terminal draws a live host-by-event table, and leaves it" {
	mkdir -p "$T/bundle"
	mkfifo "$T/gate"
	cat >"$T/bundle/appspec.yml" <<'EOF2'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: hook.sh
EOF2
	# the first host waits for the test; the second fails
	cat >"$T/bundle/hook.sh" <<EOF2
#!/bin/sh
if mkdir "$T/first" 2>/dev/null; then cat "$T/gate" >/dev/null; else exit 3; fi
EOF2
	chmod +x "$T/bundle/hook.sh"
	printf 'application: a\ndeployment-group: g\nhosts:\n  - name: web-1\n  - name: web-2\n' \
		>"$T/g.yml"
	cat >"$T/steps" <<EOF2
expect web-1 .{0,30}✓.{0,30}✓.{0,30}▸
write $T/gate go
EOF2
	run env TERM=xterm python3 "$BATS_TEST_DIRNAME/ptydrive.py" \
		"$T/tty.txt" -- "$SLIPWAY" deploy "$T/bundle" --group "$T/g.yml" \
		--state-dir "$STATE" <"$T/steps"
	[ "$status" -ne 124 ] # the table showed web-1 in BeforeInstall
	sed 's/\x1b\[[0-9;]*[A-Za-z]//g; s/\r//g' "$T/tty.txt" >"$T/screen"
	grep -Eq '^ +Stop +Bundle +BeforeI +Install +AfterI +Start +Validate$' \
		"$T/screen"
	# the table as it ended, above the summary
	grep -E '^web-[12] ' "$T/screen" | tail -n 2 >"$T/rows"
	grep -Eq '^web-1 +✓ +✓ +✓ +✓ +✓ +✓ +✓ *$' "$T/rows"
	grep -Eq '^web-2 +✓ +✓ +✗ +- +- +- +- *$' "$T/rows"
	tail -n 1 "$T/screen" | grep -q "^slipway: deployment d-"
	# no terminal: no table
	run "$SLIPWAY" deploy "$T/bundle" --group "$T/g.yml" \
		--state-dir "$STATE" </dev/null
	[[ "$output" != *"Stop     Bundle"* ]]
}
