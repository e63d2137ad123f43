#!/bin/bash
# The canary's health check, run by slipway in this directory after the
# bake: every host in $SLIPWAY_DEPLOYED_HOSTS (the hosts the new revision
# reached so far) must answer GET /health with "ok" and GET / with
# "webapp VERSION on NAME", over real HTTP (bash's /dev/tcp). VERSION is
# $WEBAPP_EXPECT_VERSION when set (run.sh sets it). Exit 0 healthy.
set -u
. "$(dirname "$0")/../webapp/scripts/common.sh"

bad=0
for name in ${SLIPWAY_DEPLOYED_HOSTS:-}; do
	port=$(host_port "$name")
	want="webapp ${WEBAPP_EXPECT_VERSION:-*} on $name"
	health=$(http_get "$port" /health) || health="(no answer)"
	body=$(http_get "$port" /) || body="(no answer)"
	# shellcheck disable=SC2053 # $want is a pattern when no version is set
	if [ "$health" = ok ] && [[ $body == $want ]]; then
		echo "$name: healthy: $body"
	else
		echo "$name: UNHEALTHY: /health $health, / $body (want $want)"
		bad=1
	fi
done
exit $bad
