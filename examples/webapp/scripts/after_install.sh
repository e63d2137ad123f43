#!/bin/bash
# AfterInstall: make the binary executable and write the host's
# configuration: its name, its port (config/default.env, then
# config/NAME.env, may override it) and the version installed.
set -eu
. "$(dirname "$0")/common.sh"

chmod 0755 "$APP_DIR/bin/webapp"
PORT=$(host_port "$HOST_NAME")
LISTEN=127.0.0.1
if own_network; then
	LISTEN=0.0.0.0 # its own address, reached from this machine
fi
for f in "$APP_DIR/config/default.env" "$APP_DIR/config/$HOST_NAME.env"; do
	if [ -f "$f" ]; then
		. "$f"
	fi
done
{
	echo "NAME=$HOST_NAME"
	echo "PORT=$PORT"
	echo "LISTEN=$LISTEN"
	echo "VERSION=$(cat "$APP_DIR/VERSION")"
} >"$CONF"
chmod 0644 "$CONF"
echo "$HOST_NAME: configured: $(tr '\n' ' ' <"$CONF")"
