#!/bin/bash
# Stop every webapp server the rehearsal hosts of a state directory run,
# by their pid files (<state>/hosts/NAME/root/var/run/webapp/webapp.pid):
# SIGTERM, then SIGKILL after 5 s. Only a process that is the webapp
# binary is signalled, so a stale pid file never kills anything else.
#
#   examples/webapp/stop-servers.sh STATE_DIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/scripts/common.sh"
state=${1:?usage: stop-servers.sh STATE_DIR}

for pidfile in "$state"/hosts/*/root/var/run/webapp/webapp.pid; do
	[ -f "$pidfile" ] || continue
	pid=$(cat "$pidfile" 2>/dev/null) || continue
	host=${pidfile#"$state"/hosts/}
	host=${host%%/*}
	case $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) in
	*/opt/webapp/bin/webapp" "*) ;;
	*)
		rm -f "$pidfile"
		continue
		;;
	esac
	alive "$pid" || continue
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 50); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$pidfile"
	echo "stopped webapp on $host (pid $pid)"
done
exit 0
