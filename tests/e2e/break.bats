#!/usr/bin/env bats
# --break: a shell in the paused build's environment, driven through a
# pseudo-terminal (ptydrive.py) as a person would type.

load helpers

# The steps for ptydrive.py, from stdin.
steps() {
	cat >"$T/steps"
}

# slipway build $PROJ with the steps typed in (bats `run`).
drive() {
	rm -f "$REPORT"
	run python3 "$BATS_TEST_DIRNAME/ptydrive.py" "$T/tty.txt" -- \
		"$SLIPWAY" build "$PROJ" --state-dir "$STATE" \
		--report "$REPORT" "$@" <"$T/steps"
	LOG=
	if [ -f "$REPORT" ]; then
		LOG=$(jq -r .logs.location "$REPORT")
	fi
}

failing_spec() {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - test -f fixed
      - echo ran-next
  post_build:
    commands:
      - echo ran-post
EOF
}

@test "--break on-failure: slipway-retry after fixing a file passes" {
	failing_spec
	steps <<'EOF'
expect slipway BUILD:1 failed\]
send touch fixed
send slipway-retry
EOF
	drive --break on-failure
	[ "$status" -eq 0 ]
	grep -q "Paused: command 1 of phase BUILD failed with exit status 1" \
		"$T/tty.txt"
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	[ "$(phase_status BUILD)" = SUCCEEDED ]
	buildlog | grep -qx ran-next
	[ "$(rj '.pauses | length')" = 1 ]
	[ "$(rj '.pauses[0].reason')" = failed ]
	[ "$(rj '.pauses[0].action')" = retry ]
	[ "$(rj '.pauses[0].commandNumber')" = 1 ]
	[ "$(rj '.pauses[0].command')" = "test -f fixed" ]
}

@test "--break: slipway-skip counts the command as passed" {
	failing_spec
	steps <<'EOF'
expect slipway BUILD:1 failed\]
send slipway-skip
EOF
	drive --break on-failure
	[ "$status" -eq 0 ]
	[ "$(phase_status BUILD)" = SUCCEEDED ]
	buildlog | grep -qx ran-next
	buildlog | grep -q "Command counted as passed: slipway-skip"
	[ "$(rj '.pauses[0].action')" = skip ]
}

@test "--break: slipway-abort stops the build with exit status 1" {
	failing_spec
	steps <<'EOF'
expect slipway BUILD:1 failed\]
send slipway-abort
EOF
	drive --break on-failure
	[ "$status" -eq 1 ]
	[ "$(rj .buildStatus)" = STOPPED ]
	[ "$(phase_status BUILD)" = STOPPED ]
	! buildlog | grep -qx ran-post || false
	grep -q "STOPPED.*aborted at a pause (slipway-abort)" "$T/tty.txt"
	[ "$(rj '.pauses[0].action')" = abort ]
}

@test "--break: codebuild-resume goes on with the failure as it was" {
	failing_spec
	steps <<'EOF'
expect slipway BUILD:1 failed\]
send codebuild-resume
EOF
	drive --break on-failure
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	! buildlog | grep -qx ran-next || false
	buildlog | grep -qx ran-post # BUILD failing still runs POST_BUILD
	[ "$(rj '.pauses[0].action')" = resume ]
}

@test "--break: leaving the shell (Ctrl-D) resumes" {
	failing_spec
	steps <<'EOF'
expect slipway BUILD:1 failed\]
eof
EOF
	drive --break on-failure
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	[ "$(rj '.pauses[0].action')" = resume ]
}

@test "--break: the shell has the command's variables, secret, cwd and CODEBUILD_*" {
	cat >"$T/secrets.yml" <<'EOF'
parameter-store:
  /db/pass: s3cr3t-$MARK
EOF
	sed -i "s/\$MARK/$MARK/" "$T/secrets.yml"
	spec <<'EOF'
version: 0.2
env:
  variables:
    PLAIN: plain-value
  parameter-store:
    DB_PASS: /db/pass
phases:
  build:
    commands:
      - mkdir -p sub && cd sub && export STAGE=exported-here
      - echo "password is $DB_PASS" && false
EOF
	steps <<'EOF'
expect slipway BUILD:2 failed\]
send echo "seen: $STAGE/$PLAIN/$DB_PASS/$(basename "$PWD")/$CODEBUILD_BUILD_NUMBER/${CODEBUILD_SRC_DIR:+src}/$CODEBUILD_BUILD_SUCCEEDING"
expect seen: exported
send slipway-abort
EOF
	drive --break on-failure --secrets-file "$T/secrets.yml"
	[ "$status" -eq 1 ]
	grep -ao 'seen: [^$[:cntrl:]]\+' "$T/tty.txt" >"$T/seen"
	[ "$(cat "$T/seen")" = "seen: exported-here/plain-value/s3cr3t-$MARK/sub/1/src/1" ]
	# the log masks the secret as ever
	buildlog | grep -q "password is \*\*\*"
	! grep -q "s3cr3t-$MARK" "$LOG" || false
}

@test "--break: a sandboxed build's shell is inside the sandbox" {
	[ "$(id -u)" -eq 0 ] || skip "the sandbox needs root here"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	failing_spec
	steps <<'EOF'
expect slipway BUILD:1 failed\]
send echo "pid1=$(cat /proc/1/comm) at=$PWD"; touch /usr/slipway-break-$$ 2>/dev/null || echo host-read""-only
expect host-read-only
send slipway-abort
EOF
	drive --break on-failure --isolation sandbox
	[ "$status" -eq 1 ]
	grep -aq "pid1=sandbox-init at=/codebuild/output/src[0-9]*/src" \
		"$T/tty.txt"
	grep -q "in its sandbox" "$T/tty.txt"
}

@test "--break: without a terminal it is refused" {
	failing_spec
	run "$SLIPWAY" build "$PROJ" --state-dir "$STATE" --break on-failure \
		</dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"--break needs a terminal"* ]]
	[ ! -d "$STATE/builds" ]
}

@test "--break: a value that is no mode is a usage error" {
	failing_spec
	run "$SLIPWAY" build "$PROJ" --state-dir "$STATE" --break build:0
	[ "$status" -eq 2 ]
	[[ "$output" == *"--break must be on-failure, always or PHASE[:N]"* ]]
	run "$SLIPWAY" build "$PROJ" --state-dir "$STATE" --break biuld
	[ "$status" -eq 2 ]
}

@test "--break: the timeout waits while the shell is open" {
	failing_spec
	steps <<'EOF'
expect slipway BUILD:1 failed\]
send sleep 2; touch fixed; echo sl""ept
expect slept
send slipway-retry
EOF
	drive --break on-failure --timeout 1s
	[ "$status" -eq 0 ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	buildlog | grep -q "Pause ended after [2-9]\.[0-9] seconds (not counted by the timeout): retry"
	[ "$(rj '.pauses[0].durationInSeconds')" -ge 2 ]
	jq -e '.pausedInSeconds >= 2' "$REPORT" >/dev/null
}

@test "--break PHASE:N pauses before that command; slipway-skip skips it" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo one
      - touch ran-two
      - echo three
EOF
	steps <<'EOF'
expect slipway BUILD:2\]
send test -e ran-two || echo not-yet-$((6*7))
expect not-yet-42
send slipway-skip
EOF
	drive --break build:2
	[ "$status" -eq 0 ]
	grep -q "Paused before command 2 of phase BUILD: touch ran-two" \
		"$T/tty.txt"
	buildlog | grep -qx three
	buildlog | grep -q "Skipping command touch ran-two"
	[ "$(rj '.pauses[0].reason')" = before ]
}

@test "codebuild-breakpoint: a no-op without --break, a pause with it" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo before
      - codebuild-breakpoint
      - echo after
EOF
	sw_build
	[ "$status" -eq 0 ]
	buildlog | grep -q "codebuild-breakpoint: no --break, going on"
	buildlog | grep -qx after
	steps <<'EOF'
expect slipway BUILD\]
send codebuild-resume
EOF
	drive --break on-failure
	[ "$status" -eq 0 ]
	grep -q "Paused at codebuild-breakpoint in phase BUILD" "$T/tty.txt"
	[ "$(rj '.pauses[0].reason')" = breakpoint ]
	buildlog | grep -qx after
}

@test "--break always pauses once at the end of a build that passed" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - export LAST=final-$((1+1))
EOF
	steps <<'EOF'
expect slipway POST_BUILD\]
send echo "last=$LAST"
expect last=final-2
send codebuild-resume
EOF
	drive --break always
	[ "$status" -eq 0 ]
	[ "$(rj '.pauses[0].reason')" = end ]
}

@test "--break: slipway run refuses it without a terminal too" {
	failing_spec
	printf 'application: a\ndeployment-group: g\nhosts:\n  - name: h\n' \
		>"$T/g.yml"
	run "$SLIPWAY" run "$PROJ" --group "$T/g.yml" --state-dir "$STATE" \
		--break on-failure </dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"--break needs a terminal"* ]]
}

@test "--break: SIGTERM to slipway while paused ends the shell and stops the build" {
	failing_spec
	steps <<'EOF2'
expect slipway BUILD:1 failed\]
send kill -TERM $PPID
EOF2
	drive --break on-failure
	[ "$status" -eq 1 ]
	[ "$(rj .buildStatus)" = STOPPED ]
	grep -q "STOPPED.*build stopped by signal 15 at a pause" "$T/tty.txt"
	! buildlog | grep -qx ran-post || false
}

@test "--break: the shell runs as the phase's run-as user, in the sandbox" {
	[ "$(id -u)" -eq 0 ] || skip "the sandbox needs root here"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	getent passwd codebuild-user >/dev/null && skip "codebuild-user exists"
	spec <<'EOF2'
version: 0.2
run-as: codebuild-user
phases:
  build:
    commands:
      - test -f /tmp/fixed-here
EOF2
	steps <<'EOF2'
expect slipway BUILD:1 failed\]
send echo "who=$(id -un)"; touch /tmp/fixed-here
expect who=codebuild-user
send slipway-retry
EOF2
	drive --break on-failure --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(rj '.pauses[0].action')" = retry ]
	# the sandbox's own /tmp, shared by the shell and the commands
	[ ! -e /tmp/fixed-here ]
}
