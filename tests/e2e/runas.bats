#!/usr/bin/env bats
# run-as: switching users when slipway runs as root, a clear failure
# otherwise.

load helpers

# Let other users reach this test's directory (bats makes its run dir 0700).
open_up() {
	local d=$T
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
}

@test "run-as switches users per phase and keeps the carried environment" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	open_up
	spec <<'EOF'
version: 0.2
run-as: nobody
phases:
  install:
    run-as: root
    commands:
      - echo "INSTALL_USER=$(id -un)"
      - FROM_ROOT=yes
  build:
    commands:
      - echo "BUILD_USER=$(id -un) FROM_ROOT=$FROM_ROOT"
      - FROM_NOBODY=yes
  post_build:
    commands:
      - echo "POST_USER=$(id -un) FROM_NOBODY=$FROM_NOBODY"
EOF
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"INSTALL_USER=root"* ]]
	[[ "$output" == *"BUILD_USER=nobody FROM_ROOT=yes"* ]]
	[[ "$output" == *"POST_USER=nobody FROM_NOBODY=yes"* ]]
}

@test "run-as an unknown user fails the phase with a clear context" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    run-as: no-such-user-xyz
    commands:
      - echo should-not-run
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	[[ "$(jq -r '.phases[] | select(.phaseType=="BUILD") | .contexts[-1].message' "$REPORT")" == *"run-as user 'no-such-user-xyz' does not exist"* ]]
	! buildlog | grep -qx should-not-run || false
}

@test "run-as another user without root is refused with a clear message" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to drop to another user"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	command -v setpriv >/dev/null || skip "no setpriv"
	open_up
	chmod 0777 "$T"
	mkdir -p "$STATE" && chmod 0777 "$STATE"
	spec <<'EOF'
version: 0.2
phases:
  build:
    run-as: root
    commands:
      - echo should-not-run
EOF
	chmod -R a+rX "$PROJ"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$SLIPWAY" build "$PROJ" --state-dir "$STATE" --report "$T/r2.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"run-as 'root' needs slipway to run as root"* ]]
}

@test "a run-as user who cannot reach the build directory gets a clear failure" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	chmod 0700 "$T"
	spec <<'EOF'
version: 0.2
run-as: nobody
phases:
  build:
    commands:
      - echo should-not-run
EOF
	sw_build
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	[[ "$output" == *"run-as 'nobody'"*"must be reachable by that user"* ]]
}

# aws-toolkit-vscode's buildspec/linuxTests.yml runs as CodeBuild's user
codebuild_user_spec() {
	spec <<'EOF'
version: 0.2
run-as: codebuild-user
phases:
  install:
    run-as: root
    commands:
      - echo "INSTALL_USER=$(id -un)"
  build:
    commands:
      - echo "BUILD_USER=$(id -un) GROUP=$(id -gn)"
      - export HOME=/home/codebuild-user
      - touch "$HOME/.npmrc" && echo "HOME_OK=$(ls -A "$HOME")"
      - echo "READ=$(head -n 1 buildspec.yml)"
EOF
}

@test "run-as: codebuild-user in the sandbox, as aws-toolkit-vscode's linuxTests run" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	! id codebuild-user >/dev/null 2>&1 || skip "the machine has codebuild-user"
	open_up
	codebuild_user_spec
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed INSTALL_USER)" = root ]
	[ "$(printed BUILD_USER)" = "codebuild-user GROUP=codebuild-user" ]
	[ "$(printed HOME_OK)" = .npmrc ]
	[ "$(printed READ)" = "version: 0.2" ]
	buildlog | grep -q "Sandbox user codebuild-user: uid [0-9]*, home /home/codebuild-user"
	# the machine's files are untouched
	! grep -q '^codebuild-user:' /etc/passwd || false
	[ ! -e /home/codebuild-user ]
}

@test "run-as: codebuild-user in dir isolation says how to create the user" {
	! id codebuild-user >/dev/null 2>&1 || skip "the machine has codebuild-user"
	codebuild_user_spec
	sw_build
	[ "$status" -eq 1 ]
	[ "$(phase_status BUILD)" = FAILED ]
	[[ "$(phase_ctx BUILD message)" == "run-as user 'codebuild-user' does not exist (CodeBuild's images have it: 'useradd -m codebuild-user' as root creates it, or --isolation sandbox provides it)" ]]
}
