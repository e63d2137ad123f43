#!/bin/bash
# Ask every host of a group file for GET / over HTTP (bash's /dev/tcp)
# and print what it answers; with VERSION, fail unless every host serves
# that version.
#
#   examples/webapp/check.sh GROUP_FILE [VERSION]
#
# Ports as the hooks compute them (scripts/common.sh): WEBAPP_PORT_BASE
# (default 28080) plus the number each host's name ends with.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/scripts/common.sh"

group=${1:?usage: check.sh GROUP_FILE [VERSION]}
want=${2:-}
bad=0
for name in $(sed -n 's/^ *- name: *\([A-Za-z0-9._-]*\).*/\1/p' "$group"); do
	port=$(host_port "$name")
	if body=$(http_get "$port" /); then
		echo "$name  http://127.0.0.1:$port/  $body"
		if [ -n "$want" ] && [ "$body" != "webapp $want on $name" ]; then
			echo "$name: expected version $want" >&2
			bad=1
		fi
	else
		echo "$name  http://127.0.0.1:$port/  (no answer)"
		bad=1
	fi
done
exit $bad
