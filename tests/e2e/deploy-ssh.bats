#!/usr/bin/env bats
# slipway deploy --ssh: the agent over OpenSSH on hosts that are network
# namespaces of this machine (fleet_helpers.bash), each with its own --root
# on the shared filesystem. Needs root and sshd; skipped otherwise.

load helpers
load deploy_helpers
load fleet_helpers

# The hosts run the slipway under test (they share this filesystem).
SW_BIN=$(realpath "$SLIPWAY")

# Run slipway deploy BUNDLE --ssh HOST --root $T/HOST [options]: status,
# output (stdout), stderr, elapsed (seconds).
ssh_deploy() { # BUNDLE HOST [options]
	local bundle=$1 host=$2 t0

	shift 2
	mkdir -p "$T/$host"
	: >"$REPORT"
	status=0
	t0=$SECONDS
	SLIPWAY_REMOTE_BIN=${SLIPWAY_REMOTE_BIN-$SW_BIN} \
		"$SLIPWAY" deploy "$bundle" --ssh "$host" --root "$T/$host" \
		--state-dir "$STATE" --report "$REPORT" "$@" \
		>"$T/stdout" 2>"$T/stderr" || status=$?
	elapsed=$((SECONDS - t0))
	output=$(<"$T/stdout")
	stderr=$(<"$T/stderr")
}

# The report's lifecycle events, "Event Status" a line.
lifecycle() {
	jq -r '.instances[0].lifecycleEvents[] |
		"\(.lifecycleEventName) \(.status)"' "$REPORT"
}

# Types, modes, sizes and contents of what a host got under var/www.
tree_of() { # ROOT
	(cd "$1/var/www" && find . -printf '%P %y %m %s\n' | sort &&
		find . -type f -exec cat {} + | sort)
}

# Everything the deployment said (stdout, stderr, the report).
said() {
	printf '%s\n%s\n' "$output" "$stderr"
	cat "$REPORT" 2>/dev/null
}

said_has() { # TEXT
	said | grep -qF -- "$1" && return 0
	printf -- '--- no "%s" in:\n%s\n' "$1" "$(said)" >&2
	return 1
}

@test "ssh: two hosts get the tree and the lifecycle a local deployment gets" {
	fleet_up 2
	rev r1 one
	std_appspec r1 BeforeInstall AfterInstall ApplicationStart
	# the reference: the same revision onto a directory, locally
	"$SLIPWAY" deploy "$T/r1" --root "$HOST" --state-dir "$STATE" \
		--report "$T/local.json" >/dev/null 2>&1
	local want_events want_tree h
	want_events=$(REPORT=$T/local.json lifecycle)
	want_tree=$(tree_of "$HOST")
	same "$(jq -r .status "$T/local.json")" Succeeded
	for h in h1 h2; do
		ssh_deploy "$T/r1" "$h"
		[ "$status" -eq 0 ]
		same "$(jq -r .status "$REPORT")" Succeeded
		same "$(jq -r '.instances[0].instanceId' "$REPORT")" "$h"
		same "$(lifecycle)" "$want_events"
		same "$(tree_of "$T/$h")" "$want_tree"
		# the hooks ran on the host (its sshd passed HOOKLOG on)
		file_is "$T/$h.hooks.log" "one BeforeInstall hook.sh
one AfterInstall hook.sh
one ApplicationStart hook.sh"
		# the agent's state is on the host's side
		[ -f "$T/$h/opt/codedeploy-agent/deployment-root/deployment-instructions/${DG}_last_successful_install" ]
	done
	hooks_are "one BeforeInstall hook.sh
one AfterInstall hook.sh
one ApplicationStart hook.sh"
}

@test "ssh: a zip bundle and a directory bundle, and the hook output comes back prefixed with the host" {
	fleet_up 2
	rev r1 one
	std_appspec r1 AfterInstall
	rev r2 two
	std_appspec r2 AfterInstall
	(cd "$T/r2" && zip -qr "$T/r2.zip" .)
	ssh_deploy "$T/r1" h1
	[ "$status" -eq 0 ]
	[[ "$output" =~ h1\ +\|\ \[stdout\]hook\ one\ AfterInstall\ hook.sh ]]
	file_is "$T/h1/var/www/html/index.html" "one index"
	ssh_deploy "$T/r2.zip" h2
	[ "$status" -eq 0 ]
	[[ "$output" =~ h2\ +\|\ \[stdout\]hook\ two\ AfterInstall\ hook.sh ]]
	[[ ! "$output" =~ h1\ +\| ]]
	file_is "$T/h2/var/www/html/index.html" "two index"
	file_is "$T/h2/var/www/html/css/site.css" "two css"
	# a second deployment to h1 goes over the same master connection,
	# whose socket is in the state directory
	ssh_deploy "$T/r2.zip" h1
	[ "$status" -eq 0 ]
	file_is "$T/h1/var/www/html/index.html" "two index"
	local socks
	socks=$(find "$STATE/ssh" -type s | wc -l)
	[ "$socks" -ge 1 ]
	same "$(stat -c %a "$STATE/ssh")" 700
}

@test "ssh: --max-bundle-size and --max-bundle-ratio reach the agent on the host" {
	fleet_up 1
	rev r1 one
	std_appspec r1 AfterInstall
	head -c 3M /dev/zero >"$T/r1/app/zeros"
	(cd "$T/r1" && zip -qr "$T/r1.zip" .)
	ssh_deploy "$T/r1.zip" h1 --max-bundle-size 1M
	same "$status" 3
	said_has "entry 'app/zeros' expands the bundle past 1 MiB (--max-bundle-size)"
	ssh_deploy "$T/r1.zip" h1 --max-bundle-ratio 10
	same "$status" 3
	said_has "entry 'app/zeros' expands the bundle past 10 times its size"
	[ ! -e "$T/h1/var/www" ]
	ssh_deploy "$T/r1.zip" h1 --max-bundle-size 4M
	same "$status" 0
	same "$(stat -c %s "$T/h1/var/www/html/zeros")" 3145728
}

@test "ssh: -e AfterInstall reaches the agent on the host, which runs that hook after the install" {
	fleet_up 1
	rev r1 one
	std_appspec r1 BeforeInstall AfterInstall
	ssh_deploy "$T/r1" h1 -e AfterInstall
	[ "$status" -eq 0 ]
	same "$(lifecycle)" "DownloadBundle Succeeded
Install Succeeded
AfterInstall Succeeded"
	[[ "$output" =~ h1\ +\|\ \[stdout\]hook\ one\ AfterInstall\ hook.sh ]]
	[[ ! "$output" =~ BeforeInstall ]]
	file_is "$T/h1/var/www/html/index.html" "one index"
}

@test "ssh: an unreachable host fails fast with a clear message" {
	fleet_up 1
	rev r1 one
	std_appspec r1 BeforeInstall
	ssh_deploy "$T/r1" "$FLEET_DEAD"
	[ "$status" -eq 1 ]
	[ "$elapsed" -lt 15 ]
	said_has "ssh cannot reach $FLEET_DEAD"
	said_has "timed out"
	same "$(jq -r .status "$REPORT")" Failed
	[ ! -e "$T/$FLEET_DEAD/var" ]
	hooks_are ""
}

# r1 with an AfterInstall hook that sleeps, r2 a plain one; deploy r1 to
# h1 in the background (DEPLOY_PID) and wait until its hook runs.
deploy_sleeping() {
	local i

	rev r1 one
	std_appspec r1 AfterInstall
	rev r2 two
	std_appspec r2 AfterInstall
	printf '%s\n' '#!/bin/sh' "echo started >\"$T/started\"" \
		"exec sleep 1000.$MARK" >"$T/r1/scripts/hook.sh"
	ssh_deploy "$T/r1" h1 &
	DEPLOY_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "$T/started" ] && return 0
		sleep 0.1
	done
	return 1
}

# The background deployment ends within SECONDS; load its output.
deploy_ends_within() { # SECONDS
	local i

	for ((i = 0; i < $1 * 10; i++)); do
		kill -0 "$DEPLOY_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DEPLOY_PID" 2>/dev/null; then
		echo "--- the deployment still runs after $1 s" >&2
		kill -TERM "$DEPLOY_PID"
		return 1
	fi
	wait "$DEPLOY_PID" || true
	output=$(<"$T/stdout")
	stderr=$(<"$T/stderr")
}

@test "ssh: a host whose sshd dies while a hook runs fails with a diagnostic, and nothing hangs" {
	fleet_up 2
	deploy_sleeping
	fleet_kill_sshd 1
	deploy_ends_within 5
	said | grep -qE "^h1 +\| \[slipway\] the ssh connection to h1 failed or was lost"
	same "$(jq -r .status "$REPORT")" Failed
	same "$(jq -r '.instances[0].lifecycleEvents[] |
		select(.lifecycleEventName == "AfterInstall") | .status' \
		"$REPORT")" InProgress
	# nothing of h1 is left running, and h2 still works
	[ -z "$(ip netns pids "sw-$MARK-1")" ]
	ssh_deploy "$T/r2" h2
	[ "$status" -eq 0 ]
	file_is "$T/h2/var/www/html/index.html" "two index"
}

@test "ssh: a host cut off from the network mid-deployment fails by ServerAlive, not a hang" {
	fleet_up 1
	deploy_sleeping
	local t0=$SECONDS
	fleet_cut 1
	# ServerAliveInterval=5 x ServerAliveCountMax=3
	deploy_ends_within 30
	[ $((SECONDS - t0)) -ge 10 ]
	said_has "the ssh connection to h1 failed or was lost"
	same "$(jq -r .status "$REPORT")" Failed
}

@test "ssh: slipway missing on the host says so" {
	fleet_up 1
	rev r1 one
	std_appspec r1 BeforeInstall
	SLIPWAY_REMOTE_BIN=$T/no-such-slipway ssh_deploy "$T/r1" h1
	[ "$status" -eq 1 ]
	said_has "slipway is not installed on h1 (or not on the remote PATH): install it or set SLIPWAY_REMOTE_BIN"
	same "$(jq -r .status "$REPORT")" Failed
	[ ! -e "$T/h1/var" ]
	file_is "$T/h1.hooks.log" ""
}

@test "ssh: a host key that changed and a key the host refuses fail with what ssh said" {
	fleet_up 1
	rev r1 one
	std_appspec r1 BeforeInstall
	# a known_hosts entry with another key for h1's address
	ssh-keygen -q -t ed25519 -N '' -f "$T/other_key"
	echo "${FLEET_ADDR[1]} $(cut -d' ' -f1,2 "$T/other_key.pub")" \
		>"$FLEET_DIR/known_hosts"
	ssh_deploy "$T/r1" h1
	[ "$status" -eq 1 ]
	said_has "ssh refused the host key of h1"
	rm "$FLEET_DIR/known_hosts"
	# a key the host does not know
	ssh-keygen -q -t ed25519 -N '' -f "$T/stranger"
	sed "s|IdentityFile .*|IdentityFile $T/stranger|" "$FLEET_SSH_CONFIG" \
		>"$T/stranger_config"
	SLIPWAY_SSH="ssh -F $T/stranger_config" ssh_deploy "$T/r1" h1
	[ "$status" -eq 1 ]
	[ "$elapsed" -lt 15 ]
	said_has "ssh could not log in to h1 (authentication refused)"
	said_has "Permission denied"
	[ ! -e "$T/h1/var" ]
	file_is "$T/h1.hooks.log" ""
}

@test "ssh: a host being deployed is refused: here by this machine's lock, from elsewhere by the agent's on the host" {
	fleet_up 1
	rev r1 one
	std_appspec r1 AfterInstall
	rev r2 two
	std_appspec r2 AfterInstall
	mkfifo "$T/entered" "$T/gate"
	local entered gate first
	exec {entered}<>"$T/entered" {gate}<>"$T/gate"
	printf '%s\n' '#!/bin/sh' "echo in >\"$T/entered\"" \
		"read -r go <\"$T/gate\"" >"$T/r1/scripts/hook.sh"
	mkdir -p "$T/h1"
	SLIPWAY_REMOTE_BIN=$SW_BIN "$SLIPWAY" deploy "$T/r1" --ssh h1 \
		--root "$T/h1" --state-dir "$STATE" --deployment-id d-ONE \
		>"$T/first.out" 2>"$T/first.err" 3>&- &
	first=$!
	read -r -t 30 -u "$entered" _
	# from this machine: refused before anything
	ssh_deploy "$T/r2" h1
	[ "$status" -eq 1 ]
	same "$stderr" "error: host 'h1' is already deploying deployment 'd-ONE' (process $first, group LocalFleet)"
	# from another machine (locks of its own): the agent on the host
	# refuses, and the host fails with nothing run
	SLIPWAY_LOCK_DIR=$T/elsewhere ssh_deploy "$T/r2" h1 \
		--state-dir "$T/elsewhere-state"
	[ "$status" -eq 1 ]
	same "$(jq -r .status "$REPORT")" Failed
	said_has "this host is already deploying deployment 'd-ONE' (process "
	# and a deployment on the host itself to that root
	run --separate-stderr "$SLIPWAY" deploy "$T/r2" --root "$T/h1" \
		--state-dir "$T/local-state"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "error: host 'local' is already deploying deployment 'd-ONE' (process "*", group LocalFleet)" ]]
	! grep -q '^two ' "$T/h1.hooks.log" || false
	echo go >&"$gate"
	wait "$first"
	file_is "$T/h1/var/www/html/index.html" "one index"
	exec {entered}>&- {gate}>&-
	ssh_deploy "$T/r2" h1
	[ "$status" -eq 0 ]
	file_is "$T/h1/var/www/html/index.html" "two index"
}
