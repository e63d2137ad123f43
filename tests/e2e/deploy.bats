#!/usr/bin/env bats
# slipway deploy: the experiments run against the CodeDeploy agent
# (codedeploy.md section 6) replayed on a host rooted in a directory, plus
# the options, the logs, the report and the exit statuses.

load helpers
load deploy_helpers

ARCH() { echo "$DR/$DG/$1/deployment-archive"; }

# ---- 01 ------------------------------------------------------------------

@test "01: a first deployment runs the hooks in order with the agent's environment and installs the files" {
	rev r1 r1
	env_script "$T/r1/scripts/env.sh" r1
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
permissions:
  - object: /var/www/html
    pattern: "*.html"
    mode: 640
    type:
      - file
hooks:
  BeforeBlockTraffic:
    - location: scripts/hook.sh
  AfterBlockTraffic:
    - location: scripts/hook.sh
  ApplicationStop:
    - location: scripts/hook.sh
  BeforeInstall:
    - location: scripts/env.sh
  AfterInstall:
    - location: scripts/hook.sh
    - location: scripts/hook2.sh
  ApplicationStart:
    - location: scripts/hook.sh
  ValidateService:
    - location: scripts/hook.sh
  BeforeAllowTraffic:
    - location: scripts/hook.sh
  AfterAllowTraffic:
    - location: scripts/hook.sh
YML
	sw_deploy "$T/r1" --traffic
	[ "$status" -eq 0 ]
	[[ "$DEP" =~ ^d-[A-Z0-9]{9}$ ]]

	# Block and Stop hooks are no-ops: there is no last successful revision
	hooks_are "r1 BeforeInstall env.sh
r1 AfterInstall hook.sh
r1 AfterInstall hook2.sh
r1 ApplicationStart hook.sh
r1 ValidateService hook.sh
r1 BeforeAllowTraffic hook.sh
r1 AfterAllowTraffic hook.sh"
	same "$PRINTED" "BeforeBlockTraffic Succeeded
BlockTraffic Succeeded
AfterBlockTraffic Succeeded
ApplicationStop Succeeded
DownloadBundle Succeeded
BeforeInstall Succeeded
Install Succeeded
AfterInstall Succeeded
ApplicationStart Succeeded
ValidateService Succeeded
BeforeAllowTraffic Succeeded
AllowTraffic Succeeded
AfterAllowTraffic Succeeded"
	[[ "$output" == *"local | [stdout]hook r1 AfterInstall hook2.sh"* ]]

	# the five variables of the agent, the host root, cwd, stdin
	file_is "$HOOKLOG.BeforeInstall" "LIFECYCLE_EVENT=BeforeInstall
DEPLOYMENT_ID=$DEP
APPLICATION_NAME=$T/r1
DEPLOYMENT_GROUP_NAME=LocalFleet
DEPLOYMENT_GROUP_ID=default-local-deployment-group
SLIPWAY_HOST_ROOT=$HOST
PWD=$(cd "$(ARCH "$DEP")" && pwd -P)
STDIN=/dev/null
BUNDLE_VARS=0"

	# the installed tree; chmod 640 applied to *.html only
	file_is "$HOST/var/www/html/index.html" "r1 index"
	file_is "$HOST/var/www/html/about.html" "r1 about"
	file_is "$HOST/var/www/html/css/site.css" "r1 css"
	same "$(mode "$HOST/var/www/html/index.html")" 640
	same "$(mode "$HOST/var/www/html/about.html")" 640
	same "$(mode "$HOST/var/www/html/css/site.css")" 644

	# the cleanup file: host paths, missing ancestors first, in order
	cleanup_is "/var
/var/www
/var/www/html
/var/www/html/about.html
/var/www/html/css
/var/www/html/css/site.css
/var/www/html/index.html"

	# pointer files: the deployment's directory, no trailing newline
	ptr_is last "$DR/$DG/$DEP"
	ptr_is recent "$DR/$DG/$DEP"
	[ "$(tail -c 1 "$INSTR/${DG}_last_successful_install" | od -An -tx1 |
		tr -d ' ')" != 0a ]
	[ "$(tail -c 1 "$INSTR/${DG}_most_recent_install" | od -An -tx1 |
		tr -d ' ')" != 0a ]

	# install.json: the chmods hit the two pages
	same "$(jq -r '[.instructions[] | select(.type == "chmod") | .file] |
		sort | join(" ")' "$INSTR/$DG-install.json")" \
		"/var/www/html/about.html /var/www/html/index.html"
	same "$(jq -r '[.instructions[] | select(.type == "copy") |
		.destination] | sort | join(" ")' "$INSTR/$DG-install.json")" \
		"/var/www/html/about.html /var/www/html/css/site.css /var/www/html/index.html"

	# layout and scripts.log
	[ -f "$(ARCH "$DEP")/appspec.yml" ]
	[ ! -e "$DR/$DG/$DEP/bundle.tar" ] # a directory bundle is copied
	local log=$DR/$DG/$DEP/logs/scripts.log
	run grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} (LifecycleEvent - |Script - |\[stdout\]|\[stderr\])' "$log"
	same "$output" 0
	same "$(sed -n 's/^.\{20\}LifecycleEvent - //p' "$log")" "BeforeInstall
AfterInstall
ApplicationStart
ValidateService
BeforeAllowTraffic
AfterAllowTraffic"
	same "$(sed -n 's/^.\{20\}Script - //p' "$log" | head -n 3)" \
		"scripts/env.sh
scripts/hook.sh
scripts/hook2.sh"
	[ -f "$DR/deployment-logs/codedeploy-agent-deployments.log" ]
}

# ---- 02-05: a file already at a destination ------------------------------

# r1 deployed, then a stray file beside its files; r2 carries the same name.
stray_setup() {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  ApplicationStop:
    - location: scripts/hook.sh
  BeforeInstall:
    - location: scripts/hook.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	D1=$DEP
	echo stray >"$HOST/var/www/html/stray.html"
	rev r2 r2
	echo "r2 stray" >"$T/r2/app/stray.html"
	std_appspec r2 BeforeInstall AfterInstall
}

@test "02: a stray file with DISALLOW fails Install after the previous install was removed" {
	stray_setup
	sw_deploy "$T/r2"
	[ "$status" -eq 1 ]
	D2=$DEP
	# ApplicationStop ran the previous revision's script
	hooks_are "r1 BeforeInstall hook.sh
r1 ApplicationStop hook.sh
r2 BeforeInstall hook.sh"
	ev_is Install Failed
	same "$(ev_diag Install message)" \
		"The deployment failed because a specified file already exists at this location: /var/www/html/stray.html"
	ev_is AfterInstall Skipped
	ev_is ApplicationStart Skipped
	# previous files removed, the stray one left alone
	same "$(cd "$HOST" && find var | sort)" "var
var/www
var/www/html
var/www/html/stray.html"
	file_is "$HOST/var/www/html/stray.html" stray
	[ ! -e "$INSTR/$DG-cleanup" ]
	ptr_is last "$DR/$DG/$D1"
	ptr_is recent "$DR/$DG/$D2"
	# the old revision's hook logs in the current deployment's scripts.log
	grep -q 'LifecycleEvent - ApplicationStop$' "$DR/$DG/$D2/logs/scripts.log"
	grep -q '\[stdout\]hook r1 ApplicationStop hook.sh$' \
		"$DR/$DG/$D2/logs/scripts.log"
	run grep -c ApplicationStop "$DR/$DG/$D1/logs/scripts.log"
	same "$output" 0
	# install.json is still the previous install's
	run jq -r '.instructions[] | select(.type == "copy") | .destination' \
		"$INSTR/$DG-install.json"
	[[ "$output" == *"/var/www/html/index.html"* ]]
	[[ "$output" != *stray* ]]
}

@test "03: a stray file with OVERWRITE is replaced and listed in cleanup; the next install removes it" {
	stray_setup
	sw_deploy "$T/r2" --file-exists-behavior OVERWRITE
	[ "$status" -eq 0 ]
	file_is "$HOST/var/www/html/stray.html" "r2 stray"
	file_is "$HOST/var/www/html/index.html" "r2 index"
	# the pre-existing /var/www/html is not listed, the overwritten file is
	cleanup_is "/var/www/html/about.html
/var/www/html/css
/var/www/html/css/site.css
/var/www/html/index.html
/var/www/html/stray.html"
	# r1 again: stray.html was CodeDeploy's now, so it goes
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	[ ! -e "$HOST/var/www/html/stray.html" ]
	file_is "$HOST/var/www/html/index.html" "r1 index"
}

@test "04: a stray file with RETAIN is kept and not listed in cleanup" {
	stray_setup
	sw_deploy "$T/r2" --file-exists-behavior RETAIN
	[ "$status" -eq 0 ]
	file_is "$HOST/var/www/html/stray.html" stray
	file_is "$HOST/var/www/html/index.html" "r2 index"
	cleanup_is "/var/www/html/about.html
/var/www/html/css
/var/www/html/css/site.css
/var/www/html/index.html"
	# still not CodeDeploy's: the next install keeps it
	sw_deploy "$T/r1" --file-exists-behavior RETAIN
	[ "$status" -eq 0 ]
	file_is "$HOST/var/www/html/stray.html" stray
}

@test "05: the appspec's file_exists_behavior wins over the option; codedeploy-local's default names" {
	rev r1 r1
	env_script "$T/r1/scripts/env.sh" r1
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
file_exists_behavior: OVERWRITE
hooks:
  BeforeInstall:
    - location: scripts/env.sh
YML
	mkdir -p "$HOST/var/www/html"
	echo foreign >"$HOST/var/www/html/index.html"
	cd "$T"
	sw_deploy r1 --file-exists-behavior DISALLOW
	[ "$status" -eq 0 ]
	file_is "$HOST/var/www/html/index.html" "r1 index"
	cleanup_is "/var/www/html/about.html
/var/www/html/css
/var/www/html/css/site.css
/var/www/html/index.html"
	# APPLICATION_NAME is the bundle as given
	grep -qx 'APPLICATION_NAME=r1' "$HOOKLOG.BeforeInstall"
	grep -qx 'DEPLOYMENT_GROUP_NAME=LocalFleet' "$HOOKLOG.BeforeInstall"
	grep -qx 'DEPLOYMENT_GROUP_ID=default-local-deployment-group' \
		"$HOOKLOG.BeforeInstall"
	same "$(jq -r .applicationName "$REPORT")" r1
}

# ---- 06: a failing script ------------------------------------------------

@test "06: a failing AfterInstall script skips the rest, yet the deployment is the last successful install" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  ApplicationStop:
    - location: scripts/hook.sh
  BeforeInstall:
    - location: scripts/hook.sh
  AfterInstall:
    - location: scripts/fail.sh
    - location: scripts/hook2.sh
  ApplicationStart:
    - location: scripts/hook.sh
  ValidateService:
    - location: scripts/hook.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 1 ]
	D1=$DEP
	hooks_are "r1 BeforeInstall hook.sh
r1 AfterInstall fail.sh"
	same "$PRINTED" "ApplicationStop Succeeded
DownloadBundle Succeeded
BeforeInstall Succeeded
Install Succeeded
AfterInstall Failed
ApplicationStart Skipped
ValidateService Skipped"
	same "$(ev_diag AfterInstall errorCode)" ScriptFailed
	same "$(ev_diag AfterInstall scriptName)" scripts/fail.sh
	same "$(ev_diag AfterInstall message)" \
		"Script at specified location: scripts/fail.sh failed with exit code 3"
	[[ "$(ev_diag AfterInstall logTail)" == *"[stdout]hook r1 AfterInstall fail.sh"* ]]
	file_is "$HOST/var/www/html/index.html" "r1 index"
	# _last_successful_install is written at the end of Install
	ptr_is last "$DR/$DG/$D1"
	[[ "$stderr" == *"AfterInstall failed: Script at specified location: scripts/fail.sh failed with exit code 3"* ]]

	# so the next deployment's ApplicationStop runs the failed one's script
	rev r2 r2
	std_appspec r2 BeforeInstall
	sw_deploy "$T/r2"
	[ "$status" -eq 0 ]
	same "$(tail -n 2 "$HOOKLOG")" "r1 ApplicationStop hook.sh
r2 BeforeInstall hook.sh"
	file_is "$HOST/var/www/html/index.html" "r2 index"
}

# ---- 08, 09: timeouts, missing scripts ----------------------------------

@test "08: a non-executable script is made executable and run; a timeout kills its process group" {
	rev r1 r1
	cat >"$T/r1/scripts/slow.sh" <<SCRIPT
#!/bin/bash
echo "r1 \$LIFECYCLE_EVENT slow.sh" >>"\$HOOKLOG"
(exec -a "sleep 1000.$MARK" sleep 1000) &
echo started
exec -a "sleep 1000.$MARK.fg" sleep 1000
SCRIPT
	chmod 0644 "$T/r1/scripts/slow.sh"
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  BeforeInstall:
    - location: scripts/slow.sh
      timeout: 2
YML
	local t0 t1
	t0=$(now_ms)
	sw_deploy "$T/r1" 3>&-
	t1=$(now_ms)
	[ "$status" -eq 1 ]
	hooks_are "r1 BeforeInstall slow.sh"
	same "$(mode "$(ARCH "$DEP")/scripts/slow.sh")" 755
	ev_is BeforeInstall Failed
	same "$(ev_diag BeforeInstall errorCode)" ScriptTimedOut
	same "$(ev_diag BeforeInstall message)" \
		"Script at specified location: scripts/slow.sh failed to complete in 2 seconds"
	ev_is Install Skipped
	[ $((t1 - t0)) -ge 2000 ]
	[ $((t1 - t0)) -lt 6000 ]
	# the whole group went, the background child too
	local i
	for i in $(seq 20); do
		no_survivors && break
		sleep 0.1
	done
	no_survivors
	[ ! -e "$HOST/var" ]
}

@test "08: the script made executable is named in a warning" {
	rev r1 r1
	chmod 0644 "$T/r1/scripts/hook.sh"
	std_appspec r1 BeforeInstall
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	hooks_are "r1 BeforeInstall hook.sh"
	# script.h: "not executable is made executable (a+x) with a warning"
	{
		echo "$output"
		cat "$DR/$DG/$DEP/logs/scripts.log"
	} | grep -q 'scripts/hook.sh is not executable'
}

@test "09: a missing script stops the deployment before any host; the agent itself fails it with ScriptMissing" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  BeforeInstall:
    - location: scripts/nope.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"$T/r1/appspec.yml:8:7: BeforeInstall script 'scripts/nope.sh' does not exist in the bundle"* ]]
	deployment_is Failed
	same "$RCODE" INVALID_REVISION
	same "$(jq -r '.instances[0].status' "$REPORT")" Skipped
	[ ! -e "$HOST/var" ]
	[ ! -e "$DR" ]
	# the on-host half, given the bundle anyway, fails the event as the
	# CodeDeploy agent does
	run "$SLIPWAY" agent deploy --deployment-root "$DR" --host-root "$HOST" \
		--deployment-id d-MISSING01 --deployment-group-id "$DG" \
		--application app --deployment-group G -- "$T/r1"
	[ "$status" -eq 1 ]
	same "$(jq -r 'select(.type == "event" and .event == "BeforeInstall"
		and .status != "InProgress") | .status' <<<"$output")" Failed
	[[ "$output" == *"Script does not exist at specified location: $DR/$DG/d-MISSING01/deployment-archive/scripts/nope.sh"* ]]
	[ ! -e "$HOST/var" ]
	[ ! -e "$INSTR/${DG}_last_successful_install" ]
}

# ---- 10: runas ------------------------------------------------------------

who_rev() { # USER
	rev r1 r1
	cat >"$T/r1/scripts/who.sh" <<'SCRIPT'
#!/bin/sh
echo "user=$(id -un) home=$HOME event=$LIFECYCLE_EVENT dep=$DEPLOYMENT_ID group=$DEPLOYMENT_GROUP_NAME pwd=$(pwd)"
SCRIPT
	chmod 0755 "$T/r1/scripts/who.sh"
	appspec r1 <<YML
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/who.sh
      runas: $1
YML
}

@test "10: runas runs the script as that user, environment kept, HOME switched, cwd unchanged" {
	[ "$(id -u)" -eq 0 ] || skip "runas needs root"
	command -v su >/dev/null || skip "no su"
	local u=swra$MARK
	u=${u:0:30}
	useradd -M -d "/home/$u" -s /bin/sh "$u" 2>/dev/null ||
		skip "cannot create a user"
	RUNAS_USER=$u
	open_up
	who_rev "$u"
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	[[ "$output" == *"local | [stdout]user=$u home=/home/$u event=BeforeInstall dep=$DEP group=LocalFleet pwd=$(ARCH "$DEP")"* ]]
}

@test "10: runas nobody fails: This account is currently not available." {
	[ "$(id -u)" -eq 0 ] || skip "runas needs root"
	command -v su >/dev/null || skip "no su"
	case $(getent passwd nobody | cut -d: -f7) in
	*nologin) ;;
	*) skip "nobody has a login shell here" ;;
	esac
	open_up
	who_rev nobody
	sw_deploy "$T/r1"
	[ "$status" -eq 1 ]
	same "$(ev_diag BeforeInstall errorCode)" ScriptFailed
	same "$(ev_diag BeforeInstall message)" \
		"Script at specified location: scripts/who.sh run as user nobody failed with exit code 1"
	[[ "$(ev_diag BeforeInstall logTail)" == *"This account is currently not available."* ]]
	[[ "$output" != *"user=nobody"* ]]
}

# ---- 11, 12: archives ------------------------------------------------------

@test "11: a tgz with a wrapper directory is unpacked with the wrapper stripped" {
	rev myapp-1.0 wrapped
	std_appspec myapp-1.0 BeforeInstall
	tar -czf "$T/app.tgz" -C "$T" myapp-1.0
	sw_deploy "$T/app.tgz"
	[ "$status" -eq 0 ]
	[ -f "$(ARCH "$DEP")/appspec.yml" ]
	[ -x "$(ARCH "$DEP")/scripts/hook.sh" ]
	[ ! -e "$(ARCH "$DEP")/myapp-1.0" ]
	same "$(readlink "$DR/$DG/$DEP/bundle.tar")" "$T/app.tgz"
	hooks_are "wrapped BeforeInstall hook.sh"
	file_is "$HOST/var/www/html/css/site.css" "wrapped css"
	same "$(jq -r .revision.bundleType "$REPORT")" tgz
}

@test "12: a zip made with zip deploys with its modes" {
	rev r1 zipped
	std_appspec r1 BeforeInstall AfterInstall
	(cd "$T/r1" && zip -qr "$T/app.zip" .)
	sw_deploy "$T/app.zip"
	[ "$status" -eq 0 ]
	same "$(readlink "$DR/$DG/$DEP/bundle.tar")" "$T/app.zip"
	same "$(mode "$(ARCH "$DEP")/scripts/hook.sh")" 755
	same "$(mode "$(ARCH "$DEP")/app/index.html")" 644
	hooks_are "zipped BeforeInstall hook.sh
zipped AfterInstall hook.sh"
	file_is "$HOST/var/www/html/index.html" "zipped index"
	same "$(jq -r .revision.bundleType "$REPORT")" zip
}

# ---- 13-15: unknown lifecycle events ------------------------------------

@test "13-15: an unknown lifecycle event is refused with exit 3 and its position before any hook runs" {
	rev r1 r1
	std_appspec r1 ApplicationStop BeforeInstall
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	D1=$DEP
	: >"$HOOKLOG"
	local before
	before=$(host_snapshot)

	rev bad bad
	appspec bad <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  BeforeInstall:
    - location: scripts/hook.sh
  AfterInstal:
    - location: scripts/hook.sh
YML
	sw_deploy "$T/bad"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"$T/bad/appspec.yml:9:3: appspec.yml file contains unknown lifecycle events: [AfterInstal]"* ]]
	# nothing ran: not r1's ApplicationStop, not the bad BeforeInstall
	hooks_are ""
	same "$(host_snapshot)" "$before"
	same "$(dep_dirs)" "$D1"
	ptr_is last "$DR/$DG/$D1"
	ptr_is recent "$DR/$DG/$D1"
	deployment_is Failed
	same "$RCODE" INVALID_REVISION
	# refused before any host got it: no event ran anywhere
	same "$EVENTS" ""
}

# ---- 16: retention -------------------------------------------------------

@test "16: seven deployments keep five deployment directories" {
	rev r1 r1
	std_appspec r1
	local i
	for i in 1 2 3 4 5 6 7; do
		sw_deploy "$T/r1" --deployment-id "d-00000000$i"
		[ "$status" -eq 0 ]
	done
	same "$(dep_dirs)" "d-000000003
d-000000004
d-000000005
d-000000006
d-000000007"
	ptr_is last "$DR/$DG/d-000000007"
	# --max-revisions lowers the bound, the current one included
	sw_deploy "$T/r1" --deployment-id d-000000008 --max-revisions 2
	[ "$status" -eq 0 ]
	same "$(dep_dirs)" "d-000000007
d-000000008"
}

@test "16: retention never deletes the last successful deployment and still keeps five" {
	rev good good
	std_appspec good
	sw_deploy "$T/good" --deployment-id d-000000001
	[ "$status" -eq 0 ]
	rev bad bad
	appspec bad <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/fail.sh
YML
	local i
	for i in 2 3 4 5 6 7; do
		sw_deploy "$T/bad" --deployment-id "d-00000000$i"
		[ "$status" -eq 1 ]
	done
	ptr_is last "$DR/$DG/d-000000001"
	# the agent drops the last successful from the candidates, then
	# deletes as many of the oldest others as needed
	same "$(dep_dirs)" "d-000000001
d-000000004
d-000000005
d-000000006
d-000000007"
}

# ---- bbg: a background process left on stdout -----------------------------

@test "bbg: a script leaving a background child on stdout ends about 1 s after its exit, child kept, warning names it" {
	rev r1 r1
	cat >"$T/r1/scripts/bg.sh" <<SCRIPT
#!/bin/bash
echo "r1 \$LIFECYCLE_EVENT bg.sh" >>"\$HOOKLOG"
(exec -a "sleep 1000.$MARK" sleep 1000) &
echo "child \$!"
SCRIPT
	chmod 0755 "$T/r1/scripts/bg.sh"
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  ApplicationStart:
    - location: scripts/bg.sh
      timeout: 3
  ValidateService:
    - location: scripts/hook.sh
YML
	local t0 t1 pid
	t0=$(now_ms)
	sw_deploy "$T/r1" 3>&-
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	ev_is ApplicationStart Succeeded
	hooks_are "r1 ApplicationStart bg.sh
r1 ValidateService hook.sh"
	# well before the 3 s timeout, after the 1 s grace
	[ $((t1 - t0)) -ge 1000 ]
	[ $((t1 - t0)) -lt 2800 ]
	# the child survives and is the one named
	pid=$(pgrep -f "sleep 1000\\.$MARK")
	[ -n "$pid" ]
	[[ "$output" == *"local | [stdout]child $pid"* ]]
	[[ "$output" == *"[slipway] Script at specified location: scripts/bg.sh exited but left STDOUT open (held by pid $pid (sleep) fd 1)"* ]]
	grep -q "\[slipway\].*STDOUT open (held by pid $pid (sleep) fd 1)" \
		"$DR/$DG/$DEP/logs/scripts.log"
	kill "$pid"
}

# ---- bperm: the User Guide's permissions example --------------------------

@test "bperm: the User Guide's permissions example gives the documented modes, but rule 6 is a no-op and ** recurses" {
	local d=$T/perm f
	mkdir -p "$d/my-folder-1" "$d/my-folder-2/my-folder-3"
	for f in my-file-1.txt my-file-2.txt my-file-3.txt \
		my-folder-1/my-file-4.txt my-folder-1/my-file-5.txt \
		my-folder-1/my-file-6.txt my-folder-2/my-file-7.txt \
		my-folder-2/my-file-8.txt my-folder-2/my-file-9.txt \
		my-folder-2/my-folder-3/.keep; do
		echo "$f" >"$d/$f"
		chmod 0644 "$d/$f"
	done
	chmod 0755 "$d" "$d/my-folder-1" "$d/my-folder-2" \
		"$d/my-folder-2/my-folder-3"
	# owners as root only: daemon/bin/sys stand in for the guide's
	# ec2-user/operator/adm, group adm for wheel
	local o1='' o2='' o3='' g1=''
	if [ "$(id -u)" -eq 0 ] && getent passwd daemon bin sys >/dev/null &&
		getent group adm >/dev/null; then
		o1='    owner: daemon'
		o2='    owner: bin'
		o3='    owner: sys'
		g1='    group: adm'
	fi
	cat >"$d/appspec.yml" <<YML
version: 0.0
os: linux
files:
  - source: ./my-file-1.txt
    destination: /tmp/my-app
  - source: ./my-file-2.txt
    destination: /tmp/my-app
  - source: ./my-file-3.txt
    destination: /tmp/my-app
  - source: ./my-folder-1
    destination: /tmp/my-app/my-folder-1
  - source: ./my-folder-2
    destination: /tmp/my-app/my-folder-2
permissions:
  - object: /tmp/my-app
    pattern: "*-3.txt"
$o1
$g1
    mode: 464
    type:
      - file
  - object: /tmp/my-app
    pattern: "*.txt"
    except: [my-file-3.txt]
$o2
    mode: 444
    type:
      - file
  - object: /tmp/my-app/my-folder-1
    pattern: "**"
    except: [my-file-4.txt, my-file-5.txt]
$o3
    mode: 646
    type:
      - file
  - object: /tmp/my-app/my-folder-2
    pattern: "**"
    except: [my-file-8.txt]
$o2
    mode: 777
    type:
      - file
  - object: /tmp/my-app
    pattern: "*my-folder*"
    except: [tmp/my-app/my-folder-2/my-folder-3]
$o2
    mode: 555
    type:
      - directory
  - object: /tmp/my-app/my-folder-2/my-folder-3
$g1
    mode: 564
    type:
      - directory
YML
	sw_deploy "$d"
	[ "$status" -eq 0 ]
	local a=$HOST/tmp/my-app
	same "$(cd "$a" && find . -mindepth 1 -printf '%P %m\n' | sort)" \
		"my-file-1.txt 444
my-file-2.txt 444
my-file-3.txt 464
my-folder-1 555
my-folder-1/my-file-4.txt 644
my-folder-1/my-file-5.txt 644
my-folder-1/my-file-6.txt 646
my-folder-2 555
my-folder-2/my-file-7.txt 777
my-folder-2/my-file-8.txt 644
my-folder-2/my-file-9.txt 777
my-folder-2/my-folder-3 755
my-folder-2/my-folder-3/.keep 777"
	if [ -n "$o1" ]; then
		same "$(cd "$a" && find . -mindepth 1 -printf '%P %u:%g\n' |
			sort)" "my-file-1.txt bin:root
my-file-2.txt bin:root
my-file-3.txt daemon:adm
my-folder-1 bin:root
my-folder-1/my-file-4.txt root:root
my-folder-1/my-file-5.txt root:root
my-folder-1/my-file-6.txt sys:root
my-folder-2 bin:root
my-folder-2/my-file-7.txt bin:root
my-folder-2/my-file-8.txt root:root
my-folder-2/my-file-9.txt bin:root
my-folder-2/my-folder-3 root:root
my-folder-2/my-folder-3/.keep bin:root"
	fi
}

# ---- options ----------------------------------------------------------------

@test "--ignore-application-stop-failures: a failing ApplicationStop blocks the next revision without it, not with it" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
files:
  - source: app
    destination: /var/www/html
hooks:
  ApplicationStop:
    - location: scripts/fail.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ] # a first deployment has nothing to stop
	D1=$DEP
	rev r2 r2
	std_appspec r2 BeforeInstall ApplicationStart

	sw_deploy "$T/r2"
	[ "$status" -eq 1 ]
	hooks_are "r1 ApplicationStop fail.sh"
	same "$PRINTED" "ApplicationStop Failed
DownloadBundle Skipped
BeforeInstall Skipped
Install Skipped
AfterInstall Skipped
ApplicationStart Skipped
ValidateService Skipped"
	same "$(ev_diag ApplicationStop message)" \
		"Script at specified location: scripts/fail.sh failed with exit code 3"
	file_is "$HOST/var/www/html/index.html" "r1 index"
	ptr_is last "$DR/$DG/$D1"

	: >"$HOOKLOG"
	sw_deploy "$T/r2" --ignore-application-stop-failures
	[ "$status" -eq 0 ]
	hooks_are "r1 ApplicationStop fail.sh
r2 BeforeInstall hook.sh
r2 ApplicationStart hook.sh"
	deployment_is Succeeded
	same "$(jq -r .ignoreApplicationStopFailures "$REPORT")" true
	ev_is ApplicationStop Failed
	ev_is ApplicationStart Succeeded
	file_is "$HOST/var/www/html/index.html" "r2 index"
	ptr_is last "$DR/$DG/$DEP"
}

@test "--traffic: Block events run the last successful revision's scripts, Allow events the current one's" {
	local ev all="BeforeBlockTraffic AfterBlockTraffic ApplicationStop BeforeInstall AfterInstall ApplicationStart ValidateService BeforeAllowTraffic AfterAllowTraffic"
	rev r1 r1
	# shellcheck disable=SC2086
	std_appspec r1 $all
	rev r2 r2
	# shellcheck disable=SC2086
	std_appspec r2 $all

	# without --traffic the load balancer events are not part of it
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	hooks_are "r1 BeforeInstall hook.sh
r1 AfterInstall hook.sh
r1 ApplicationStart hook.sh
r1 ValidateService hook.sh"
	same "$(jq -r '[.instances[0].lifecycleEvents[].lifecycleEventName] |
		join(" ")' "$REPORT")" \
		"ApplicationStop DownloadBundle BeforeInstall Install AfterInstall ApplicationStart ValidateService"

	: >"$HOOKLOG"
	sw_deploy "$T/r2" --traffic
	[ "$status" -eq 0 ]
	hooks_are "r1 BeforeBlockTraffic hook.sh
r1 AfterBlockTraffic hook.sh
r1 ApplicationStop hook.sh
r2 BeforeInstall hook.sh
r2 AfterInstall hook.sh
r2 ApplicationStart hook.sh
r2 ValidateService hook.sh
r2 BeforeAllowTraffic hook.sh
r2 AfterAllowTraffic hook.sh"
	same "$(cut -d' ' -f1 <<<"$PRINTED" | tr '\n' ' ')" \
		"BeforeBlockTraffic BlockTraffic AfterBlockTraffic ApplicationStop DownloadBundle BeforeInstall Install AfterInstall ApplicationStart ValidateService BeforeAllowTraffic AllowTraffic AfterAllowTraffic "
	same "$(jq -r '[.instances[0].lifecycleEvents[].lifecycleEventName] |
		join(" ")' "$REPORT")" \
		"BeforeBlockTraffic BlockTraffic AfterBlockTraffic ApplicationStop DownloadBundle BeforeInstall Install AfterInstall ApplicationStart ValidateService BeforeAllowTraffic AllowTraffic AfterAllowTraffic"
}

@test "--application and the group options set the hooks' variables and the agent's directories" {
	rev r1 r1
	env_script "$T/r1/scripts/env.sh" r1
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/env.sh
YML
	sw_deploy "$T/r1" --application shop --deployment-group web \
		--deployment-group-id dg-web --deployment-id d-ABCDEFGH1
	[ "$status" -eq 0 ]
	same "$DEP" d-ABCDEFGH1
	same "$(head -n 5 "$HOOKLOG.BeforeInstall")" "LIFECYCLE_EVENT=BeforeInstall
DEPLOYMENT_ID=d-ABCDEFGH1
APPLICATION_NAME=shop
DEPLOYMENT_GROUP_NAME=web
DEPLOYMENT_GROUP_ID=dg-web"
	[ -d "$(ARCH d-ABCDEFGH1 | sed "s|/$DG/|/dg-web/|")" ]
	file_is "$INSTR/dg-web_last_successful_install" \
		"$DR/dg-web/d-ABCDEFGH1"
	# the same id again is refused, nothing overwritten
	sw_deploy "$T/r1" --deployment-group-id dg-web \
		--deployment-id d-ABCDEFGH1
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"deployment d-ABCDEFGH1 already exists"* ]]

	# a named group without an id gets a stable one derived from the name
	sw_deploy "$T/r1" --deployment-group blue
	[ "$status" -eq 0 ]
	local id1 id2
	id1=$(sed -n 's/^DEPLOYMENT_GROUP_ID=//p' "$HOOKLOG.BeforeInstall")
	sw_deploy "$T/r1" --deployment-group blue
	[ "$status" -eq 0 ]
	id2=$(sed -n 's/^DEPLOYMENT_GROUP_ID=//p' "$HOOKLOG.BeforeInstall")
	same "$id2" "$id1"
	[ "$id1" != default-local-deployment-group ]
	same "$(find "$DR/$id1" -mindepth 1 -maxdepth 1 | wc -l)" 2
}

# ---- logs, report, exit statuses -----------------------------------------

@test "the deployments log is the agent's file: Logger header, one tagged line per script message, nothing of slipway's" {
	rev r1 r1
	std_appspec r1 BeforeInstall AfterInstall
	sw_deploy "$T/r1"
	[ "$status" -eq 0 ]
	D1=$DEP
	rev r2 r2
	appspec r2 <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/fail.sh
YML
	sw_deploy "$T/r2"
	[ "$status" -eq 1 ]
	D2=$DEP
	local log=$DR/deployment-logs/codedeploy-agent-deployments.log
	# Ruby's Logger writes its header once, when it creates the file
	run grep -cE '^# Logfile created on [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [-+][0-9]{4} by logger\.rb/v1\.5\.0$' "$log"
	same "$output" 1
	[[ "$(head -n 1 "$log")" == "# Logfile created on "* ]]
	run grep -cvE '^\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}\] \[d-[A-Z0-9]{9}\]' "$log"
	same "$output" 1
	same "$(sed -n "s/^\[.\{23\}\] \[$D1\]//p" "$log")" \
		"LifecycleEvent - BeforeInstall
Script - scripts/hook.sh
[stdout]hook r1 BeforeInstall hook.sh
LifecycleEvent - AfterInstall
Script - scripts/hook.sh
[stdout]hook r1 AfterInstall hook.sh"
	same "$(sed -n "s/^\[.\{23\}\] \[$D2\]//p" "$log" | tail -n 1)" \
		"[stdout]hook r2 BeforeInstall fail.sh"
	# slipway's own lines are in slipway's own log
	grep -qx "slipway | deployment $D1 Succeeded on 1 of 1 hosts in [0-9]* ms; report: .*" \
		"$STATE/deployments/$D1/deployment.log"
	grep -q "^slipway | deployment $D2 Failed: " \
		"$STATE/deployments/$D2/deployment.log"
	# D1's lines all come before D2's
	same "$(sed -n 's/^\[.\{23\}\] \[\(d-[A-Z0-9]*\)\].*/\1/p' "$log" |
		uniq | tr '\n' ' ')" "$D1 $D2 "
}

@test "the report has the deployment's id, status, overview and per-event diagnostics" {
	rev r1 r1
	appspec r1 <<'YML'
version: 0.0
os: linux
hooks:
  BeforeInstall:
    - location: scripts/hook.sh
  AfterInstall:
    - location: scripts/fail.sh
YML
	sw_deploy "$T/r1"
	[ "$status" -eq 1 ]
	[[ "$DEP" =~ ^d-[A-Z0-9]{9}$ ]]
	# --report FILE is the same as the state's copy
	cmp "$REPORT" "$STATE/deployments/$DEP/report.json"
	deployment_is Failed
	same "$(jq -r '.errorInformation.message' "$REPORT")" \
		"0 of 1 hosts succeeded; local: AfterInstall failed: Script at specified location: scripts/fail.sh failed with exit code 3"
	[ -n "$(jq -r '.errorInformation.code // empty' "$REPORT")" ]
	same "$(jq -c .deploymentOverview "$REPORT")" \
		'{"Pending":0,"InProgress":0,"Succeeded":0,"Failed":1,"Skipped":0,"Ready":0}'
	same "$(jq -r '.instances[0].lifecycleEvents[] |
		"\(.lifecycleEventName) \(.status)"' "$REPORT")" \
		"ApplicationStop Succeeded
DownloadBundle Succeeded
BeforeInstall Succeeded
Install Succeeded
AfterInstall Failed
ApplicationStart Skipped
ValidateService Skipped"
	# times are ordered; skipped events have none
	same "$(jq '[.instances[0].lifecycleEvents[] | select(.startTime) |
		.endTime >= .startTime] | all' "$REPORT")" true
	same "$(jq '[.instances[0].lifecycleEvents[] |
		select(.status == "Skipped") | .startTime] | map(. == null) |
		all' "$REPORT")" true
	same "$(jq -c '.instances[0].lifecycleEvents[] |
		select(.lifecycleEventName == "AfterInstall") | .diagnostics |
		[.errorCode, .scriptName, .message]' "$REPORT")" \
		'["ScriptFailed","scripts/fail.sh","Script at specified location: scripts/fail.sh failed with exit code 3"]'
	same "$(ev_diag AfterInstall logTail)" "LifecycleEvent - AfterInstall
Script - scripts/fail.sh
[stdout]hook r1 AfterInstall fail.sh"
	same "$(jq '[.instances[0].lifecycleEvents[] |
		select(.status == "Succeeded") | .diagnostics] |
		map(. == null) | all' "$REPORT")" true
	# a success has no error information
	rev r2 r2
	std_appspec r2
	sw_deploy "$T/r2"
	[ "$status" -eq 0 ]
	deployment_is Succeeded
	same "$(jq -r '.errorInformation // "none"' "$REPORT")" none
	same "$(jq -r .deploymentOverview.Succeeded "$REPORT")" 1
}

@test "usage errors exit 2 and touch nothing: a missing bundle, a bad option" {
	rev r1 r1
	std_appspec r1 BeforeInstall
	sw_deploy "$T/no-such-bundle"
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"no-such-bundle"* ]]
	sw_deploy "$T/r1" --no-such-option
	[ "$status" -eq 2 ]
	[[ "$stderr" == *"--no-such-option"* ]]
	sw_deploy "$T/r1" --file-exists-behavior SOMETIMES
	[ "$status" -eq 2 ]
	sw_deploy "$T/r1" --max-revisions 0
	[ "$status" -eq 2 ]
	sw_deploy "$T/r1" --deployment-id ../escape
	[ "$status" -eq 2 ]
	run --separate-stderr "$SLIPWAY" deploy --root "$HOST" \
		--state-dir "$STATE"
	[ "$status" -eq 2 ]
	hooks_are ""
	same "$(ls -A "$HOST")" ""
	[ ! -e "$T/escape" ]
}
