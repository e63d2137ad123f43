#!/usr/bin/env bats
# Timeouts, SIGTERM/SIGINT and processes the build leaves behind: slipway
# ends on time and no build process survives it; nor any process of a
# build or of a running hook when slipway is killed with SIGKILL.

load helpers

@test "a timeout kills the build and a double-forked daemon" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - setsid sh -c 'sleep 1000.$MARK & sleep 1000.$MARK' >/dev/null 2>&1 &
      - sleep 1000.$MARK
EOF
	t0=$(now_ms)
	sw_build --timeout 2s
	t1=$(now_ms)
	[ "$status" -eq 4 ]
	[ $((t1 - t0)) -lt 9000 ]
	[ "$(rj .buildStatus)" = TIMED_OUT ]
	[ "$(phase_status BUILD)" = TIMED_OUT ]
	[ "$(phase_status FINALIZING)" = SUCCEEDED ]
	[[ "$output" == *TIMED_OUT* ]]
	no_survivors
}

@test "a timeout in INSTALL skips the later phases and the artifacts" {
	spec <<EOF
version: 0.2
phases:
  install:
    commands:
      - sleep 1000.$MARK
  build:
    commands:
      - echo ran-build
artifacts:
  files:
    - buildspec.yml
EOF
	sw_build --timeout 1s -o "$T/dist"
	[ "$status" -eq 4 ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE INSTALL FINALIZING COMPLETED" ]
	[ ! -e "$T/dist/artifacts.zip" ]
	no_survivors
}

@test "processes left running by a successful build are killed at its end" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - sleep 1000.$MARK >/dev/null 2>&1 &
      - setsid sh -c 'sleep 1000.$MARK &' >/dev/null 2>&1 &
      - sleep 0.3
      - echo build-done
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	buildlog | grep -qx build-done
	no_survivors
}

@test "a background process holding stdout open does not hang the build" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - sleep 1000.$MARK &
      - echo after-background
  post_build:
    commands:
      - echo post-ran
EOF
	t0=$(now_ms)
	sw_build
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	[ $((t1 - t0)) -lt 10000 ]
	buildlog | grep -qx after-background
	buildlog | grep -qx post-ran
	no_survivors
}

@test "output of a background process is still logged" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - (sleep 0.3; echo late-background-line) &
      - sleep 0.6
      - echo main-line
EOF
	sw_build
	[ "$status" -eq 0 ]
	buildlog | grep -qx late-background-line
	buildlog | grep -qx main-line
}

@test "SIGTERM during a long command stops the build, exit 1, no survivors" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - setsid sh -c 'sleep 1000.$MARK' >/dev/null 2>&1 &
      - sleep 1000.$MARK
      - echo not-reached
EOF
	sw_build_bg
	wait_for_marker
	sleep 0.3
	kill -TERM "$SW_PID"
	sw_wait 10
	[ "$SW_STATUS" -eq 1 ]
	[ "$(rj .buildStatus)" = STOPPED ]
	[ "$(phase_status BUILD)" = STOPPED ]
	! grep -qx not-reached "$LOG" || false
	no_survivors
}

@test "SIGINT during a long command stops the build, exit 1, no survivors" {
	spec <<EOF
version: 0.2
phases:
  pre_build:
    commands:
      - sleep 1000.$MARK
  build:
    commands:
      - echo not-reached
EOF
	sw_build_bg
	wait_for_marker
	sleep 0.3
	kill -INT "$SW_PID"
	sw_wait 10
	[ "$SW_STATUS" -eq 1 ]
	[ "$(rj .buildStatus)" = STOPPED ]
	[ "$(phase_status PRE_BUILD)" = STOPPED ]
	! grep -qx not-reached "$LOG" || false
	no_survivors
}

@test "a timeout kills a command that ignores SIGTERM" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - trap '' TERM; sleep 1000.$MARK
EOF
	t0=$(now_ms)
	sw_build --timeout 1s
	t1=$(now_ms)
	[ "$status" -eq 4 ]
	[ $((t1 - t0)) -lt 10000 ]
	[ "$(rj .buildStatus)" = TIMED_OUT ]
	no_survivors
}

@test "SIGTERM after the build phases still leaves a complete report" {
	spec <<EOF
version: 0.2
phases:
  post_build:
    commands:
      - sleep 1000.$MARK
artifacts:
  files:
    - buildspec.yml
EOF
	sw_build_bg -o "$T/dist"
	wait_for_marker
	kill -TERM "$SW_PID"
	sw_wait 10
	[ "$SW_STATUS" -eq 1 ]
	[ "$(rj .buildStatus)" = STOPPED ]
	[ "$(phase_status BUILD)" = SUCCEEDED ]
	[ "$(phase_status POST_BUILD)" = STOPPED ]
	[ "$(rj '.phases[-1].phaseType')" = COMPLETED ]
	[ ! -e "$T/dist/artifacts.zip" ]
	[ -z "$(find "$T/dist" -name '*tmp*' 2>/dev/null)" ]
	no_survivors
}

# Wait (up to 10 s) until at least $1 processes of this test's marker run.
wait_for_markers() {
	local i
	for i in $(seq 100); do
		[ "$(pgrep -fc "sleep 1000\\.$MARK")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# Up to 10 s for every process of this test's marker to end.
survivors_end() {
	local i
	for i in $(seq 200); do
		no_survivors && return 0
		sleep 0.05
	done
	pgrep -fa "sleep 1000\\.$MARK" >&2
	return 1
}

# A deployment of $T/rev, in the background (sets SW_PID), whose
# BeforeInstall hook is the shell script $1; onto $T/host, or with the
# options that follow.
deploy_bg() {
	local script=$1

	shift
	[ $# -gt 0 ] || set -- --root "$T/host"
	mkdir -p "$T/rev/scripts" "$T/host"
	printf '%s\n' 'version: 0.0' 'os: linux' 'hooks:' '  BeforeInstall:' \
		'    - location: scripts/hook.sh' >"$T/rev/appspec.yml"
	printf '#!/bin/sh\n%s\n' "$script" >"$T/rev/scripts/hook.sh"
	chmod 0755 "$T/rev/scripts/hook.sh"
	"$SLIPWAY" deploy "$T/rev" "$@" --state-dir "$STATE" \
		>"$T/out" 2>&1 3>&- &
	SW_PID=$!
}

@test "SIGKILL to slipway: the build's processes die too (dir isolation)" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - sleep 1000.$MARK & sleep 1000.$MARK &
      - sh -c 'sleep 1000.$MARK & exec sleep 1000.$MARK' &
      - sleep 1000.$MARK
EOF
	sw_build_bg --isolation dir
	wait_for_markers 5
	kill -KILL "$SW_PID"
	wait "$SW_PID" || true
	survivors_end
}

@test "SIGKILL to slipway during a batch: every build's processes die too" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - sleep 1000.$MARK &
      - sleep 1000.$MARK
batch:
  build-list:
    - identifier: one
    - identifier: two
EOF
	sw_build_bg --isolation dir
	wait_for_markers 4
	kill -KILL "$SW_PID"
	wait "$SW_PID" || true
	survivors_end
}

@test "SIGKILL to slipway during a hook: the hook's processes die too" {
	deploy_bg "sleep 1000.$MARK & sleep 1000.$MARK &
sh -c 'sleep 1000.$MARK & exec sleep 1000.$MARK' &
exec sleep 1000.$MARK"
	wait_for_markers 5
	kill -KILL "$SW_PID"
	wait "$SW_PID" || true
	survivors_end
}

@test "SIGKILL to slipway and its agent at once: the hook's group still dies" {
	deploy_bg "trap '' TERM
sleep 1000.$MARK & sh -c 'sleep 1000.$MARK & exec sleep 1000.$MARK' &
exec sleep 1000.$MARK"
	wait_for_markers 4
	agents=$(pgrep -P "$SW_PID")
	[ -n "$agents" ]
	# shellcheck disable=SC2086 # one pid per word
	kill -KILL "$SW_PID" $agents
	wait "$SW_PID" || true
	survivors_end
}

# The process group of this test's marked processes.
marked_group() {
	ps -o pgid= -p "$(pgrep -f "sleep 1000\\.$MARK" | head -n 1)" | tr -d ' '
}

# Each pid is a process that runs (not ended, not a zombie).
running() {
	local p st
	for p in "$@"; do
		st=$(ps -o stat= -p "$p") || return 1
		[[ "$st" != Z* ]] || return 1
	done
}

# Up to 10 s for the holder of group $1 to leave it, as a stop makes it.
holder_leaves() {
	local i
	for i in $(seq 100); do
		pgrep -x -g "$1" slipway-group >/dev/null || return 0
		sleep 0.1
	done
	return 1
}

@test "SIGKILL to slipway while a stop waits for a build ignoring SIGTERM" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - trap '' TERM; sleep 1000.$MARK & sleep 1000.$MARK
EOF
	# a long grace: slipway is still waiting in it when it is killed
	SLIPWAY_TEST_GRACE_MS=600000 sw_build_bg --isolation dir
	wait_for_markers 2
	pg=$(marked_group)
	pgrep -x -g "$pg" slipway-group
	kill -TERM "$SW_PID"
	holder_leaves "$pg"
	running "$SW_PID" # not yet past its grace: the holder's doing
	kill -KILL "$SW_PID"
	wait "$SW_PID" || true
	survivors_end
}

@test "SIGKILL to slipway and its agent while a stop waits for a hook ignoring SIGTERM" {
	# a long grace: slipway is still waiting in it when it is killed
	SLIPWAY_TEST_GRACE_MS=600000 deploy_bg "trap '' TERM
sleep 1000.$MARK & exec sleep 1000.$MARK"
	wait_for_markers 2
	pg=$(marked_group)
	pgrep -x -g "$pg" slipway-group
	agents=$(pgrep -P "$SW_PID")
	kill -TERM "$SW_PID"
	holder_leaves "$pg"
	# not yet past the grace: the holder's doing
	# shellcheck disable=SC2086 # one pid per word
	running "$SW_PID" $agents
	# shellcheck disable=SC2086 # one pid per word
	kill -KILL "$SW_PID" $agents
	wait "$SW_PID" || true
	survivors_end
}

@test "SIGKILL to slipway during a hook on a sandboxed host: the hook's processes die, the host stays" {
	deploy_bg "sleep 1000.$MARK & sh -c 'sleep 1000.$MARK & exec sleep 1000.$MARK' &
exec sleep 1000.$MARK" --host h1 --isolation sandbox
	if ! wait_for_markers 4; then
		wait "$SW_PID" || true
		grep -q 'no sandbox' "$T/out" && skip "no sandbox here"
		cat "$T/out" >&2
		false
	fi
	kill -KILL "$SW_PID"
	wait "$SW_PID" || true
	local ok=0
	survivors_end || ok=$?
	"$SLIPWAY" host ls --state-dir "$STATE" | grep -q h1 || ok=1
	"$SLIPWAY" host stop h1 --state-dir "$STATE" >/dev/null 2>&1 || ok=1
	[ "$ok" -eq 0 ]
}
