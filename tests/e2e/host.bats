#!/usr/bin/env bats
# Rehearsal hosts as sandboxes (deploy --isolation sandbox) and
# `slipway host`: the view a host's hooks get, daemons that live as long
# as the host, networks of their own, stopping and removing hosts, and
# hostile host roots. Every host a test starts is stopped in teardown.

bats_require_minimum_version 1.5.0

load helpers

eval "helpers_$(declare -f setup)"
eval "helpers_$(declare -f teardown)"

setup() {
	helpers_setup
	APP=$T/app
	mkdir -p "$APP/scripts"
	umask 022
}

teardown() {
	local h
	if [ -d "$STATE/hosts" ]; then
		for h in $(ls "$STATE/hosts"); do
			"$SLIPWAY" host stop "$h" --state-dir "$STATE" \
				>/dev/null 2>&1 || true
		done
	fi
	for p in $(pgrep -f "sleep [0-9]*$MARK"); do
		kill -KILL "$p" 2>/dev/null || true
	done
	helpers_teardown
}

# hook NAME: write $APP/scripts/NAME.sh from stdin
hook() {
	{
		echo '#!/bin/bash'
		cat
	} >"$APP/scripts/$1.sh"
	chmod 755 "$APP/scripts/$1.sh"
}

# appspec EVENT=SCRIPT...: files app/ to /usr/share/sw-$MARK and conf to
# /etc/sw-$MARK, and the hooks named
appspec() {
	local a
	mkdir -p "$APP/app" "$APP/conf"
	echo "page $MARK" >"$APP/app/index.html"
	echo "conf $MARK" >"$APP/conf/app.conf"
	{
		printf 'version: 0.0\nos: linux\nfiles:\n'
		printf '  - source: app\n    destination: /usr/share/sw-%s\n' \
			"$MARK"
		printf '  - source: conf\n    destination: /etc/sw-%s\n' "$MARK"
		printf 'hooks:\n'
		for a in "$@"; do
			printf '  %s:\n    - location: scripts/%s.sh\n' \
				"${a%%=*}" "${a#*=}"
		done
	} >"$APP/appspec.yml"
}

deploy() { # HOST OPTION...
	local h=$1
	shift
	run "$SLIPWAY" deploy "$APP" --host "$h" --state-dir "$STATE" "$@"
}

daemons() { # the sleeps of this test still running
	pgrep -f "sleep [0-9]*$MARK" | wc -l
}

@test "host: a sandboxed host's hooks see its root as /, this machine's /usr and /etc under its own changes, and none of its processes" {
	appspec AfterInstall=look
	hook look <<EOF
set -e
cat /usr/share/sw-$MARK/index.html /etc/sw-$MARK/app.conf
echo tool >/usr/bin/sw-tool-$MARK
echo own >/etc/sw-own-$MARK
hostname >/tmp/hostname
head -1 /etc/os-release >/tmp/os-release
ps -e -o comm= >/tmp/processes
echo "root=\$SLIPWAY_HOST_ROOT" >/tmp/env
unshare -U true 2>/dev/null || echo userns-denied >/tmp/seccomp
test -x /bin/sh && test -d /var/tmp && test -d /proc/self
EOF
	deploy h1 --isolation sandbox
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"h1 | [slipway] host started: a sandbox, pid "* ]]
	[[ "$output" == *"[stdout]page $MARK"* ]]
	[[ "$output" == *"[stdout]conf $MARK"* ]]
	R=$STATE/hosts/h1/root
	# what the install and the hook wrote is the host's, under its root
	[ "$(cat "$R/usr/share/sw-$MARK/index.html")" = "page $MARK" ]
	[ "$(cat "$R/usr/bin/sw-tool-$MARK")" = tool ]
	[ "$(cat "$R/etc/sw-own-$MARK")" = own ]
	# and never this machine's
	[ ! -e "/usr/bin/sw-tool-$MARK" ]
	[ ! -e "/etc/sw-own-$MARK" ]
	[ ! -e "/etc/sw-$MARK" ]
	[ ! -e "/usr/share/sw-$MARK" ]
	[ "$(cat "$R/tmp/hostname")" = h1 ]
	[ "$(cat "$R/tmp/os-release")" = "$(head -1 /etc/os-release)" ]
	[ "$(cat "$R/tmp/env")" = "root=/" ]
	[ "$(cat "$R/tmp/seccomp")" = userns-denied ]
	# the host's own processes only: no bats, no slipway driver
	! grep -q bats "$R/tmp/processes" || false
	[ "$(wc -l <"$R/tmp/processes")" -lt 10 ]
	[ "$(sed -n 1p "$R/tmp/processes")" = host-init ]
}

@test "host: a daemon started by ApplicationStart outlives the hook and the deployment; the next ApplicationStop reaches it; host stop leaves nothing" {
	appspec ApplicationStop=stop ApplicationStart=start
	hook start <<EOF
nohup sleep 71$MARK >/dev/null 2>&1 </dev/null &
echo \$! >/var/run/sleeper.pid
# a double-forked daemon that ignores TERM
( trap '' TERM; setsid bash -c "trap '' TERM; exec sleep 72$MARK" \
	>/dev/null 2>&1 </dev/null & )
echo started
EOF
	hook stop <<'EOF'
if [ -f /var/run/sleeper.pid ]; then
	kill "$(cat /var/run/sleeper.pid)" && echo "stopped $(cat /var/run/sleeper.pid)"
fi
exit 0
EOF
	deploy h1 --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(daemons)" -eq 2 ]
	run "$SLIPWAY" host ls --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"h1"*"running"*"(machine)"* ]]
	# without --isolation: the running host is deployed inside it
	deploy h1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"[stdout]stopped "* ]]
	[[ "$output" != *"host started"* ]]
	[ "$(pgrep -fc "sleep 71$MARK")" -eq 1 ]
	start=$(date +%s%N)
	run "$SLIPWAY" host stop h1 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$(daemons)" -eq 0 ]
	# the one ignoring TERM got the grace, then was killed
	[ "$ms" -ge 4500 ]
	[ ! -e "$STATE/hosts/h1/box.json" ]
	run "$SLIPWAY" host ls --state-dir "$STATE"
	[[ "$output" == *"h1"*"stopped"* ]]
	# its files stay, and the next deployment starts it afresh
	[ -f "$STATE/hosts/h1/root/usr/share/sw-$MARK/index.html" ]
	deploy h1 --isolation sandbox
	[ "$status" -eq 0 ]
	[[ "$output" == *"host started"* ]]
}

@test "host: with --host-network private each host serves port 80 of its own address; stopped, the address is free again" {
	command -v ip >/dev/null || skip "iproute2 is needed"
	cc -O1 -o "$T/webapp" "$BATS_TEST_DIRNAME/../../examples/webapp/server.c"
	mkdir -p "$APP/bin"
	cp "$T/webapp" "$APP/bin/"
	appspec ApplicationStart=start ValidateService=check
	sed -i "s|^hooks:|  - source: bin\n    destination: /opt/web\nhooks:|" \
		"$APP/appspec.yml"
	hook start <<EOF
nohup /opt/web/webapp -p 80 -a 0.0.0.0 -n "\$(hostname)" -V $MARK \
	-P /run/web.pid >/var/log/web.log 2>&1 </dev/null &
EOF
	hook check <<'EOF'
for i in $(seq 50); do
	(exec 3<>/dev/tcp/127.0.0.1/80) 2>/dev/null && exit 0
	sleep 0.1
done
exit 1
EOF
	for h in n1 n2; do
		deploy "$h" --isolation sandbox --host-network private \
			--report "$T/$h.json"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"host started: a sandbox, pid "*", address 10.213."* ]]
	done
	a1=$(jq -r .address "$STATE/hosts/n1/box.json")
	a2=$(jq -r .address "$STATE/hosts/n2/box.json")
	[ "$a1" != "$a2" ]
	# the deployment's report says where it ran
	[ "$(jq -r '.instances[0].sandbox.address' "$T/n2.json")" = "$a2" ]
	[ "$(curl -s --max-time 5 "http://$a1/")" = "webapp $MARK on n1" ]
	[ "$(curl -s --max-time 5 "http://$a2/")" = "webapp $MARK on n2" ]
	pid1=$(jq -r .pid "$STATE/hosts/n1/box.json")
	[ -e "/run/slipway/net/$a1" ]
	ip link show "sw$pid1" >/dev/null
	run "$SLIPWAY" host stop n1 n2 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	! curl -s --max-time 2 "http://$a1/" || false
	[ ! -e "/run/slipway/net/$a1" ]
	[ ! -e "/run/slipway/net/$a2" ]
	! ip link show "sw$pid1" 2>/dev/null || false
	[ "$(pgrep -fc "webapp -p 80 -a 0.0.0.0 -n n[12] -V $MARK")" -eq 0 ]
	# started again, a host gets its address back
	run "$SLIPWAY" host start n1 --host-network private --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == "n1: started, pid "*", address $a1" ]]
	# even after its init was killed without a stop: the stale claim on
	# the address is taken over
	kill -KILL "$(jq -r .pid "$STATE/hosts/n1/box.json")"
	[ -e "/run/slipway/net/$a1" ]
	run "$SLIPWAY" host ls --state-dir "$STATE"
	[[ "$output" == *"n1"*"stopped"* ]]
	run "$SLIPWAY" host start n1 --host-network private --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == "n1: started, pid "*", address $a1" ]]
}

@test "host: ls, exec and rm; exit statuses and usage errors" {
	run "$SLIPWAY" host ls --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run "$SLIPWAY" host start h1 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == "h1: started, pid "* ]]
	run "$SLIPWAY" host start h1 --state-dir "$STATE"
	[[ "$output" == "h1: already running, pid "* ]]
	run "$SLIPWAY" host exec --state-dir "$STATE" h1 -- sh -c 'echo $(hostname) $$; exit 7'
	[ "$status" -eq 7 ]
	[[ "$output" == "h1 "[0-9]* ]]
	# options before the subcommand; the command's own after NAME
	run "$SLIPWAY" host --state-dir "$STATE" exec h1 ls -l -d /proc
	[ "$status" -eq 0 ]
	[[ "$output" == d*" /proc" ]]
	run -127 "$SLIPWAY" host exec --state-dir "$STATE" h1 no-such-command-$MARK
	[[ "$output" == *"cannot run 'no-such-command-$MARK'"* ]]
	run "$SLIPWAY" host exec --state-dir "$STATE" nohost true
	[ "$status" -eq 1 ]
	[[ "$output" == *"no host nohost"* ]]
	run "$SLIPWAY" host stop nohost --state-dir "$STATE"
	[ "$status" -eq 1 ]
	run "$SLIPWAY" host frob --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" host stop ../x --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid host name '../x'"* ]]
	run "$SLIPWAY" host start --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" host start h2 --host-network nat --state-dir "$STATE"
	[ "$status" -eq 2 ]
	appspec
	run "$SLIPWAY" deploy "$APP" --host-network private --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"add --isolation sandbox"* ]]
	run "$SLIPWAY" deploy "$APP" --isolation jail --state-dir "$STATE"
	[ "$status" -eq 2 ]
	pid=$(jq -r .pid "$STATE/hosts/h1/box.json")
	run "$SLIPWAY" host rm h1 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ ! -e "$STATE/hosts/h1" ]
	# gone (or a zombie its new parent has not reaped yet)
	st=$(ps -o stat= -p "$pid" || true)
	[ -z "$st" ] || [[ "$st" == Z* ]]
}

@test "host: a symbolic link in a host's root that leads out is refused, nothing written outside" {
	mkdir -p "$STATE/hosts/evil/root" "$T/outside"
	# a relative link that reaches this test's directory from the root
	ln -s ../../../../outside "$STATE/hosts/evil/root/etc"
	run "$SLIPWAY" host start evil --state-dir "$STATE"
	echo "$output"
	[ "$status" -eq 111 ]
	[[ "$output" == *"symbolic link at '/etc'"* ]]
	[ -z "$(ls -A "$T/outside")" ]
	rm -rf "$STATE/hosts/evil/root"
	mkdir -p "$STATE/hosts/evil/root/var"
	ln -s ../../../../../outside "$STATE/hosts/evil/root/var/tmp"
	appspec
	deploy evil --isolation sandbox
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"evil | [slipway] cannot set up its sandbox"*"symbolic link at '/var/tmp'"* ]]
	[ -z "$(ls -A "$T/outside")" ]
	# a file where a directory must be: one line naming it as inside
	rm -rf "$STATE/hosts/evil/root"
	mkdir -p "$STATE/hosts/evil/root"
	touch "$STATE/hosts/evil/root/var"
	run "$SLIPWAY" host start evil --state-dir "$STATE"
	[ "$status" -eq 111 ]
	[ "$output" = "error: host evil: cannot set up its sandbox: cannot make '/var/tmp': Not a directory" ]
}

@test "host: without namespaces, sandbox exits 111 and auto falls back to dir" {
	command -v setpriv >/dev/null || skip "setpriv is needed"
	# somewhere nobody can reach
	d=$(mktemp -d /tmp/host-e2e.XXXXXX)
	APP=$d/app STATE=$d/state
	mkdir -p "$APP/scripts"
	appspec AfterInstall=where
	hook where <<'EOF'
echo "root=$SLIPWAY_HOST_ROOT"
EOF
	chmod -R a+rwX "$d"
	as_nobody() {
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	}
	run as_nobody "$SLIPWAY" deploy "$APP" --state-dir "$STATE" \
		--isolation sandbox
	echo "$output"
	[ "$status" -eq 111 ]
	[[ "$output" == *"--isolation sandbox: namespaces are unavailable"* ]]
	run as_nobody "$SLIPWAY" deploy "$APP" --state-dir "$STATE" \
		--isolation auto
	echo "$output"
	st=$status out=$output
	rm -rf "$d"
	[ "$st" -eq 0 ]
	[[ "$out" == *"no sandbox ("*"); isolation is dir"* ]]
	[[ "$out" == *"root=$STATE/hosts/local/root"* ]]
}

@test "host: hooks have no terminal to type into, even when slipway has one" {
	command -v script >/dev/null || skip "script (util-linux) is needed"
	appspec AfterInstall=tty
	hook tty <<'EOF2'
if ( : </dev/tty ) 2>/dev/null; then echo tty-open; else echo no-tty; fi
EOF2
	# slipway on a terminal of its own: the hook must not reach it
	run script -qec "$SLIPWAY deploy $APP --host t1 --isolation sandbox \
		--state-dir $STATE" /dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"[stdout]no-tty"* ]]
}

@test "host: a rollback reads the good revision inside the host, where a link planted by a hook cannot lead to this machine" {
	mkdir -p "$T/machine"
	echo "machine secret $MARK" >"$T/machine/secret.txt"
	printf 'version: 0.0\nos: linux\nfiles:\n  - source: secret.txt\n    destination: /loot\n' \
		>"$T/machine/appspec.yml"
	appspec
	deploy h1 --isolation sandbox --deployment-id d-GOOD$MARK
	[ "$status" -eq 0 ]
	appspec AfterInstall=plant ValidateService=fail
	hook plant <<EOF2
a=\$(ls -d /opt/codedeploy-agent/deployment-root/*/d-GOOD$MARK/deployment-archive)
rm -rf "\$a" && ln -s "$T/machine" "\$a" && echo planted
EOF2
	hook fail <<'EOF2'
exit 1
EOF2
	deploy h1
	[ "$status" -eq 1 ]
	[[ "$output" == *"[stdout]planted"* ]]
	run "$SLIPWAY" deploy --rollback --host h1 --state-dir "$STATE"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"h1 | "*"deployment-archive"* ]]
	[ ! -e "$STATE/hosts/h1/root/loot" ]
	! grep -rqs "machine secret" "$STATE/hosts/h1/root" || false
}

@test "host: an init pid that now names another process is not entered" {
	appspec AfterInstall=where
	hook where <<'EOF2'
echo "wrote" >/tmp/where-$$
EOF2
	mkdir -p "$STATE/hosts/h1/root"
	# box.json naming a process of this machine: alive, with its real
	# start time, but not in the host's namespaces
	sleep 60$MARK &
	pid=$!
	start=$(awk '{ print $22 }' "/proc/$pid/stat")
	printf '{"pid": %d, "startTime": %s, "mountNamespace": 1, "network": false}\n' \
		"$pid" "$start" >"$STATE/hosts/h1/box.json"
	run "$SLIPWAY" host ls --state-dir "$STATE"
	[[ "$output" == *"h1"*"running"* ]]
	deploy h1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"its sandbox has ended"* ]]
	! ls /tmp/where-* 2>/dev/null || false
	rm -f "$STATE/hosts/h1/box.json"
	kill "$pid"
}
