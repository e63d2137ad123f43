#!/bin/bash
# ApplicationStart: start the server in the background, detached from the
# hook (stdin, stdout and stderr redirected, so that the hook ends at
# once). The server writes its pid file once it listens; ValidateService
# checks that it answers.
set -eu
. "$(dirname "$0")/common.sh"
. "$CONF"

rm -f "$PID_FILE"
nohup "$APP_DIR/bin/webapp" -p "$PORT" -n "$NAME" -V "$VERSION" \
	-a "${LISTEN:-127.0.0.1}" -P "$PID_FILE" >>"$LOG_FILE" 2>&1 </dev/null &
echo "$NAME: started webapp $VERSION on port $PORT (pid $!)"
