#!/usr/bin/env bats
# Phase transitions: which phases run after a failure, on-failure,
# finally, CODEBUILD_BUILD_SUCCEEDING.

load helpers

# A buildspec whose phase $1 fails (with on-failure $2 when given), every
# phase echoing ran-<phase>, with a primary artifact.
failing_in() {
	local fail=$1 onfail=${2:-} p
	{
		echo "version: 0.2"
		echo "phases:"
		for p in install pre_build build post_build; do
			echo "  $p:"
			if [ "$p" = "$fail" ] && [ -n "$onfail" ]; then
				echo "    on-failure: $onfail"
			fi
			echo "    commands:"
			echo "      - echo ran-$p"
			if [ "$p" = "$fail" ]; then
				echo "      - exit 5"
			fi
		done
		echo "artifacts:"
		echo "  files:"
		echo "    - buildspec.yml"
	} >"$PROJ/buildspec.yml"
}

@test "INSTALL failure skips to FINALIZING" {
	failing_in install
	sw_build -o "$T/out"
	[ "$status" -eq 1 ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE INSTALL FINALIZING COMPLETED" ]
	[ "$(phase_status INSTALL)" = FAILED ]
	[ "$(rj .buildStatus)" = FAILED ]
	! buildlog | grep -qx ran-pre_build || false
	! buildlog | grep -qx ran-build || false
	[ ! -e "$T/out/artifacts.zip" ]
}

@test "PRE_BUILD failure skips to FINALIZING" {
	failing_in pre_build
	sw_build -o "$T/out"
	[ "$status" -eq 1 ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE INSTALL PRE_BUILD FINALIZING COMPLETED" ]
	[ "$(phase_status INSTALL)" = SUCCEEDED ]
	[ "$(phase_status PRE_BUILD)" = FAILED ]
	buildlog | grep -qx ran-install
	! buildlog | grep -qx ran-build || false
	! buildlog | grep -qx ran-post_build || false
	[ ! -e "$T/out/artifacts.zip" ]
}

@test "BUILD failure still runs POST_BUILD and UPLOAD_ARTIFACTS" {
	failing_in build
	sw_build -o "$T/out"
	[ "$status" -eq 1 ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE INSTALL PRE_BUILD BUILD POST_BUILD UPLOAD_ARTIFACTS FINALIZING COMPLETED" ]
	[ "$(phase_status BUILD)" = FAILED ]
	[ "$(phase_status POST_BUILD)" = SUCCEEDED ]
	[ "$(phase_status UPLOAD_ARTIFACTS)" = SUCCEEDED ]
	[ "$(rj .buildStatus)" = FAILED ]
	buildlog | grep -qx ran-post_build
	[ -f "$T/out/artifacts.zip" ]
}

@test "POST_BUILD failure still uploads artifacts" {
	failing_in post_build
	sw_build -o "$T/out"
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = SUCCEEDED ]
	[ "$(phase_status POST_BUILD)" = FAILED ]
	[ "$(phase_status UPLOAD_ARTIFACTS)" = SUCCEEDED ]
	[ "$(rj .buildStatus)" = FAILED ]
	[ -f "$T/out/artifacts.zip" ]
}

@test "on-failure ABORT in BUILD goes straight to FINALIZING" {
	failing_in build ABORT
	sw_build -o "$T/out"
	[ "$status" -eq 1 ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE INSTALL PRE_BUILD BUILD FINALIZING COMPLETED" ]
	! buildlog | grep -qx ran-post_build || false
	[ ! -e "$T/out/artifacts.zip" ]
}

@test "on-failure CONTINUE in PRE_BUILD still runs BUILD; the build fails" {
	failing_in pre_build CONTINUE
	sw_build -o "$T/out"
	[ "$status" -eq 1 ]
	[ "$(phase_status PRE_BUILD)" = FAILED ]
	[ "$(phase_status BUILD)" = SUCCEEDED ]
	[ "$(phase_status POST_BUILD)" = SUCCEEDED ]
	[ "$(rj .buildStatus)" = FAILED ]
	buildlog | grep -qx ran-build
	[ -f "$T/out/artifacts.zip" ]
}

@test "on-failure RETRY-3: a command failing twice then passing succeeds" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    on-failure: RETRY-3
    commands:
      - echo try >> "$CODEBUILD_SRC_DIR/../tries"
      - test "$(wc -l < "$CODEBUILD_SRC_DIR/../tries")" -ge 3
      - echo "SUCC=$CODEBUILD_BUILD_SUCCEEDING"
EOF
	sw_build
	[ "$status" -eq 0 ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	[ "$(phase_status BUILD)" = SUCCEEDED ]
	dir=$(dirname "$(src_of "$(rj .logs.location)")")
	[ "$(wc -l <"$dir/tries")" -eq 3 ]
	[ "$(printed SUCC)" = 1 ]
}

@test "on-failure RETRY-1 exhausted: the phase runs twice and fails" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    on-failure: RETRY-1
    commands:
      - echo try-build
      - "false"
  post_build:
    commands:
      - echo ran-post
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	[ "$(buildlog | grep -cx try-build)" -eq 2 ]
	[ "$(phase_ctx BUILD message)" = "Error while executing command: false. Reason: exit status 1" ]
}

@test "on-failure RETRY with a regex that does not match does not retry" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    on-failure: RETRY-2-no-such-text
    commands:
      - echo try-build
      - exit 3
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(buildlog | grep -cx try-build)" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	sed -i 's/RETRY-2-no-such-text/RETRY-no-such-text/' "$PROJ/buildspec.yml"
	sw_build
	[ "$status" -eq 1 ]
	[ "$(buildlog | grep -cx try-build)" -eq 1 ]
}

@test "on-failure RETRY with a matching regex retries" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    on-failure: RETRY-2-exit status 3
    commands:
      - echo try-build
      - exit 3
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(buildlog | grep -cx try-build)" -eq 3 ]
}

@test "the first failing command stops the rest; finally still runs" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo "BEFORE=$CODEBUILD_BUILD_SUCCEEDING"
      - exit 2
      - echo not-reached
    finally:
      - echo "FIN=$CODEBUILD_BUILD_SUCCEEDING"
      - echo finally-second
EOF
	sw_build
	[ "$status" -eq 1 ]
	! buildlog | grep -qx not-reached || false
	[ "$(printed BEFORE)" = 1 ]
	[ "$(printed FIN)" = 0 ]
	buildlog | grep -qx finally-second
	[ "$(phase_ctx BUILD message)" = "Error while executing command: exit 2. Reason: exit status 2" ]
}

@test "CODEBUILD_BUILD_SUCCEEDING stays 0 in later phases, also under CONTINUE" {
	spec <<'EOF'
version: 0.2
phases:
  install:
    commands:
      - echo "INS=$CODEBUILD_BUILD_SUCCEEDING"
  pre_build:
    on-failure: CONTINUE
    commands:
      - "false"
  build:
    commands:
      - echo "BLD=$CODEBUILD_BUILD_SUCCEEDING"
  post_build:
    commands:
      - echo "PST=$CODEBUILD_BUILD_SUCCEEDING"
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(printed INS)" = 1 ]
	[ "$(printed BLD)" = 0 ]
	[ "$(printed PST)" = 0 ]
}

@test "a failure in finally fails the phase" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo body-ok
    finally:
      - exit 9
      - echo not-reached
  post_build:
    commands:
      - echo "PST=$CODEBUILD_BUILD_SUCCEEDING"
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	[ "$(phase_ctx BUILD message)" = "Error while executing command: exit 9. Reason: exit status 9" ]
	! buildlog | grep -qx not-reached || false
	[ "$(printed PST)" = 0 ]
}

@test "finally runs after a failure in INSTALL before skipping to FINALIZING" {
	spec <<'EOF'
version: 0.2
phases:
  install:
    commands:
      - "false"
    finally:
      - echo install-finally
  build:
    commands:
      - echo ran-build
EOF
	sw_build
	[ "$status" -eq 1 ]
	buildlog | grep -qx install-finally
	! buildlog | grep -qx ran-build || false
	[ "$(phase_types)" = "DOWNLOAD_SOURCE INSTALL FINALIZING COMPLETED" ]
}

@test "release pipeline without phases: every phase SUCCEEDED, artifacts uploaded" {
	mkdir -p "$PROJ/dist"
	echo built >"$PROJ/dist/app.txt"
	spec <<'EOF'
version: 0.2
env:
  variables:
    STAGE: prod
artifacts:
  files:
    - '**/*'
  base-directory: dist
EOF
	sw_build -o "$T/out"
	[ "$status" -eq 0 ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	[ "$(phase_types)" = "DOWNLOAD_SOURCE INSTALL PRE_BUILD BUILD POST_BUILD UPLOAD_ARTIFACTS FINALIZING COMPLETED" ]
	[ "$(rj '[.phases[] | select(.phaseType != "COMPLETED") | .phaseStatus] | unique | join(",")')" = SUCCEEDED ]
	[ "$(unzip -p "$T/out/artifacts.zip" app.txt)" = built ]
	# CodeBuild says nothing about it; neither does slipway
	[[ "$output" != *"no 'phases'"* ]]

	sw_build -o "$T/out2" --strict
	[ "$status" -eq 0 ]
	[[ "$output" == *"Warning: $PROJ/buildspec.yml:1:1: no 'phases': the build runs no commands"* ]]
	[ -f "$T/out2/artifacts.zip" ]
}
