# Helpers for the load balancer suite (load after helpers.bash): a managed
# HAProxy in front of rehearsal hosts whose hooks run lb_app.py.
#
#   lb_setup              skip without HAProxy; ports, $GF, $HOOKLOG
#   lb_group CONFIG NAME..  write $GF: the hosts behind a managed HAProxy
#                         on 127.0.0.1:$LB_PORT (health every 200 ms);
#                         more YAML from stdin when GF_EXTRA=1
#   lb_rev NAME VERSION   a revision $T/NAME serving VERSION
#   lb_deploy BUNDLE OPT..  slipway deploy --group $GF (bats `run`)
#   lb_sock               the managed HAProxy's admin socket
#   lb_state HOST         its server's status as HAProxy shows it
#
# The hooks append "EVENT HOST [STATUS]" lines to $HOOKLOG: ApplicationStop
# records the host's server status in HAProxy when it runs. A host whose
# file $T/nostart/HOST exists starts nothing (never healthy); one with
# $T/badvalidate/VERSION/HOST fails ValidateService for that version.

lb_setup() {
	if [ ! -x /usr/sbin/haproxy ]; then
		skip "HAProxy is not installed (/usr/sbin/haproxy missing: apt-get install haproxy)"
	fi
	GF=$T/group.yml
	HOOKLOG=$T/hooks.log
	: >"$HOOKLOG"
	mkdir -p "$T/nostart" "$T/badvalidate"
	export LBT_T=$T LBT_HOOKLOG=$HOOKLOG LBT_DIR=$BATS_TEST_DIRNAME
	export LBT_PORTS=$T/ports
	: >"$LBT_PORTS"
}

# N free loopback ports, one a line.
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
ss = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    ss.append(s)
for s in ss:
    print(s.getsockname()[1])
PY
}

lb_group() { # CONFIG NAME...
	local config=$1 h i=0 ports
	shift
	ports=($(free_ports $(($# + 1))))
	LB_PORT=${ports[0]}
	{
		echo "application: app"
		echo "deployment-group: lbfleet"
		echo "deployment-config: $config"
		echo "load-balancer:"
		echo "  kind: haproxy"
		echo "  managed: {listen: 127.0.0.1:$LB_PORT}"
		echo "  health: {path: /health, interval: 200ms, wait: ${LB_WAIT:-3s}}"
		echo "  deregistration-delay: ${LB_DEREG:-5s}"
		if [ "${GF_EXTRA:-}" = 1 ]; then
			cat
		fi
		echo "hosts:"
		for h in "$@"; do
			i=$((i + 1))
			echo "  - name: $h"
			echo "    target: 127.0.0.1:${ports[$i]}"
			echo "$h ${ports[$i]}" >>"$LBT_PORTS"
		done
	} >"$GF"
}

lb_rev() { # NAME VERSION
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
    - location: hook.sh
  ApplicationStart:
    - location: hook.sh
  ValidateService:
    - location: hook.sh
  BeforeBlockTraffic:
    - location: hook.sh
  AfterAllowTraffic:
    - location: hook.sh
YML
	cat >"$d/hook.sh" <<'SH'
#!/bin/bash
set -eu
R=${SLIPWAY_HOST_ROOT%/}
H=$(basename "$(dirname "$R")")
P=$(awk -v h="$H" '$1 == h { print $2 }' "$LBT_PORTS")
ev=$LIFECYCLE_EVENT
case $ev in
ApplicationStop)
	sock=$(ls "$LBT_T"/state/lb/*/admin.sock "$LBT_T"/hx/admin.sock \
		2>/dev/null | head -n 1)
	backend=slipway
	case $sock in */hx/*) backend=web ;; esac
	st=$(python3 "$LBT_DIR/lb_admin.py" "$sock" state "$backend" "$H" ||
		echo none)
	echo "$ev $H $st" >>"$LBT_HOOKLOG"
	if [ -s "$R/app.pid" ]; then
		pid=$(cat "$R/app.pid")
		kill "$pid" 2>/dev/null || true
		# gone, or a zombie not yet reaped
		for _ in $(seq 500); do
			grep -q '^State:[[:space:]]*[^Z[:space:]]' "/proc/$pid/status" \
				2>/dev/null || break
			sleep 0.01
		done
	fi
	rm -f "$R/app.pid"
	;;
ApplicationStart)
	echo "$ev $H" >>"$LBT_HOOKLOG"
	[ -e "$LBT_T/nostart/$H" ] && exit 0
	setsid python3 "$LBT_DIR/lb_app.py" "$P" "$R/opt/app/VERSION" \
		"$R/app.pid" </dev/null >/dev/null 2>&1 &
	for _ in $(seq 500); do
		[ -s "$R/app.pid" ] && exit 0
		sleep 0.01
	done
	echo "server did not start" >&2
	exit 1
	;;
ValidateService)
	v=$(cat "$R/opt/app/VERSION")
	echo "$ev $H $v" >>"$LBT_HOOKLOG"
	if [ -e "$LBT_T/badvalidate/$v/$H" ]; then
		echo "validation failed on $H" >&2
		exit 1
	fi
	;;
*)
	echo "$ev $H" >>"$LBT_HOOKLOG"
	;;
esac
SH
	chmod +x "$d/hook.sh"
}

lb_deploy() { # BUNDLE OPTION...
	local b=$1
	shift
	rm -f "$REPORT"
	run "$SLIPWAY" deploy "$b" --group "$GF" --state-dir "$STATE" \
		--report "$REPORT" "$@"
}

lb_sock() {
	ls "$STATE"/lb/*/admin.sock | head -n 1
}

lb_state() { # HOST
	python3 "$BATS_TEST_DIRNAME/lb_admin.py" "$(lb_sock)" state slipway "$1"
}

# Kill by pid what a test started: the HAProxy and the servers (only a
# process that is one of them: a stale pid file kills nothing else).
lb_teardown() {
	local f pid
	for f in "$STATE"/lb/*/haproxy.pid "$STATE"/hosts/*/root/app.pid \
		"$T"/hx/pid; do
		[ -s "$f" ] || continue
		pid=$(cut -d' ' -f1 "$f")
		case $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) in
		*haproxy* | *lb_app.py*)
			kill -KILL "$pid" 2>/dev/null || true
			;;
		esac
	done
}

same() { # GOT WANT
	[ "$1" = "$2" ] && return 0
	printf -- '--- got:\n%s\n--- want:\n%s\n' "$1" "$2" >&2
	return 1
}

# True while PID runs (a zombie does not count).
running() { # PID
	grep -q '^State:[[:space:]]*[^Z[:space:]]' "/proc/$1/status" 2>/dev/null
}

# A blue/green group: ORIGINAL... are hosts, REPLACEMENT... the
# replacement hosts; TYPE IN_PLACE writes the same file deploying the
# originals in place. Extra YAML for blue-green from BG_EXTRA.
lb_bg_group() { # TYPE CONFIG "ORIGINAL..." "REPLACEMENT..."
	local type=$1 config=$2 h i=0 ports n
	read -r -a orig <<<"$3"
	read -r -a repl <<<"$4"
	n=$((${#orig[@]} + ${#repl[@]} + 1))
	if [ ! -s "$T/bg-ports" ]; then
		free_ports "$n" >"$T/bg-ports"
	fi
	ports=($(cat "$T/bg-ports"))
	LB_PORT=${ports[0]}
	: >"$LBT_PORTS"
	{
		echo "application: app"
		echo "deployment-group: lbfleet"
		echo "deployment-config: $config"
		echo "auto-rollback: true"
		echo "deployment-type: $type"
		echo "load-balancer:"
		echo "  kind: haproxy"
		echo "  managed: {listen: 127.0.0.1:$LB_PORT}"
		echo "  health: {path: /health, interval: 200ms, wait: 3s}"
		echo "  deregistration-delay: 5s"
		echo "hosts:"
		for h in "${orig[@]}"; do
			i=$((i + 1))
			echo "  - {name: $h, target: 127.0.0.1:${ports[$i]}}"
			echo "$h ${ports[$i]}" >>"$LBT_PORTS"
		done
		echo "blue-green:"
		echo "  replacement-hosts:"
		for h in "${repl[@]}"; do
			i=$((i + 1))
			echo "    - {name: $h, target: 127.0.0.1:${ports[$i]}}"
			echo "$h ${ports[$i]}" >>"$LBT_PORTS"
		done
		echo "${BG_EXTRA:-}"
	} >"$GF"
}
