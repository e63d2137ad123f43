#!/bin/bash
# ApplicationStop: stop the running server through its pid file (SIGTERM,
# then SIGKILL after 5 s). Not running is fine: a first deployment, or a
# server that already died.
set -u
. "$(dirname "$0")/common.sh"

if [ ! -f "$PID_FILE" ]; then
	echo "webapp is not running on $HOST_NAME (no pid file)"
	exit 0
fi
pid=$(cat "$PID_FILE")
if ! alive "$pid"; then
	echo "webapp is not running on $HOST_NAME (stale pid $pid)"
	rm -f "$PID_FILE"
	exit 0
fi
echo "stopping webapp on $HOST_NAME (pid $pid)"
kill -TERM "$pid"
for _ in $(seq 50); do
	alive "$pid" || break
	sleep 0.1
done
if alive "$pid"; then
	echo "webapp did not stop within 5 s: SIGKILL"
	kill -KILL "$pid" 2>/dev/null
fi
rm -f "$PID_FILE"
echo "webapp stopped on $HOST_NAME"
