#!/usr/bin/env bats
# Timeouts, SIGTERM/SIGINT and processes the build leaves behind: slipway
# ends on time and no build process survives it.

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
