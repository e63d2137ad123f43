#!/usr/bin/env bats
# env/git-credential-helper: yes gives the build's git commands the
# credentials slipway fetches sources with: the ssh agent.

load helpers

setup() {
	T=$BATS_TEST_TMPDIR
	PROJ=$T/proj
	STATE=$T/state
	REPORT=$T/report.json
	mkdir -p "$PROJ"
	MARK=$RANDOM$RANDOM$RANDOM
	command -v ssh-agent >/dev/null || skip "no ssh-agent"
	eval "$(ssh-agent -s -a "$T/agent.sock")" >/dev/null
}

teardown() {
	[ -z "${SSH_AGENT_PID:-}" ] || kill "$SSH_AGENT_PID" 2>/dev/null || true
}

# the shape of a buildspec that fetches private modules over ssh
agent_spec() { # yes|no
	printf '%s\n' 'version: 0.2' 'env:' "  git-credential-helper: $1" \
		'phases:' '  build:' '    commands:' \
		'      - echo "SOCK=$SSH_AUTH_SOCK"' \
		'      - ssh-add -l >/dev/null 2>&1; echo "AGENT=$?"' | spec
}

@test "git-credential-helper: yes lets a private-module fetch reach the ssh agent" {
	agent_spec yes
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed SOCK)" = "$T/agent.sock" ]
	# 1: the agent answered (it holds no key); 2: no agent reached
	[ "$(printed AGENT)" = 1 ]
	buildlog | grep -q "git-credential-helper: the build's git commands use the ssh agent at $T/agent.sock"
}

@test "without git-credential-helper the build gets no ssh agent" {
	agent_spec no
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed SOCK)" = "" ]
	[ "$(printed AGENT)" = 2 ]
	unset SSH_AUTH_SOCK
	agent_spec yes
	sw_build
	[ "$status" -eq 0 ]
	[ "$(printed SOCK)" = "" ]
	buildlog | grep -q "git-credential-helper: no ssh agent"
}

@test "git-credential-helper: yes in the sandbox mounts the agent's directory" {
	[ "$(id -u)" -eq 0 ] || skip "the sandbox needs root here"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	agent_spec yes
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed SOCK)" = "$T/agent.sock" ]
	[ "$(printed AGENT)" = 1 ]
	agent_spec no
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed AGENT)" = 2 ]
}
