#!/usr/bin/env bats
# One deployment at a time per deployment group and per host: a second
# `slipway deploy` or `slipway run` while one runs is refused with the
# deployment in progress named, and touches nothing; a lock whose slipway
# was killed is taken over. The races are real processes: the first
# deployment's hook holds still on a fifo until the test lets it go.

load helpers
load deploy_helpers
load fleet_local_helpers

eval "deploy_$(declare -f setup)"
eval "deploy_$(declare -f teardown)"

setup() {
	deploy_setup
	fleet_setup
	mkfifo "$T/entered" "$T/gate"
	# Opened read-write: neither the hook's write nor the test's reads
	# and writes wait for the other side to open.
	exec {ENTERED}<>"$T/entered"
	exec {GATE}<>"$T/gate"
	FIRST=
}

teardown() {
	# let a hook still held go, and wait for the first deployment
	if [ -n "$FIRST" ] && kill -0 "$FIRST" 2>/dev/null; then
		echo go >&"$GATE"
		timeout 20 tail --pid="$FIRST" -f /dev/null || kill -KILL "$FIRST"
	fi
	exec {ENTERED}>&- {GATE}>&-
	deploy_teardown
}

# A revision $T/NAME: every hook appends "TAG EVENT HOST DEPLOYMENT_ID" to
# $HOOKLOG (HOST: the last part of the host's root, "root" dropped); with
# HOLD=1 the first BeforeInstall to make $T/held then says its host on
# $T/entered and waits for a line on $T/gate; with SERVE=1 ApplicationStart leaves a process running
# (a server: sleep 1000.$MARK, in a session of its own).
lrev() { # NAME TAG
	local d=$T/$1 ev

	mkdir -p "$d/app" "$d/scripts"
	echo "$2" >"$d/app/index.html"
	cat >"$d/scripts/hook.sh" <<SH
#!/bin/sh
h=\${SLIPWAY_HOST_ROOT%/root}
h=\${h##*/}
echo "$2 \$LIFECYCLE_EVENT \$h \$DEPLOYMENT_ID" >>"$HOOKLOG"
if [ "\$LIFECYCLE_EVENT" = BeforeInstall ] && [ "${HOLD:-0}" = 1 ] &&
	mkdir "$T/held" 2>/dev/null; then
	echo "\$h" >"$T/entered"
	read -r go <"$T/gate"
fi
if [ "\$LIFECYCLE_EVENT" = ApplicationStart ] && [ "${SERVE:-0}" = 1 ]; then
	setsid sleep 1000.$MARK </dev/null >/dev/null 2>&1 &
fi
exit 0
SH
	chmod 0755 "$d/scripts/hook.sh"
	{
		printf 'version: 0.0\nos: linux\nfiles:\n'
		printf '  - source: app\n    destination: /var/www/html\n'
		printf 'hooks:\n'
		for ev in BeforeInstall AfterInstall ApplicationStart; do
			printf '  %s:\n    - location: scripts/hook.sh\n' "$ev"
		done
	} >"$d/appspec.yml"
}

# Start `slipway deploy ARGS` in the background as deployment d-ONE and
# wait until its hook holds still on a host; FIRST is its pid.
deploy_held() { # ARGS...
	local h

	"$SLIPWAY" deploy "$@" --deployment-id d-ONE \
		>"$T/first.out" 2>"$T/first.err" 3>&- &
	FIRST=$!
	if ! read -r -t 30 -u "$ENTERED" h; then
		echo "the first deployment never reached its hook:" >&2
		cat "$T/first.err" >&2
		return 1
	fi
}

# Let the held hook go and wait for the first deployment: FIRST_STATUS.
release_first() {
	echo go >&"$GATE"
	FIRST_STATUS=0
	wait "$FIRST" || FIRST_STATUS=$?
	FIRST=
}

# What deployments ran hooks: "d-ONE" etc., one a line, sorted.
hook_deployments() {
	awk '{ print $4 }' "$HOOKLOG" | sort -u
}

@test "lock: a second deployment to a group in progress is refused, naming it, and touches nothing" {
	HOLD=1 lrev r1 one
	lrev r2 two
	group_file CodeDeployDefault.AllAtOnce h1 h2
	deploy_held "$T/r1" --group "$GF" --state-dir "$STATE"
	fdeploy "$T/r2"
	[ "$status" -eq 1 ]
	same "$stderr" "error: deployment group 'fleet' is already deploying deployment 'd-ONE' (process $FIRST)"
	same "$output" ""
	# no deployment directory, no report, no hook of its own
	same "$(ls "$STATE/deployments")" d-ONE
	same "$(cat "$REPORT")" ""
	same "$(hook_deployments)" d-ONE
	! grep -q '^two ' "$HOOKLOG" || false
	release_first
	[ "$FIRST_STATUS" -eq 0 ]
	same "$(hosts_run one ApplicationStart d-ONE)" "h1 h2"
	! grep -q '^two ' "$HOOKLOG" || false
	# released cleanly: the next one runs, and takes nothing over
	fdeploy "$T/r2"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"taking over"* ]]
	same "$(hosts_run two ApplicationStart "$DEP")" "h1 h2"
}

@test "lock: two deployments started together: one runs, the other is refused" {
	lrev r1 one
	group_file CodeDeployDefault.AllAtOnce h1 h2 h3
	local i ok=0 refused=0 st
	for i in 1 2 3 4; do
		"$SLIPWAY" deploy "$T/r1" --group "$GF" --state-dir "$STATE" \
			>"$T/o$i" 2>"$T/e$i" 3>&- &
		eval "p$i=\$!"
	done
	for i in 1 2 3 4; do
		st=0
		eval "wait \$p$i" || st=$?
		if [ "$st" -eq 0 ]; then
			ok=$((ok + 1))
		else
			[ "$st" -eq 1 ]
			grep -q "^error: deployment group 'fleet' is already deploying deployment 'd-" "$T/e$i"
			refused=$((refused + 1))
		fi
	done
	[ "$ok" -ge 1 ]
	same "$((ok + refused))" 4
	# the deployments that ran never overlapped: each host's hooks come
	# in whole lifecycles, one deployment after the other
	local h
	for h in h1 h2 h3; do
		awk -v h="$h" '$3 == h { print $4 }' "$HOOKLOG" | uniq -c |
			awk '$1 != 3 { bad = 1 } END { exit bad }'
	done
	same "$(ls "$STATE/deployments" | wc -l)" "$ok"
}

@test "lock: slipway run is refused before it builds" {
	HOLD=1 lrev r1 one
	group_file CodeDeployDefault.OneAtATime h1
	deploy_held "$T/r1" --group "$GF" --state-dir "$STATE"
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - touch "$T/built"
artifacts:
  files: ['**/*']
EOF
	run --separate-stderr "$SLIPWAY" run "$PROJ" --group "$GF" \
		--state-dir "$STATE"
	[ "$status" -eq 1 ]
	same "$stderr" "error: deployment group 'fleet' is already deploying deployment 'd-ONE' (process $FIRST)"
	[ ! -e "$T/built" ]
	[ ! -e "$STATE/runs" ] || same "$(ls -A "$STATE/runs")" ""
	[ ! -e "$STATE/builds" ] || same "$(ls -A "$STATE/builds")" ""
	release_first
	[ "$FIRST_STATUS" -eq 0 ]
}

@test "lock: a run holds its group from before the build: a deployment meanwhile is refused, naming the run" {
	HOLD=1 lrev app one
	cp -r "$T/app/." "$PROJ/"
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - echo building
artifacts:
  files: ['**/*']
EOF
	lrev r2 two
	group_file CodeDeployDefault.OneAtATime h1
	"$SLIPWAY" run "$PROJ" --group "$GF" --state-dir "$STATE" \
		>"$T/first.out" 2>"$T/first.err" 3>&- &
	FIRST=$!
	read -r -t 60 -u "$ENTERED" _
	fdeploy "$T/r2"
	[ "$status" -eq 1 ]
	[[ "$stderr" =~ ^error:\ deployment\ group\ \'fleet\'\ is\ already\ deploying\ deployment\ \'(d-[A-Z0-9]+)\'\ \(process\ $FIRST,\ run\ (r-[0-9a-f-]+)\)$ ]]
	local dep=${BASH_REMATCH[1]} runid=${BASH_REMATCH[2]}
	release_first
	[ "$FIRST_STATUS" -eq 0 ]
	# the deployment the lock named is the one the run made
	same "$(jq -r '.runId' "$STATE/runs/$runid/report.json")" "$runid"
	same "$(jq -r '.deployments[0].deploymentId' "$STATE/runs/$runid/report.json")" "$dep"
	same "$(hook_deployments)" "$dep"
}

@test "lock: one host (--root) is locked on this machine: another state directory is refused too" {
	HOLD=1 lrev r1 one
	lrev r2 two
	export SLIPWAY_LOCK_DIR=$T/locks
	deploy_held "$T/r1" --root "$HOST" --state-dir "$STATE"
	run --separate-stderr "$SLIPWAY" deploy "$T/r2" --root "$HOST" \
		--state-dir "$T/other-state"
	[ "$status" -eq 1 ]
	same "$stderr" "error: host 'local' is already deploying deployment 'd-ONE' (process $FIRST, group LocalFleet)"
	[ ! -e "$T/other-state/deployments" ] ||
		same "$(ls -A "$T/other-state/deployments")" ""
	# the same host by another path
	ln -s "$HOST" "$T/link"
	run --separate-stderr "$SLIPWAY" deploy "$T/r2" --root "$T/link/." \
		--state-dir "$T/other-state"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"already deploying deployment 'd-ONE'"* ]]
	same "$(hook_deployments)" d-ONE
	release_first
	[ "$FIRST_STATUS" -eq 0 ]
	file_is "$HOST/var/www/html/index.html" one
	# the locks were this machine's, and are gone; the host holds none
	same "$(ls -A "$T/locks")" ""
	[ -z "$(find "$HOST" -name '*.lock')" ]
	run --separate-stderr "$SLIPWAY" deploy "$T/r2" --root "$HOST" \
		--state-dir "$T/other-state"
	[ "$status" -eq 0 ]
	file_is "$HOST/var/www/html/index.html" two
}

@test "lock: the default rehearsal host is locked too" {
	HOLD=1 lrev r1 one
	lrev r2 two
	deploy_held "$T/r1" --state-dir "$STATE"
	run --separate-stderr "$SLIPWAY" deploy "$T/r2" --state-dir "$STATE"
	[ "$status" -eq 1 ]
	same "$stderr" "error: host 'local' is already deploying deployment 'd-ONE' (process $FIRST, group LocalFleet)"
	same "$(ls "$STATE/deployments")" d-ONE
	release_first
	[ "$FIRST_STATUS" -eq 0 ]
}

@test "lock: a host in two groups (one root, or one rehearsal host) is held by the group deploying to it" {
	HOLD=1 lrev r1 one
	lrev r2 two
	GF_ROOTS=1 group_file CodeDeployDefault.OneAtATime h1
	cp "$GF" "$T/a.yml"
	# another group, other hosts, and h1's root under another name
	cat >"$T/b.yml" <<EOF
application: other
deployment-group: blue
hosts:
  - name: b1
  - name: shared
    root: $T/roots/h1
EOF
	deploy_held "$T/r1" --group "$T/a.yml" --state-dir "$STATE"
	GF=$T/b.yml fdeploy "$T/r2"
	[ "$status" -eq 1 ]
	same "$stderr" "error: host 'shared' is already deploying deployment 'd-ONE' (process $FIRST, group fleet)"
	# refused before anything: b1 was not even made
	same "$(hook_deployments)" d-ONE
	[ ! -e "$STATE/hosts/b1" ]
	release_first
	[ "$FIRST_STATUS" -eq 0 ]

	# the same rehearsal host (by name, in one state directory)
	group_file CodeDeployDefault.OneAtATime h1
	cat >"$T/c.yml" <<EOF
application: other
deployment-group: green
hosts:
  - name: h1
EOF
	: >"$HOOKLOG"
	rmdir "$T/held"
	HOLD=1 lrev r3 three
	FIRST=
	"$SLIPWAY" deploy "$T/r3" --group "$GF" --state-dir "$STATE" \
		--deployment-id d-TWO >"$T/first.out" 2>"$T/first.err" 3>&- &
	FIRST=$!
	read -r -t 30 -u "$ENTERED" _
	GF=$T/c.yml fdeploy "$T/r2"
	[ "$status" -eq 1 ]
	same "$stderr" "error: host 'h1' is already deploying deployment 'd-TWO' (process $FIRST, group fleet)"
	release_first
	[ "$FIRST_STATUS" -eq 0 ]
	same "$(hook_deployments)" d-TWO
}

@test "lock: a killed slipway's lock is taken over, and the new deployment says whose it was" {
	HOLD=1 lrev r1 one
	lrev r2 two
	group_file CodeDeployDefault.OneAtATime h1
	deploy_held "$T/r1" --group "$GF" --state-dir "$STATE"
	local agents a
	agents=$(pgrep -P "$FIRST" || true)
	kill -KILL "$FIRST"
	wait "$FIRST" || true
	local dead=$FIRST
	FIRST=
	# whatever it left on the host (its agent, the held hook) ends
	echo go >&"$GATE"
	for a in $agents; do
		timeout 20 tail --pid="$a" -f /dev/null
	done
	fdeploy "$T/r2"
	[ "$status" -eq 0 ]
	same "$(grep -c 'taking over' "$T/stderr")" 1
	grep -qx "note: taking over the lock of deployment 'd-ONE' (process $dead is gone)" "$T/stderr"
	same "$(hosts_run two ApplicationStart "$DEP")" h1
	# and released cleanly at the end
	fdeploy "$T/r2"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"taking over"* ]]
}

@test "lock: a process a hook leaves running does not hold the host" {
	SERVE=1 lrev r1 one
	group_file CodeDeployDefault.OneAtATime h1
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	wait_for_marker
	fdeploy "$T/r1"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"already deploying"* ]]
	[[ "$stderr" != *"taking over"* ]]
}
