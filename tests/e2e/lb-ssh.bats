#!/usr/bin/env bats
# Hosts over ssh behind a managed HAProxy: the hosts are network
# namespaces of this machine with their own sshd (fleet_helpers.bash),
# each serving on its own address, given as its target. BlockTraffic and
# AllowTraffic act on the balancer from this machine; the agent over ssh
# waits for their answer. Needs root, sshd and HAProxy; skipped otherwise.

load helpers
load lb_helpers
load fleet_helpers

eval "base_$(declare -f setup)"
eval "fleet_$(declare -f teardown)"

setup() {
	base_setup
	lb_setup
}

teardown() {
	lb_teardown
	fleet_teardown
}

SW_BIN=$(realpath "$SLIPWAY")

# A revision serving VERSION on port 8000 of the host's own address; its
# ApplicationStop records the host's server status in HAProxy.
ssh_rev() { # NAME VERSION
	local d=$T/$1
	mkdir -p "$d/app"
	echo "$2" >"$d/app/VERSION"
	cat >"$d/appspec.yml" <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /opt/app
hooks:
  ApplicationStop:
    - location: stop.sh
  ApplicationStart:
    - location: start.sh
YML
	cat >"$d/start.sh" <<SH
#!/bin/bash
R=\${SLIPWAY_HOST_ROOT%/}
H=\$(basename "\$R")
A=\$(awk -v h="\$H" '\$1 == h { print \$2 }' "$T/addrs")
setsid "$T/webapp" -p 8000 -a "\$A" -n "\$H" -V "\$(cat "\$R/opt/app/VERSION")" \\
	-P "\$R/web.pid" </dev/null >/dev/null 2>&1 &
for i in \$(seq 500); do
	(exec 3<>"/dev/tcp/\$A/8000") 2>/dev/null && exit 0
	sleep 0.01
done
exit 1
SH
	cat >"$d/stop.sh" <<SH
#!/bin/bash
R=\${SLIPWAY_HOST_ROOT%/}
H=\$(basename "\$R")
st=\$(python3 "$BATS_TEST_DIRNAME/lb_admin.py" "\$(ls "$STATE"/lb/*/admin.sock)" \\
	state slipway "\$H" || echo none)
echo "ApplicationStop \$H \$st" >>"$HOOKLOG"
if [ -s "\$R/web.pid" ]; then
	pid=\$(cat "\$R/web.pid")
	kill "\$pid" 2>/dev/null || true
	for _ in \$(seq 500); do
		grep -q '^State:[[:space:]]*[^Z[:space:]]' "/proc/\$pid/status" \\
			2>/dev/null || break
		sleep 0.01
	done
fi
rm -f "\$R/web.pid"
SH
	chmod +x "$d/start.sh" "$d/stop.sh"
}

@test "hosts over ssh behind HAProxy at their targets (given, or the ssh address and the port): OneAtATime redeploy, each drained before ApplicationStop, 0 requests failed" {
	fleet_up 2
	cc -O1 -o "$T/webapp" "$BATS_TEST_DIRNAME/../../examples/webapp/server.c"
	local ports
	ports=($(free_ports 1))
	LB_PORT=${ports[0]}
	: >"$T/addrs"
	for i in 1 2; do
		echo "h$i ${FLEET_ADDR[i]}" >>"$T/addrs"
		mkdir -p "$T/h$i"
	done
	cat >"$GF" <<YML
application: app
deployment-group: lbssh
deployment-config: CodeDeployDefault.OneAtATime
load-balancer:
  kind: haproxy
  managed: {listen: 127.0.0.1:$LB_PORT}
  port: 8000
  health: {path: /, interval: 200ms, wait: 2s}
  deregistration-delay: 5s
hosts:
  - {name: h1, ssh: h1, root: $T/h1, target: ${FLEET_ADDR[1]}:8000}
  # at an IPv4 address and no target: that address and the port
  - {name: h2, ssh: ${FLEET_ADDR[2]}, root: $T/h2}
YML
	ssh_rev r1 v1
	ssh_rev r2 v2
	export SLIPWAY_REMOTE_BIN=$SW_BIN
	lb_deploy "$T/r1"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(lb_state h1)" = UP ] && [ "$(lb_state h2)" = UP ]
	: >"$HOOKLOG"
	lb_deploy "$T/r2" --probe "http://127.0.0.1:$LB_PORT/,50"
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'ApplicationStop h1 MAINT' "$HOOKLOG"
	grep -qx 'ApplicationStop h2 MAINT' "$HOOKLOG"
	[[ "$output" == *"h1 | [slipway] load balancer: h1 drained in "* ]]
	[[ "$output" == *"h2 | [slipway] load balancer: h2 ready; its health check passed"* ]]
	[ "$(rj .probe.failed)" = 0 ]
	[ "$(rj '[.probe.versions[].version] | join(" ")')" = "v1 v2" ]
	[ "$(lb_state h1)" = UP ] && [ "$(lb_state h2)" = UP ]
	# a host that never becomes healthy fails AllowTraffic over ssh too
	sed -i 's/^A=.*/A=127.0.0.1/' "$T/r2/start.sh"
	lb_deploy "$T/r2" --no-rollback
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"h1 did not pass the load balancer's health check"* ]]
	[ "$(lb_state h1)" = DOWN ]
	[ "$(lb_state h2)" = UP ]
}

# An ssh client ($T/ssh, over SSH) failing the uploads of BlockTraffic's
# answer (as a connection that drops would): the first N of them (N in
# $T/fail-puts), or all of them ("all").
ssh_failing_answers() { # SSH
	cat >"$T/ssh" <<SH
#!/bin/bash
for a; do
	case \$a in
	*traffic-BlockTraffic*)
		n=\$(cat "$T/fail-puts")
		if [ "\$n" = all ] || [ "\$n" -gt 0 ]; then
			[ "\$n" = all ] || echo \$((n - 1)) >"$T/fail-puts"
			echo "client_loop: send disconnect: Broken pipe" >&2
			exit 255
		fi
		;;
	esac
done
exec $1 "\$@"
SH
	chmod +x "$T/ssh"
}

@test "hosts over ssh behind HAProxy: BlockTraffic's answer that cannot reach the host fails the host at once, naming the load balancer step, rather than leaving its agent waiting" {
	fleet_up 1
	local ports
	ports=($(free_ports 1))
	mkdir -p "$T/h1"
	cat >"$GF" <<YML
application: app
deployment-group: lbssh
load-balancer:
  kind: haproxy
  managed: {listen: 127.0.0.1:${ports[0]}}
  port: 8000
  health: {path: /, interval: 100ms, wait: 300ms}
  deregistration-delay: 1s
hosts:
  - {name: h1, ssh: h1, root: $T/h1, target: ${FLEET_ADDR[1]}:8000}
YML
	mkdir -p "$T/r/app"
	echo v1 >"$T/r/app/VERSION"
	cat >"$T/r/appspec.yml" <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /opt/app
YML
	export SLIPWAY_REMOTE_BIN=$SW_BIN
	ssh_failing_answers "$SLIPWAY_SSH"
	local ssh=$SLIPWAY_SSH t0
	export SLIPWAY_SSH=$T/ssh
	echo 1 >"$T/fail-puts"
	# the first upload fails, the second says so: the event fails with it
	t0=$SECONDS
	run timeout 60 "$SLIPWAY" deploy "$T/r" --group "$GF" \
		--state-dir "$STATE" --report "$REPORT"
	echo "$output"
	[ "$status" -eq 1 ]
	[ $((SECONDS - t0)) -lt 20 ]
	[[ "$output" == *"BlockTraffic: "*"the load balancer's answer did not reach the host: host h1: cannot write "*"traffic-BlockTraffic over ssh"* ]]
	[ "$(cat "$T/fail-puts")" = 0 ]
	# no upload gets through: the host's agent is stopped, the host failed
	echo all >"$T/fail-puts"
	t0=$SECONDS
	run timeout 60 "$SLIPWAY" deploy "$T/r" --group "$GF" \
		--state-dir "$STATE" --report "$REPORT"
	echo "$output"
	[ "$status" -eq 1 ]
	[ $((SECONDS - t0)) -lt 20 ]
	[[ "$output" == *"h1 | [slipway] BlockTraffic: the load balancer's answer did not reach the host (host h1: cannot write "*"over ssh): its agent is stopped"* ]]
	[ "$(rj '.instances[0].status')" = Failed ]
	rj '.instances[0].message' | grep -q "^BlockTraffic: the load balancer's answer"
	# its agent saw the connection go (not after its wait): the host is
	# free, and a deployment over a working connection drains it again
	local i
	for ((i = 0; i < 100; i++)); do
		pgrep -f -- "--deployment-root $T/h1/" >/dev/null || break
		sleep 0.05
	done
	! pgrep -f -- "--deployment-root $T/h1/" >/dev/null || false
	export SLIPWAY_SSH=$ssh
	run timeout 60 "$SLIPWAY" deploy "$T/r" --group "$GF" \
		--state-dir "$STATE" --report "$REPORT"
	echo "$output"
	[[ "$output" == *"h1 | BlockTraffic Succeeded"* ]]
	# (nothing serves on the host: AllowTraffic fails its health check)
	[[ "$output" == *"h1 did not pass the load balancer's health check"* ]]
}
