# Sourced by every hook script: where this host's files are, its name and
# its port.
#
# A rehearsal host's "/" is a directory (<state>/hosts/NAME/root), so an
# appspec destination /opt/webapp is really $SLIPWAY_HOST_ROOT/opt/webapp:
# every path below is under $ROOT. On a real host (--root /, or over ssh
# without a root) SLIPWAY_HOST_ROOT is / and the paths are the usual ones.
#
# The host's name: the directory holding a rehearsal root
# (<state>/hosts/web-3/root -> web-3), the root's own name for a `root:`
# directory (/srv/rehearsal/web-3 -> web-3), else hostname.
#
# The port: WEBAPP_PORT_BASE (default 28080) plus the number the name
# ends with (web-1 -> 28081, web-4 -> 28084; a name without a number
# gets the base itself). PORT=... in config/NAME.env overrides it.

ROOT=${SLIPWAY_HOST_ROOT:-/}
ROOT=${ROOT%/}

if [ -z "$ROOT" ]; then
	HOST_NAME=$(hostname)
else
	HOST_NAME=$(basename "$ROOT")
	if [ "$HOST_NAME" = root ]; then
		HOST_NAME=$(basename "$(dirname "$ROOT")")
	fi
fi

APP_DIR=$ROOT/opt/webapp
CONF=$ROOT/etc/webapp/webapp.conf
RUN_DIR=$ROOT/var/run/webapp
PID_FILE=$RUN_DIR/webapp.pid
LOG_FILE=$ROOT/var/log/webapp/webapp.log

# True on a sandboxed host with a network of its own (slipway deploy
# --isolation sandbox --host-network private): eth0 has an address on
# slipway's bridge, and the host serves port 80 of it, as a real one would.
own_network() {
	[ -z "$ROOT" ] && [ -e /sys/class/net/eth0 ] &&
		ip -4 -o addr show dev eth0 2>/dev/null | grep -q ' 10\.213\.'
}

host_port() { # NAME: WEBAPP_PORT_BASE plus the number NAME ends with
	local n

	if own_network; then
		echo 80
		return
	fi
	n=$(printf '%s\n' "$1" | sed -n 's/.*[^0-9]\([0-9][0-9]*\)$/\1/p')
	echo $((${WEBAPP_PORT_BASE:-28080} + 10#${n:-0}))
}

# The body of GET PATH on 127.0.0.1:PORT, through bash's /dev/tcp (no
# curl needed); fails when nothing answers or the status is not 200.
http_get() { # PORT PATH
	local status body

	{ exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
	printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$2" >&3
	IFS= read -r status <&3 || {
		exec 3<&-
		return 1
	}
	body=$(sed '1,/^\r*$/d' <&3)
	exec 3<&-
	case $status in
	"HTTP/1."?" 200 "*) printf '%s\n' "$body" ;;
	*) return 1 ;;
	esac
}

# True while process PID runs. A zombie does not count: a server started
# by a hook is reparented to init, and until init reaps it `kill -0` still
# succeeds on it.
alive() { # PID
	local state

	if [ -r "/proc/$1/status" ]; then
		state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' \
			"/proc/$1/status" 2>/dev/null)
		[ -n "$state" ] && [ "$state" != Z ]
	else
		kill -0 "$1" 2>/dev/null
	fi
}

# A port base for a fleet of up to 9 hosts: the first of START,
# START+100, ... (below 32000) such that nothing listens on base+1 to
# base+9. For the run scripts, so that a second fleet does not collide
# with one already serving.
free_port_base() { # START
	local base=$1 i

	while [ "$base" -lt 32000 ]; do
		for i in 1 2 3 4 5 6 7 8 9; do
			if (exec 3<>"/dev/tcp/127.0.0.1/$((base + i))") \
				2>/dev/null; then
				base=$((base + 100))
				continue 2
			fi
		done
		echo "$base"
		return 0
	done
	return 1
}
