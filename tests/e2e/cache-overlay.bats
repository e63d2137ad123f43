#!/usr/bin/env bats
# Cache restores by overlay: the build rewrites, appends to, chmods,
# deletes and renames restored files; the store keeps what it had, the
# build's save has what it changed, nothing stays mounted, and where an
# overlay cannot be mounted the restore copies and says why.

load helpers

overlay_or_skip() {
	[ "$(id -u)" -eq 0 ] || skip "overlay mounts need root here"
	unshare --mount true 2>/dev/null || skip "no mount namespaces"
}

# deps/ made by the first build; shown by those that restore it; changed
# in place, appended to, chmod'ed, deleted from and renamed in by a build
# given MUTATE=1. Keyed on lock.txt, falling back to any deps- key.
overlay_spec() {
	cat >"$PROJ/buildspec.yml" <<'EOF'
version: 0.2
phases:
  install:
    commands:
      - |
        if [ -f deps/a ]; then
          echo "A=$(cat deps/a)"
          echo "B=$(cat deps/b | tr '\n' ,)"
          echo "EXE=$(stat -c %a deps/exe)"
          echo "LIST=$(cd deps && find . | sort | tr '\n' ' ')"
        else
          mkdir -p deps/sub deps/dir
          echo a1 > deps/a; echo b1 > deps/b; echo c1 > deps/sub/c
          echo g > deps/gone; echo x > deps/dir/x
          printf '#!/bin/sh\n' > deps/exe; chmod 755 deps/exe
          echo MADE
        fi
  build:
    commands:
      - |
        if [ -n "$MUTATE" ]; then
          echo a2 > deps/a
          echo more >> deps/b
          chmod 700 deps/exe
          rm deps/gone
          mv deps/sub deps/sub2
          mv deps/dir/x deps/dir/y
        fi
      - grep -c ' overlay ' /proc/self/mountinfo || true
  post_build:
    commands:
      - echo post
cache:
  key: deps-$(cat lock.txt)
  fallback-keys:
    - deps-
  paths:
    - deps/**/*
EOF
}

# No mount of this test's files in the machine's namespace.
nothing_mounted() {
	! grep -F "$T" /proc/self/mountinfo || false
}

# $1: isolation
rewrite_round() {
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	sw_build --isolation "$1"
	[ "$status" -eq 0 ]
	[[ "$output" == *MADE* ]]
	nothing_mounted

	# restores v1 (fallback) by overlay, changes it all, saves v2
	echo v2 >"$PROJ/lock.txt"
	sw_build --isolation "$1" -e MUTATE=1
	[ "$status" -eq 0 ]
	[[ "$output" == *"(fallback deps-)"*" by overlay in "* ]]
	[[ "$output" == *"Saving cache: key deps-v2"* ]]
	nothing_mounted
	# the build's own directory: the changes in the upper layer, and
	# deps as the source had it (here: only the mount point)
	src=$(src_of "$LOG")
	[ -z "$(ls -A "$src/deps")" ]
	[ "$(cat "$(dirname "$LOG")/cache-overlay/0/upper/a")" = a2 ]

	# the store kept v1 as it was saved
	echo v1 >"$PROJ/lock.txt"
	sw_build --isolation "$1"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key deps-v1 "*" by overlay in "* ]]
	[ "$(printed A)" = a1 ]
	[ "$(printed B)" = b1, ]
	[ "$(printed EXE)" = 755 ]
	[ "$(printed LIST)" = ". ./a ./b ./dir ./dir/x ./exe ./gone ./sub ./sub/c " ]

	# and v2 has what the mutating build left
	echo v2 >"$PROJ/lock.txt"
	sw_build --isolation "$1"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key deps-v2 "*" by overlay in "* ]]
	[ "$(printed A)" = a2 ]
	[ "$(printed B)" = b1,more, ]
	[ "$(printed EXE)" = 700 ]
	[ "$(printed LIST)" = ". ./a ./b ./dir ./dir/y ./exe ./sub2 ./sub2/c " ]
	nothing_mounted

	# the same by copy: the store's objects are intact
	echo v1 >"$PROJ/lock.txt"
	SLIPWAY_CACHE_LINK=copy sw_build --isolation "$1"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key deps-v1 "*" by "*"copy"* ]]
	[ "$(printed A)" = a1 ]
	[ "$(printed LIST)" = ". ./a ./b ./dir ./dir/x ./exe ./gone ./sub ./sub/c " ]
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" != *damaged* ]]
}

@test "a dir build rewrites restored files; the store keeps its own, the save has the changes" {
	overlay_or_skip
	rewrite_round dir
}

@test "a sandboxed build sees the overlay too; the store keeps its own" {
	overlay_or_skip
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	rewrite_round sandbox
}

@test "an overlay refused: the restore copies, says why, and the build goes on" {
	overlay_or_skip
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	sw_build
	[ "$status" -eq 0 ]
	SLIPWAY_TEST_NO_OVERLAY=1 sw_build -e MUTATE=1
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key deps-v1 "*" by "*"copy (no overlay: cannot mount an overlay on "* ]]
	[[ "$output" != *Warning* ]]
	[ "$(printed A)" = a1 ]
	# asked for by name: a warning as well
	SLIPWAY_CACHE_LINK=overlay SLIPWAY_TEST_NO_OVERLAY=1 sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Warning: cache: no overlay: cannot mount"* ]]
	[ "$(printed A)" = a1 ]
	nothing_mounted
}

@test "not root: no mount namespace, the restore copies and says why" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to become another user"
	command -v setpriv >/dev/null || skip "no setpriv"
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	# somewhere nobody can reach (the test's own directory is 0700)
	NR=$(mktemp -d /tmp/slipway-e2e-nr.XXXXXX)
	chmod 755 "$NR"
	cp -r "$PROJ" "$NR/proj"
	mkdir "$NR/state"
	chown -R nobody "$NR/proj" "$NR/state"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$SLIPWAY" build "$NR/proj" --state-dir "$NR/state"
	[ "$status" -eq 0 ]
	[[ "$output" == *MADE* ]]
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"$SLIPWAY" build "$NR/proj" --state-dir "$NR/state"
	rm -rf "$NR"
	[ "$status" -eq 0 ]
	[[ "$output" == *"A=a1"* ]]
	[[ "$output" == *" by "*"copy (no overlay: cannot unshare the mount namespace: "* ]]
}

@test "slipway killed with SIGKILL mid-build leaves nothing mounted" {
	overlay_or_skip
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	sw_build
	[ "$status" -eq 0 ]
	mkfifo "$T/ready"
	cat >>"$PROJ/buildspec.yml" <<EOF
# (appended: the build waits after the restore)
EOF
	sed -i "s|      - echo post|      - echo \$\$ > $T/ready; exec sleep 1000.$MARK|" \
		"$PROJ/buildspec.yml"
	sw_build_bg
	read -r shell_pid <"$T/ready"
	wait_for_marker
	# mounted in the build's namespace, not in the machine's
	grep -F "$T" "/proc/$SW_PID/mountinfo" | grep -q ' overlay '
	nothing_mounted
	kill -KILL "$SW_PID"
	wait "$SW_PID" || true
	nothing_mounted
	# what the build left running still sees its files; once it ends,
	# the namespace and the mount are gone with it
	for p in $(pgrep -f "sleep 1000\\.$MARK"); do
		grep -F "$T" "/proc/$p/mountinfo" | grep -q ' overlay '
		kill -KILL "$p"
	done
	nothing_mounted
	[ -n "$shell_pid" ]
}

@test "--from a build that restored by overlay: its cached directories as it left them" {
	overlay_or_skip
	cat >"$PROJ/buildspec.yml" <<'YML'
version: 0.2
phases:
  install:
    commands:
      - 'if [ ! -f deps/a ]; then mkdir -p deps; echo a1 > deps/a; fi'
  build:
    commands:
      - 'echo "SEEN=$(cat deps/a) $(ls deps | tr "\n" ,)"'
      - 'echo "$VALUE" > deps/a; echo g > deps/new'
cache:
  key: k1
  paths:
    - deps/**/*
YML
	sw_build -e VALUE=first
	[ "$status" -eq 0 ]
	sw_build -e VALUE=second
	[ "$status" -eq 0 ]
	[[ "$output" == *"by overlay"* ]]
	[ "$(printed SEEN)" = "first a,new," ]
	# resumed twice: each time the directory as the build before left it
	for i in 1 2; do
		run "$SLIPWAY" build --from build --state-dir "$STATE" \
			--report "$REPORT"
		[ "$status" -eq 0 ]
		[[ "$output" == *"Cached directories of build "*" mounted as it left them"* ]]
		[[ "$output" == *"SEEN=second a,new,"* ]]
		nothing_mounted
	done
	# the store has k1 as the first build saved it
	sw_build -e VALUE=third
	[ "$(printed SEEN)" = "first a,new," ]
}

@test "sandboxed, an overlay the sandbox cannot be given: the restore copies, the save works" {
	overlay_or_skip
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	echo v2 >"$PROJ/lock.txt"
	SLIPWAY_TEST_NO_OVERLAY=graft sw_build --isolation sandbox -e MUTATE=1
	[ "$status" -eq 0 ]
	[[ "$output" == *"(fallback deps-)"*" by "*"copy (no overlay: cannot mount "* ]]
	[ "$(printed A)" = a1 ]
	[[ "$output" == *"Saving cache: key deps-v2 "* ]]
	[[ "$output" != *Warning* ]]
	nothing_mounted
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed A)" = a2 ]
	[ "$(printed LIST)" = ". ./a ./b ./dir ./dir/y ./exe ./sub2 ./sub2/c " ]
}

@test "sandboxed, the second of two overlays refused: the first is given back, its changes saved" {
	overlay_or_skip
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	cat >"$PROJ/buildspec.yml" <<'YML'
version: 0.2
phases:
  install:
    commands:
      - 'mkdir -p deps more; [ -f deps/a ] || echo a1 > deps/a; [ -f more/m ] || echo m1 > more/m'
  build:
    commands:
      - 'echo "SEEN=$(cat deps/a) $(cat more/m)"'
      - '[ -z "$VALUE" ] || { echo "$VALUE" > deps/a; echo "$VALUE" > more/m; }'
cache:
  key: k-$(cat lock.txt)
  fallback-keys:
    - k-
  paths:
    - deps/**/*
    - more/**/*
YML
	echo v1 >"$PROJ/lock.txt"
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	echo v2 >"$PROJ/lock.txt"
	SLIPWAY_TEST_NO_OVERLAY=graft:2 sw_build --isolation sandbox -e VALUE=two
	[ "$status" -eq 0 ]
	[[ "$output" == *" by "*"copy (no overlay: cannot mount "* ]]
	[ "$(printed SEEN)" = "a1 m1" ]
	[[ "$output" == *"Saving cache: key k-v2 "* ]]
	nothing_mounted
	# both directories as that build left them, the first one too
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed SEEN)" = "two two" ]

	# the first one cannot be detached again: the build stops there
	echo v3 >"$PROJ/lock.txt"
	SLIPWAY_TEST_NO_OVERLAY=graft:2:stuck sw_build --isolation sandbox \
		-e VALUE=three
	[ "$status" -eq 111 ]
	[[ "$output" == *"stays mounted in the sandbox: cannot detach "* ]]
	[[ "$output" != *SEEN=* ]]
	nothing_mounted
	echo v1 >"$PROJ/lock.txt"
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	[ "$(printed SEEN)" = "a1 m1" ]
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[[ "$output" != *k-v3* ]]
}

@test "sandboxed --from, an overlay the sandbox cannot be given: none mounted, a warning says so" {
	overlay_or_skip
	unshare --pid --fork --mount --ipc --uts --net true 2>/dev/null ||
		skip "namespaces are unavailable"
	cat >"$PROJ/buildspec.yml" <<'YML'
version: 0.2
phases:
  install:
    commands:
      - 'mkdir -p deps; [ -f deps/a ] || echo a1 > deps/a'
  build:
    commands:
      - 'echo "SEEN=$(cat deps/a 2>/dev/null) $(grep -c " overlay " /proc/self/mountinfo)"'
      - '[ -z "$VALUE" ] || echo "$VALUE" > deps/a'
cache:
  key: k1
  paths:
    - deps/**/*
YML
	sw_build --isolation sandbox
	[ "$status" -eq 0 ]
	sw_build --isolation sandbox -e VALUE=second
	[ "$status" -eq 0 ]
	[[ "$output" == *"by overlay"* ]]
	run env SLIPWAY_TEST_NO_OVERLAY=graft "$SLIPWAY" build --from build --isolation sandbox \
		--state-dir "$STATE" --report "$REPORT"
	[ "$status" -eq 0 ]
	[[ "$output" == *"cannot be mounted again (cannot mount "* ]]
	[[ "$output" != *"mounted as it left them"* ]]
	# the kept files, no overlay anywhere
	[[ "$output" == *"SEEN= 0"* ]]
	nothing_mounted
	log=$(jq -r .logs.location "$REPORT")
	[ ! -e "$(dirname "$log")/cache-overlay" ]
}

# The tree of the entry deps-$1 (one entry per version here).
tree_of() {
	local meta
	meta=$(grep -l "\"deps-$1\"" "$STATE"/cache/entries/*/*.meta)
	local v name created
	v=$(basename "$(dirname "$meta")")
	name=$(basename "$meta" .meta)
	created=$(sed -n 's/.*"created_ns": *\([0-9]*\).*/\1/p' "$meta")
	echo "$STATE/cache/trees/$v/$name.$created"
}

@test "a save makes the entry's tree: the next restore only mounts it" {
	overlay_or_skip
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *MADE* ]]
	[[ "$output" == *"Saving cache: key deps-v1 "* ]]
	tree=$(tree_of v1)
	# the maker holds the lock until the tree is ready
	flock "$tree/lock" true
	[ -f "$tree/manifest.json" ]
	# the saved files, modes and mtimes as the build left them
	src=$(src_of "$LOG")
	[ "$(cat "$tree/src/deps/a")" = a1 ]
	[ "$(cat "$tree/src/deps/sub/c")" = c1 ]
	[ "$(stat -c %a "$tree/src/deps/exe")" = 755 ]
	for f in a b sub/c gone dir/x exe; do
		[ "$(stat -c %Y.%y "$tree/src/deps/$f")" = "$(stat -c %Y.%y "$src/deps/$f")" ]
	done

	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key deps-v1 "*" by overlay in "*"; its tree was ready"* ]]
	[ "$(printed A)" = a1 ]
	[ "$(printed EXE)" = 755 ]
	[ "$(printed LIST)" = ". ./a ./b ./dir ./dir/x ./exe ./gone ./sub ./sub/c " ]
	nothing_mounted
}

@test "a tree maker killed with SIGKILL leaves no tree a restore trusts" {
	overlay_or_skip
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	SLIPWAY_CACHE_TEST_KILL=tree-before-manifest sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Saving cache: key deps-v1 "* ]]
	tree=$(tree_of v1)
	# the maker's lock goes with it: it died with its files placed
	flock "$tree/lock" true
	[ -f "$tree/src/deps/a" ]
	[ ! -e "$tree/manifest.json" ]
	# a partly written file the restore must not keep
	echo torn >"$tree/src/deps/b"

	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key deps-v1 "*" by overlay in "*"; its tree made now ("* ]]
	[ "$(printed A)" = a1 ]
	[ "$(printed B)" = b1, ]
	[ "$(printed LIST)" = ". ./a ./b ./dir ./dir/x ./exe ./gone ./sub ./sub/c " ]
	[ -f "$tree/manifest.json" ]
	nothing_mounted
}

@test "a tree maker runs in the machine's mount namespace, not the build's; a restore waits for it a bounded time" {
	overlay_or_skip
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	SLIPWAY_CACHE_TEST_KILL=tree-stop-before-manifest sw_build
	[ "$status" -eq 0 ]
	tree=$(tree_of v1)
	# the maker, stopped holding the tree's lock
	pid=
	for fd in /proc/[0-9]*/fd/*; do
		if [ "$(readlink "$fd" 2>/dev/null)" = "$tree/lock" ]; then
			pid=${fd#/proc/}
			pid=${pid%%/*}
		fi
	done
	[ -n "$pid" ]
	[ "$(awk '{print $3}' "/proc/$pid/stat")" = T ]
	[ "$(readlink "/proc/$pid/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ]
	! grep -F "$T" "/proc/$pid/mountinfo" || false
	# a restore meanwhile waits for it a bounded time, then restores
	# without the tree
	SLIPWAY_CACHE_TREE_WAIT_MS=300 run timeout 60 "$SLIPWAY" build "$PROJ" \
		--state-dir "$STATE"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key deps-v1 "* ]]
	[[ "$output" == *"Restoring cache: key deps-v1 "*" by copy in "* ]]
	[[ "$output" == *"A=a1"* ]]
	[ "$(awk '{print $3}' "/proc/$pid/stat")" = T ]
	kill -KILL "$pid"
	flock "$tree/lock" true
	[ ! -e "$tree/manifest.json" ]
}

@test "cache ls shows the disk an entry's tree takes; prune drops trees before entries" {
	overlay_or_skip
	overlay_spec
	echo v1 >"$PROJ/lock.txt"
	sw_build
	[ "$status" -eq 0 ]
	tree=$(tree_of v1)
	flock "$tree/lock" true
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *" SIZE     TREE  CREATED "* ]]
	# the tree's column: its directories, manifest and files on disk
	[[ "${lines[1]}" =~ ^deps-v1\ .*\ [0-9.]+[KM]\ \ [0-9-]+\ .*\ ok$ ]]

	# room for the objects, not the tree: the tree goes, the entry stays
	run "$SLIPWAY" cache prune --max-size 4K --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == "pruned 0 entries, 0 objects, 1 trees, 0 temp files (0B): objects "*" -> "*", trees "*" -> 0B, "*" reclaimed" ]]
	[ ! -e "$tree" ]
	run "$SLIPWAY" cache ls --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" =~ ^deps-v1\ .*\ -\ \ [0-9-]+\ .*\ ok$ ]]
	sw_build
	[ "$status" -eq 0 ]
	[[ "$output" == *"Restoring cache: key deps-v1 "*" by overlay in "*"; its tree made now ("* ]]
	[ "$(printed A)" = a1 ]

	# no room: the entry goes, and its tree with it
	tree=$(tree_of v1)
	[ -f "$tree/manifest.json" ]
	run "$SLIPWAY" cache prune --max-size 0 --state-dir "$STATE"
	[ "$status" -eq 0 ]
	[[ "$output" == "pruned 1 entries, "*" objects, 1 trees, "* ]]
	[ ! -e "$tree" ]
	nothing_mounted
}
