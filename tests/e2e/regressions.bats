#!/usr/bin/env bats
# Regression tests: each caught a bug in slipway.

load helpers

# Was: after a failed command, a timeout in `finally` is recorded as the
# command's FAILED; the machine goes on to POST_BUILD, which cannot start
# a shell ("cannot join process group") and ends FAULT, exit 111.
@test "a timeout inside finally times the build out" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - "false"
    finally:
      - sleep 1000.$MARK
      - echo not-reached
  post_build:
    commands:
      - echo post-not-reached
EOF
	sw_build --timeout 2s
	[ "$status" -eq 4 ]
	[ "$(rj .buildStatus)" = TIMED_OUT ]
	[ "$(phase_status BUILD)" = TIMED_OUT ]
	! buildlog | grep -qx 'not-reached\|post-not-reached' || false
	no_survivors
}

# Was: the same with SIGTERM: STOPPED is lost, POST_BUILD FAULT, exit 111.
@test "SIGTERM inside finally after a failure stops the build" {
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - "false"
    finally:
      - sleep 1000.$MARK
  post_build:
    commands:
      - echo post-not-reached
EOF
	sw_build_bg
	wait_for_marker
	kill -TERM "$SW_PID"
	sw_wait 10
	[ "$SW_STATUS" -eq 1 ]
	[ "$(rj .buildStatus)" = STOPPED ]
	[ "$(phase_status BUILD)" = STOPPED ]
	[ -z "$(phase_status POST_BUILD)" ]
	no_survivors
}

# Was: the build directory is named after the build id "<project>:<uuid>",
# so CODEBUILD_SRC_DIR holds a ':' and cannot go into PATH-like lists:
# `export PATH=$CODEBUILD_SRC_DIR/node_modules/.bin:$PATH` splits it in two
# and the tool is "not found" (exit 127).
@test "CODEBUILD_SRC_DIR can be put on PATH" {
	spec <<'EOF'
version: 0.2
phases:
  install:
    commands:
      - mkdir -p tools && printf '#!/bin/sh\necho tool-ran\n' >tools/mytool && chmod +x tools/mytool
      - export PATH="$CODEBUILD_SRC_DIR/tools:$PATH"
  build:
    commands:
      - echo "SRC=$CODEBUILD_SRC_DIR"
      - mytool
EOF
	sw_build
	[[ "$(printed SRC)" != *:* ]]
	[ "$status" -eq 0 ]
	buildlog | grep -qx tool-ran
}
