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
	[ -z "${VISIBLE:-}" ] || rm -rf "$VISIBLE"
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

need_sandbox() {
	[ "$(id -u)" -eq 0 ] || skip "the sandbox needs root here"
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
}

@test "git-credential-helper: yes in the sandbox mounts the agent's socket" {
	need_sandbox
	agent_spec yes
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed SOCK)" = /run/slipway/ssh-agent.sock ]
	[ "$(printed AGENT)" = 1 ]
	buildlog | grep -q "the ssh agent at $T/agent.sock, as /run/slipway/ssh-agent.sock"
	# the socket is the view's own: nothing is made on the machine
	[ ! -e /run/slipway/ssh-agent.sock ]
	agent_spec no
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed AGENT)" = 2 ]
}

# SSH_AUTH_SOCK=~/.ssh/agent.sock, as many set it up: the socket's
# directory holds the user's keys.
@test "a sandboxed build with git-credential-helper uses the agent in ~/.ssh but not the keys beside it" {
	need_sandbox
	kill "$SSH_AGENT_PID"
	mkdir -p "$T/x/.ssh"
	chmod 700 "$T/x/.ssh"
	echo "PRIVATE-$MARK" >"$T/x/.ssh/id_test"
	chmod 600 "$T/x/.ssh/id_test"
	eval "$(ssh-agent -s -a "$T/x/.ssh/agent.sock")" >/dev/null
	printf '%s\n' 'version: 0.2' 'env:' '  git-credential-helper: yes' \
		'phases:' '  build:' '    commands:' \
		'      - ssh-add -l >/dev/null 2>&1; echo "AGENT=$?"' \
		"      - cat $T/x/.ssh/id_test \"\$(dirname \"\$SSH_AUTH_SOCK\")/id_test\" || true" \
		"      - ls -A \"\$(dirname \"\$SSH_AUTH_SOCK\")\" $T/x/.ssh || true" \
		"      - touch $T/x/.ssh/authorized_keys || true" \
		"      - touch \"\$(dirname \"\$SSH_AUTH_SOCK\")/authorized_keys\" || true" \
		"      - echo 'ssh-ed25519 AAAA x' >>$T/x/.ssh/authorized_keys || true" | spec
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	# the agent answers (no identities), rather than "cannot connect"
	[ "$(printed AGENT)" = 1 ]
	[ "$(buildlog | grep -c "PRIVATE-$MARK")" -eq 0 ]
	[ "$(buildlog | grep -cx 'id_test')" -eq 0 ]
	[ "$(buildlog | grep -cx 'ssh-agent.sock')" -eq 1 ]
	[ "$(ls -A "$T/x/.ssh" | sort | tr '\n' ' ')" = "agent.sock id_test " ]
	[ ! -e /run/slipway/authorized_keys ]
}

# The same with ~/.ssh where the sandbox shows the machine (read-only):
# the build still cannot add a file beside the socket.
@test "a sandboxed build with git-credential-helper cannot write beside an agent socket the machine shows" {
	need_sandbox
	kill "$SSH_AGENT_PID"
	VISIBLE=$(mktemp -d /var/tmp/slipway-e2e-agent.XXXXXX)
	mkdir -m 700 "$VISIBLE/.ssh"
	eval "$(ssh-agent -s -a "$VISIBLE/.ssh/agent.sock")" >/dev/null
	printf '%s\n' 'version: 0.2' 'env:' '  git-credential-helper: yes' \
		'phases:' '  build:' '    commands:' \
		'      - ssh-add -l >/dev/null 2>&1; echo "AGENT=$?"' \
		"      - touch $VISIBLE/.ssh/authorized_keys; echo \"TOUCH=\$?\"" | spec
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed AGENT)" = 1 ]
	[ "$(printed TOUCH)" = 1 ]
	[ "$(ls -A "$VISIBLE/.ssh")" = agent.sock ]
}
