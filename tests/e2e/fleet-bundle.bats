#!/usr/bin/env bats
# An archive bundle deployed to several local hosts is unpacked once for
# the deployment; each host's archive links its files, the install still
# copies them, and the shared tree goes when the deployment ends.

load helpers
load deploy_helpers
load fleet_local_helpers

eval "deploy_$(declare -f setup)"

setup() {
	deploy_setup
	fleet_setup
}

# The deployment-archive of host $1 for deployment $DEP.
archive_of() {
	find "$STATE/hosts/$1" -type d -name deployment-archive -path "*/$DEP/*"
}

@test "a zip to 3 local hosts is unpacked once and linked into each host's archive" {
	echo 0 >"$T/sleep"
	frev r1 one
	(cd "$T/r1" && zip -qr "$T/r1.zip" .)
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.AllAtOnce $(hosts 3)
	fdeploy "$T/r1.zip"
	[ "$status" -eq 0 ]
	same "$(rj .status)" Succeeded
	a1=$(archive_of h1) a2=$(archive_of h2) a3=$(archive_of h3)
	[ -n "$a1" ] && [ -n "$a2" ] && [ -n "$a3" ]
	# one inode for the three hosts' copies of a file
	same "$(stat -c %i "$a1/app/index.html")" "$(stat -c %i "$a2/app/index.html")"
	same "$(stat -c %i "$a1/app/index.html")" "$(stat -c %i "$a3/app/index.html")"
	same "$(cat "$a2/app/index.html")" "one index"
	[ -x "$a3/scripts/rec.sh" ]
	# the install copies: the host's file is its own
	installed=$(hroot h1)/var/www/html/index.html
	same "$(cat "$installed")" "one index"
	[ "$(stat -c %i "$installed")" != "$(stat -c %i "$a1/app/index.html")" ]
	# the archive is still named, and linked as bundle.tar
	same "$(readlink "$(dirname "$a1")/bundle.tar")" "$T/r1.zip"
	same "$(grep -c "linked the deployment's unpacked bundle: " \
		"$STATE/deployments/$DEP/deployment.log")" 3
	# the shared tree leaves with the deployment (deleted in the background)
	[ ! -e "$STATE/deployments/$DEP/bundle" ]
	# a second deployment to the same hosts: a fresh archive each
	frev r2 two
	(cd "$T/r2" && zip -qr "$T/r2.zip" .)
	fdeploy "$T/r2.zip"
	[ "$status" -eq 0 ]
	same "$(cat "$(hroot h3)/var/www/html/index.html")" "two index"
	same "$(cat "$a1/app/index.html")" "one index"
}

@test "a bundle that does not unpack is still refused by the first host alone" {
	frev r1 one
	rm "$T/r1/appspec.yml"
	(cd "$T/r1" && zip -qr "$T/bad.zip" .)
	# shellcheck disable=SC2046
	group_file CodeDeployDefault.AllAtOnce $(hosts 3)
	fdeploy "$T/bad.zip"
	[ "$status" -eq 3 ]
	[ ! -e "$STATE/deployments/$DEP/bundle" ]
}
