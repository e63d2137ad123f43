#!/bin/bash
# ValidateService: a real HTTP request to the host's port (bash's
# /dev/tcp), retried for up to 5 s: /health must say ok and / must name
# the version just installed and this host.
set -u
. "$(dirname "$0")/common.sh"
. "$CONF"

want="webapp $VERSION on $NAME"
for try in $(seq 25); do
	if health=$(http_get "$PORT" /health 2>/dev/null) &&
		[ "$health" = ok ] &&
		body=$(http_get "$PORT" / 2>/dev/null) && [ "$body" = "$want" ]
	then
		echo "$NAME: http://127.0.0.1:$PORT/ answers \"$body\" (try $try)"
		exit 0
	fi
	sleep 0.2
done
echo "$NAME: http://127.0.0.1:$PORT/ does not answer \"$want\"" >&2
echo "last lines of the server's log:" >&2
tail -n 5 "$LOG_FILE" >&2 2>/dev/null
exit 1
