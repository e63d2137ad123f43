# Helpers for the local fleet suite (load after helpers.bash and
# deploy_helpers.bash). The hosts of a group are rehearsal hosts under the
# state directory (<state>/hosts/NAME/root) or `root:` directories under
# $T/roots; a host's name is the last part of its root, "root" dropped.
#
#   group_file CONFIG NAME...   write $GF: application app, group fleet,
#                         the config, the hosts; more YAML (custom
#                         configs, auto-rollback) from stdin when
#                         GF_EXTRA=1
#   hosts N               "h1 h2 ... hN"
#   frev NAME TAG         a revision $T/NAME: app/{index.html,about.html,
#                         TAG.txt} to /var/www/html, scripts/rec.sh on
#                         every hook event
#   fail_on EVENT HOST [TAG]  make that host's EVENT hook fail (only for
#                         revision TAG when given)
#   fdeploy BUNDLE OPT..  slipway deploy --group $GF: status, output,
#                         stderr, DEP (the id), WALL_MS
#   inst_statuses         "h1 Succeeded" lines of $REPORT in host order
#   inst_status HOST      one host's status in $REPORT
#   max_in_flight         the most BeforeInstall hooks at once
#   start_order           hosts by the start of their BeforeInstall hook
#   starts_of HOST..      their BeforeInstall start times (ns), one a line
#   hroot HOST            the host's filesystem root
#
# rec.sh appends "TAG EVENT HOST DEPLOYMENT_ID" to $HOOKLOG for every
# event; for BeforeInstall it also appends "start HOST NS" and
# "end HOST NS" to $TIMES around a sleep of $T/sleep seconds (default
# 0.3). It fails (exit 1) when $T/fail/EVENT/HOST or
# $T/fail/TAG/EVENT/HOST exists.

fleet_setup() {
	GF=$T/group.yml
	TIMES=$T/times.log
	: >"$TIMES"
	mkdir -p "$T/fail"
}

hosts() { # N
	local i out=

	for ((i = 1; i <= $1; i++)); do
		out+="${out:+ }h$i"
	done
	echo "$out"
}

group_file() { # CONFIG NAME...
	local config=$1 h

	shift
	{
		printf 'application: app\ndeployment-group: fleet\n'
		printf 'deployment-config: %s\n' "$config"
		printf 'hosts:\n'
		for h in "$@"; do
			printf '  - name: %s\n' "$h"
			if [ -n "${GF_ROOTS:-}" ]; then
				mkdir -p "$T/roots/$h"
				printf '    root: %s\n' "$T/roots/$h"
			fi
		done
		if [ "${GF_EXTRA:-0}" = 1 ]; then
			cat
		fi
	} >"$GF"
}

hroot() { # HOST
	if [ -d "$T/roots/$1" ]; then
		echo "$T/roots/$1"
	else
		echo "$STATE/hosts/$1/root"
	fi
}

frev() { # NAME TAG
	local d=$T/$1 ev

	mkdir -p "$d/app" "$d/scripts"
	echo "$2 index" >"$d/app/index.html"
	echo "$2 about" >"$d/app/about.html"
	echo "$2" >"$d/app/$2.txt"
	cat >"$d/scripts/rec.sh" <<SH
#!/bin/sh
h=\${SLIPWAY_HOST_ROOT%/root}
h=\${h##*/}
echo "$2 \$LIFECYCLE_EVENT \$h \$DEPLOYMENT_ID" >>"$HOOKLOG"
if [ "\$LIFECYCLE_EVENT" = BeforeInstall ]; then
	s=0.3
	[ -f "$T/sleep" ] && s=\$(cat "$T/sleep")
	echo "start \$h \$(date +%s%N)" >>"$TIMES"
	sleep "\$s"
	echo "end \$h \$(date +%s%N)" >>"$TIMES"
fi
if [ -e "$T/fail/\$LIFECYCLE_EVENT/\$h" ] ||
	[ -e "$T/fail/$2/\$LIFECYCLE_EVENT/\$h" ]; then
	echo "failing on \$h"
	exit 1
fi
exit 0
SH
	chmod 0755 "$d/scripts/rec.sh"
	{
		printf 'version: 0.0\nos: linux\nfiles:\n'
		printf '  - source: app\n    destination: /var/www/html\n'
		printf 'hooks:\n'
		for ev in ApplicationStop BeforeInstall AfterInstall \
			ApplicationStart ValidateService; do
			printf '  %s:\n    - location: scripts/rec.sh\n' "$ev"
		done
	} >"$d/appspec.yml"
}

fail_on() { # EVENT HOST [TAG]
	local d=$T/fail

	[ -z "${3:-}" ] || d=$d/$3
	mkdir -p "$d/$1"
	: >"$d/$1/$2"
}

fdeploy() { # BUNDLE [options]
	local t0

	: >"$REPORT"
	status=0
	t0=$(date +%s%3N)
	"$SLIPWAY" deploy "$@" --group "$GF" --state-dir "$STATE" \
		--report "$REPORT" >"$T/stdout" 2>"$T/stderr" 3>&- || status=$?
	WALL_MS=$(($(date +%s%3N) - t0))
	output=$(<"$T/stdout")
	stderr=$(<"$T/stderr")
	DEP=
	if [[ "$stderr" =~ slipway:\ deployment\ (d-[A-Z0-9]+)\  ]]; then
		DEP=${BASH_REMATCH[1]}
	fi
}

inst_statuses() {
	jq -r '.instances[] | "\(.instanceId) \(.status)"' "$REPORT"
}

inst_status() { # HOST
	jq -r --arg h "$1" '.instances[] | select(.instanceId == $h) |
		.status' "$REPORT"
}

# The statuses of all instances, sorted by name: "h1 Succeeded h2 ...".
statuses_sorted() {
	inst_statuses | sort -V | tr '\n' ' ' | sed 's/ $//'
}

max_in_flight() {
	awk '{ print $3, ($1 == "start" ? 1 : -1) }' "$TIMES" | sort -n -k1,1 |
		awk '{ n += $2; if (n > m) m = n } END { print m + 0 }'
}

start_order() {
	awk '$1 == "start" { print $3, $2 }' "$TIMES" | sort -n |
		awk '{ printf "%s%s", sep, $2; sep = " " } END { print "" }'
}

# Start (or end) times in ns of the BeforeInstall hooks of HOST...
times_of() { # start|end HOST...
	local what=$1 h

	shift
	for h in "$@"; do
		awk -v w="$what" -v h="$h" '$1 == w && $2 == h { print $3 }' \
			"$TIMES"
	done
}

# The least and greatest of numbers on stdin.
min_of() {
	sort -n | head -n 1
}

max_of() {
	sort -n | tail -n 1
}

# The hosts whose hooks ran in deployment DEP for revision TAG, sorted.
hosts_run() { # TAG EVENT DEP
	awk -v t="$1" -v e="$2" -v d="$3" '$1 == t && $2 == e && $4 == d {
		print $3 }' "$HOOKLOG" | sort -V | tr '\n' ' ' | sed 's/ $//'
}
