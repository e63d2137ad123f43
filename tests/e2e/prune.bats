#!/usr/bin/env bats
# A full disk is survivable and nothing is left behind: a build that
# fills the disk still leaves its report and is in the history; `slipway
# prune` reclaims old builds and deployments by count and age, never a
# running one; temporaries of a killed run are swept by the next one.

load helpers

MNT=

# The state directory on a small tmpfs of its own (tests run as root).
small_disk() {
	mkdir -p "$STATE"
	if ! mount -t tmpfs -o size=2m tmpfs "$STATE" 2>/dev/null; then
		skip "cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)"
	fi
	MNT=$STATE
}

teardown() {
	local p
	[ -z "$MNT" ] || umount "$MNT" 2>/dev/null || umount -l "$MNT" || true
	for p in $(pgrep -f "sleep 1000\\.$MARK"); do
		kill -KILL "$p" 2>/dev/null || true
	done
}

# A pid no process has: a child that has ended and been reaped.
dead_pid() {
	true &
	local pid=$!
	wait "$pid"
	echo "$pid"
}

# The directory of the build with this id (<project>:<uuid>).
build_dir() {
	echo "$STATE/builds/${1/:/-}"
}

three_builds() { # project: builds it three times, ids in $IDS (oldest first)
	local i
	IDS=
	for i in 1 2 3; do
		sw_build
		[ "$status" -eq 0 ]
		IDS="$IDS $(rj .id)"
	done
}

@test "a build that fills the disk leaves a report and is in the history; after prune the next build runs" {
	small_disk
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - if [ -n "$FILL" ]; then head -c 3000000 /dev/zero >fill || true; seq 1 20000; fi
      - echo built
EOF
	sw_build -e FILL=1
	[ "$status" -eq 111 ]
	[[ "$output" == *"no space left on device"* ]]
	id=$(rj .id)
	dir=$(build_dir "$id")
	# the record is in the state directory, on the full disk
	[ "$(jq -r .buildStatus "$dir/report.json")" = FAULT ]
	jq -r .statusReason "$dir/report.json" | grep -q '^no space left on device'
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	echo "$output" | grep " proj#$(rj .buildNumber) " | grep FAULT |
		grep -q 'no space left on device'
	run "$SLIPWAY" show "$id" --state-dir "$STATE"
	[[ "$output" == *"reason:   no space left on device"* ]]

	# the disk is still full: the next build does not start, leaves nothing
	sw_build
	[ "$status" -eq 111 ]
	[[ "$output" == *"no space left on device"*"slipway prune"* ]]
	[ "$(ls "$STATE/builds" | wc -l)" -eq 2 ] # the dir and its id link

	run "$SLIPWAY" prune --keep 0 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed build $id"* ]]
	[[ "$output" == *"pruned 1 build and 0 deployments"* ]]
	[ ! -e "$dir" ]
	[ ! -e "$STATE/builds/$id" ]
	sw_build
	[ "$status" -eq 0 ]
	[ "$(rj .buildStatus)" = SUCCEEDED ]
	grep -q built "$LOG"
}

@test "prune --keep keeps the newest N builds of each project" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
EOF
	three_builds
	set -- $IDS
	# the oldest by age, whatever order the reports were written in
	touch -d '3 days ago' "$(build_dir "$3")/report.json"
	touch -d '2 days ago' "$(build_dir "$1")/report.json"
	mkdir -p "$T/other"
	cp "$PROJ/buildspec.yml" "$T/other/"
	run "$SLIPWAY" build "$T/other" -q --state-dir "$STATE"
	[ "$status" -eq 0 ]
	run "$SLIPWAY" prune --keep 1 --state-dir "$STATE" --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"would remove build $1"* ]]
	[[ "$output" == *"would remove build $3"* ]]
	[ -d "$(build_dir "$1")" ]
	run "$SLIPWAY" prune --keep 1 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pruned 2 builds and 0 deployments"* ]]
	[ ! -e "$(build_dir "$1")" ]
	[ ! -e "$(build_dir "$3")" ]
	[ -f "$(build_dir "$2")/report.json" ]
	[ -L "$STATE/builds/$2" ]
	[ ! -L "$STATE/builds/$1" ]
	run "$SLIPWAY" history --json --state-dir "$STATE"
	[ "$(echo "$output" | grep -c SUCCEEDED)" -eq 2 ] # proj's newest, other's
	[[ "$output" == *"$2"* ]]
	[[ "$output" == *"other:"* ]]
}

@test "prune --older-than removes what ended before; with --keep only beyond the newest N" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
EOF
	three_builds
	set -- $IDS
	touch -d '10 days ago' "$(build_dir "$1")/report.json"
	touch -d '9 days ago' "$(build_dir "$2")/report.json"
	run "$SLIPWAY" prune --older-than 7 --state-dir "$STATE"
	[ "$status" -eq 2 ]
	[[ "$output" == *"give a unit"* ]]
	run "$SLIPWAY" prune --keep 2 --older-than 7d --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ ! -e "$(build_dir "$1")" ]
	[ -d "$(build_dir "$2")" ] # older, but one of the newest two
	run "$SLIPWAY" prune --older-than 1w --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[ ! -e "$(build_dir "$2")" ]
	[ -d "$(build_dir "$3")" ]
	run "$SLIPWAY" prune --older-than 12h --state-dir "$STATE"
	[ -d "$(build_dir "$3")" ]
	[[ "$output" == *"pruned 0 builds"*"kept 1 build"* ]]
}

@test "prune never removes a running build; a killed one it does" {
	mkfifo "$T/go"
	spec <<EOF
version: 0.2
phases:
  build:
    commands:
      - if [ -n "\$HOLD" ]; then touch "$T/started"; cat "$T/go"; fi
      - if [ -n "\$DIE" ]; then touch "$T/dying"; sleep 1000.$MARK; fi
EOF
	sw_build
	[ "$status" -eq 0 ]
	old=$(rj .id)
	# a build killed with SIGKILL: no report, its log unlocked
	"$SLIPWAY" build "$PROJ" --state-dir "$STATE" -e DIE=1 >"$T/out2" 2>&1 3>&- &
	pid=$!
	for i in $(seq 100); do [ -e "$T/dying" ] && break; sleep 0.1; done
	[ -e "$T/dying" ]
	kill -KILL "$pid"
	wait "$pid" || true
	for p in $(pgrep -f "sleep 1000\\.$MARK"); do kill -KILL "$p"; done
	dead=$(ls -d "$STATE"/builds/proj-* | while read -r d; do
		[ -e "$d/report.json" ] || echo "$d"; done)
	[ -n "$dead" ]
	# a running one, held on the fifo
	sw_build_bg -e HOLD=1
	for i in $(seq 100); do [ -e "$T/started" ] && break; sleep 0.1; done
	[ -e "$T/started" ]
	running=$(ls -d "$STATE"/builds/proj-* | while read -r d; do
		[ -e "$d/report.json" ] || [ "$d" = "$dead" ] || echo "$d"; done)
	[ -n "$running" ]
	# both are in the history, each as what it is
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	echo "$output" | grep -E " build +proj#2 +proj +FAULT .* ended without a report"
	echo "$output" | grep -Eq " build +proj#3 +proj +IN_PROGRESS "
	# age them all: only the lock tells the running one apart
	touch -d '30 days ago' "$running/build.log" "$dead/build.log" \
		"$(build_dir "$old")/report.json"
	run "$SLIPWAY" prune --keep 0 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pruned 2 builds"*"1 running"* ]]
	[ ! -e "$dead" ]
	[ ! -e "$(build_dir "$old")" ]
	[ -d "$(src_of "$running/build.log")" ]
	echo go >"$T/go"
	sw_wait 20
	[ "$SW_STATUS" -eq 0 ]
	[ -f "$running/report.json" ]
}

@test "kill -9 while an artifact is written: the next build to the same -o removes the temporary" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - head -c 64000000 /dev/urandom >big
artifacts:
  files:
    - big
EOF
	out=$T/out-dir
	mkdir -p "$out"
	"$SLIPWAY" build "$PROJ" -q --state-dir "$STATE" -o "$out" \
		>"$T/log1" 2>&1 3>&- &
	pid=$!
	tmp=
	for i in $(seq 2000); do
		tmp=$(ls -A "$out" | grep '^\.artifacts\.zip\.slipway-tmp\.' || true)
		[ -n "$tmp" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.01
	done
	[ -n "$tmp" ]
	kill -KILL "$pid"
	wait "$pid" || true
	[ "$tmp" = ".artifacts.zip.slipway-tmp.$pid" ]
	[ -f "$out/$tmp" ]
	[ ! -e "$out/artifacts.zip" ]
	# temporaries that are not debris: a live writer's, a locked one's
	live=".secondary.zip.slipway-tmp.$$"
	locked=".other.zip.slipway-tmp.$(dead_pid)"
	echo x >"$out/$live"
	echo x >"$out/$locked"
	flock "$out/$locked" sleep 1000.$MARK 3>&- &
	for i in $(seq 100); do pgrep -f "sleep 1000\\.$MARK" >/dev/null && break; sleep 0.1; done
	sw_build -o "$out"
	[ "$status" -eq 0 ]
	grep -q "Removed 1 temporary file ([0-9.]* MB) that killed builds left in $out" "$LOG"
	[ ! -e "$out/$tmp" ]
	[ -f "$out/artifacts.zip" ]
	[ -f "$out/$live" ]
	[ -f "$out/$locked" ]
}

@test "prune sweeps the state directory's stale temporaries and trash" {
	spec <<'EOF'
version: 0.2
phases:
  build:
    commands:
      - echo hi
EOF
	sw_build
	[ "$status" -eq 0 ]
	stale="$STATE/projects/proj/.next-build-number.slipway-tmp.$(dead_pid)"
	head -c 100000 /dev/zero >"$stale"
	keep="$(src_of "$(build_dir "$(rj .id)")/build.log")/.x.slipway-tmp.$(dead_pid)"
	echo x >"$keep" # the build's own files are the build's
	mkdir -p "$STATE/trash/t-src/a"
	head -c 50000 /dev/zero >"$STATE/trash/t-src/a/f"
	run "$SLIPWAY" prune --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"pruned 0 builds and 0 deployments, 1 temporary file: "* ]]
	[[ "$output" == *"kept 1 build"* ]]
	[ ! -e "$stale" ]
	[ ! -e "$STATE/trash/t-src" ]
	[ -f "$keep" ]
}

@test "prune of a missing state directory says so; bad options are usage errors" {
	run "$SLIPWAY" prune --state-dir "$T/none"
	[ "$status" -eq 0 ]
	[[ "$output" == *"nothing to prune"* ]]
	[ ! -e "$T/none" ]
	run "$SLIPWAY" prune --keep -1 --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" prune --older-than 3x --state-dir "$STATE"
	[ "$status" -eq 2 ]
	run "$SLIPWAY" prune extra --state-dir "$STATE"
	[ "$status" -eq 2 ]
}

# A revision directory $T/rev whose BeforeInstall hook runs $1.
hook_rev() {
	mkdir -p "$T/rev" "$T/host"
	printf 'version: 0.0\nos: linux\nhooks:\n  BeforeInstall:\n    - location: hook.sh\n' \
		>"$T/rev/appspec.yml"
	printf '#!/bin/sh\n%s\n' "$1" >"$T/rev/hook.sh"
	chmod +x "$T/rev/hook.sh"
}

@test "a deployment that fills the disk still leaves its report and is in the history" {
	small_disk
	hook_rev "head -c 3000000 /dev/zero >'$STATE/fill' || true; seq 1 20000"
	run "$SLIPWAY" deploy "$T/rev" --root "$T/host" --state-dir "$STATE" \
		--deployment-id d-DISKFULL1 -q
	[ -f "$STATE/deployments/d-DISKFULL1/report.json" ]
	[ "$(jq -r .deploymentId "$STATE/deployments/d-DISKFULL1/report.json")" = d-DISKFULL1 ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *d-DISKFULL1* ]]
	# no space for the next one's report: it does not start, leaves nothing
	run "$SLIPWAY" deploy "$T/rev" --root "$T/host" --state-dir "$STATE" \
		--deployment-id d-DISKFULL2 -q
	[ "$status" -eq 111 ]
	[[ "$output" == *"no space left on device"*"slipway prune"* ]]
	[ ! -e "$STATE/deployments/d-DISKFULL2" ]
}

@test "prune --keep counts deployments per application and group" {
	hook_rev "true"
	for id in d-PRUNEDEP1 d-PRUNEDEP2 d-PRUNEDEP3; do
		run "$SLIPWAY" deploy "$T/rev" --root "$T/host" \
			--state-dir "$STATE" --deployment-id "$id" -q
		[ "$status" -eq 0 ]
	done
	run "$SLIPWAY" deploy "$T/rev" --root "$T/host" --state-dir "$STATE" \
		--deployment-id d-OTHERAPP1 --application other -q
	[ "$status" -eq 0 ]
	run "$SLIPWAY" prune --keep 1 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == *"removed deployment d-PRUNEDEP1"* ]]
	[[ "$output" == *"removed deployment d-PRUNEDEP2"* ]]
	[[ "$output" == *"pruned 0 builds and 2 deployments"* ]]
	[ ! -e "$STATE/deployments/d-PRUNEDEP1" ]
	[ -f "$STATE/deployments/d-PRUNEDEP3/report.json" ]
	[ -f "$STATE/deployments/d-OTHERAPP1/report.json" ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[[ "$output" == *d-PRUNEDEP3* ]]
	[[ "$output" != *d-PRUNEDEP2* ]]
}

@test "a deployment refused before it starts leaves nothing; one that fails after it started leaves a Failed report" {
	# nothing to roll back to: refused before anything is made
	mkdir -p "$T/host"
	run "$SLIPWAY" deploy --rollback --root "$T/host" --state-dir "$STATE" \
		--isolation dir
	[ "$status" -eq 1 ]
	[[ "$output" == *"nothing to roll back to"* ]]
	[ -z "$(ls -A "$STATE/deployments" 2>/dev/null)" ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[[ "$output" != *killed* ]]

	# a directory bundle for ssh is packed after the report's space is
	# reserved: no room for it, the deployment ends Failed with a report
	small_disk
	hook_rev "true"
	head -c 3000000 /dev/urandom >"$T/rev/big"
	run "$SLIPWAY" deploy "$T/rev" --ssh root@127.0.0.1:1 \
		--state-dir "$STATE" --deployment-id d-NOPACK1 -q
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot pack bundle"* ]]
	r=$STATE/deployments/d-NOPACK1/report.json
	[ -f "$r" ]
	[ "$(jq -r .status "$r")" = Failed ]
	jq -r .errorInformation.message "$r" | grep -q "cannot pack bundle"
	[ "$(jq -r '.instances[0].status' "$r")" = Skipped ]
	run "$SLIPWAY" history --state-dir "$STATE"
	echo "$output" | grep d-NOPACK1 | grep -q Failed
	[[ "$output" != *killed* ]]
}

@test "a deployment report longer than its reserved space is kept compact on a full disk" {
	small_disk
	hook_rev "head -c 3000000 /dev/zero >'$STATE/fill' || true; exit 3"
	# an application name of 100 KB: the report outgrows its reservation
	app=$(head -c 100000 /dev/zero | tr '\0' a)
	run "$SLIPWAY" deploy "$T/rev" --root "$T/host" --state-dir "$STATE" \
		--deployment-id d-COMPACT1 --application "$app" -q
	[ "$status" -eq 1 ]
	r=$STATE/deployments/d-COMPACT1/report.json
	[ -f "$r" ]
	[ "$(jq -r .reportCompact "$r")" = true ]
	[ "$(jq -r .status "$r")" = Failed ]
	[ "$(jq -r .deploymentOverview.Failed "$r")" = 1 ]
	[ "$(jq -r '.instances[0].status' "$r")" = Failed ]
	jq -r '.instances[0].message' "$r" | grep -q BeforeInstall
	[ "$(jq -r .applicationName "$r" | wc -c)" -lt 1000 ]
	run "$SLIPWAY" history --state-dir "$STATE"
	[ "$status" -eq 0 ]
	echo "$output" | grep d-COMPACT1 | grep -q Failed
	[[ "$output" != *killed* ]]
}

@test "a build that cannot create its log leaves neither its directory nor its id link" {
	mkdir -p "$STATE"
	mount -t tmpfs -o size=4m,nr_inodes=1000 tmpfs "$STATE" 2>/dev/null ||
		skip "cannot mount a tmpfs here (not root, or no CAP_SYS_ADMIN)"
	MNT=$STATE
	spec <<'EOF2'
version: 0.2
phases:
  build:
    commands:
      - echo built
EOF2
	sw_build -q
	[ "$status" -eq 0 ]
	# two inodes left: the directory and its link, not the log
	used=$(df --output=iused "$STATE" | tail -1)
	mount -o remount,nr_inodes=$((used + 2)) "$STATE"
	sw_build -q
	[ "$status" -eq 111 ]
	[[ "$output" == *"No space left on device"* ]]
	[ "$(ls "$STATE/builds" | wc -l)" -eq 2 ] # the first build's dir and link
	run "$SLIPWAY" history --state-dir "$STATE"
	[[ "$output" != *killed* ]]
}
