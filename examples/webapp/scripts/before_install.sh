#!/bin/bash
# BeforeInstall: the directories the server needs besides the installed
# files (configuration, pid file, log), and a check that the port is free.
set -eu
. "$(dirname "$0")/common.sh"

mkdir -p "$(dirname "$CONF")" "$RUN_DIR" "$(dirname "$LOG_FILE")"
port=$(host_port "$HOST_NAME")
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "port $port is already in use on $HOST_NAME" >&2
	exit 1
fi
echo "$HOST_NAME: directories ready, port $port free"
